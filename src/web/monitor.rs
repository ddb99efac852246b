//! Monitor pages: the dashboard (enrollment, arms, chart, balance, CONSORT-style flow,
//! audit chain), the audit log browser, chain verification and export downloads.

use actix_web::{web, HttpResponse};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::charts;
use super::error::WebError;
use super::i18n::{t, ta, Lang};
use super::session::WebSession;
use super::templates::{self, page};
use crate::access::Permission;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::protocol::{DeviationKind, TrialStatus};
use crate::service::corrections;
use crate::service::exports::{self, ExportFormat};
use crate::service::views::{AuditHead, Balance, EnrollmentFlow};
use crate::service::{audit_trail, queries, TrialRuntime};

/// Audit entries per page of the log browser.
const AUDIT_PAGE: i64 = 50;

fn arm_name(l: Lang, trial: &TrialRuntime, code: &str) -> String {
    trial
        .protocol
        .arm(code)
        .map_or_else(|| code.to_string(), |a| a.name_in(l).to_string())
}

fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        "–".into()
    } else {
        format!("{:.0} %", 100.0 * part as f64 / whole as f64)
    }
}

fn flow_section(l: Lang, trial: &TrialRuntime, f: &EnrollmentFlow) -> Markup {
    let criterion = |id: &str, text: &str| {
        trial
            .protocol
            .criteria
            .iter()
            .find(|c| c.id == id)
            .map_or_else(|| text.to_string(), |c| c.text_in(l).to_string())
    };
    html! {
        section aria-labelledby="flow-title" {
            h2 #flow-title { (t(l, "flow-title")) }
            ol.flow {
                li.step { span.count { (f.screened) } (t(l, "flow-screened")) }
                li.branch {
                    div.step.out {
                        span.count { (f.ineligible) } (t(l, "flow-ineligible"))
                        @if !f.failing.is_empty() {
                            ul.reasons {
                                @for c in &f.failing {
                                    li { (criterion(&c.criterion, &c.text)) (t(l, "colon")) strong { (c.count) } }
                                }
                            }
                        }
                    }
                    div.step.out { span.count { (f.incomplete) } (t(l, "flow-incomplete")) }
                }
                li.step { span.count { (f.eligible) } (t(l, "flow-eligible")) }
                li.branch {
                    div.step.out { span.count { (f.awaiting) } (t(l, "flow-awaiting")) }
                }
                li.step { span.count { (f.randomized) } (t(l, "flow-randomized")) }
                li.arms {
                    @for (arm, withdrawn) in f.randomized_by_arm.iter().zip(&f.withdrawn_by_arm) {
                        div.step {
                            strong { (arm_name(l, trial, &arm.arm)) }
                            p.arms { span.count { (arm.count) } (t(l, "flow-allocated"))
                                span.count { (withdrawn.count) } (t(l, "flow-withdrawn")) }
                        }
                    }
                }
                li.total { (f.withdrawn) (t(l, "flow-withdrawn-total")) }
            }
        }
    }
}

fn balance_section(l: Lang, trial: &TrialRuntime, b: &Balance) -> Markup {
    let arms = &trial.protocol.arms;
    let stratum_name = |key: &str| {
        if key.is_empty() {
            t(l, "stratum-all")
        } else {
            key.to_string()
        }
    };
    html! {
        section aria-labelledby="strata-title" {
            h2 #strata-title { (t(l, "strata-title")) }
            @if b.strata.is_empty() {
                p { (t(l, "allocations-empty")) }
            } @else {
                div.table-scroll role="region" aria-label=(t(l, "strata-table")) tabindex="0" {
                    table {
                        thead { tr { th { (t(l, "col-stratum")) } @for a in arms { th.num { (a.name_in(l)) } } th.num { (t(l, "col-total")) } } }
                        tbody {
                            @for s in &b.strata {
                                tr {
                                    td { (stratum_name(&s.stratum_key)) }
                                    @for c in &s.counts { td.num { (c.count) } }
                                    td.num { (s.counts.iter().map(|c| c.count).sum::<i64>()) }
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="blocks-title" {
            h2 #blocks-title { (t(l, "blocks-title")) }
            @if b.blocks.is_none() {
                p { (t(l, "blocks-hidden")) }
            }
            @for s in b.strata.iter().filter(|s| s.blocks.is_some()) {
                div.table-scroll role="region" aria-label=(ta(l, "blocks-table", &[("stratum", stratum_name(&s.stratum_key).into())])) tabindex="0" {
                    table.blocks {
                        caption { (stratum_name(&s.stratum_key)) }
                        thead { tr { th { (t(l, "col-block")) } th.num { (t(l, "col-size")) } th.num { (t(l, "col-filled")) } @for a in arms { th.num { (a.name_in(l)) } } th { (t(l, "col-complete")) } } }
                        tbody {
                            @for blk in s.blocks.iter().flatten() {
                                tr {
                                    td { (blk.block_index + 1) }
                                    td.num { (blk.size) }
                                    td.num { (blk.filled) }
                                    @for c in &blk.counts { td.num { (c.count) } }
                                    td { (if blk.complete { t(l, "form-yes") } else { t(l, "form-no") }) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// `verify`: whether the viewer may verify the whole chain (not a site-limited monitor).
fn audit_section(l: Lang, trial_id: &str, head: &AuditHead, verify: bool) -> Markup {
    html! {
        section aria-labelledby="audit-title" {
            h2 #audit-title { (t(l, "audit-title")) }
            dl.meta {
                dt { (t(l, "audit-entries")) } dd { (head.seq) }
                dt { (t(l, "audit-head-hash")) } dd { code.hash #head-hash { (head.hash) } " "
                    button type="button" data-copy="head-hash" hidden { (t(l, "copy")) } }
            }
            p.hint { (t(l, "audit-record-head")) }
            div.actions {
                @if verify {
                    form method="get" action=(format!("/trials/{trial_id}/audit/verify")) {
                        button.primary type="submit" { (t(l, "audit-verify")) }
                    }
                }
                a href=(format!("/trials/{trial_id}/audit")) { (t(l, "audit-browse")) }
            }
        }
    }
}

fn exports_section(l: Lang, trial_id: &str) -> Markup {
    html! {
        section aria-labelledby="exports-title" {
            h2 #exports-title { (t(l, "exports-title")) }
            ul.downloads {
                li { a href=(format!("/trials/{trial_id}/export/csv")) download { (t(l, "export-csv")) } }
                li { a href=(format!("/trials/{trial_id}/export/json")) download { (t(l, "export-json")) } }
                li { a href=(format!("/trials/{trial_id}/export/fhir")) download { (t(l, "export-fhir")) } }
            }
        }
    }
}

/// Everything a monitor looks at, on one page.
pub async fn dashboard(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::Monitor)?;
    let trial_id = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let tc = trial.clone();
    let (d, pending, deviations) = session
        .db(&state, move |c, user| {
            let d = queries::dashboard(c, &tc, user)?;
            let pending = corrections::list_corrections(c, &tc, user, false)?.len();
            let deviations = corrections::list_deviations(c, &tc, user)?;
            Ok::<_, queries::QueryError>((d, pending, deviations))
        })
        .await?;
    let l = session.lang;
    let arms: Vec<(&str, &str)> = trial
        .protocol
        .arms
        .iter()
        .map(|a| (a.code.as_str(), a.name_in(l)))
        .collect();
    let sequence: Vec<&str> = d.sequence.iter().map(String::as_str).collect();
    let axes = (t(l, "chart-x"), t(l, "chart-y"));
    let chart = |layout| {
        charts::cumulative_allocations(&arms, &sequence, layout, (&axes.0, &axes.1))
            .map_err(|e| session.fail(e))
    };
    let (wide, narrow) = (chart(charts::WIDE)?, chart(charts::NARROW)?);
    let b = &d.balance;
    let body = html! {
        h1 { (t(l, "nav-dashboard")) }
        p.lead { (trial.protocol.title_in(l)) " · " strong { (templates::trial_status_title(l, d.detail.status)) }
            @if let Some(r) = &d.detail.close_reason { " (" (r) ")" } }
        @if !d.detail.seed_available && d.detail.status == TrialStatus::Open {
            (templates::notice("error", html! { (t(l, "seed-unavailable")) }))
        }
        @if pending > 0 || !deviations.is_empty() {
            section.corrections-summary aria-labelledby="corrections-title" {
                h2 #corrections-title { (t(l, "corrections-and-deviations")) }
                p {
                    a href=(format!("/trials/{trial_id}/corrections")) {
                        (ta(l, "corrections-wait", &[("n", pending.into())]))
                    }
                    " · " (ta(l, "deviations-recorded", &[("n", deviations.len().into())]))
                    @for kind in DeviationKind::ALL {
                        @let n = deviations.iter().filter(|d| d.kind == kind).count();
                        @if n > 0 { " · " (super::corrections::deviation_text(l, kind)) (t(l, "colon")) (n) }
                    }
                }
            }
        }
        div.grid {
            section aria-labelledby="enrollment-title" {
                h2 #enrollment-title { (t(l, "enrollment-title")) }
                p.big-number #enrolled { (ta(l, "enrolled-of", &[("n", b.enrolled.into()), ("cap", b.cap.into())])) }
                progress max=(b.cap) value=(b.enrolled) aria-labelledby="enrollment-title" { (percent(b.enrolled, b.cap)) }
                p { (percent(b.enrolled, b.cap)) (t(l, "of-cap-randomized")) }
            }
            section aria-labelledby="arms-title" {
                h2 #arms-title { (t(l, "arms-title")) }
                div.table-scroll role="region" aria-label=(t(l, "arms-table")) tabindex="0" {
                    table {
                        thead { tr { th { (t(l, "col-arm")) } th.num { (t(l, "col-ratio")) } th.num { (t(l, "col-subjects")) } th.num { (t(l, "col-share")) } } }
                        tbody {
                            @for (a, c) in trial.protocol.arms.iter().zip(&b.counts) {
                                tr { td { (a.name_in(l)) } td.num { (a.ratio) } td.num { (c.count) } td.num { (percent(c.count, b.enrolled)) } }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="chart-title" {
            h2 #chart-title { (t(l, "chart-title")) }
            figure.chart role="img" aria-label=(t(l, "chart-label")) {
                div.chart-wide { (PreEscaped(wide)) }
                div.chart-narrow { (PreEscaped(narrow)) }
            }
        }
        (flow_section(l, &trial, &d.flow))
        (balance_section(l, &trial, b))
        (audit_section(l, &trial_id, &d.head, session.may(Permission::VerifyLog)))
        (exports_section(l, &trial_id))
    };
    Ok(templates::ok(page(
        &t(l, "nav-dashboard"),
        Some(&session),
        Some(&trial_id),
        body,
    )))
}

#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    after: Option<i64>,
}

/// The audit log, a page of entries at a time, oldest first.
pub async fn audit_log(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::Monitor)?;
    let trial_id = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let asked = query.after.unwrap_or(0);
    // `after` is clamped to the chain (0 ..= head), so no pager arithmetic can overflow or
    // link to a negative entry, whatever the address says.
    let (entries, head, after) = session
        .db(&state, move |c, user| {
            let head = audit_trail::head(c, &trial, user)?;
            let after = asked.clamp(0, head.seq.max(0));
            Ok::<_, ApiError>((
                audit_trail::entries(c, &trial, user, after, AUDIT_PAGE)?,
                head,
                after,
            ))
        })
        .await?;
    let l = session.lang;
    let link = |after: i64| format!("/trials/{trial_id}/audit?after={after}");
    let last = entries.last().map_or(after, |e| e.seq);
    // Drawn above and below the table; each landmark needs its own name.
    let pager = |place: &str| {
        html! {
            nav.pager aria-label=(ta(l, "pager-label", &[("place", t(l, place).into())])) {
                @if after > 0 {
                    a href=(link(0)) { (t(l, "pager-oldest")) }
                    a href=(link(after.saturating_sub(AUDIT_PAGE).max(0))) { (t(l, "pager-previous")) }
                }
                @if entries.is_empty() {
                    span { (ta(l, "pager-none-after", &[("after", after.into()), ("head", head.seq.into())])) }
                } @else {
                    span { (ta(l, "pager-entries", &[("first", after.saturating_add(1).into()), ("last", last.into()), ("head", head.seq.into())])) }
                }
                @if last < head.seq {
                    a href=(link(last)) { (t(l, "pager-next")) }
                    a href=(link(head.seq.saturating_sub(AUDIT_PAGE).max(0))) { (t(l, "pager-newest")) }
                }
            }
        }
    };
    let body = html! {
        h1 { (t(l, "nav-audit")) }
        (pager("pager-top"))
        div.table-scroll role="region" aria-label=(t(l, "audit-table")) tabindex="0" {
            table.audit {
                thead { tr { th.num { (t(l, "col-seq")) } th { (t(l, "col-time")) } th { (t(l, "col-actor")) } th { (t(l, "col-action-done")) } th { (t(l, "col-record")) } th { (t(l, "col-hash")) } } }
                tbody {
                    @for e in &entries {
                        tr {
                            td.num { (e.seq) }
                            td { (session.when(&e.at)) }
                            td { (e.actor) " (" (e.role) ")" }
                            td { code { (e.action) } }
                            td {
                                details {
                                    summary { (t(l, "show")) }
                                    pre { (pretty(&e.record)) }
                                }
                            }
                            td { code.hash title=(e.hash) { (e.hash.get(..12).unwrap_or(&e.hash)) "…" } }
                        }
                    }
                }
            }
        }
        (pager("pager-bottom"))
    };
    Ok(templates::ok(page(
        &t(l, "nav-audit"),
        Some(&session),
        Some(&trial_id),
        body,
    )))
}

fn pretty(record: &str) -> String {
    serde_json::from_str::<serde_json::Value>(record)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| record.to_string())
}

/// Recomputes every hash of the chain and shows the result.
pub async fn verify(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<String>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::VerifyLog)?;
    let trial_id = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let v = session
        .db(&state, move |c, user| audit_trail::verify(c, &trial, user))
        .await?;
    let l = session.lang;
    let body = html! {
        h1 { (t(l, "verify-title")) }
        @if v.valid {
            (templates::notice("ok", html! { strong { (t(l, "verify-valid")) } (ta(l, "verify-valid-detail", &[("n", v.entries.into())])) }))
        } @else {
            (templates::notice("error", html! { strong { (t(l, "verify-invalid")) }
                @if let Some(seq) = v.first_invalid_seq { (ta(l, "verify-breaks-at", &[("seq", seq.into())])) }
                @if let Some(problem) = &v.problem { " " (problem) "." }
                (t(l, "verify-report")) }))
        }
        dl.meta {
            dt { (t(l, "verify-checked")) } dd { (v.entries) }
            dt { (t(l, "audit-head-hash")) } dd { code.hash { (v.head) } }
        }
        p { a href=(format!("/trials/{trial_id}/dashboard")) { (t(l, "back-to-dashboard")) } }
    };
    Ok(templates::ok(page(
        &t(l, "verify-page-title"),
        Some(&session),
        Some(&trial_id),
        body,
    )))
}

/// A download: subjects as CSV, everything as JSON, or a FHIR R4 Bundle.
pub async fn export(
    state: web::Data<AppState>,
    session: WebSession,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, WebError> {
    session.require(Permission::Monitor)?;
    let (trial_id, format) = path.into_inner();
    let trial = state.trials.get(&trial_id).map_err(|e| session.fail(e))?;
    let format = ExportFormat::parse(&format).ok_or_else(|| {
        session.fail(ApiError::NotFound(format!(
            "no export format {format:?} (csv, json or fhir)"
        )))
    })?;
    let body = session
        .db(&state, move |c, user| {
            exports::export(c, &trial, user, format)
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type(format.content_type())
        .insert_header(("Cache-Control", "no-store"))
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"{trial_id}.{}\"", format.extension()),
        ))
        .body(body))
}
