//! Protocol amendments: versioned, audited, the design fixed once a subject is randomized, the
//! version in force used by every server from its next request, and re-evaluation at
//! randomization of a screening made under an older version.

use reqwest::blocking::Response;
use serde_json::Value;
use trialgate::protocol::DEFAULT_PROTOCOL_TOML;

use super::support::{
    assert_problem, audit_records, enroll, error_fields, randomize, screen_eligible, stop,
    verify_cli,
};
use crate::common::app::{eligible, TestApp};
use crate::common::TestDb;

const T: &str = "/api/v1/trials/NCT06987370";

fn amended(from: &str, to: &str) -> String {
    let text = DEFAULT_PROTOCOL_TOML.replacen(from, to, 1);
    assert_ne!(text, DEFAULT_PROTOCOL_TOML, "{from} not found");
    text
}

/// Hemoglobin ≥ 120 g/L: the default eligible patient (112 g/L) is not eligible under it.
fn stricter_hemoglobin() -> String {
    amended("min = 90", "min = 120").replacen("Hemoglobin ≥ 90 g/L", "Hemoglobin ≥ 120 g/L", 1)
}

fn amend_at(base: &str, token: &str, toml: &str, reason: &str) -> Response {
    reqwest::blocking::Client::new()
        .post(format!("{base}{T}/amendments"))
        .query(&[("reason", reason)])
        .bearer_auth(token)
        .header("Content-Type", "application/toml")
        .body(toml.to_string())
        .send()
        .unwrap()
}

fn amend(app: &TestApp, token: &str, toml: &str, reason: &str) -> Response {
    amend_at(&app.base, token, toml, reason)
}

fn amendment_is_in_force_everywhere_and_screenings_are_reevaluated(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("phil", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    // A second server on the same database, started before the amendment.
    let (other, other_handle) = app.second_server();
    let before = screen_eligible(&app, &inv, "P-1", "S1");
    let s: Value = app
        .get(&inv, &format!("{T}/screenings/{before}"))
        .json()
        .unwrap();
    assert_eq!(s["protocol_version"], 1);

    let r = amend(
        &app,
        &app.admin,
        &stricter_hemoglobin(),
        "DSMB: anaemia threshold 120 g/L",
    );
    assert_eq!(r.status(), 201);
    let a: Value = r.json().unwrap();
    assert_eq!(a["version"], 2);
    assert_eq!(a["changed"], serde_json::json!(["criteria"]));
    let entry = audit_records(&app, &mon)
        .into_iter()
        .find(|r| r["action"] == "protocol.amended")
        .unwrap();
    assert_eq!(entry["data"]["version"], 2);
    assert_eq!(entry["data"]["reason"], "DSMB: anaemia threshold 120 g/L");
    assert_eq!(entry["data"]["new_digest"], a["protocol_digest"]);

    // New screenings are evaluated under version 2, on this server and on the other one.
    for base in [app.base.as_str(), other.as_str()] {
        let r = reqwest::blocking::Client::new()
            .post(format!("{base}{T}/screenings"))
            .bearer_auth(&inv)
            .json(&eligible(&format!("P-{}", base.len()), "S1"))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = r.json().unwrap();
        assert_eq!(v["protocol_version"], 2, "{base}");
        assert_eq!(v["outcome"], "ineligible", "{base}");
    }
    // The screening made under version 1 is eligible there but not under the version in force.
    let p = assert_problem(randomize(&app, &pharm, &before), 409, "not_eligible");
    assert!(
        p["detail"].as_str().unwrap().contains("protocol version 2"),
        "{p}"
    );
    // The other server's read views follow too, without a restart (it looks every few
    // seconds): its trial detail shows the amended criterion's text.
    let shows_v2 = || {
        let d: Value = reqwest::blocking::Client::new()
            .get(format!("{other}{T}"))
            .bearer_auth(&mon)
            .send()
            .unwrap()
            .json()
            .unwrap();
        d["criteria"].to_string().contains("Hemoglobin ≥ 120 g/L")
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !shows_v2() {
        assert!(
            std::time::Instant::now() < deadline,
            "the other server still shows version 1"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // A restarted server keeps version 2 (it starts with the built-in protocol, version 1).
    stop(other_handle);
    let (restarted, handle) = app.second_server();
    let r = reqwest::blocking::Client::new()
        .post(format!("{restarted}{T}/screenings"))
        .bearer_auth(&inv)
        .json(&eligible("P-9", "S2"))
        .send()
        .unwrap();
    let v: Value = r.json().unwrap();
    assert_eq!(v["protocol_version"], 2);
    stop(handle);
    let (code, out) = verify_cli(&app, &[]);
    assert_eq!(code, 0, "{out}");
}
both_backends!(amendment_is_in_force_everywhere_and_screenings_are_reevaluated);

fn amendments_are_refused_naming_the_key(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("phil", "pharmacist", &[]);
    // Before any randomization the design may change…
    let r = amend(
        &app,
        &app.admin,
        &amended("cap = 90", "cap = 100"),
        "more sites",
    );
    assert_eq!(r.status(), 201);
    enroll(&app, &inv, &pharm, "P-1", "S1");
    // …after it, not: each refusal names its key, all at once.
    let text = amended("block_sizes = [3, 6]", "block_sizes = [6]").replacen(
        "name = \"SFRT/SCART\"",
        "name = \"SFRT or SCART\"",
        1,
    );
    let p = assert_problem(
        amend(&app, &app.admin, &text, "why"),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["arms", "block_sizes"]);
    let p = assert_problem(
        amend(
            &app,
            &app.admin,
            &amended("stratification = []", "stratification = [\"sex\"]"),
            "why",
        ),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["stratification"]);
    // Another trial's id, a cap below the enrolled count, no reason, control characters.
    let p = assert_problem(
        amend(
            &app,
            &app.admin,
            &amended("id = \"NCT06987370\"", "id = \"NCT00000001\""),
            "why",
        ),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["id"]);
    enroll(&app, &inv, &pharm, "P-2", "S1");
    let p = assert_problem(
        amend(&app, &app.admin, &amended("cap = 90", "cap = 1"), "why"),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["cap"]);
    for reason in ["", "  ", "a\u{7}b"] {
        let p = assert_problem(
            amend(&app, &app.admin, &stricter_hemoglobin(), reason),
            422,
            "validation_failed",
        );
        assert_eq!(error_fields(&p), ["reason"], "{reason:?}");
    }
    // Not TOML, not a protocol, too large, the wrong media type, not an admin.
    let p = assert_problem(
        amend(&app, &app.admin, "id = ", "why"),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["protocol"]);
    let huge = format!("{}\n# {}\n", stricter_hemoglobin(), "x".repeat(70_000));
    assert_problem(
        amend(&app, &app.admin, &huge, "why"),
        413,
        "payload_too_large",
    );
    let r = app
        .client
        .post(app.url(&format!("{T}/amendments?reason=why")))
        .bearer_auth(&app.admin)
        .json(&serde_json::json!({}))
        .send()
        .unwrap();
    assert_problem(r, 415, "unsupported_media_type");
    assert_problem(
        amend(&app, &inv, &stricter_hemoglobin(), "why"),
        403,
        "forbidden",
    );
    // The same protocol again changes nothing.
    let p = assert_problem(
        amend(&app, &app.admin, &amended("cap = 90", "cap = 100"), "again"),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["protocol"]);
    // A trial's first version plus one amendment.
    let r = amend(&app, &app.admin, &stricter_hemoglobin(), "DSMB");
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().unwrap()["version"], 3);
    // A closed trial is not amended.
    let r = app.post(
        &app.admin,
        &format!("{T}/close"),
        &serde_json::json!({"reason": "done", "reveal_seed": false}),
    );
    assert_eq!(r.status(), 200);
    assert_problem(
        amend(&app, &app.admin, &amended("cap = 90", "cap = 95"), "why"),
        409,
        "trial_closed",
    );
}
both_backends!(amendments_are_refused_naming_the_key);

/// `trialgate trial amend` does what the API does, as the local operator.
fn cli_amends_and_serve_refuses_a_stale_protocol_file(db: TestDb) {
    let app = TestApp::spawn(db);
    let file = app.data_dir.path().join("amended.toml");
    std::fs::write(&file, stricter_hemoglobin()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trialgate"))
        .args([
            "trial",
            "amend",
            "--trial",
            "NCT06987370",
            "--reason",
            "DSMB letter 3",
        ])
        .arg("--protocol")
        .arg(&file)
        .args(["--database-url", &app.db.url])
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("protocol version 2 in force"), "{said}");
    // The running server notices under its next write's lock.
    let inv = app.user("ines", "investigator", &[]);
    let r = app.post(&inv, &format!("{T}/screenings"), &eligible("P-1", "S1"));
    assert_eq!(r.json::<Value>().unwrap()["protocol_version"], 2);
    // Starting with the old protocol file is refused, naming the command that amends.
    let old = app.data_dir.path().join("old.toml");
    std::fs::write(&old, DEFAULT_PROTOCOL_TOML).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trialgate"))
        .args(["serve", "--bind", "127.0.0.1:0"])
        .arg("--protocol")
        .arg(&old)
        .args(["--database-url", &app.db.url])
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("trialgate trial amend"), "{err}");
}
both_backends!(cli_amends_and_serve_refuses_a_stale_protocol_file);

/// The screening window: a screening dated before the trial's `start_date` is refused naming
/// `screening_date`; one older than `screening_valid_days` (here set by an amendment) is
/// `screening_expired` at randomization.
fn screenings_outside_the_window_are_refused(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("phil", "pharmacist", &[]);
    let mut early = eligible("P-0", "S1");
    early["screening_date"] = serde_json::json!("2025-05-31");
    let p = assert_problem(
        app.post(&inv, &format!("{T}/screenings"), &early),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["screening_date"]);
    assert!(p["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("before the trial started on 2025-06-01"));
    // Screened 40 days ago (eligible() dates screenings 2026-11-20: use a date relative to
    // today so the test does not age).
    let today = chrono::Utc::now().date_naive();
    let mut old = eligible("P-1", "S1");
    old["screening_date"] = serde_json::json!((today - chrono::Days::new(40)).to_string());
    let r = app.post(&inv, &format!("{T}/screenings"), &old);
    assert_eq!(r.status(), 201);
    let old_id = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut recent = eligible("P-2", "S1");
    recent["screening_date"] = serde_json::json!((today - chrono::Days::new(3)).to_string());
    let r = app.post(&inv, &format!("{T}/screenings"), &recent);
    let recent_id = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let window = amended(
        "stratification = []",
        "stratification = []\nscreening_valid_days = 30",
    );
    assert_eq!(
        amend(&app, &app.admin, &window, "30-day window").status(),
        201
    );
    let p = assert_problem(randomize(&app, &pharm, &old_id), 409, "screening_expired");
    assert!(p["detail"].as_str().unwrap().contains("30 days"), "{p}");
    assert_eq!(randomize(&app, &pharm, &recent_id).status(), 201);
}
both_backends!(screenings_outside_the_window_are_refused);
