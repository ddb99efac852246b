//! The Merkle log over the audit chain: signed-note checkpoints, inclusion and consistency
//! proofs, a subject's receipt that verifies offline, and the two-visit consistency check.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::Value;
use trialgate::audit::merkle::{decode_proof, verify_consistency, verify_entry_inclusion};
use trialgate::audit::note::{parse_and_verify, SignedCheckpoint};

use super::checkpoint::rewrite_chain;
use super::support::{assert_problem, audit_head, enroll, get_json, verify_cli};
use crate::common::app::TestApp;
use crate::common::{drop_audit_triggers, execute, rewrite_log, TestDb};

const T: &str = "/api/v1/trials/NCT06987370";

fn public_key(app: &TestApp) -> ed25519_dalek::VerifyingKey {
    let text = std::fs::read_to_string(app.data_dir.path().join("checkpoint.pub")).unwrap();
    trialgate::audit::checkpoint::parse_public_key(&text).unwrap()
}

fn checkpoint(app: &TestApp, monitor: &str) -> (String, SignedCheckpoint) {
    let r = app.get(monitor, &format!("{T}/log/checkpoint"));
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = r.text().unwrap();
    let parsed = parse_and_verify(&text, "trialgate", &public_key(app)).unwrap();
    assert_eq!(parsed.origin, "trialgate/NCT06987370");
    (text, parsed)
}

fn nonce(v: &Value) -> [u8; 32] {
    BASE64
        .decode(v.as_str().unwrap())
        .unwrap()
        .try_into()
        .unwrap()
}

fn proof(v: &Value) -> Vec<[u8; 32]> {
    let items: Vec<String> = serde_json::from_value(v.clone()).unwrap();
    decode_proof(&items).unwrap()
}

fn the_log_proves_inclusion_consistency_and_receipts(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("phil", "pharmacist", &[]);
    let site1 = app.user("sita", "pharmacist", &["S1"]);
    let mon = app.user("mona", "monitor", &[]);
    let a = enroll(&app, &inv, &pharm, "P-1", "S1");
    let (first_text, first) = checkpoint(&app, &mon);
    let b = enroll(&app, &inv, &pharm, "P-2", "S2");
    let _c = enroll(&app, &inv, &pharm, "P-3", "S1");
    let (_, now) = checkpoint(&app, &mon);
    // The tree covers every entry of the chain.
    assert_eq!(now.size as i64, audit_head(&app, &mon).0);
    assert!(first.size < now.size);

    // Consistency: the later tree extends the earlier one.
    let c = get_json(
        &app,
        &mon,
        &format!("{T}/log/consistency?from={}&to={}", first.size, now.size),
    );
    verify_consistency(
        first.size,
        now.size,
        &first.root,
        &now.root,
        &proof(&c["proof"]),
    )
    .unwrap();
    // …and a proof against a different old root fails.
    assert!(verify_consistency(
        first.size,
        now.size,
        &now.root,
        &now.root,
        &proof(&c["proof"])
    )
    .is_err());

    // Inclusion of every entry in the current tree.
    for seq in 1..=now.size as i64 {
        let p = get_json(
            &app,
            &mon,
            &format!("{T}/log/inclusion?seq={seq}&size={}", now.size),
        );
        assert_eq!(p["leaf_index"], seq - 1);
        verify_entry_inclusion(
            &nonce(&p["nonce"]),
            p["record"].as_str().unwrap().as_bytes(),
            seq,
            now.size,
            &proof(&p["proof"]),
            &now.root,
        )
        .unwrap();
    }
    // Beyond the tree: a field error, not a server error.
    let r = app.get(
        &mon,
        &format!("{T}/log/inclusion?seq=1&size={}", now.size + 1),
    );
    assert_problem(r, 422, "validation_failed");
    let r = app.get(&mon, &format!("{T}/log/consistency?from=5&to=2"));
    assert_problem(r, 422, "validation_failed");
    // The log endpoints are the monitor's.
    for path in [
        "log/checkpoint",
        "log/consistency?from=0&to=1",
        "log/inclusion?seq=1&size=1",
    ] {
        let r = app.get(&pharm, &format!("{T}/{path}"));
        assert_problem(r, 403, "forbidden");
    }

    // A receipt: the site's pharmacist gets it for their site's subject, verifies it offline.
    let subject = a["subject_id"].as_str().unwrap();
    let r = app.get(&site1, &format!("{T}/subjects/{subject}/receipt"));
    assert_eq!(r.status(), 200);
    let receipt: Value = r.json().unwrap();
    let seq = receipt["seq"].as_i64().unwrap();
    assert_eq!(
        receipt["tree_size"], seq,
        "the tree at the allocation's own entry"
    );
    let signed = parse_and_verify(
        receipt["checkpoint"].as_str().unwrap(),
        "trialgate",
        &public_key(&app),
    )
    .unwrap();
    assert_eq!(signed.size, seq as u64);
    verify_entry_inclusion(
        &nonce(&receipt["nonce"]),
        receipt["record"].as_str().unwrap().as_bytes(),
        seq,
        signed.size,
        &proof(&receipt["proof"]),
        &signed.root,
    )
    .unwrap();
    // …and with the command anyone can run, with the public key alone.
    let file = app.data_dir.path().join("receipt.json");
    std::fs::write(&file, receipt.to_string()).unwrap();
    let key = std::fs::read_to_string(app.data_dir.path().join("checkpoint.pub")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trialgate"))
        .args(["receipt", "verify"])
        .arg(&file)
        .args(["--public-key", key.trim()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.starts_with("Receipt valid: subject NCT06987370-0001"),
        "{said}"
    );
    let record: Value = serde_json::from_str(receipt["record"].as_str().unwrap()).unwrap();
    assert_eq!(record["action"], "subject.randomized");
    assert_eq!(record["data"]["subject_id"], subject);
    // The receipt's tree is a prefix of today's: a monitor can link the two.
    let c = get_json(
        &app,
        &mon,
        &format!("{T}/log/consistency?from={seq}&to={}", now.size),
    );
    verify_consistency(
        seq as u64,
        now.size,
        &signed.root,
        &now.root,
        &proof(&c["proof"]),
    )
    .unwrap();
    // It carries the site's own record only, and nothing of a later entry: the record is its
    // entry's, and every other entry appears only as a hash of nonce and record.
    assert_eq!(record["data"]["site"], "S1");
    // Another site's subject is refused to a site-limited pharmacist; a monitor gets any.
    let other = b["subject_id"].as_str().unwrap();
    let r = app.get(&site1, &format!("{T}/subjects/{other}/receipt"));
    assert_problem(r, 403, "forbidden");
    let r = app.get(&mon, &format!("{T}/subjects/{other}/receipt"));
    assert_eq!(r.status(), 200);
    let r = app.get(&mon, &format!("{T}/subjects/NCT06987370-9999/receipt"));
    assert_problem(r, 404, "not_found");

    // Two visits: the note saved at the first verifies by a consistency proof to today's log.
    let saved = app.data_dir.path().join("visit1.note");
    std::fs::write(&saved, &first_text).unwrap();
    let saved = saved.to_str().unwrap();
    let (code, out) = verify_cli(&app, &["--checkpoint", saved]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("consistency proof verified"), "{out}");
    // A note whose root was edited fails its signature.
    let forged = first_text.replacen(&BASE64.encode(first.root), &BASE64.encode(now.root), 1);
    let forged_file = app.data_dir.path().join("forged.note");
    std::fs::write(&forged_file, forged).unwrap();
    let (code, out) = verify_cli(&app, &["--checkpoint", forged_file.to_str().unwrap()]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("signature"), "{out}");

    // History rewritten from seq 2 on, the log rebuilt to match: the chain verifies by itself…
    rewrite_chain(&app, 2);
    rewrite_log(&mut app.db.connection(), "NCT06987370");
    let (code, out) = verify_cli(&app, &[]);
    assert_eq!(
        code, 0,
        "a consistent rewrite passes plain verification: {out}"
    );
    // …but today's log no longer extends the tree the monitor saved.
    let (code, out) = verify_cli(&app, &["--checkpoint", saved]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("does not extend the saved tree"), "{out}");
}
both_backends!(the_log_proves_inclusion_consistency_and_receipts);

/// A changed node, frontier or nonce is named by `audit verify`.
fn audit_verify_names_a_tampered_log(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("phil", "pharmacist", &[]);
    for i in 0..3 {
        enroll(&app, &inv, &pharm, &format!("P-{i}"), "S1");
    }
    let mut conn = app.db.connection();
    // Drops the triggers, as an administrator would; rebuilding changes nothing.
    drop_audit_triggers(&mut conn);
    rewrite_log(&mut conn, "NCT06987370");
    let (code, out) = verify_cli(&app, &[]);
    assert_eq!(code, 0, "{out}");
    let zero = "0".repeat(64);
    let where_ = "chain = 'NCT06987370'";
    for (tamper, expect) in [
        (
            format!(
                "UPDATE merkle_nodes SET hash = '{zero}' WHERE {where_} AND level = 1 AND idx = 0"
            ),
            "Merkle node 1/0 does not hash its children",
        ),
        (
            format!("UPDATE audit_heads SET log_frontier = '' WHERE {where_}"),
            "the head's log frontier is not the tree's right edge",
        ),
        // Last: rebuilding from a changed nonce would make the log agree with itself again.
        (
            format!(
                "UPDATE merkle_nodes SET nonce = '{zero}' WHERE {where_} AND level = 0 AND idx = 2"
            ),
            "entry 3's leaf hash is not SHA-256(0x00 ‖ nonce ‖ record)",
        ),
    ] {
        execute(&mut conn, &tamper).unwrap();
        let (code, out) = verify_cli(&app, &[]);
        assert_eq!(code, 1, "{tamper}: {out}");
        assert!(out.contains(expect), "{tamper}: {out}");
        rewrite_log(&mut conn, "NCT06987370");
    }
}
both_backends!(audit_verify_names_a_tampered_log);

/// A chain written before the log existed is committed to it once, in a `log.started` entry,
/// when the migrations run again; verification then covers it.
fn older_chains_are_committed_once(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("phil", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    enroll(&app, &inv, &pharm, "P-1", "S1");
    let (before, _) = audit_head(&app, &mon);
    let mut conn = app.db.connection();
    // Back to the schema before the log (every later migration reverted first): its tables
    // and head columns are gone.
    let mut reverted = Vec::new();
    while reverted.last().map(String::as_str) != Some("20261201000007") {
        let version = trialgate::storage::revert_last_migration(&mut conn).unwrap();
        assert!(
            version.as_str() >= "20261201000007",
            "{reverted:?} then {version}"
        );
        reverted.push(version);
    }
    assert!(reverted.len() >= 6, "{reverted:?}");
    trialgate::storage::run_migrations(&mut conn).unwrap();
    let entries = trialgate::storage::read_audit(&mut conn, "NCT06987370", 0, 1000).unwrap();
    let last = entries.last().unwrap();
    assert_eq!(last.seq, before + 1);
    assert_eq!(last.action, "log.started");
    assert!(
        last.record
            .contains(&format!("\"committed_entries\":{before}")),
        "{}",
        last.record
    );
    let (code, out) = verify_cli(&app, &[]);
    assert_eq!(code, 0, "{out}");
    // Running the migrations again commits nothing more.
    trialgate::storage::run_migrations(&mut conn).unwrap();
    assert_eq!(audit_head(&app, &mon).0, before + 1);
    let (_, tree) = checkpoint(&app, &mon);
    assert_eq!(tree.size as i64, before + 1);
    // And the log grows with new entries as before (the reverted register registered again).
    app.site("S1", "UTC");
    enroll(&app, &inv, &pharm, "P-2", "S1");
    let (code, out) = verify_cli(&app, &[]);
    assert_eq!(code, 0, "{out}");
}
both_backends!(older_chains_are_committed_once);

/// Where a stratum spans sites, a receipt's stratum position would tell a site-limited user
/// how many allocations other sites made in it: refused to them, issued to a monitor. Where
/// the site is a factor, the site's own users may have it.
fn receipts_under_stratification(db: TestDb, factors: &str, site_user_may: bool) {
    use super::support::protocol_with;
    let protocol = protocol_with(
        "stratification = []",
        &format!("stratification = {factors}"),
    );
    let app = TestApp::spawn_with(db, vec![protocol]);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("phil", "pharmacist", &[]);
    let site1 = app.user("sita", "pharmacist", &["S1"]);
    let mon = app.user("mona", "monitor", &[]);
    enroll(&app, &inv, &pharm, "P-1", "S2");
    let a = enroll(&app, &inv, &pharm, "P-2", "S1");
    let path = format!("{T}/subjects/{}/receipt", a["subject_id"].as_str().unwrap());
    let r = app.get(&site1, &path);
    if site_user_may {
        assert_eq!(r.status(), 200, "{factors}");
    } else {
        assert_problem(r, 403, "forbidden");
    }
    assert_eq!(app.get(&mon, &path).status(), 200, "{factors}");
    assert_eq!(app.get(&pharm, &path).status(), 200, "{factors}");
}

fn receipts_refused_where_strata_span_sites(db: TestDb) {
    receipts_under_stratification(db, r#"["sex"]"#, false);
}
both_backends!(receipts_refused_where_strata_span_sites);

fn receipts_issued_where_the_site_is_a_factor(db: TestDb) {
    receipts_under_stratification(db, r#"["site", "sex"]"#, true);
}
both_backends!(receipts_issued_where_the_site_is_a_factor);
