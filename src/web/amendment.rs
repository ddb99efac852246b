//! Amending a trial's protocol from the admin pages: the whole new protocol file (pasted, or
//! loaded from a file by app.js) with a reason; a review of what changes, with every refusal
//! at its input before anything can be confirmed; then the confirmation, which carries the
//! file in a hidden field and is checked again by the use case.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};

use super::error::WebError;
use super::form::{Fields, LargeFields};
use super::i18n::{t, ta, Lang};
use super::session::WebSession;
use super::templates::{self, csrf_field, page};
use crate::access::Permission;
use crate::eligibility::FieldError;
use crate::http::error::ApiError;
use crate::http::extract::BODY_LIMIT;
use crate::http::state::AppState;
use crate::protocol::amendment::{describe, Item, KeyChange};
use crate::service::trials::{self, AmendmentReview};

const PROTOCOL: &str = "protocol";
const REASON: &str = "reason";

fn action(trial_id: &str) -> String {
    format!("/admin/trials/{trial_id}/amend")
}

/// Errors at an input: the reason's at the reason, every other (the protocol, or a key of it
/// that the amendment may not change) at the protocol.
fn errors_for(errors: &[FieldError], reason: bool) -> Vec<&FieldError> {
    errors
        .iter()
        .filter(|e| (e.field == REASON) == reason)
        .collect()
}

fn field_error(l: Lang, id: &str, errors: &[&FieldError]) -> Markup {
    html! {
        @if !errors.is_empty() {
            p.field-error id=(format!("{id}-error")) {
                @for e in errors {
                    // A key of the protocol is named by the message itself ("arms: …").
                    (super::messages::field(l, &e.message)) " "
                }
            }
        }
    }
}

fn form_page(
    s: &WebSession,
    trial_id: &str,
    title: &str,
    fields: &Fields,
    errors: &[FieldError],
) -> Markup {
    let protocol_errors = errors_for(errors, false);
    let reason_errors = errors_for(errors, true);
    let invalid = |e: &[&FieldError]| (!e.is_empty()).then_some("true");
    let described = |id: &str, e: &[&FieldError]| (!e.is_empty()).then(|| format!("{id}-error"));
    let l = s.lang;
    let body = html! {
        h1 { (ta(l, "amend-title", &[("trial", trial_id.into())])) }
        p.lead { (title) }
        p { (t(l, "amend-give-1")) code { "trialgate trial amend" } (t(l, "amend-give-2")) }
        form method="post" action=(action(trial_id)) {
            (csrf_field(s))
            div.field hidden data-file-field {
                label for="protocol-file" { (t(l, "amend-load")) }
                // No name: never sent; app.js reads the file into the text below.
                input #protocol-file type="file" accept=".toml,text/plain" data-load="protocol";
            }
            div.field {
                label for="protocol" { (t(l, "amend-file")) }
                textarea #protocol.code name=(PROTOCOL) rows="22" spellcheck="false" autocomplete="off"
                    aria-invalid=[invalid(&protocol_errors)] aria-describedby=[described("protocol", &protocol_errors)] {
                    (fields.value(PROTOCOL))
                }
                (field_error(l, "protocol", &protocol_errors))
            }
            div.field {
                label for="reason" { (t(l, "amend-reason")) }
                textarea #reason name=(REASON) rows="3"
                    aria-invalid=[invalid(&reason_errors)] aria-describedby=[described("reason", &reason_errors)] {
                    (fields.value(REASON))
                }
                (field_error(l, "reason", &reason_errors))
            }
            div.actions {
                button.primary type="submit" { (t(l, "amend-review")) }
                a href="/admin" { (t(l, "cancel")) }
            }
        }
    };
    page(&t(l, "amend-page-title"), Some(s), Some(trial_id), body)
}

fn items(heading: &str, list: &[Item]) -> Markup {
    html! {
        @if !list.is_empty() {
            p { strong { (heading) } }
            ul { @for i in list { li { code { (i.id) } " — " (i.label) } } }
        }
    }
}

fn changes(l: Lang, review: &AmendmentReview) -> Markup {
    let none = || html! { span.empty { (t(l, "amend-not-set")) } };
    html! {
        div.table-scroll role="region" aria-label=(t(l, "amend-table")) tabindex="0" {
            table.changes {
                caption { (t(l, "amend-what-changes")) }
                thead { tr { th scope="col" { (t(l, "amend-key")) } th scope="col" { (t(l, "amend-before")) } th scope="col" { (t(l, "amend-after")) } } }
                tbody {
                    @for c in describe(&review.current, &review.proposed) {
                        @match c {
                            KeyChange::Value { key, old, new } => tr {
                                th scope="row" { code { (key) } }
                                td { @match old { Some(v) => code { (v) }, None => (none()) } }
                                td { @match new { Some(v) => code { (v) }, None => (none()) } }
                            },
                            KeyChange::Items { key, added, removed, changed } => tr {
                                th scope="row" { code { (key) } }
                                td colspan="2" {
                                    (items(&t(l, "amend-added"), &added))
                                    (items(&t(l, "amend-removed"), &removed))
                                    @if !changed.is_empty() {
                                        p { strong { (t(l, "amend-changed")) } }
                                        ul {
                                            @for ch in &changed {
                                                li {
                                                    code { (ch.item.id) } " — " (ch.item.label)
                                                    details {
                                                        summary { (t(l, "amend-before-after")) }
                                                        pre { (ch.old) }
                                                        pre { (ch.new) }
                                                    }
                                                }
                                            }
                                        }
                                    }
                                }
                            },
                        }
                    }
                }
            }
        }
    }
}

pub async fn form(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::AmendProtocol)?;
    let trial_id = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let l = session.lang;
    if session.trial_closed(&trial_id) {
        let body = html! {
            h1 { (ta(l, "amend-title", &[("trial", trial_id.as_str().into())])) }
            p { (t(l, "amend-closed")) }
            p { a href="/admin" { (t(l, "back-to-admin")) } }
        };
        return Ok(templates::ok(page(
            &t(l, "amend-page-title"),
            Some(&session),
            Some(&trial_id),
            body,
        )));
    }
    Ok(templates::ok(form_page(
        &session,
        &trial_id,
        trial.protocol.title_in(l),
        &Fields::default(),
        &[],
    )))
}

/// What the form can refuse before the use case sees it: no file, or one larger than the API
/// accepts (then the reason too, by the use case's rule, so that one round trip names both).
fn precheck(text: &str, reason: &str) -> Vec<FieldError> {
    let protocol = if text.trim().is_empty() {
        Some("is required: give the whole protocol file".to_string())
    } else if text.len() > BODY_LIMIT {
        Some(format!(
            "is {} bytes; a protocol file may be at most {BODY_LIMIT} bytes ({} KiB)",
            text.len(),
            BODY_LIMIT / 1024
        ))
    } else {
        None
    };
    let Some(protocol) = protocol else {
        return Vec::new();
    };
    let mut errors = vec![FieldError::new(PROTOCOL, protocol)];
    if let Err(message) = crate::text::check_reason(reason, crate::text::MAX_REASON_CHARS) {
        errors.push(FieldError::new(REASON, message));
    }
    errors
}

/// The review (`confirm` absent) or the amendment (`confirm=yes`); refusals come back as the
/// form with each at its input.
pub async fn submit(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
    LargeFields(fields): LargeFields,
) -> Result<HttpResponse, WebError> {
    session.check_csrf(&fields)?;
    session.require(Permission::AmendProtocol)?;
    let trial_id = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let text = fields.value(PROTOCOL).to_string();
    let reason = fields.value(REASON).to_string();
    let refused = |errors: &[FieldError]| {
        templates::respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            form_page(
                &session,
                &trial_id,
                trial.protocol.title_in(session.lang),
                &fields,
                errors,
            ),
        )
    };
    let early = precheck(&text, &reason);
    if !early.is_empty() {
        return Ok(refused(&early));
    }
    let confirmed = fields.value("confirm") == "yes";
    let tc = trial.clone();
    let all = state.trials.clone();
    let (sent, why) = (text.clone(), reason.clone());
    let result = if confirmed {
        session
            .db(&state, move |c, user| {
                trials::amend(c, &all, &tc, user, &sent, &why).map(|a| (a.version, None))
            })
            .await
    } else {
        session
            .db(&state, move |c, user| {
                trials::review_amendment(c, &tc, user, &sent, &why).map(|r| (r.version, Some(r)))
            })
            .await
    };
    let review = match result {
        Ok((_, Some(review))) => review,
        Ok((_, None)) => {
            return Ok(templates::see_other(&format!(
                "/admin?amended={}",
                super::admin::url_component(&trial_id)
            )))
        }
        Err(WebError::Page {
            error: ApiError::Validation(errors),
            ..
        }) => return Ok(refused(&errors)),
        Err(e) => return Err(e),
    };
    let l = session.lang;
    let body = html! {
        h1 { (ta(l, "amend-review-title", &[("trial", trial_id.as_str().into())])) }
        p.lead { (trial.protocol.title_in(l)) }
        p { (t(l, "amend-confirming")) strong { (review.version) }
            (ta(l, "amend-replacing", &[("old", (review.version - 1).into())])) }
        (changes(l, &review))
        div.card.confirm {
            dl.big { dt { (t(l, "col-reason")) } dd { (reason.trim()) } }
            form method="post" action=(action(&trial_id)) {
                (csrf_field(&session))
                input type="hidden" name=(PROTOCOL) value=(text);
                input type="hidden" name=(REASON) value=(reason);
                input type="hidden" name="confirm" value="yes";
                div.actions {
                    button.primary type="submit" { (ta(l, "amend-put-in-force", &[("version", review.version.into())])) }
                    a href="/admin" { (t(l, "cancel")) }
                }
            }
        }
    };
    Ok(templates::ok(page(
        &t(l, "amend-review-page-title"),
        Some(&session),
        Some(&trial_id),
        body,
    )))
}
