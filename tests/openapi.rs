//! The HTTP contract as reviewed artefacts: the whole OpenAPI document, and representative
//! response bodies, as insta snapshots (`tests/snapshots/`). A change to the contract is a
//! visible diff of a `.snap` file; accept it with `cargo insta accept` or
//! `INSTA_UPDATE=always cargo test --test openapi` once it is intended.
//!
//! Ids, times, hashes and tokens are redacted; the seed is fixed, so arms and balance are the
//! same every run. The response snapshots are shared by both backends: SQLite and
//! PostgreSQL must answer the same bodies.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

use insta::assert_json_snapshot;
use serde_json::{json, Value};

use common::app::{eligible, TestApp};
use common::TestDb;

const TRIAL: &str = "NCT06987370";
const T: &str = "/api/v1/trials/NCT06987370";

#[test]
fn openapi_document() {
    let doc = serde_json::to_value(trialgate::http::openapi_document()).unwrap();
    assert_json_snapshot!("openapi_document", doc);
}

/// Screening, Allocation, a 422 with several field errors, the balance, a created user and
/// the audit verification, on a server with a fixed seed.
fn representative_responses(db: TestDb) {
    let data_dir = tempfile::tempdir().unwrap();
    trialgate::randomization::Seed::from_hex(&"5a".repeat(32))
        .unwrap()
        .write_new_file(&data_dir.path().join("seeds").join(format!("{TRIAL}.seed")))
        .unwrap();
    let app = TestApp::spawn_in(db, data_dir, Vec::new());

    let r = app.post(
        &app.admin,
        "/api/v1/users",
        &json!({"name": "ivan", "role": "investigator", "sites": ["SITE01"]}),
    );
    assert_eq!(r.status(), 201);
    let created: Value = r.json().unwrap();
    assert_json_snapshot!("created_user", created, { ".token" => "[token]" });
    let inv = created["token"].as_str().unwrap().to_string();
    let pharm = app.user("petra", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);

    let r = app.post(
        &inv,
        &format!("{T}/screenings"),
        &eligible("SITE01-0007", "SITE01"),
    );
    assert_eq!(r.status(), 201);
    let screening: Value = r.json().unwrap();
    assert_json_snapshot!("screening", screening, {
        ".id" => "[id]",
        ".screened_at" => "[time]",
    });

    let r = app.post(
        &pharm,
        &format!("{T}/randomizations"),
        &json!({"screening_id": screening["id"]}),
    );
    assert_eq!(r.status(), 201);
    let allocation: Value = r.json().unwrap();
    assert_json_snapshot!("allocation", allocation, { ".randomized_at" => "[time]" });

    let mut invalid = eligible("SITE01-0008", "SITE01");
    invalid["birth_date"] = json!("1961-13-02");
    invalid["sex"] = json!("unknown");
    invalid["labs"]["hemoglobin"]["unit"] = json!("mg/L");
    invalid["labs"]["alt"]["uln"] = json!(0);
    invalid["labs"]["urine_protein_dipstick"] = json!("5+");
    let r = app.post(&inv, &format!("{T}/screenings"), &invalid);
    assert_eq!(r.status(), 422);
    assert_eq!(
        r.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let problem: Value = r.json().unwrap();
    assert_json_snapshot!("problem_validation_failed", problem);

    let r = app.get(&mon, &format!("{T}/balance"));
    assert_eq!(r.status(), 200);
    let balance: Value = r.json().unwrap();
    assert_json_snapshot!("balance", balance);

    let r = app.get(&mon, &format!("{T}/audit/verify"));
    assert_eq!(r.status(), 200);
    let verification: Value = r.json().unwrap();
    assert_json_snapshot!("audit_verification", verification, { ".head" => "[hash]" });
}

both_backends!(representative_responses);
