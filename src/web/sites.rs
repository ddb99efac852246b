//! Admin pages of the sites register: the list, registering a site, changing one.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

use super::error::WebError;
use super::form::Fields;
use super::session::WebSession;
use super::templates::{self, csrf_field, page};
use crate::access::Permission;
use crate::fields::FieldError;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::service::sites::{self, NewSite, SiteChange};
use crate::service::views::SiteView;

#[derive(Debug, Deserialize)]
pub struct Flash {
    #[serde(default)]
    registered: Option<String>,
    #[serde(default)]
    changed: Option<String>,
}

fn field_error(errors: &[FieldError], name: &str) -> Markup {
    html! {
        @for e in errors.iter().filter(|e| e.field == name) {
            p.field-error id=(format!("{name}-error")) { (e.message) }
        }
    }
}

/// The name, time zone and e-mail inputs (shared by the register and change forms).
fn site_fields(fields: &Fields, errors: &[FieldError]) -> Markup {
    let invalid = |n: &str| errors.iter().any(|e| e.field == n).then_some("true");
    html! {
        div.field {
            label for="name" { "Name" }
            input #name name="name" value=(fields.value("name")) autocomplete="off"
                aria-invalid=[invalid("name")];
            (field_error(errors, "name"))
        }
        div.field.small {
            label for="time_zone" { "Time zone" }
            input #time_zone name="time_zone" value=(fields.value("time_zone")) autocomplete="off"
                list="time-zones" aria-invalid=[invalid("time_zone")] aria-describedby="time_zone-hint";
            datalist #time-zones {
                @for tz in ["Asia/Shanghai", "Asia/Hong_Kong", "Asia/Taipei", "Asia/Tokyo", "Europe/Berlin", "Europe/London", "America/New_York", "UTC"] {
                    option value=(tz) {}
                }
            }
            p.hint #time_zone-hint { "An IANA name, e.g. Asia/Shanghai. The site's users read every time in it." }
            (field_error(errors, "time_zone"))
        }
        div.field {
            label for="email" { "E-mail (optional)" }
            input #email name="email" type="email" value=(fields.value("email")) autocomplete="off"
                aria-invalid=[invalid("email")];
            (field_error(errors, "email"))
        }
    }
}

fn list_page(
    s: &WebSession,
    list: &[SiteView],
    fields: &Fields,
    errors: &[FieldError],
    flash: Option<Markup>,
) -> Markup {
    let invalid = |n: &str| errors.iter().any(|e| e.field == n).then_some("true");
    let body = html! {
        h1 { "Sites" }
        @if let Some(f) = flash { (f) }
        p { "Screenings and users name registered sites only. " a href="/admin" { "Back to users and trials" } }
        section aria-labelledby="new-site-title" {
            h2 #new-site-title { "Register a site" }
            form method="post" action="/admin/sites" {
                (csrf_field(s))
                div.row {
                    div.field.small {
                        label for="code" { "Code" }
                        input #code name="code" value=(fields.value("code")) autocomplete="off"
                            aria-invalid=[invalid("code")] aria-describedby="code-hint";
                        p.hint #code-hint { "As screenings name it, e.g. SITE01: letters, digits, '-', '_' or '.'." }
                        (field_error(errors, "code"))
                    }
                    (site_fields(fields, errors))
                }
                button.primary type="submit" { "Register site" }
            }
        }
        section aria-labelledby="sites-title" {
            h2 #sites-title { "Registered sites" }
            @if list.is_empty() {
                p.empty { "No site is registered yet." }
            } @else {
                div.table-scroll role="region" aria-label="Table: Sites" tabindex="0" {
                    table {
                        thead { tr { th { "Code" } th { "Name" } th { "Time zone" } th { "E-mail" } th { "Registered" } th { span.visually-hidden { "Action" } } } }
                        tbody {
                            @for site in list {
                                tr {
                                    td { (site.code) }
                                    td { (site.name) }
                                    td { (site.time_zone) }
                                    td { (site.email.as_deref().unwrap_or("—")) }
                                    td { (s.when(&site.created_at)) }
                                    td { a href=(format!("/admin/sites/{}", super::admin::url_component(&site.code))) aria-label=(format!("Change {}", site.code)) { "Change…" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page("Sites", Some(s), None, body)
}

async fn all(state: &web::Data<AppState>, s: &WebSession) -> Result<Vec<SiteView>, WebError> {
    s.db(state, sites::list).await
}

/// The register: every site, and a form to register one.
pub async fn list(
    state: web::Data<AppState>,
    session: WebSession,
    flash: web::Query<Flash>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::ManageSites)?;
    let list = all(&state, &session).await?;
    // Only a code the register holds comes back in a notice.
    let flash = flash.into_inner();
    let known = |code: Option<String>| code.and_then(|c| list.iter().find(|s| s.code == c));
    let flash = match (known(flash.registered), known(flash.changed)) {
        (Some(site), _) => Some(templates::notice(
            "ok",
            html! { "Site " strong { (site.code) } " is registered." },
        )),
        (None, Some(site)) => Some(templates::notice(
            "ok",
            html! { "Site " strong { (site.code) } " is changed." },
        )),
        (None, None) => None,
    };
    Ok(templates::ok(list_page(
        &session,
        &list,
        &Fields::default(),
        &[],
        flash,
    )))
}

/// Registers a site.
pub async fn create(
    state: web::Data<AppState>,
    session: WebSession,
    fields: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&fields)?;
    session.require(Permission::ManageSites)?;
    let new = NewSite {
        code: fields.value("code").trim().to_string(),
        name: fields.value("name").to_string(),
        time_zone: fields.value("time_zone").to_string(),
        email: fields.filled("email").map(str::to_string),
    };
    let code = new.code.clone();
    match session
        .db(&state, move |c, user| sites::create(c, user, &new))
        .await
    {
        Ok(_) => Ok(templates::see_other(&format!(
            "/admin/sites?registered={}",
            super::admin::url_component(&code)
        ))),
        Err(WebError::Page { error, .. }) if refused_input(&error) => {
            let errors = as_field_errors(error);
            let list = all(&state, &session).await?;
            Ok(templates::respond(
                StatusCode::UNPROCESSABLE_ENTITY,
                list_page(&session, &list, &fields, &errors, None),
            ))
        }
        Err(e) => Err(e),
    }
}

/// Refusals the form shows at its fields: bad input, or a code registered already.
fn refused_input(error: &ApiError) -> bool {
    matches!(error, ApiError::Validation(_) | ApiError::SiteExists(_))
}

fn as_field_errors(error: ApiError) -> Vec<FieldError> {
    match error {
        ApiError::Validation(errors) => errors,
        other => vec![FieldError::new("code", other.to_string())],
    }
}

fn change_page(s: &WebSession, code: &str, fields: &Fields, errors: &[FieldError]) -> Markup {
    let body = html! {
        h1 { "Change site " (code) }
        p { "The site's users read times in the new time zone from their next page." }
        @for e in errors.iter().filter(|e| e.field.is_empty()) {
            (templates::notice("error", html! { (e.message) }))
        }
        form method="post" action=(format!("/admin/sites/{}", super::admin::url_component(code))) {
            (csrf_field(s))
            div.row { (site_fields(fields, errors)) }
            div.actions {
                button.primary type="submit" { "Save" }
                a href="/admin/sites" { "Cancel" }
            }
        }
    };
    page("Change site", Some(s), None, body)
}

/// The change form of one site, filled with what it is now.
pub async fn change_form(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::ManageSites)?;
    let code = path.into_inner();
    let list = all(&state, &session).await?;
    let site = list
        .iter()
        .find(|s| s.code == code)
        .ok_or_else(|| session.fail(ApiError::NotFound(format!("no site {code:?}"))))?;
    let mut fields = Fields::default();
    fields.set("name", site.name.as_str());
    fields.set("time_zone", site.time_zone.as_str());
    fields.set("email", site.email.as_deref().unwrap_or(""));
    Ok(templates::ok(change_page(
        &session,
        &site.code,
        &fields,
        &[],
    )))
}

/// Changes a site's name, time zone and e-mail (an empty e-mail removes it).
pub async fn change(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
    fields: Fields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&fields)?;
    session.require(Permission::ManageSites)?;
    let code = path.into_inner();
    let change = SiteChange {
        name: Some(fields.value("name").to_string()),
        time_zone: Some(fields.value("time_zone").to_string()),
        email: Some(fields.filled("email").map(str::to_string)),
    };
    let c2 = code.clone();
    match session
        .db(&state, move |c, user| sites::change(c, user, &c2, &change))
        .await
    {
        Ok(site) => Ok(templates::see_other(&format!(
            "/admin/sites?changed={}",
            super::admin::url_component(&site.code)
        ))),
        Err(WebError::Page {
            error: ApiError::Validation(errors),
            ..
        }) => Ok(templates::respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            change_page(&session, &code, &fields, &errors),
        )),
        Err(e) => Err(e),
    }
}
