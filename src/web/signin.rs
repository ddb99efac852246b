//! Signing in with name and password, activating an account with its one-time token,
//! changing one's password, signing out, the start page and the trial list.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;

use super::error::WebError;
use super::form::Fields;
use super::session::{self, WebSession};
use super::templates::{self, page};
use super::WebSettings;
use crate::eligibility::FieldError;
use crate::http::error::ApiError;
use crate::http::extract::{note_auth_failure, run_db, unblocked_client};
use crate::http::state::AppState;
use crate::service::credentials::{self, NewPassword};
use crate::service::error::Invalid;
use crate::service::users::UserError;
use crate::service::{queries, web_sessions};

/// The sign-in form's pre-session cookie (no session exists yet); see [`super::csrf`].
const SIGNIN_COOKIE: &str = "tg_signin";

/// `/`: the user's home page, or the sign-in page.
pub async fn root(session: Option<WebSession>) -> HttpResponse {
    match session {
        Some(s) => templates::see_other(&s.home()),
        None => templates::see_other("/signin"),
    }
}

#[derive(Debug, Deserialize)]
pub struct SignInQuery {
    #[serde(default)]
    signed_out: Option<String>,
}

fn random_hex() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| ApiError::internal(format!("no randomness from the operating system: {e}")))?;
    Ok(hex::encode(bytes))
}

fn signin_cookie(value: &str, settings: &WebSettings) -> Cookie<'static> {
    Cookie::build(SIGNIN_COOKIE, value.to_string())
        .path("/signin")
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(settings.secure_cookies)
        .max_age(time::Duration::seconds(super::csrf::SIGNIN_TTL_SECS))
        .finish()
}

/// The browser's pre-session id, if its cookie has the shape of one.
fn pre_session(req: &HttpRequest) -> Option<String> {
    req.cookie(SIGNIN_COOKIE)
        .map(|c| c.value().to_string())
        .filter(|v| web_sessions::well_formed(v))
}

/// The form token the server issues for this pre-session, from now on.
fn issue(state: &AppState, pre_session: &str) -> String {
    super::csrf::signin_token(&state.checkpoint_key, pre_session, Utc::now().timestamp())
}

/// A browser that says the POST comes from another site's page — cross-site, or same-site
/// such as a sibling subdomain, which could also have planted cookies — is refused whatever
/// it sends (defence in depth; browsers without `Sec-Fetch-Site` rely on the token alone).
fn from_another_site(req: &HttpRequest) -> bool {
    req.headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "same-origin" && v != "none")
}

fn signin_page(token: &str, name: &str, problem: Option<&str>, signed_out: bool) -> Markup {
    let body = html! {
        div.narrow {
            h1 { "Sign in" }
            @if signed_out {
                (templates::notice("ok", html! { "You are signed out." }))
            }
            @if let Some(p) = problem {
                div.notice.error role="alert" { (p) }
            }
            form method="post" action="/signin" {
                input type="hidden" name="csrf" value=(token);
                div.field {
                    label for="name" { "User name" }
                    input #name type="text" name="name" value=(name) autocomplete="username"
                        autocapitalize="none" spellcheck="false" required autofocus[name.is_empty()];
                }
                div.field {
                    label for="password" { "Password" }
                    input #password type="password" name="password" autocomplete="current-password"
                        required autofocus[!name.is_empty()];
                }
                button.primary type="submit" { "Sign in" }
            }
            p {
                "First time here? " a href="/signin/activate" { "Activate your account" }
                " with the one-time token your administrator gave you."
            }
        }
    };
    page("Sign in", None, None, body)
}

/// The activation form: the one-time token and the first password, typed twice.
fn activation_page(
    token: &str,
    values: (&str, &str),
    errors: &[FieldError],
    problem: Option<&str>,
) -> Markup {
    let (typed_token, _) = values;
    let error_of = |field: &str| {
        errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
    };
    let password_error = error_of("password");
    let repeat_error = error_of("password_repeat");
    let body = html! {
        div.narrow {
            h1 { "Activate your account" }
            @if let Some(p) = problem {
                div.notice.error role="alert" { (p) }
            }
            @if !errors.is_empty() {
                div.error-summary role="alert" tabindex="-1" autofocus aria-labelledby="error-summary-title" {
                    h2 #error-summary-title {
                        @if errors.len() == 1 { "There is 1 problem" } @else { "There are " (errors.len()) " problems" }
                    }
                    ul {
                        @if let Some(m) = &password_error { li { a href="#password" { "New password: " (m) } } }
                        @if let Some(m) = &repeat_error { li { a href="#password_repeat" { "New password again: " (m) } } }
                    }
                }
            }
            p { "Your administrator gave you a one-time token (it starts with " code { "tg_" } "). "
                "Enter it once here and choose the password you will sign in and sign with." }
            form method="post" action="/signin/activate" {
                input type="hidden" name="csrf" value=(token);
                div.field {
                    label for="token" { "One-time token" }
                    input #token type="password" name="token" value=(typed_token) autocomplete="off"
                        required spellcheck="false" aria-describedby="token-hint" autofocus[errors.is_empty()];
                    p.hint #token-hint {
                        "The first administrator's token is in the file " code { "admin.token" }
                        " in the server's data directory."
                    }
                }
                (password_fields(password_error.as_deref(), repeat_error.as_deref()))
                button.primary type="submit" { "Activate and sign in" }
            }
            p { a href="/signin" { "Back to sign-in" } }
        }
    };
    page("Activate your account", None, None, body)
}

/// A new password and its repeat, with the policy as the hint.
fn password_fields(password_error: Option<&str>, repeat_error: Option<&str>) -> Markup {
    html! {
        div.field {
            label for="password" { "New password" }
            @if let Some(m) = password_error { p.field-error #password-error { (m) } }
            input #password type="password" name="password" autocomplete="new-password" required
                minlength=(crate::service::passwords::MIN_CHARS)
                aria-describedby="password-hint" aria-invalid=[password_error.map(|_| "true")];
            p.hint #password-hint {
                "At least " (crate::service::passwords::MIN_CHARS) " characters, in any script. "
                "Common passwords and passwords built from your name are refused; "
                "a few unrelated words make a strong one."
            }
        }
        div.field {
            label for="password_repeat" { "New password again" }
            @if let Some(m) = repeat_error { p.field-error #password_repeat-error { (m) } }
            input #password_repeat type="password" name="password_repeat" autocomplete="new-password"
                required aria-invalid=[repeat_error.map(|_| "true")];
        }
    }
}

/// The sign-in form; a signed-in user goes home instead.
pub async fn form(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Option<WebSession>,
    settings: web::Data<WebSettings>,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, WebError> {
    if let Some(s) = session {
        return Ok(templates::see_other(&s.home()));
    }
    pre_session_page(&req, &state, &settings, |token| {
        signin_page(token, "", None, query.signed_out.is_some())
    })
}

/// The activation form (no session yet).
pub async fn activation_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Option<WebSession>,
    settings: web::Data<WebSettings>,
) -> Result<HttpResponse, WebError> {
    if let Some(s) = session {
        return Ok(templates::see_other(&s.home()));
    }
    pre_session_page(&req, &state, &settings, |token| {
        activation_page(token, ("", ""), &[], None)
    })
}

/// A page of the sign-in forms, with the pre-session cookie and its form token.
fn pre_session_page(
    req: &HttpRequest,
    state: &AppState,
    settings: &WebSettings,
    markup: impl FnOnce(&str) -> Markup,
) -> Result<HttpResponse, WebError> {
    // Another tab's pre-session is kept (its form stays valid); whatever its value, only a
    // token the server issues for it is accepted.
    let pre = match pre_session(req) {
        Some(p) => p,
        None => random_hex()?,
    };
    let token = issue(state, &pre);
    let mut response = templates::ok(markup(&token));
    response
        .add_cookie(&signin_cookie(&pre, settings))
        .map_err(|e| ApiError::internal(format!("setting a cookie: {e}")))?;
    Ok(response)
}

/// The pre-session of a sign-in POST, refused unless its form token was issued for it and the
/// browser does not say the form came from another site.
fn checked_pre_session(
    req: &HttpRequest,
    state: &AppState,
    form: &Fields,
) -> Result<Option<String>, WebError> {
    let pre = pre_session(req);
    let issued = pre.as_deref().is_some_and(|p| {
        super::csrf::signin_token_valid(
            &state.checkpoint_key,
            p,
            form.value(super::csrf::FIELD),
            Utc::now().timestamp(),
        )
    });
    if !issued || from_another_site(req) {
        return Err(WebError::Csrf { viewer: None });
    }
    Ok(pre)
}

/// The session is open: its cookie, the pre-session's removed, home.
fn signed_in(
    new: web_sessions::NewSession,
    state: &AppState,
    settings: &WebSettings,
) -> Result<HttpResponse, WebError> {
    tracing::info!(user = %new.user.name, role = new.user.role.as_str(), "web sign-in");
    let s = WebSession::new(new.user, new.id, state, None);
    let mut response = templates::see_other(&s.home());
    let mut gone = signin_cookie("", settings);
    gone.make_removal();
    response
        .add_cookie(&session::session_cookie(s.id(), settings))
        .and_then(|()| response.add_cookie(&gone))
        .map_err(|e| ApiError::internal(format!("setting a cookie: {e}")))?;
    Ok(response)
}

/// A refused sign-in form again, with a fresh form token for the same pre-session.
fn refused(
    status: StatusCode,
    pre: Option<String>,
    state: &AppState,
    settings: &WebSettings,
    markup: impl FnOnce(&str) -> Markup,
) -> Result<HttpResponse, WebError> {
    let pre = pre.unwrap_or_default();
    let mut response = templates::respond(status, markup(&issue(state, &pre)));
    response
        .add_cookie(&signin_cookie(&pre, settings))
        .map_err(|e| ApiError::internal(format!("setting a cookie: {e}")))?;
    Ok(response)
}

/// Checks name and password and opens a session.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    settings: web::Data<WebSettings>,
    form: Fields,
) -> Result<HttpResponse, WebError> {
    let pre = checked_pre_session(&req, &state, &form)?;
    let ip = unblocked_client(&state, &req)?;
    let name = form.value("name").trim().to_string();
    let password = form.value("password").to_string();
    let policy = settings.sessions;
    // Signing in again replaces the browser's earlier session.
    let earlier = req.cookie(session::COOKIE).map(|c| c.value().to_string());
    let who = name.clone();
    let result = run_db(&state, move |c| {
        let new = web_sessions::sign_in(c, &who, &password, policy)?;
        if let Some(old) = earlier {
            web_sessions::sign_out(c, &old)?;
        }
        Ok::<_, ApiError>(new)
    })
    .await;
    match result {
        Ok(new) => signed_in(new, &state, &settings),
        Err(ApiError::Unauthorized) => {
            if let e @ ApiError::TooManyRequests { .. } = note_auth_failure(&state, ip).await {
                return Err(e.into());
            }
            refused(StatusCode::UNAUTHORIZED, pre, &state, &settings, |token| {
                signin_page(
                    token,
                    &name,
                    Some(
                        "The user name or password is not correct, or the account is not \
                         active. Check them and try again; a new account is activated first.",
                    ),
                    false,
                )
            })
        }
        Err(e) => Err(e.into()),
    }
}

/// Activates an account with its one-time token and signs in.
pub async fn activate(
    req: HttpRequest,
    state: web::Data<AppState>,
    settings: web::Data<WebSettings>,
    form: Fields,
) -> Result<HttpResponse, WebError> {
    let pre = checked_pre_session(&req, &state, &form)?;
    let ip = unblocked_client(&state, &req)?;
    let token = form.value("token").trim().to_string();
    let password = form.value("password").to_string();
    let repeat = form.value("password_repeat").to_string();
    let policy = settings.sessions;
    let typed = token.clone();
    let result = run_db(&state, move |c| {
        Ok::<_, ApiError>(web_sessions::activate(
            c,
            &typed,
            NewPassword {
                password: &password,
                repeat: &repeat,
            },
            policy,
        ))
    })
    .await?;
    match result {
        Ok(new) => signed_in(new, &state, &settings),
        Err(UserError::Unauthenticated) => {
            if let e @ ApiError::TooManyRequests { .. } = note_auth_failure(&state, ip).await {
                return Err(e.into());
            }
            refused(StatusCode::UNAUTHORIZED, pre, &state, &settings, |t| {
                activation_page(
                    t,
                    ("", ""),
                    &[],
                    Some("This token is not valid, has expired or has been revoked. Check it and try again."),
                )
            })
        }
        Err(UserError::AlreadyActivated) => {
            refused(StatusCode::CONFLICT, pre, &state, &settings, |t| {
                signin_page(
                t,
                "",
                Some("This account is already activated: sign in with your user name and password. If you forgot your password, ask an administrator for a new token."),
                false,
            )
            })
        }
        Err(UserError::Invalid(Invalid(errors))) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            pre,
            &state,
            &settings,
            |t| activation_page(t, (&token, ""), &errors, None),
        ),
        Err(e) => Err(ApiError::from(e).into()),
    }
}

/// A signed-in person's password change form.
pub async fn password_form(session: WebSession) -> Result<HttpResponse, WebError> {
    Ok(templates::ok(password_page(&session, &[], false)))
}

fn password_page(session: &WebSession, errors: &[FieldError], done: bool) -> Markup {
    let error_of = |field: &str| {
        errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
    };
    let current_error = error_of("current_password");
    let password_error = error_of("password");
    let repeat_error = error_of("password_repeat");
    let body = html! {
        div.narrow {
            h1 { "Change your password" }
            @if done {
                (templates::notice("ok", html! { "Your password is changed. Your other sessions were signed out." }))
            }
            @if !errors.is_empty() {
                div.error-summary role="alert" tabindex="-1" autofocus aria-labelledby="error-summary-title" {
                    h2 #error-summary-title {
                        @if errors.len() == 1 { "There is 1 problem" } @else { "There are " (errors.len()) " problems" }
                    }
                    ul {
                        @if let Some(m) = &current_error { li { a href="#current_password" { "Current password: " (m) } } }
                        @if let Some(m) = &password_error { li { a href="#password" { "New password: " (m) } } }
                        @if let Some(m) = &repeat_error { li { a href="#password_repeat" { "New password again: " (m) } } }
                    }
                }
            }
            form method="post" action="/account/password" {
                (templates::csrf_field(session))
                div.field {
                    label for="current_password" { "Current password" }
                    @if let Some(m) = &current_error { p.field-error #current_password-error { (m) } }
                    input #current_password type="password" name="current_password"
                        autocomplete="current-password" required
                        aria-invalid=[current_error.as_ref().map(|_| "true")];
                }
                (password_fields(password_error.as_deref(), repeat_error.as_deref()))
                button.primary type="submit" { "Change password" }
            }
        }
    };
    page("Change your password", Some(session), None, body)
}

/// Changes the password; this browser gets a new session, every other one ends.
pub async fn change_password(
    req: HttpRequest,
    state: web::Data<AppState>,
    settings: web::Data<WebSettings>,
    session: WebSession,
    form: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&form)?;
    let ip = unblocked_client(&state, &req)?;
    let current = form.value("current_password").to_string();
    let password = form.value("password").to_string();
    let repeat = form.value("password_repeat").to_string();
    let policy = settings.sessions;
    let result = session
        .db(&state, move |c, user| {
            let changed = credentials::change_password(
                c,
                user,
                &current,
                NewPassword {
                    password: &password,
                    repeat: &repeat,
                },
            );
            Ok::<_, ApiError>(match changed {
                Ok(()) => Ok(web_sessions::open(c, user.clone(), policy)?),
                Err(e) => Err(e),
            })
        })
        .await?;
    match result {
        Ok(new) => {
            let s = WebSession::new(new.user, new.id, &state, None);
            let mut response = templates::ok(password_page(&s, &[], true));
            response
                .add_cookie(&session::session_cookie(s.id(), &settings))
                .map_err(|e| ApiError::internal(format!("setting a cookie: {e}")))?;
            Ok(response)
        }
        Err(UserError::Invalid(Invalid(errors))) => {
            if errors.iter().any(|e| e.field == "current_password") {
                if let e @ ApiError::TooManyRequests { .. } = note_auth_failure(&state, ip).await {
                    return Err(e.into());
                }
            }
            Ok(templates::respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                password_page(&session, &errors, false),
            ))
        }
        Err(e) => Err(session.fail(e)),
    }
}

/// Ends the session (server side) and removes the cookie.
pub async fn sign_out(
    state: web::Data<AppState>,
    session: WebSession,
    form: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&form)?;
    let id = session.id().to_string();
    session
        .db(&state, move |c, _| web_sessions::sign_out(c, &id))
        .await?;
    let mut response = templates::see_other("/signin?signed_out=1");
    response
        .add_cookie(&session::removal_cookie())
        .map_err(|e| ApiError::internal(format!("setting a cookie: {e}")))?;
    Ok(response)
}

/// The trials this server serves, with the role's page of each.
pub async fn trials(
    state: web::Data<AppState>,
    session: WebSession,
) -> Result<HttpResponse, WebError> {
    let all = state.trials.clone();
    let list = session
        .db(&state, move |c, _| queries::list_trials(c, &all))
        .await?;
    let body = html! {
        h1 { "Trials" }
        div.table-scroll role="region" aria-label="Table: Trials" tabindex="0" {
            table {
                thead { tr { th { "Trial" } th { "Title" } th { "Status" } th.num { "Enrolled" } } }
                tbody {
                    @for t in &list {
                        tr {
                            td { a href=(session::home_of(session.user.role, Some(&t.id))) { (t.id) } }
                            td { (t.title) }
                            td { (t.status) }
                            td.num { (t.enrolled) " / " (t.cap) }
                        }
                    }
                }
            }
        }
    };
    Ok(templates::ok(page("Trials", Some(&session), None, body)))
}
