//! Signing in with name and password, activating an account with its one-time token,
//! changing one's password, signing out, the start page and the trial list.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;

use super::error::WebError;
use super::form::Fields;
use super::i18n::{self, t, ta, Lang};
use super::session::{self, WebSession};
use super::templates::{self, page};
use super::WebSettings;
use crate::eligibility::FieldError;
use crate::http::error::ApiError;
use crate::http::extract::{note_auth_failure, run_db, unblocked_client};
use crate::http::state::AppState;
use crate::service::credentials::{self, NewPassword};
use crate::service::error::Invalid;
use crate::service::users::{self, UserError};
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
    /// A language chosen on the sign-in page itself (kept in the language cookie).
    #[serde(default)]
    lang: Option<String>,
}

impl SignInQuery {
    /// The language chosen on the page (`?lang=`), and the one it is shown in: that choice,
    /// else the browser's.
    fn language(&self, req: &HttpRequest) -> (Option<Lang>, Lang) {
        let chosen = self.lang.as_deref().and_then(Lang::from_tag);
        (chosen, chosen.unwrap_or_else(|| i18n::of_request(req)))
    }
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

fn signin_page(
    lang: Lang,
    token: &str,
    name: &str,
    problem: Option<&str>,
    signed_out: bool,
) -> Markup {
    let body = html! {
        div.narrow {
            h1 { (t(lang, "signin-title")) }
            @if signed_out {
                (templates::notice("ok", html! { (t(lang, "signin-signed-out")) }))
            }
            @if let Some(p) = problem {
                div.notice.error role="alert" { (p) }
            }
            form method="post" action="/signin" {
                input type="hidden" name="csrf" value=(token);
                div.field {
                    label for="name" { (t(lang, "signin-name")) }
                    input #name type="text" name="name" value=(name) autocomplete="username"
                        autocapitalize="none" spellcheck="false" required autofocus[name.is_empty()];
                }
                div.field {
                    label for="password" { (t(lang, "signin-password")) }
                    input #password type="password" name="password" autocomplete="current-password"
                        required autofocus[!name.is_empty()];
                }
                button.primary type="submit" { (t(lang, "signin-submit")) }
            }
            p {
                (t(lang, "signin-first-time")) a href="/signin/activate" { (t(lang, "signin-activate-link")) }
                (t(lang, "signin-first-time-end"))
            }
            (language_links(lang, "/signin"))
        }
    };
    templates::page_in(lang, &t(lang, "signin-title"), None, None, body)
}

/// Links to the other languages of a page without a session (kept in the language cookie).
fn language_links(lang: Lang, path: &str) -> Markup {
    html! {
        nav.lang-links aria-label=(t(lang, "language-switch")) {
            @for other in Lang::ALL.into_iter().filter(|l| *l != lang) {
                a href=(format!("{path}?lang={}", other.tag())) lang=(other.tag()) hreflang=(other.tag()) {
                    (other.native_name())
                }
            }
        }
    }
}

/// Every error of a password form at the top, each linked to its input (in form order).
fn password_summary(lang: Lang, errors: &[(&str, &str, Option<String>)]) -> Markup {
    let shown: Vec<_> = errors.iter().filter(|(_, _, m)| m.is_some()).collect();
    html! {
        @if !shown.is_empty() {
            div.error-summary role="alert" tabindex="-1" autofocus aria-labelledby="error-summary-title" {
                h2 #error-summary-title {
                    (ta(lang, "form-problems", &[("n", shown.len().into())]))
                }
                ul {
                    @for (field, label, message) in shown {
                        li { a href=(format!("#{field}")) { (label) ": " (message.as_deref().unwrap_or_default()) } }
                    }
                }
            }
        }
    }
}

/// A field error's message in `lang`, if `field` has one.
fn error_of(lang: Lang, errors: &[FieldError], field: &str) -> Option<String> {
    errors
        .iter()
        .find(|e| e.field == field)
        .map(|e| super::messages::field(lang, &e.message))
}

/// The activation form: the one-time token and the first password, typed twice.
fn activation_page(
    lang: Lang,
    token: &str,
    typed_token: &str,
    errors: &[FieldError],
    problem: Option<&str>,
) -> Markup {
    let password_error = error_of(lang, errors, "password");
    let repeat_error = error_of(lang, errors, "password_repeat");
    let (new_label, repeat_label) = (t(lang, "password-new"), t(lang, "password-repeat"));
    let body = html! {
        div.narrow {
            h1 { (t(lang, "activate-title")) }
            @if let Some(p) = problem {
                div.notice.error role="alert" { (p) }
            }
            (password_summary(lang, &[
                ("password", &new_label, password_error.clone()),
                ("password_repeat", &repeat_label, repeat_error.clone()),
            ]))
            p { (t(lang, "activate-intro-1")) code { "tg_" } (t(lang, "activate-intro-2")) }
            form method="post" action="/signin/activate" {
                input type="hidden" name="csrf" value=(token);
                div.field {
                    label for="token" { (t(lang, "activate-token")) }
                    input #token type="password" name="token" value=(typed_token) autocomplete="off"
                        required spellcheck="false" aria-describedby="token-hint" autofocus[errors.is_empty()];
                    p.hint #token-hint {
                        (t(lang, "signin-hint-3")) code { "admin.token" } (t(lang, "signin-hint-4"))
                    }
                }
                (password_fields(lang, password_error.as_deref(), repeat_error.as_deref()))
                button.primary type="submit" { (t(lang, "activate-submit")) }
            }
            p { a href="/signin" { (t(lang, "activate-back")) } }
            (language_links(lang, "/signin/activate"))
        }
    };
    templates::page_in(lang, &t(lang, "activate-title"), None, None, body)
}

/// A new password and its repeat, with the policy as the hint.
fn password_fields(lang: Lang, password_error: Option<&str>, repeat_error: Option<&str>) -> Markup {
    html! {
        div.field {
            label for="password" { (t(lang, "password-new")) }
            @if let Some(m) = password_error { p.field-error #password-error { (m) } }
            input #password type="password" name="password" autocomplete="new-password" required
                minlength=(crate::service::passwords::MIN_CHARS)
                aria-describedby="password-hint" aria-invalid=[password_error.map(|_| "true")];
            p.hint #password-hint {
                (ta(lang, "password-hint", &[("min", crate::service::passwords::MIN_CHARS.into())]))
            }
        }
        div.field {
            label for="password_repeat" { (t(lang, "password-repeat")) }
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
    let (chosen, lang) = query.language(&req);
    pre_session_page(&req, &state, &settings, chosen, |token| {
        signin_page(lang, token, "", None, query.signed_out.is_some())
    })
}

/// The activation form (no session yet).
pub async fn activation_form(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Option<WebSession>,
    settings: web::Data<WebSettings>,
    query: web::Query<SignInQuery>,
) -> Result<HttpResponse, WebError> {
    if let Some(s) = session {
        return Ok(templates::see_other(&s.home()));
    }
    let (chosen, lang) = query.language(&req);
    pre_session_page(&req, &state, &settings, chosen, |token| {
        activation_page(lang, token, "", &[], None)
    })
}

/// A page of the sign-in forms, with the pre-session cookie and its form token.
fn pre_session_page(
    req: &HttpRequest,
    state: &AppState,
    settings: &WebSettings,
    chosen: Option<Lang>,
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
    if let Some(l) = chosen {
        response
            .add_cookie(&i18n::cookie(l, settings.secure_cookies))
            .map_err(|e| ApiError::internal(format!("setting a cookie: {e}")))?;
    }
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
    let s = WebSession::new(new.user, new.id, state, None, Lang::En);
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
            let lang = i18n::of_request(&req);
            refused(StatusCode::UNAUTHORIZED, pre, &state, &settings, |token| {
                signin_page(
                    lang,
                    token,
                    &name,
                    Some(&t(lang, "signin-bad-password")),
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
    let lang = i18n::of_request(&req);
    match result {
        Ok(new) => signed_in(new, &state, &settings),
        Err(UserError::Unauthenticated) => {
            if let e @ ApiError::TooManyRequests { .. } = note_auth_failure(&state, ip).await {
                return Err(e.into());
            }
            refused(StatusCode::UNAUTHORIZED, pre, &state, &settings, |token| {
                activation_page(lang, token, "", &[], Some(&t(lang, "activate-bad-token")))
            })
        }
        Err(UserError::AlreadyActivated) => {
            refused(StatusCode::CONFLICT, pre, &state, &settings, |token| {
                signin_page(lang, token, "", Some(&t(lang, "activate-already")), false)
            })
        }
        Err(UserError::Invalid(Invalid(errors))) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            pre,
            &state,
            &settings,
            |form_token| activation_page(lang, form_token, &token, &errors, None),
        ),
        Err(e) => Err(ApiError::from(e).into()),
    }
}

/// A signed-in person's password change form.
pub async fn password_form(session: WebSession) -> Result<HttpResponse, WebError> {
    Ok(templates::ok(password_page(&session, &[], false)))
}

fn password_page(session: &WebSession, errors: &[FieldError], done: bool) -> Markup {
    let lang = session.lang;
    let current_error = error_of(lang, errors, "current_password");
    let password_error = error_of(lang, errors, "password");
    let repeat_error = error_of(lang, errors, "password_repeat");
    let (current_label, new_label, repeat_label) = (
        t(lang, "password-current"),
        t(lang, "password-new"),
        t(lang, "password-repeat"),
    );
    let body = html! {
        div.narrow {
            h1 { (t(lang, "password-title")) }
            @if done {
                (templates::notice("ok", html! { (t(lang, "password-changed")) }))
            }
            (password_summary(lang, &[
                ("current_password", &current_label, current_error.clone()),
                ("password", &new_label, password_error.clone()),
                ("password_repeat", &repeat_label, repeat_error.clone()),
            ]))
            form method="post" action="/account/password" {
                (templates::csrf_field(session))
                div.field {
                    label for="current_password" { (current_label) }
                    @if let Some(m) = &current_error { p.field-error #current_password-error { (m) } }
                    input #current_password type="password" name="current_password"
                        autocomplete="current-password" required
                        aria-invalid=[current_error.as_ref().map(|_| "true")];
                }
                (password_fields(lang, password_error.as_deref(), repeat_error.as_deref()))
                button.primary type="submit" { (t(lang, "password-submit")) }
            }
        }
    };
    page(&t(lang, "password-title"), Some(session), None, body)
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
            let s = WebSession::new(new.user, new.id, &state, None, session.lang);
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
    let l = session.lang;
    let body = html! {
        h1 { (t(l, "nav-trials")) }
        div.table-scroll role="region" aria-label=(t(l, "trials-table")) tabindex="0" {
            table {
                thead { tr { th { (t(l, "trials-trial")) } th { (t(l, "trials-title")) } th { (t(l, "trials-status")) } th.num { (t(l, "trials-enrolled")) } } }
                tbody {
                    @for tr in &list {
                        tr {
                            td { a href=(session::home_of(session.user.role, Some(&tr.id))) { (tr.id) } }
                            td { (state.trials.get(&tr.id).map_or_else(|_| tr.title.clone(), |r| r.protocol.title_in(l).to_string())) }
                            td { (templates::trial_status(l, tr.status)) }
                            td.num { (tr.enrolled) " / " (tr.cap) }
                        }
                    }
                }
            }
        }
    };
    Ok(templates::ok(page(
        &t(l, "nav-trials"),
        Some(&session),
        None,
        body,
    )))
}

/// The page a form was sent from, by its `Referer` (the pages send it to their own origin
/// only): its path and query when it is a page of this server, else `None`. Read from the
/// request rather than a field of the page, so that no page reflects its own address.
fn referring_page(req: &HttpRequest) -> Option<String> {
    let referer = req.headers().get(header::REFERER)?.to_str().ok()?;
    let rest = referer
        .strip_prefix("http://")
        .or_else(|| referer.strip_prefix("https://"))?;
    let (authority, path) = rest.split_at(rest.find('/')?);
    let host = req.connection_info().host().to_string();
    // A path of this server only: never `//host` or `/\host`.
    (authority == host && !path.starts_with("//") && !path.starts_with("/\\"))
        .then(|| path.to_string())
}

/// The header's language switch: keeps the choice for the user and, in a cookie, for this
/// browser's sign-in page; then back to the page it was chosen on.
pub async fn set_language(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: WebSession,
    settings: web::Data<WebSettings>,
    form: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&form)?;
    let Some(lang) = Lang::from_tag(form.value("language")) else {
        return Err(session.fail(ApiError::field(
            "language",
            format!("must be one of {}", Lang::ALL.map(Lang::tag).join(", ")),
        )));
    };
    session
        .db(&state, move |c, user| users::set_language(c, user, lang))
        .await?;
    let back = referring_page(&req).unwrap_or_else(|| session.home());
    let mut response = templates::see_other(&back);
    response
        .add_cookie(&i18n::cookie(lang, settings.secure_cookies))
        .map_err(|e| ApiError::internal(format!("setting a cookie: {e}")))?;
    Ok(response)
}
