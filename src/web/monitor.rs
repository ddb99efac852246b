//! Monitor pages: the dashboard (enrollment, arms, chart, balance, CONSORT-style flow,
//! audit chain), the audit log browser, chain verification and export downloads.

use actix_web::{web, HttpResponse};
use maud::{html, Markup, PreEscaped};
use serde::Deserialize;

use super::charts;
use super::error::WebError;
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

fn arm_name(trial: &TrialRuntime, code: &str) -> String {
    trial
        .protocol
        .arm(code)
        .map_or_else(|| code.to_string(), |a| a.name.clone())
}

fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        "–".into()
    } else {
        format!("{:.0} %", 100.0 * part as f64 / whole as f64)
    }
}

fn flow_section(trial: &TrialRuntime, f: &EnrollmentFlow) -> Markup {
    html! {
        section aria-labelledby="flow-title" {
            h2 #flow-title { "Patient flow" }
            ol.flow {
                li.step { span.count { (f.screened) } " patients screened" }
                li.branch {
                    div.step.out {
                        span.count { (f.ineligible) } " ineligible"
                        @if !f.failing.is_empty() {
                            ul.reasons {
                                @for c in &f.failing {
                                    li { (c.text) ": " strong { (c.count) } }
                                }
                            }
                        }
                    }
                    div.step.out { span.count { (f.incomplete) } " incomplete (inputs missing)" }
                }
                li.step { span.count { (f.eligible) } " eligible" }
                li.branch {
                    div.step.out { span.count { (f.awaiting) } " awaiting randomization" }
                }
                li.step { span.count { (f.randomized) } " randomized" }
                li.arms {
                    @for (arm, withdrawn) in f.randomized_by_arm.iter().zip(&f.withdrawn_by_arm) {
                        div.step {
                            strong { (arm_name(trial, &arm.arm)) }
                            p.arms { span.count { (arm.count) } " allocated · "
                                span.count { (withdrawn.count) } " withdrawn" }
                        }
                    }
                }
                li.total { (f.withdrawn) " withdrawn in all (they stay in their arm: intention to treat)" }
            }
        }
    }
}

fn balance_section(trial: &TrialRuntime, b: &Balance) -> Markup {
    let arms = &trial.protocol.arms;
    let stratum_name = |key: &str| {
        if key.is_empty() {
            "All patients (unstratified)".to_string()
        } else {
            key.to_string()
        }
    };
    html! {
        section aria-labelledby="strata-title" {
            h2 #strata-title { "Arms per stratum" }
            @if b.strata.is_empty() {
                p { "No patient randomized yet." }
            } @else {
                div.table-scroll role="region" aria-label="Table: Arms per stratum" tabindex="0" {
                    table {
                        thead { tr { th { "Stratum" } @for a in arms { th.num { (a.name) } } th.num { "Total" } } }
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
            h2 #blocks-title { "Balance per block" }
            @if b.blocks.is_none() {
                p { "Shown after the trial is closed with its seed revealed. While the seed is secret, "
                    "where blocks begin stays hidden from everyone: knowing a block's size and fill "
                    "would tell the next arm whenever the block's remaining places are all one arm." }
            }
            @for s in b.strata.iter().filter(|s| s.blocks.is_some()) {
                div.table-scroll role="region" aria-label=(format!("Table: blocks of {}", stratum_name(&s.stratum_key))) tabindex="0" {
                    table.blocks {
                        caption { (stratum_name(&s.stratum_key)) }
                        thead { tr { th { "Block" } th.num { "Size" } th.num { "Filled" } @for a in arms { th.num { (a.name) } } th { "Complete" } } }
                        tbody {
                            @for blk in s.blocks.iter().flatten() {
                                tr {
                                    td { (blk.block_index + 1) }
                                    td.num { (blk.size) }
                                    td.num { (blk.filled) }
                                    @for c in &blk.counts { td.num { (c.count) } }
                                    td { (if blk.complete { "Yes" } else { "No" }) }
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
fn audit_section(trial_id: &str, head: &AuditHead, verify: bool) -> Markup {
    html! {
        section aria-labelledby="audit-title" {
            h2 #audit-title { "Audit trail" }
            dl.meta {
                dt { "Entries" } dd { (head.seq) }
                dt { "Head hash" } dd { code.hash #head-hash { (head.hash) } " "
                    button type="button" data-copy="head-hash" hidden { "Copy" } }
            }
            p.hint { "Record the head hash: a later verification against it detects any rewrite or truncation." }
            div.actions {
                @if verify {
                    form method="get" action=(format!("/trials/{trial_id}/audit/verify")) {
                        button.primary type="submit" { "Verify the chain" }
                    }
                }
                a href=(format!("/trials/{trial_id}/audit")) { "Browse the audit log" }
            }
        }
    }
}

fn exports_section(trial_id: &str) -> Markup {
    html! {
        section aria-labelledby="exports-title" {
            h2 #exports-title { "Exports" }
            ul.downloads {
                li { a href=(format!("/trials/{trial_id}/export/csv")) download { "Subjects (CSV)" } }
                li { a href=(format!("/trials/{trial_id}/export/json")) download { "Everything (JSON)" } }
                li { a href=(format!("/trials/{trial_id}/export/fhir")) download { "FHIR R4 Bundle" } }
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
    let t = trial.clone();
    let (d, pending, deviations) = session
        .db(&state, move |c, user| {
            let d = queries::dashboard(c, &t, user)?;
            let pending = corrections::list_corrections(c, &t, user, false)?.len();
            let deviations = corrections::list_deviations(c, &t, user)?;
            Ok::<_, queries::QueryError>((d, pending, deviations))
        })
        .await?;
    let arms: Vec<(&str, &str)> = trial
        .protocol
        .arms
        .iter()
        .map(|a| (a.code.as_str(), a.name.as_str()))
        .collect();
    let sequence: Vec<&str> = d.sequence.iter().map(String::as_str).collect();
    let chart = |layout| {
        charts::cumulative_allocations(&arms, &sequence, layout).map_err(|e| session.fail(e))
    };
    let (wide, narrow) = (chart(charts::WIDE)?, chart(charts::NARROW)?);
    let b = &d.balance;
    let body = html! {
        h1 { "Dashboard" }
        p.lead { (d.detail.title) " · " strong { (if d.detail.status == TrialStatus::Open { "Open" } else { "Closed" }) }
            @if let Some(r) = &d.detail.close_reason { " (" (r) ")" } }
        @if !d.detail.seed_available && d.detail.status == TrialStatus::Open {
            (templates::notice("error", html! { "Randomization is unavailable on this server: the seed file is missing or does not match the commitment." }))
        }
        @if pending > 0 || !deviations.is_empty() {
            section.corrections-summary aria-labelledby="corrections-title" {
                h2 #corrections-title { "Corrections and deviations" }
                p {
                    a href=(format!("/trials/{trial_id}/corrections")) {
                        (pending) @if pending == 1 { " correction waits" } @else { " corrections wait" } " for a monitor"
                    }
                    " · " (deviations.len()) @if deviations.len() == 1 { " deviation" } @else { " deviations" } " recorded"
                    @for kind in DeviationKind::ALL {
                        @let n = deviations.iter().filter(|d| d.kind == kind).count();
                        @if n > 0 { " · " (super::corrections::deviation_text(kind)) ": " (n) }
                    }
                }
            }
        }
        div.grid {
            section aria-labelledby="enrollment-title" {
                h2 #enrollment-title { "Enrollment" }
                p.big-number #enrolled { (b.enrolled) " of " (b.cap) }
                progress max=(b.cap) value=(b.enrolled) aria-labelledby="enrollment-title" { (percent(b.enrolled, b.cap)) }
                p { (percent(b.enrolled, b.cap)) " of the cap randomized" }
            }
            section aria-labelledby="arms-title" {
                h2 #arms-title { "Arms overall" }
                div.table-scroll role="region" aria-label="Table: Arms overall" tabindex="0" {
                    table {
                        thead { tr { th { "Arm" } th.num { "Ratio" } th.num { "Subjects" } th.num { "Share" } } }
                        tbody {
                            @for (a, c) in trial.protocol.arms.iter().zip(&b.counts) {
                                tr { td { (a.name) } td.num { (a.ratio) } td.num { (c.count) } td.num { (percent(c.count, b.enrolled)) } }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="chart-title" {
            h2 #chart-title { "Cumulative allocations by arm" }
            figure.chart role="img" aria-label="Cumulative allocations of each arm over the randomization sequence" {
                div.chart-wide { (PreEscaped(wide)) }
                div.chart-narrow { (PreEscaped(narrow)) }
            }
        }
        (flow_section(&trial, &d.flow))
        (balance_section(&trial, b))
        (audit_section(&trial_id, &d.head, session.may(Permission::VerifyLog)))
        (exports_section(&trial_id))
    };
    Ok(templates::ok(page(
        "Dashboard",
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
    let link = |after: i64| format!("/trials/{trial_id}/audit?after={after}");
    let last = entries.last().map_or(after, |e| e.seq);
    // Drawn above and below the table; each landmark needs its own name.
    let pager = |place: &str| {
        html! {
            nav.pager aria-label=(format!("Audit log pages ({place})")) {
                @if after > 0 {
                    a href=(link(0)) { "Oldest" }
                    a href=(link(after.saturating_sub(AUDIT_PAGE).max(0))) { "Previous" }
                }
                @if entries.is_empty() {
                    span { "No entries after " (after) " of " (head.seq) }
                } @else {
                    span { "Entries " (after.saturating_add(1)) "–" (last) " of " (head.seq) }
                }
                @if last < head.seq {
                    a href=(link(last)) { "Next" }
                    a href=(link(head.seq.saturating_sub(AUDIT_PAGE).max(0))) { "Newest" }
                }
            }
        }
    };
    let body = html! {
        h1 { "Audit log" }
        (pager("top"))
        div.table-scroll role="region" aria-label="Table: Audit log entries" tabindex="0" {
            table.audit {
                thead { tr { th.num { "Seq" } th { "Time" } th { "Actor" } th { "Action" } th { "Record" } th { "Hash" } } }
                tbody {
                    @for e in &entries {
                        tr {
                            td.num { (e.seq) }
                            td { (session.when(&e.at)) }
                            td { (e.actor) " (" (e.role) ")" }
                            td { code { (e.action) } }
                            td {
                                details {
                                    summary { "Show" }
                                    pre { (pretty(&e.record)) }
                                }
                            }
                            td { code.hash title=(e.hash) { (e.hash.get(..12).unwrap_or(&e.hash)) "…" } }
                        }
                    }
                }
            }
        }
        (pager("bottom"))
    };
    Ok(templates::ok(page(
        "Audit log",
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
    let body = html! {
        h1 { "Audit chain verification" }
        @if v.valid {
            (templates::notice("ok", html! { strong { "Valid." } " All " (v.entries) " entries recompute to the recorded hashes, and every screening, subject and withdrawal row agrees with its entry." }))
        } @else {
            (templates::notice("error", html! { strong { "INVALID." }
                @if let Some(seq) = v.first_invalid_seq { " The chain breaks at entry " (seq) "." }
                @if let Some(problem) = &v.problem { " " (problem) "." }
                " Report this to the sponsor." }))
        }
        dl.meta {
            dt { "Entries checked" } dd { (v.entries) }
            dt { "Head hash" } dd { code.hash { (v.head) } }
        }
        p { a href=(format!("/trials/{trial_id}/dashboard")) { "Back to the dashboard" } }
    };
    Ok(templates::ok(page(
        "Audit verification",
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
