//! Exports for monitors: CSV, JSON and a FHIR R4 Bundle (checked with a FHIR library).

use fhirbolt::model::r4::resources::{Bundle, ResearchStudy, ResearchSubject};
use fhirbolt::model::r4::Resource;
use serde_json::{json, Value};

use super::support::{audit_head, enroll, get_json, T, TRIAL};
use crate::common::app::TestApp;
use crate::common::TestDb;

/// A trial with five subjects on two sites, the second withdrawn; returns the app, the
/// monitor's token and the allocations.
fn trial_with_subjects(db: TestDb) -> (TestApp, String, Vec<Value>) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let mut subjects: Vec<Value> = (0..5)
        .map(|i| {
            let site = if i % 2 == 0 { "SITE01" } else { "SITE02" };
            enroll(&app, &inv, &pharm, &format!("{site}-{i:04}"), site)
        })
        .collect();
    let r = app.post(
        &inv,
        &format!(
            "{T}/subjects/{}/withdrawal",
            subjects[1]["subject_id"].as_str().unwrap()
        ),
        &json!({"reason": "moved, away"}),
    );
    assert_eq!(r.status(), 200);
    subjects[1] = r.json().unwrap();
    (app, mon, subjects)
}

fn export(app: &TestApp, mon: &str, format: &str) -> (String, String) {
    let r = app.get(mon, &format!("{T}/export?format={format}"));
    assert_eq!(r.status(), 200, "{format}");
    let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
    (content_type, r.text().unwrap())
}

fn csv_export(db: TestDb) {
    let (app, mon, subjects) = trial_with_subjects(db);
    let (content_type, text) = export(&app, &mon, "csv");
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    for column in [
        "subject_id",
        "sequence",
        "patient_ref",
        "site",
        "arm",
        "status",
        "randomized_at",
    ] {
        assert!(
            header.iter().any(|h| h == column),
            "no {column}: {header:?}"
        );
    }
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), subjects.len(), "one row per subject");
    for (row, s) in rows.iter().zip(&subjects) {
        assert_eq!(row.len(), header.len());
        assert_eq!(&row[col("subject_id")], s["subject_id"].as_str().unwrap());
        assert_eq!(row[col("sequence")], s["sequence"].to_string());
        assert_eq!(&row[col("patient_ref")], s["patient_ref"].as_str().unwrap());
        assert_eq!(&row[col("site")], s["site"].as_str().unwrap());
        assert_eq!(&row[col("arm")], s["arm"].as_str().unwrap());
        assert_eq!(&row[col("status")], s["status"].as_str().unwrap());
    }
    assert_eq!(&rows[1][col("status")], "withdrawn");
    // A field with a comma survives quoting.
    if let Some(reason) = header.iter().position(|h| h == "withdrawal_reason") {
        assert_eq!(&rows[1][reason], "moved, away");
    }
    // An empty trial is a header alone.
    let empty = TestApp::spawn(crate::common::TestDb::sqlite());
    let mon2 = empty.user("mona", "monitor", &[]);
    let (_, text) = export(&empty, &mon2, "csv");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(reader.headers().unwrap().len(), header.len());
    assert_eq!(reader.records().count(), 0);
}
both_backends!(csv_export);

fn json_export(db: TestDb) {
    let (app, mon, subjects) = trial_with_subjects(db);
    let (content_type, text) = export(&app, &mon, "json");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let doc: Value = serde_json::from_str(&text).unwrap();
    for key in ["trial", "subjects", "screenings", "balance", "audit_head"] {
        assert!(doc.get(key).is_some(), "no {key}");
    }
    assert_eq!(doc["trial"]["id"], TRIAL);
    assert_eq!(doc["trial"]["enrolled"], 5);
    let exported = doc["subjects"].as_array().unwrap();
    assert_eq!(exported.len(), 5);
    for (e, s) in exported.iter().zip(&subjects) {
        for key in [
            "subject_id",
            "sequence",
            "arm",
            "patient_ref",
            "site",
            "status",
        ] {
            assert_eq!(e[key], s[key], "{key}");
        }
    }
    assert_eq!(doc["screenings"].as_array().unwrap().len(), 5);
    assert_eq!(doc["balance"]["enrolled"], 5);
    let (seq, hash) = audit_head(&app, &mon);
    assert_eq!(doc["audit_head"], json!({"seq": seq, "hash": hash}));
    assert_eq!(
        doc["balance"],
        get_json(&app, &mon, &format!("{T}/balance"))
    );
}
both_backends!(json_export);

const R4_SUBJECT_STATUS: [&str; 13] = [
    "candidate",
    "eligible",
    "follow-up",
    "ineligible",
    "not-registered",
    "off-study",
    "on-study",
    "on-study-intervention",
    "on-study-observation",
    "pending-on-study",
    "potential-candidate",
    "screening",
    "withdrawn",
];

const R4_STUDY_STATUS: [&str; 11] = [
    "active",
    "administratively-completed",
    "approved",
    "closed-to-accrual",
    "closed-to-accrual-and-intervention",
    "completed",
    "disapproved",
    "in-review",
    "temporarily-closed-to-accrual",
    "temporarily-closed-to-accrual-and-intervention",
    "withdrawn",
];

fn string_of(s: &fhirbolt::model::r4::types::String) -> &str {
    s.value.as_deref().unwrap_or_default()
}

/// FHIR `id`: `[A-Za-z0-9\-\.]{1,64}`.
fn valid_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// FHIR `dateTime`/`instant` with a time: RFC 3339 with an offset.
fn valid_instant(text: &str) -> bool {
    chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

/// Parses `text` strictly as an R4 Bundle, as a FHIR server would.
///
/// fhirbolt 0.4.0 cannot parse a Bundle whose entries hold resources in one go: parsing the
/// first `entry.resource` leaves its context switched to its internal element format, so the
/// next primitive (`fullUrl` of the second entry) is refused. So the Bundle is checked
/// without its resources, and every resource on its own — every element still strictly.
fn parse_bundle(text: &str) -> Result<Bundle, String> {
    let mut doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut resources = Vec::new();
    for entry in doc["entry"].as_array_mut().into_iter().flatten() {
        let resource = entry
            .as_object_mut()
            .and_then(|e| e.remove("resource"))
            .ok_or("an entry without a resource")?;
        let resource: Resource = fhirbolt::json::from_str(&resource.to_string(), None)
            .map_err(|e| format!("{}: {e}", resource["resourceType"]))?;
        resources.push(resource);
    }
    let mut bundle: Bundle =
        fhirbolt::json::from_str(&doc.to_string(), None).map_err(|e| format!("Bundle: {e}"))?;
    assert_eq!(bundle.entry.len(), resources.len());
    for (entry, resource) in bundle.entry.iter_mut().zip(resources) {
        entry.resource = Some(resource);
    }
    Ok(bundle)
}

fn fhir_export(db: TestDb) {
    let (app, mon, subjects) = trial_with_subjects(db);
    let (content_type, text) = export(&app, &mon, "fhir");
    assert!(
        content_type.starts_with("application/fhir+json"),
        "{content_type}"
    );
    let bundle = parse_bundle(&text).unwrap_or_else(|e| panic!("not valid R4: {e}\n{text}"));
    assert_eq!(bundle.r#type.value.as_deref(), Some("collection"));
    if let Some(ts) = &bundle.timestamp {
        assert!(valid_instant(ts.value.as_deref().unwrap()), "{ts:?}");
    }
    // The validator is strict: the same text with a stray element is refused.
    let mut tampered: Value = serde_json::from_str(&text).unwrap();
    tampered["entry"][1]["resource"]["subject"] = json!({"reference": "Patient/x"});
    assert!(
        parse_bundle(&tampered.to_string()).is_err(),
        "R5 element accepted"
    );
    let mut tampered: Value = serde_json::from_str(&text).unwrap();
    tampered["entry"][0]["resource"]["colour"] = json!("blue");
    assert!(
        parse_bundle(&tampered.to_string()).is_err(),
        "unknown element accepted"
    );
    let mut tampered: Value = serde_json::from_str(&text).unwrap();
    tampered["entry"][0]["search"] = json!("match");
    assert!(
        parse_bundle(&tampered.to_string()).is_err(),
        "misplaced element accepted"
    );

    let mut full_urls: Vec<&str> = bundle
        .entry
        .iter()
        .map(|e| e.full_url.as_ref().unwrap().value.as_deref().unwrap())
        .collect();
    full_urls.sort_unstable();
    full_urls.dedup();
    assert_eq!(
        full_urls.len(),
        bundle.entry.len(),
        "fullUrls unique (bdl-7)"
    );

    let mut studies: Vec<(&str, &ResearchStudy)> = Vec::new();
    let mut research_subjects: Vec<&ResearchSubject> = Vec::new();
    for e in &bundle.entry {
        let url = e.full_url.as_ref().unwrap().value.as_deref().unwrap();
        match e.resource.as_ref().unwrap() {
            Resource::ResearchStudy(s) => studies.push((url, s)),
            Resource::ResearchSubject(s) => research_subjects.push(s),
            other => panic!("unexpected resource {other:?}"),
        }
    }
    assert_eq!(studies.len(), 1);
    let (study_url, study) = studies[0];
    assert!(valid_fhir_id(
        study.id.as_ref().unwrap().value.as_deref().unwrap()
    ));
    let status = study.status.value.as_deref().unwrap();
    assert!(R4_STUDY_STATUS.contains(&status), "{status}");
    assert_eq!(status, "active");
    assert!(study
        .identifier
        .iter()
        .any(|i| i.value.as_ref().map(string_of) == Some(TRIAL)));
    let arms: Vec<&str> = study.arm.iter().map(|a| string_of(&a.name)).collect();
    assert_eq!(arms, ["SFRT_SCART", "CRT"]);

    assert_eq!(research_subjects.len(), subjects.len());
    for (rs, s) in research_subjects.iter().zip(&subjects) {
        assert!(valid_fhir_id(
            rs.id.as_ref().unwrap().value.as_deref().unwrap()
        ));
        assert!(rs
            .identifier
            .iter()
            .any(|i| i.value.as_ref().map(string_of) == s["subject_id"].as_str()));
        let status = rs.status.value.as_deref().unwrap();
        assert!(R4_SUBJECT_STATUS.contains(&status), "{status}");
        let want = if s["status"] == "withdrawn" {
            "withdrawn"
        } else {
            "on-study"
        };
        assert_eq!(status, want);
        let arm = s["arm"].as_str().unwrap();
        assert_eq!(rs.assigned_arm.as_ref().map(string_of), Some(arm));
        assert_eq!(rs.actual_arm.as_ref().map(string_of), Some(arm));
        assert!(arms.contains(&arm), "assignedArm names a study arm");
        // The study reference resolves inside the Bundle.
        let study_ref = rs.study.reference.as_ref().map(string_of).unwrap();
        assert_eq!(
            study_ref, study_url,
            "study reference does not resolve in the Bundle"
        );
        // individual: Reference(Patient), here a logical reference by the site's patient ref.
        let individual = &rs.individual;
        let ident = individual
            .identifier
            .as_ref()
            .expect("individual.identifier");
        assert_eq!(
            ident.value.as_ref().map(string_of),
            s["patient_ref"].as_str()
        );
        let kind = individual.r#type.as_ref().and_then(|t| t.value.as_deref());
        assert_eq!(kind, Some("Patient"), "individual is Reference(Patient)");
        let period = rs.period.as_ref().expect("period");
        let start = period.start.as_ref().unwrap().value.as_deref().unwrap();
        assert!(valid_instant(start), "{start}");
        if s["status"] == "withdrawn" {
            let end = period.end.as_ref().unwrap().value.as_deref().unwrap();
            assert!(valid_instant(end), "{end}");
        } else {
            assert!(period.end.is_none());
        }
    }

    // After closing, the study is closed to accrual.
    let r = app.post(
        &app.admin,
        &format!("{T}/close"),
        &json!({"reason": "done", "reveal_seed": false}),
    );
    assert_eq!(r.status(), 200);
    let (_, text) = export(&app, &mon, "fhir");
    let bundle = parse_bundle(&text).unwrap();
    match bundle.entry[0].resource.as_ref().unwrap() {
        Resource::ResearchStudy(s) => {
            let status = s.status.value.as_deref().unwrap();
            assert!(R4_STUDY_STATUS.contains(&status));
            assert_ne!(status, "active");
        }
        other => panic!("first entry {other:?}"),
    }
}
both_backends!(fhir_export);
