//! Exports for monitors: subjects as CSV, everything as JSON, and a FHIR R4 Bundle.

use crate::audit::signature::Signature;
use serde_json::{json, Value};

use super::allocation::allocation_view;
use super::corrections::DeviationView;
use super::csv_cell;
use super::queries::{
    balance_of, of_users_sites, revealed_seed, subject_blocks, trial_detail, SubjectBlocks,
};
use super::{format_time, TrialRuntime};
use crate::access::{Permission, User};
use crate::protocol::{CorrectionStatus, SubjectStatus, TrialStatus};
use crate::service::error::{Internal, NotFound};
use crate::service::queries::QueryError;
use crate::service::views::ScreeningView;
use crate::storage::{self, models, repo, DbConnection};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Json,
    Fhir,
}

impl ExportFormat {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "csv" => Some(ExportFormat::Csv),
            "json" => Some(ExportFormat::Json),
            "fhir" => Some(ExportFormat::Fhir),
            _ => None,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
            ExportFormat::Fhir => "application/fhir+json",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Json => "json",
            ExportFormat::Fhir => "fhir.json",
        }
    }
}

#[tracing::instrument(name = "export", skip_all, fields(trial = %trial.protocol.id, user = %user.name, ?format))]
pub fn export(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    format: ExportFormat,
) -> Result<Vec<u8>, QueryError> {
    user.require_permission(Permission::Monitor)?;
    // One snapshot: subjects, screenings, balance and audit head agree with each other.
    storage::read_transaction(conn, |c| export_snapshot(c, trial, user, format))
}

fn export_snapshot(
    conn: &mut DbConnection,
    trial: &TrialRuntime,
    user: &User,
    format: ExportFormat,
) -> Result<Vec<u8>, QueryError> {
    let trial_id = &trial.protocol.id;
    // A site-limited monitor's export holds their sites' subjects, screenings and deviations.
    let subjects = of_users_sites(user, repo::subjects::list(conn, trial_id)?, |s| &s.site);
    let revealed = revealed_seed(conn, trial_id)?;
    let blocks = revealed
        .as_ref()
        .map(|seed| subject_blocks(&trial.protocol, seed, &subjects));
    let deviations: Vec<_> = repo::corrections::deviations(conn, trial_id)?
        .into_iter()
        .filter(|d| subjects.iter().any(|s| s.id == d.subject_id))
        .collect();
    match format {
        ExportFormat::Csv => subjects_csv(trial, &subjects, &deviations, blocks.as_ref()),
        ExportFormat::Json => {
            let detail = trial_detail(conn, trial, user)?;
            let head = storage::audit_head(conn, trial_id)?;
            let mut screenings = Vec::new();
            let latest: std::collections::HashSet<String> =
                repo::screenings::latest_per_patient(conn, trial_id)?
                    .into_iter()
                    .map(|l| l.id)
                    .collect();
            let decisions: std::collections::HashMap<String, CorrectionStatus> =
                repo::corrections::decisions(conn, trial_id)?
                    .into_iter()
                    .map(|d| (d.screening_id, d.decision))
                    .collect();
            for row in of_users_sites(user, repo::screenings::list_all(conn, trial_id)?, |r| {
                &r.site
            }) {
                let is_latest = latest.contains(&row.id);
                let decision = decisions.get(&row.id).copied();
                screenings.push(ScreeningView::from_row(&row, is_latest, None, decision)?);
            }
            let doc = json!({
                "trial": detail,
                "subjects": subjects.iter().map(|s| subject_record(trial, s, blocks.as_ref())).collect::<Vec<_>>(),
                "screenings": screenings,
                "deviations": deviations.into_iter().map(DeviationView::from).collect::<Vec<_>>(),
                "balance": balance_of(&trial.protocol, &subjects, revealed.as_ref()),
                "audit_head": { "seq": head.seq, "hash": head.hash },
                "exported_at": format_time(super::now()),
            });
            serde_json::to_vec_pretty(&doc)
                .map_err(|e| Internal::caused("encoding the JSON export", e).into())
        }
        ExportFormat::Fhir => {
            let row =
                repo::trials::get(conn, trial_id)?.ok_or_else(|| NotFound::trial(trial_id))?;
            let bundle = fhir_bundle(trial, &row, &subjects);
            serde_json::to_vec_pretty(&bundle)
                .map_err(|e| Internal::caused("encoding the FHIR bundle", e).into())
        }
    }
}

/// A subject as monitors see it: the allocation plus its place in the schedule (block only
/// after the reveal).
fn subject_record(
    trial: &TrialRuntime,
    s: &models::Subject,
    blocks: Option<&SubjectBlocks>,
) -> Value {
    let mut v = serde_json::to_value(allocation_view(&trial.protocol, s)).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        m.insert("screening_id".into(), json!(s.screening_id));
        m.insert("stratum_key".into(), json!(s.stratum_key));
        m.insert("stratum_position".into(), json!(s.stratum_position));
        if let Some((index, size)) = blocks.and_then(|b| b.get(&s.id).copied()) {
            m.insert("block_index".into(), json!(index));
            m.insert("block_size".into(), json!(size));
        }
    }
    v
}

/// Subjects as CSV; every text cell formula-safe ([`csv_cell`]). The block columns exist only
/// after the seed is revealed.
fn subjects_csv(
    trial: &TrialRuntime,
    subjects: &[models::Subject],
    deviations: &[models::Deviation],
    blocks: Option<&SubjectBlocks>,
) -> Result<Vec<u8>, QueryError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let internal = |e: csv::Error| Internal::caused("writing the CSV export", e);
    let mut header = vec![
        "subject_id",
        "sequence",
        "patient_ref",
        "site",
        "arm",
        "arm_name",
        "randomized_at",
        "randomized_by",
        "status",
        "withdrawn_at",
        "withdrawn_by",
        "withdrawal_reason",
        "screening_id",
        "stratum_key",
        "stratum_position",
        "audit_seq",
        "deviations",
        "randomization_signature",
        "withdrawal_signature",
    ];
    if blocks.is_some() {
        header.extend(["block_index", "block_size"]);
    }
    w.write_record(&header).map_err(internal)?;
    for s in subjects {
        let a = allocation_view(&trial.protocol, s);
        let withdrawn_at = a.withdrawn_at.unwrap_or_default();
        let withdrawn_by = a.withdrawn_by.unwrap_or_default();
        let reason = a.withdrawal_reason.unwrap_or_default();
        let signed = |s: Option<Signature>| s.map(|s| s.manifestation()).unwrap_or_default();
        let randomization_signature = signed(a.randomization_signature);
        let withdrawal_signature = signed(a.withdrawal_signature);
        let mut row: Vec<String> = [
            csv_cell::text(&a.subject_id),
            csv_cell::number(a.sequence).into(),
            csv_cell::text(&a.patient_ref),
            csv_cell::text(&a.site),
            csv_cell::text(&a.arm),
            csv_cell::text(&a.arm_name),
            csv_cell::text(&a.randomized_at),
            csv_cell::text(&a.randomized_by),
            csv_cell::text(a.status.as_str()),
            csv_cell::text(&withdrawn_at),
            csv_cell::text(&withdrawn_by),
            csv_cell::text(&reason),
            csv_cell::text(&s.screening_id),
            csv_cell::text(&s.stratum_key),
            csv_cell::number(s.stratum_position).into(),
            csv_cell::number(s.audit_seq).into(),
            // Kinds, in the order recorded: `ineligible_randomized;misstratified`.
            deviations
                .iter()
                .filter(|d| d.subject_id == s.id)
                .map(|d| d.kind.as_str())
                .collect::<Vec<_>>()
                .join(";")
                .into(),
            csv_cell::text(&randomization_signature),
            csv_cell::text(&withdrawal_signature),
        ]
        .into_iter()
        .map(|c| c.into_owned())
        .collect();
        if let Some(b) = blocks {
            let (index, size) = b
                .get(&s.id)
                .map_or((String::new(), String::new()), |&(i, z)| {
                    (i.to_string(), z.to_string())
                });
            row.extend([index, size]);
        }
        w.write_record(&row).map_err(internal)?;
    }
    w.into_inner()
        .map_err(|e| Internal::caused("writing the CSV export", e.into_error()).into())
}

/// A FHIR id: `[A-Za-z0-9\-\.]{1,64}`.
fn fhir_id(text: &str) -> String {
    let id: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if id.is_empty() {
        "x".into()
    } else {
        id
    }
}

/// A stable `urn:uuid:` for a resource (UUID v5 of its type and id).
fn full_url(kind: &str, id: &str) -> String {
    let name = format!("trialgate:{kind}/{id}");
    format!(
        "urn:uuid:{}",
        uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, name.as_bytes())
    )
}

/// FHIR R4 `Bundle` (collection) of the `ResearchStudy` with its arms and one
/// `ResearchSubject` per randomized subject.
pub fn fhir_bundle(
    trial: &TrialRuntime,
    row: &models::Trial,
    subjects: &[models::Subject],
) -> Value {
    let p = &trial.protocol;
    let study_id = fhir_id(&p.id);
    let study = json!({
        "resourceType": "ResearchStudy",
        "id": study_id,
        "identifier": [{ "system": "urn:trialgate:trial", "value": p.id }],
        "title": p.title,
        "status": if row.status == TrialStatus::Open { "active" } else { "closed-to-accrual" },
        "arm": p.arms.iter().map(|a| {
            let mut arm = json!({ "name": a.code, "type": { "text": a.name } });
            if let Some(d) = &a.description {
                arm["description"] = json!(d);
            }
            arm
        }).collect::<Vec<_>>(),
    });
    // Entries are identified by `urn:uuid:` fullUrls, so references between them must use
    // those: a relative `ResearchStudy/{id}` does not resolve inside such a Bundle.
    let study_url = full_url("ResearchStudy", &study_id);
    let mut entries = vec![json!({
        "fullUrl": study_url,
        "resource": study,
    })];
    for s in subjects {
        let id = fhir_id(&s.id);
        let mut subject = json!({
            "resourceType": "ResearchSubject",
            "id": id,
            "identifier": [{ "system": "urn:trialgate:subject", "value": s.id }],
            "status": if s.status == SubjectStatus::Withdrawn { "withdrawn" } else { "on-study" },
            "period": { "start": format_time(s.randomized_at) },
            "study": { "reference": study_url, "type": "ResearchStudy" },
            "individual": {
                "type": "Patient",
                "identifier": {
                    "system": format!("urn:trialgate:patient-ref:{}", s.site),
                    "value": s.patient_ref,
                },
                "display": s.patient_ref,
            },
            "assignedArm": s.arm,
            "actualArm": s.arm,
        });
        if let Some(end) = s.withdrawn_at {
            subject["period"]["end"] = json!(format_time(end));
        }
        entries.push(json!({
            "fullUrl": full_url("ResearchSubject", &id),
            "resource": subject,
        }));
    }
    json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": format_time(super::now()),
        "entry": entries,
    })
}
