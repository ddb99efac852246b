//! Signing in with a user's token, signing out, the start page and the trial list.

use actix_web::cookie::{time, Cookie, SameSite};
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::Utc;
use maud::{html, Markup};
use serde::Deserialize;

use super::error::WebError;
use super::form::Fields;
use super::i18n::{self, t, Lang};
use super::session::{self, WebSession};
use super::templates::{self, page};
use super::WebSettings;
use crate::http::error::ApiError;
use crate::http::extract::{note_auth_failure, run_db};
use crate::http::state::AppState;
use crate::service::users;
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

fn signin_page(lang: Lang, token: &str, problem: Option<&str>, signed_out: bool) -> Markup {
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
                    label for="token" { (t(lang, "signin-token")) }
                    input #token type="password" name="token" autocomplete="off" autofocus
                        required spellcheck="false" aria-describedby="token-hint";
                    p.hint #token-hint {
                        (t(lang, "signin-hint-1")) code { "tg_" } (t(lang, "signin-hint-2"))
                        (t(lang, "signin-hint-3")) code { "admin.token" }
                        (t(lang, "signin-hint-4"))
                    }
                }
                button.primary type="submit" { (t(lang, "signin-submit")) }
            }
            nav.lang-links aria-label=(t(lang, "language-switch")) {
                @for other in Lang::ALL.into_iter().filter(|l| *l != lang) {
                    a href=(format!("/signin?lang={}", other.tag())) lang=(other.tag()) hreflang=(other.tag()) {
                        (other.native_name())
                    }
                }
            }
        }
    };
    templates::page_in(lang, &t(lang, "signin-title"), None, None, body)
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
    // Another tab's pre-session is kept (its form stays valid); whatever its value, only a
    // token the server issues for it is accepted.
    let pre = match pre_session(&req) {
        Some(p) => p,
        None => random_hex()?,
    };
    let token = issue(&state, &pre);
    let chosen = query.lang.as_deref().and_then(Lang::from_tag);
    let lang = chosen.unwrap_or_else(|| i18n::of_request(&req));
    let mut response = templates::ok(signin_page(lang, &token, None, query.signed_out.is_some()));
    response
        .add_cookie(&signin_cookie(&pre, &settings))
        .map_err(|e| ApiError::internal(format!("setting a cookie: {e}")))?;
    if let Some(l) = chosen {
        response
            .add_cookie(&i18n::cookie(l, settings.secure_cookies))
            .map_err(|e| ApiError::internal(format!("setting a cookie: {e}")))?;
    }
    Ok(response)
}

/// Checks the token exactly as the API's bearer authentication does and opens a session.
pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    settings: web::Data<WebSettings>,
    form: Fields,
) -> Result<HttpResponse, WebError> {
    let pre = pre_session(&req);
    let issued = pre.as_deref().is_some_and(|p| {
        super::csrf::signin_token_valid(
            &state.checkpoint_key,
            p,
            form.value(super::csrf::FIELD),
            Utc::now().timestamp(),
        )
    });
    if !issued || from_another_site(&req) {
        return Err(WebError::Csrf { viewer: None });
    }
    let ip = req.peer_addr().map(|a| a.ip());
    if let Some(ip) = ip.filter(|ip| state.auth_limiter.is_blocked(*ip)) {
        return Err(state.auth_limiter.refusal(ip).into());
    }
    let token = form.value("token").to_string();
    let policy = settings.sessions;
    // Signing in again replaces the browser's earlier session.
    let earlier = req.cookie(session::COOKIE).map(|c| c.value().to_string());
    let result = run_db(&state, move |c| {
        let new = web_sessions::sign_in(c, &token, policy)?;
        if let Some(old) = earlier {
            web_sessions::sign_out(c, &old)?;
        }
        Ok::<_, ApiError>(new)
    })
    .await;
    match result {
        Ok(new) => {
            tracing::info!(user = %new.user.name, role = new.user.role.as_str(), "web sign-in");
            let s = WebSession::new(new.user, new.id, &state, None, Lang::En);
            let mut response = templates::see_other(&s.home());
            let mut gone = signin_cookie("", &settings);
            gone.make_removal();
            response
                .add_cookie(&session::session_cookie(s.id(), &settings))
                .and_then(|()| response.add_cookie(&gone))
                .map_err(|e| ApiError::internal(format!("setting a cookie: {e}")))?;
            Ok(response)
        }
        Err(ApiError::Unauthorized) => {
            if let e @ ApiError::TooManyRequests { .. } = note_auth_failure(&state, ip).await {
                return Err(e.into());
            }
            // A fresh token for the same pre-session, and its cookie kept as long.
            let pre = pre.unwrap_or_default();
            let lang = i18n::of_request(&req);
            let mut response = templates::respond(
                StatusCode::UNAUTHORIZED,
                signin_page(
                    lang,
                    &issue(&state, &pre),
                    Some(&t(lang, "signin-bad-token")),
                    false,
                ),
            );
            response
                .add_cookie(&signin_cookie(&pre, &settings))
                .map_err(|e| ApiError::internal(format!("setting a cookie: {e}")))?;
            Ok(response)
        }
        Err(e) => Err(e.into()),
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
