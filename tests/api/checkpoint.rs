//! Signed checkpoints catch what hash verification alone cannot: a chain rewritten
//! wholesale by someone with database access but not the server's key.

use serde_json::Value;

use super::support::verify_cli;
use crate::common::app::{eligible, TestApp};
use crate::common::{drop_audit_triggers, execute, rewrite_log, TestDb};

const T: &str = "/api/v1/trials/NCT06987370";

/// Rewrites every entry from `from_seq` on, recomputing all hashes and the head, with the
/// role of `from_seq` changed: internally consistent, and no table row records the role, so
/// plain verification (chain and rows) passes. Only a checkpoint saved earlier catches it.
pub(crate) fn rewrite_chain(app: &TestApp, from_seq: i64) {
    let mut conn = app.db.connection();
    drop_audit_triggers(&mut conn);
    let entries = trialgate::storage::read_audit(&mut conn, "NCT06987370", 0, 1000).unwrap();
    let mut prev = entries[(from_seq - 2) as usize].hash.clone();
    for e in entries.iter().filter(|e| e.seq >= from_seq) {
        let record: Value = serde_json::from_str(&e.record).unwrap();
        let role = if e.seq == from_seq {
            "admin"
        } else {
            e.role.as_str()
        };
        let new = trialgate::audit::next_entry(
            e.seq - 1,
            &prev,
            e.at,
            &e.actor,
            role,
            &e.action,
            "NCT06987370",
            &record["data"],
        )
        .unwrap();
        let q = |s: &str| s.replace('\'', "''");
        execute(
            &mut conn,
            &format!(
                "UPDATE audit_entries SET role = '{}', record = '{}', prev_hash = '{}', hash = '{}' WHERE chain = 'NCT06987370' AND seq = {}",
                q(role), q(&new.record), new.prev_hash, new.hash, e.seq
            ),
        )
        .unwrap();
        prev = new.hash;
    }
    execute(
        &mut conn,
        &format!("UPDATE audit_heads SET hash = '{prev}' WHERE chain = 'NCT06987370'"),
    )
    .unwrap();
}

fn checkpoint_catches_a_rewritten_chain(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let mon = app.user("mona", "monitor", &[]);
    for i in 0..3 {
        let r = app.post(
            &inv,
            &format!("{T}/screenings"),
            &eligible(&format!("P-{i}"), "S1"),
        );
        assert_eq!(r.status(), 201);
    }
    let r = app.get(&mon, &format!("{T}/audit/checkpoint"));
    assert_eq!(r.status(), 200);
    // Kept for a release, pointing to its successor, the Merkle log's signed note.
    assert_eq!(r.headers()["deprecation"], "true");
    assert!(r.headers()["link"]
        .to_str()
        .unwrap()
        .contains("/log/checkpoint>; rel=\"successor-version\""));
    let c: Value = r.json().unwrap();
    assert_eq!(c["trial"], "NCT06987370");
    assert_eq!(c["seq"], 4);
    let pinned = std::fs::read_to_string(app.data_dir.path().join("checkpoint.pub")).unwrap();
    assert_eq!(c["public_key"], pinned.trim());
    let file = app.data_dir.path().join("saved-checkpoint.json");
    std::fs::write(&file, c.to_string()).unwrap();
    let file = file.to_str().unwrap();

    // Intact chain, later entries added: the checkpoint still holds.
    app.post(&inv, &format!("{T}/screenings"), &eligible("P-9", "S1"));
    let (code, out) = verify_cli(&app, &["--checkpoint", file]);
    assert_eq!(code, 0, "{out}");

    // A forged checkpoint (edited seq) fails its signature.
    let mut forged = c.clone();
    forged["seq"] = serde_json::json!(3);
    let forged_file = app.data_dir.path().join("forged.json");
    std::fs::write(&forged_file, forged.to_string()).unwrap();
    let (code, out) = verify_cli(&app, &["--checkpoint", forged_file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");

    // Rewrite history from seq 2 on: every hash recomputed, the Merkle log rebuilt to match,
    // so the chain verifies by itself…
    rewrite_chain(&app, 2);
    rewrite_log(&mut app.db.connection(), "NCT06987370");
    let (code, out) = verify_cli(&app, &[]);
    assert_eq!(
        code, 0,
        "a consistent rewrite passes plain verification: {out}"
    );
    // …but not against the checkpoint saved before.
    let (code, out) = verify_cli(&app, &["--checkpoint", file]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not contain the checkpoint"), "{out}");
}
both_backends!(checkpoint_catches_a_rewritten_chain);
