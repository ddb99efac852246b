//! The web pages: server-rendered HTML for investigators, pharmacists, monitors and admins.
//!
//! Same binary, same rules: every page calls the use cases of [`crate::service`] with the
//! signed-in [`crate::access::User`], inside [`crate::http::extract::run_db`]. Nothing here
//! decides who may do what or touches SQL. Sign-in takes a user's API token and opens a
//! server-side session (HttpOnly, SameSite=Strict cookie); every form POST carries the
//! session's CSRF token. No JavaScript is needed; `static/app.js` only adds "copy" and
//! "print" buttons, moves the focus to a form's error summary (where `autofocus` did not) and
//! loads a protocol file into its textarea.

mod accounts;
mod admin;
mod amendment;
mod assets;
mod charts;
mod correcting;
mod corrections;
mod csrf;
mod error;
mod form;
mod i18n;
mod investigator;
mod messages;
mod monitor;
mod pharmacist;
mod screening_form;
mod session;
mod signature;
mod signin;
mod sites;
mod templates;
mod viewer;
mod withdrawal;

use actix_web::{middleware, web};

pub use error::{not_found_page, WebError};
pub use session::WebSession;

use crate::service::web_sessions::SessionPolicy;

/// Settings of the web pages.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// Mark cookies `Secure` (serve behind https). Off for plain http://127.0.0.1.
    pub secure_cookies: bool,
    pub sessions: SessionPolicy,
}

/// The pages' security headers (set unless a handler set its own).
fn security_headers() -> middleware::DefaultHeaders {
    middleware::DefaultHeaders::new()
        .add((
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "same-origin"))
}

/// An error page rendered before anyone was known to be signed in (a bad form, a refused
/// sign-in, a malformed address) is drawn again in the language the request asks for.
fn in_request_language<B>(
    res: actix_web::dev::ServiceResponse<B>,
) -> actix_web::Result<middleware::ErrorHandlerResponse<B>> {
    let redrawn = res
        .response()
        .error()
        .and_then(|e| e.as_error::<WebError>())
        .filter(|e| !e.has_viewer())
        .map(|e| e.response_in(i18n::of_request(res.request())));
    Ok(match redrawn {
        Some(page) => middleware::ErrorHandlerResponse::Response(
            res.into_response(page).map_into_right_body(),
        ),
        None => middleware::ErrorHandlerResponse::Response(res.map_into_left_body()),
    })
}

/// Registers every page: `App::new().configure(crate::web::configure(&settings))`.
pub fn configure(settings: &WebSettings) -> impl FnOnce(&mut web::ServiceConfig) {
    let settings = settings.clone();
    move |cfg| {
        cfg.service(
            web::scope("")
                .app_data(web::Data::new(settings))
                .app_data(
                    web::QueryConfig::default()
                        .error_handler(|e, _| WebError::bad_request(e.to_string()).into()),
                )
                .app_data(
                    web::PathConfig::default()
                        .error_handler(|e, _| WebError::bad_request(e.to_string()).into()),
                )
                // Inside the security headers, so a redrawn page gets them too.
                .wrap(middleware::ErrorHandlers::new().default_handler(in_request_language))
                .wrap(security_headers())
                .route("/", web::get().to(signin::root))
                .route("/static/style.css", web::get().to(assets::style))
                .route("/static/app.js", web::get().to(assets::script))
                .service(
                    web::resource("/signin")
                        .route(web::get().to(signin::form))
                        .route(web::post().to(signin::submit)),
                )
                .service(
                    web::resource("/signin/activate")
                        .route(web::get().to(signin::activation_form))
                        .route(web::post().to(signin::activate)),
                )
                .service(
                    web::resource("/account/password")
                        .route(web::get().to(signin::password_form))
                        .route(web::post().to(signin::change_password)),
                )
                .route("/signout", web::post().to(signin::sign_out))
                .route("/language", web::post().to(signin::set_language))
                .route("/trials", web::get().to(signin::trials))
                .service(
                    web::resource("/trials/{trial}/screening")
                        .route(web::get().to(investigator::new_screening))
                        .route(web::post().to(investigator::submit)),
                )
                .route(
                    "/trials/{trial}/screenings",
                    web::get().to(investigator::list),
                )
                .route(
                    "/trials/{trial}/screenings/{id}",
                    web::get().to(investigator::result),
                )
                .service(
                    web::resource("/trials/{trial}/screenings/{id}/correct")
                        .route(web::get().to(correcting::form))
                        .route(web::post().to(correcting::submit)),
                )
                .route("/trials/{trial}/queue", web::get().to(pharmacist::queue))
                .service(
                    web::resource("/trials/{trial}/randomize/{screening}")
                        .route(web::get().to(pharmacist::confirm))
                        .route(web::post().to(pharmacist::randomize)),
                )
                .route(
                    "/trials/{trial}/subjects",
                    web::get().to(pharmacist::subjects),
                )
                .route(
                    "/trials/{trial}/subjects/{subject}",
                    web::get().to(pharmacist::card_page),
                )
                .service(
                    web::resource("/trials/{trial}/subjects/{subject}/withdraw")
                        .route(web::get().to(withdrawal::form))
                        .route(web::post().to(withdrawal::submit)),
                )
                .route(
                    "/trials/{trial}/subjects/{subject}/receipt",
                    web::get().to(pharmacist::receipt),
                )
                .route(
                    "/trials/{trial}/dashboard",
                    web::get().to(monitor::dashboard),
                )
                .route("/trials/{trial}/audit", web::get().to(monitor::audit_log))
                .route(
                    "/trials/{trial}/corrections",
                    web::get().to(corrections::queue),
                )
                .route(
                    "/trials/{trial}/corrections/{id}/decision",
                    web::post().to(corrections::decide),
                )
                .route(
                    "/trials/{trial}/audit/verify",
                    web::get().to(monitor::verify),
                )
                .route(
                    "/trials/{trial}/export/{format}",
                    web::get().to(monitor::export),
                )
                .route("/admin", web::get().to(admin::home))
                .route(
                    "/admin/access-review.csv",
                    web::get().to(admin::access_review),
                )
                .route("/admin/users", web::post().to(admin::create_user))
                .service(
                    web::resource("/admin/users/{name}")
                        .route(web::get().to(accounts::show))
                        .route(web::post().to(accounts::change)),
                )
                .route(
                    "/admin/users/{name}/token",
                    web::post().to(accounts::issue_token),
                )
                .service(
                    web::resource("/admin/sites")
                        .route(web::get().to(sites::list))
                        .route(web::post().to(sites::create)),
                )
                .service(
                    web::resource("/admin/sites/{code}")
                        .route(web::get().to(sites::change_form))
                        .route(web::post().to(sites::change)),
                )
                .service(
                    web::resource("/admin/users/{name}/revoke")
                        .route(web::get().to(admin::confirm_revoke))
                        .route(web::post().to(admin::revoke)),
                )
                .service(
                    web::resource("/admin/trials/{trial}/amend")
                        .route(web::get().to(amendment::form))
                        .route(web::post().to(amendment::submit)),
                )
                .service(
                    web::resource("/admin/trials/{trial}/close")
                        .route(web::get().to(admin::close_form))
                        .route(web::post().to(admin::close)),
                ),
        );
    }
}
