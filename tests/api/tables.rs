//! The chain covers its tables: a subject row deleted, edited or inserted behind the server's
//! back (triggers dropped, as a database administrator could) makes plain `audit verify` —
//! API and CLI — report `valid: false` with the first disagreeing seq.

use diesel::connection::SimpleConnection;
use serde_json::{json, Value};

use super::support::{enroll, get_json, verify_cli, T, TRIAL};
use crate::common::app::TestApp;
use crate::common::{drop_table_triggers, execute, TestDb};
use trialgate::storage::DbConnection;

/// A trial with three subjects (the second withdrawn); returns the app, monitor token and
/// the allocations.
fn three_subjects(db: TestDb) -> (TestApp, String, Vec<Value>) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let subjects: Vec<Value> = (0..3)
        .map(|i| enroll(&app, &inv, &pharm, &format!("SITE01-{i:04}"), "SITE01"))
        .collect();
    let r = app.post(
        &inv,
        &format!(
            "{T}/subjects/{}/withdrawal",
            subjects[1]["subject_id"].as_str().unwrap()
        ),
        &json!({"reason": "moved away"}),
    );
    assert_eq!(r.status(), 200);
    let v = get_json(&app, &mon, &format!("{T}/audit/verify"));
    assert_eq!(v["valid"], true, "{v}");
    assert_eq!(verify_cli(&app, &[]).0, 0);
    (app, mon, subjects)
}

/// Applies `sql` with the table triggers dropped; verification must fail at `seq`.
fn tampered(db: TestDb, sql: impl Fn(&[Value]) -> String, seq: impl Fn(&[Value]) -> i64) {
    let (app, mon, subjects) = three_subjects(db);
    let mut conn = app.db.connection();
    drop_table_triggers(&mut conn);
    let sql = sql(&subjects);
    match &mut conn {
        DbConnection::Sqlite(c) => c.batch_execute(&sql).unwrap(),
        DbConnection::Postgres(c) => c.batch_execute(&sql).unwrap(),
    }
    let v = get_json(&app, &mon, &format!("{T}/audit/verify"));
    assert_eq!(v["valid"], false, "{v}");
    assert_eq!(v["first_invalid_seq"], seq(&subjects), "{v}");
    assert!(v["problem"].is_string(), "{v}");
    let (code, out) = verify_cli(&app, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("first bad seq {}", seq(&subjects))),
        "{out}"
    );
}

fn id(s: &Value) -> &str {
    s["subject_id"].as_str().unwrap()
}

fn seq(s: &Value) -> i64 {
    s["audit_seq"].as_i64().unwrap()
}

fn deleted_subject_is_reported(db: TestDb) {
    tampered(
        db,
        |s| format!("DELETE FROM subjects WHERE id = '{}'", id(&s[2])),
        |s| seq(&s[2]),
    );
}
both_backends!(deleted_subject_is_reported);

fn edited_arm_is_reported(db: TestDb) {
    tampered(
        db,
        |s| {
            let other = if s[0]["arm"] == "CRT" {
                "SFRT_SCART"
            } else {
                "CRT"
            };
            format!(
                "UPDATE subjects SET arm = '{other}' WHERE id = '{}'",
                id(&s[0])
            )
        },
        |s| seq(&s[0]),
    );
}
both_backends!(edited_arm_is_reported);

fn undone_withdrawal_is_reported(db: TestDb) {
    tampered(
        db,
        |s| {
            format!(
                "UPDATE subjects SET status = 'on_study', withdrawn_at = NULL, withdrawn_by = NULL, \
                 withdrawal_reason = NULL WHERE id = '{}'",
                id(&s[1])
            )
        },
        // The withdrawal entry follows the third randomization.
        |s| seq(&s[2]) + 1,
    );
}
both_backends!(undone_withdrawal_is_reported);

fn inserted_subject_is_reported(db: TestDb) {
    tampered(
        db,
        |s| {
            format!(
                "INSERT INTO subjects (id, trial_id, sequence, screening_id, patient_ref, site, \
                 stratum_key, stratum_position, arm, randomized_at, randomized_by, status, audit_seq) \
                 SELECT '{TRIAL}-0099', trial_id, 99, screening_id, 'SITE01-0099', site, '', 99, arm, \
                 randomized_at, randomized_by, 'on_study', 2 FROM subjects WHERE id = '{}'",
                id(&s[0])
            )
        },
        // It claims seq 2 (a screening entry), so that is where rows and chain disagree.
        |_| 2,
    );
}
both_backends!(inserted_subject_is_reported);

fn deleted_screening_is_reported(db: TestDb) {
    tampered(
        db,
        // The first screening (seq 2) and its subject go together (foreign key).
        |s| {
            format!(
                "DELETE FROM subjects WHERE id = '{}'; DELETE FROM screenings WHERE audit_seq = 2",
                id(&s[0])
            )
        },
        |_| 2,
    );
}
both_backends!(deleted_screening_is_reported);

/// The triggers themselves: the server's own withdrawal passes, anything else is refused.
fn triggers_refuse_unaudited_changes(db: TestDb) {
    let (app, mon, subjects) = three_subjects(db);
    let mut conn = app.db.connection();
    for sql in [
        format!("DELETE FROM subjects WHERE id = '{}'", id(&subjects[0])),
        format!(
            "UPDATE subjects SET arm = 'CRT', status = 'on_study' WHERE id = '{}'",
            id(&subjects[0])
        ),
        format!(
            "UPDATE subjects SET status = 'withdrawn', withdrawn_at = randomized_at, \
             withdrawn_by = 'ines', withdrawal_reason = 'x' WHERE id = '{}'",
            id(&subjects[0])
        ),
        "UPDATE screenings SET outcome = 'eligible'".to_string(),
        "DELETE FROM screenings".to_string(),
    ] {
        assert!(execute(&mut conn, &sql).is_err(), "{sql} was accepted");
    }
    let v = get_json(&app, &mon, &format!("{T}/audit/verify"));
    assert_eq!(v["valid"], true, "{v}");
}
both_backends!(triggers_refuse_unaudited_changes);
