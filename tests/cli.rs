//! The `trialgate` command line, run as a separate process like an operator would.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
#[path = "common/mod.rs"]
mod common;

#[allow(dead_code)]
#[path = "api/support.rs"]
mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use common::app::TestApp;
use common::TestDb;
use support::{enroll, T, TRIAL};

/// The spec's test-vector seed: bytes 0x00, 0x01, …, 0x1f.
fn vector_seed_hex() -> String {
    hex::encode((0u8..32).collect::<Vec<_>>())
}

const VECTOR_UNSTRATIFIED: &str = "A B A A A B A A B B A A A B A A B A A A A B A B A A A B A B";
const VECTOR_SITE01: &str = "A A B B A A A A B A B A A B A A B A B A A A B A A A B A A B";
const VECTOR_COMMITMENT: &str = "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd";

fn trialgate() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trialgate"));
    cmd.env_remove("DATABASE_URL")
        .env_remove("TRIALGATE_DATA_DIR")
        .env_remove("TRIALGATE_BIND")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

fn run(args: &[&str]) -> Output {
    trialgate().args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Runs and asserts the exit code, showing the output when it differs.
fn run_expect(args: &[&str], code: i32) -> Output {
    let o = run(args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "trialgate {args:?}\nstdout: {}\nstderr: {}",
        stdout(&o),
        stderr(&o)
    );
    o
}

fn letters(arms: impl IntoIterator<Item = String>) -> String {
    arms.into_iter()
        .map(|a| match a.as_str() {
            "SFRT_SCART" => "A",
            "CRT" => "B",
            other => panic!("unknown arm {other}"),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn vector_seed_file(dir: &Path) -> String {
    let path = dir.join("vector.seed");
    std::fs::write(&path, format!("{}\n", vector_seed_hex())).unwrap();
    path.display().to_string()
}

#[test]
fn schedule_prints_the_spec_vectors_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let seed = vector_seed_file(dir.path());
    for (stratum, want, sizes) in [
        ("", VECTOR_UNSTRATIFIED, vec![6, 6, 3, 3, 6, 6]),
        ("site=SITE01", VECTOR_SITE01, vec![6, 3, 3, 3, 3, 6, 3, 6]),
    ] {
        let base = [
            "schedule",
            "--seed-file",
            &seed,
            "-n",
            "30",
            "--stratum",
            stratum,
        ];
        let text = stdout(&run_expect(&[&base[..], &["--format", "text"]].concat(), 0));
        let arms: Vec<String> = text
            .lines()
            .filter(|l| {
                !l.starts_with('#') && l.trim_start().starts_with(|c: char| c.is_ascii_digit())
            })
            .map(|l| l.split_whitespace().last().unwrap().to_string())
            .collect();
        assert_eq!(letters(arms), want, "text, stratum {stratum:?}:\n{text}");
        assert!(text.contains(VECTOR_COMMITMENT));

        let csv_text = stdout(&run_expect(&[&base[..], &["--format", "csv"]].concat(), 0));
        let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
        let arm_col = reader
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "arm")
            .unwrap();
        let arms: Vec<String> = reader
            .records()
            .map(|r| r.unwrap()[arm_col].to_string())
            .collect();
        assert_eq!(letters(arms), want, "csv, stratum {stratum:?}");

        let doc: Value = serde_json::from_str(&stdout(&run_expect(
            &[&base[..], &["--format", "json"]].concat(),
            0,
        )))
        .unwrap();
        assert_eq!(doc["seed_commitment"], VECTOR_COMMITMENT);
        assert_eq!(doc["trial"], TRIAL);
        let allocations = doc["allocations"].as_array().unwrap();
        assert_eq!(allocations.len(), 30);
        let arms: Vec<String> = allocations
            .iter()
            .map(|a| a["arm"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(letters(arms), want, "json, stratum {stratum:?}");
        let mut block_sizes = Vec::new();
        let mut last_block = None;
        for a in allocations {
            if last_block != Some(a["block_index"].clone()) {
                block_sizes.push(a["block_size"].as_u64().unwrap());
                last_block = Some(a["block_index"].clone());
            }
        }
        assert_eq!(block_sizes, sizes, "json block sizes, stratum {stratum:?}");
    }
    // The default count is the protocol's 90.
    let doc: Value = serde_json::from_str(&stdout(&run_expect(
        &["schedule", "--seed-file", &seed, "--format", "json"],
        0,
    )))
    .unwrap();
    assert_eq!(doc["allocations"].as_array().unwrap().len(), 90);
}

#[test]
fn simulate_json_is_complete_and_reproducible() {
    let args = ["simulate", "--format", "json", "--trials", "2000"];
    let first = stdout(&run_expect(&args, 0));
    let second = stdout(&run_expect(&args, 0));
    assert_eq!(first, second, "same seed, same report");
    let r: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(r["trials"], 2000);
    assert_eq!(r["patients"], 90);
    for key in [
        "correct_guess_rate",
        "deterministic_share",
        "mean_final_imbalance",
        "mean_max_imbalance",
        "max_imbalance",
    ] {
        assert!(r[key].is_number(), "{key} missing: {r}");
    }
    for key in ["correct_guess_rate", "deterministic_share"] {
        let v = r[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    // Guessing beats a coin against 2:1 permuted blocks, but not by everything.
    assert!(r["correct_guess_rate"].as_f64().unwrap() > 0.5);
    assert!(
        r["mean_final_imbalance"].as_f64().unwrap() <= r["mean_max_imbalance"].as_f64().unwrap()
    );
    // Another seed gives another (still well-formed) report.
    let other = stdout(&run_expect(
        &[&args[..], &["--seed", &"ab".repeat(32)]].concat(),
        0,
    ));
    assert_ne!(other, first);
}

#[test]
fn bad_database_url_scheme_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    for args in [
        vec![
            "migrate",
            "--database-url",
            "mysql://x",
            "--data-dir",
            &data,
        ],
        vec![
            "user",
            "add",
            "x",
            "--role",
            "monitor",
            "--database-url",
            "mysql://x",
            "--data-dir",
            &data,
        ],
        vec![
            "audit",
            "verify",
            "--trial",
            TRIAL,
            "--database-url",
            "mysql://x",
            "--data-dir",
            &data,
        ],
    ] {
        let o = run(&args);
        assert!(!o.status.success(), "{args:?}");
        assert!(stderr(&o).contains("mysql"), "{args:?}: {}", stderr(&o));
    }
    // The environment variable is read the same way.
    let o = trialgate()
        .args(["migrate", "--data-dir", &data])
        .env("DATABASE_URL", "mysql://x")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("mysql"), "{}", stderr(&o));
}

/// Waits for a process to end (it must, within `limit`), killing it otherwise.
fn wait_for_exit(mut child: std::process::Child, limit: Duration) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().ok();
            let o = child.wait_with_output().unwrap();
            panic!("still running after {limit:?}: {}", stderr(&o));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

#[test]
fn protocol_with_block_size_4_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let protocol = dir.path().join("bad.toml");
    let text = trialgate::protocol::DEFAULT_PROTOCOL_TOML
        .replace("block_sizes = [3, 6]", "block_sizes = [3, 4]");
    assert_ne!(text, trialgate::protocol::DEFAULT_PROTOCOL_TOML);
    std::fs::write(&protocol, text).unwrap();
    let protocol = protocol.display().to_string();
    let seed = vector_seed_file(dir.path());
    for args in [
        vec!["schedule", "--seed-file", &seed, "--protocol", &protocol],
        vec!["simulate", "--trials", "10", "--protocol", &protocol],
    ] {
        let o = run(&args);
        assert!(!o.status.success(), "{args:?}");
        let err = stderr(&o);
        assert!(
            err.contains('4') && err.contains("block"),
            "{args:?}: {err}"
        );
        assert!(stdout(&o).is_empty());
    }
    let data = dir.path().join("data").display().to_string();
    let child = trialgate()
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            &data,
            "--protocol",
            &protocol,
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let o = wait_for_exit(child, Duration::from_secs(30));
    assert!(!o.status.success());
    assert!(stderr(&o).contains('4'), "{}", stderr(&o));
    assert!(
        !dir.path().join("data").join("seeds").exists(),
        "nothing initialised for a refused protocol"
    );
}

/// `--database-url URL --data-dir DIR` for `db`.
fn data_args<'a>(db: &'a TestDb, dir: &'a str) -> Vec<&'a str> {
    vec!["--database-url", &db.url, "--data-dir", dir]
}

fn migrate(db: TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    for _ in 0..2 {
        let o = run_expect(&[&["migrate"][..], &data_args(&db, &data)].concat(), 0);
        assert!(stdout(&o).contains("migrations applied"), "{}", stdout(&o));
    }
    let mut conn = db.connection();
    let head = trialgate::storage::audit_head(&mut conn, "_system").unwrap();
    assert_eq!(head.seq, 0);
    // The _system chain verifies from the command line.
    run_expect(
        &[
            &["audit", "verify", "--trial", "_system"][..],
            &data_args(&db, &data),
        ]
        .concat(),
        0,
    );
}
both_backends!(migrate);

fn user_add_and_revoke(db: TestDb) {
    let app = TestApp::spawn(db);
    let data = app.data_dir.path().display().to_string();
    let args = data_args(&app.db, &data);
    let o = run_expect(
        &[
            &[
                "user",
                "add",
                "pharma",
                "--role",
                "pharmacist",
                "--site",
                "SITE01",
            ][..],
            &args,
        ]
        .concat(),
        0,
    );
    let token = stdout(&o).trim().to_string();
    assert_eq!(token.lines().count(), 1, "only the token on stdout");
    assert!(!stderr(&o).contains(&token), "the token is printed once");
    // The token works against the server on the same database, with its role and site.
    let inv = app.user("ines", "investigator", &[]);
    let mine = support::screen_eligible(&app, &inv, "SITE01-0001", "SITE01");
    let theirs = support::screen_eligible(&app, &inv, "SITE02-0001", "SITE02");
    assert_eq!(support::randomize(&app, &token, &mine).status(), 201);
    assert_eq!(support::randomize(&app, &token, &theirs).status(), 403);
    assert_eq!(app.get(&token, &format!("{T}/balance")).status(), 403);
    // Stored only as a hash.
    let mut conn = app.db.connection();
    let hashes: Vec<String> = {
        use diesel::prelude::*;
        use trialgate::storage::schema::tokens;
        tokens::table
            .select(tokens::token_hash)
            .load(&mut conn)
            .unwrap()
    };
    assert!(!hashes.contains(&token));
    assert!(hashes.contains(&hex::encode(Sha256::digest(token.as_bytes()))));
    let user = trialgate::service::users::authenticate(&mut conn, &token).unwrap();
    assert_eq!(user.name, "pharma");
    assert_eq!(user.sites, ["SITE01"]);

    // A bad role is refused, naming it.
    let o = run(&[&["user", "add", "x", "--role", "root"][..], &args].concat());
    assert!(!o.status.success());
    assert!(stderr(&o).contains("role"), "{}", stderr(&o));
    // The same name twice is refused.
    let o = run(&[&["user", "add", "pharma", "--role", "monitor"][..], &args].concat());
    assert!(!o.status.success());

    let o = run_expect(&[&["user", "revoke", "pharma"][..], &args].concat(), 0);
    assert!(stdout(&o).contains("pharma"), "{}", stdout(&o));
    assert_eq!(app.get(&token, T).status(), 401);
    let o = run(&[&["user", "revoke", "nobody"][..], &args].concat());
    assert!(!o.status.success());
    // Both events are in the _system chain, which still verifies.
    let entries = trialgate::storage::read_audit(&mut conn, "_system", 0, 1000).unwrap();
    let actions: Vec<(String, Value)> = entries
        .iter()
        .map(|e| {
            let r: Value = serde_json::from_str(&e.record).unwrap();
            (e.action.clone(), r["data"]["name"].clone())
        })
        .collect();
    assert!(actions.contains(&("user.created".into(), json!("pharma"))));
    assert!(actions.contains(&("user.revoked".into(), json!("pharma"))));
    run_expect(
        &[&["audit", "verify", "--trial", "_system"][..], &args].concat(),
        0,
    );
}
both_backends!(user_add_and_revoke);

/// A migrated database with a five-entry chain for the default trial (entry n by `user{n}`).
fn chain_of_five(db: &TestDb) -> Vec<trialgate::storage::models::AuditEntry> {
    let database = db.migrated();
    let mut conn = database.get().unwrap();
    trialgate::storage::write_transaction(&mut conn, |c| {
        let mut head = trialgate::storage::create_chain(c, TRIAL)?;
        for n in 1..=5 {
            let at = chrono::NaiveDate::from_ymd_opt(2026, 11, 20)
                .unwrap()
                .and_hms_micro_opt(8, 30, n, 123_456)
                .unwrap();
            trialgate::storage::append_audit(
                c,
                &mut head,
                at,
                &format!("user{n}"),
                Some(trialgate::access::Role::Investigator),
                // Not a row-bearing action: these tests tamper with the chain alone.
                trialgate::audit::Action::UserRevoked,
                json!({ "n": n }),
            )?;
        }
        Ok::<_, trialgate::storage::StorageError>(())
    })
    .unwrap();
    trialgate::storage::read_audit(&mut conn, TRIAL, 0, 100).unwrap()
}

/// `audit verify` as an operator runs it: (exit code, stdout).
fn verify_cli(db: &TestDb) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let o = run(&[
        &["audit", "verify", "--trial", TRIAL][..],
        &data_args(db, &data),
    ]
    .concat());
    (o.status.code().unwrap(), stdout(&o))
}

/// Tampers with the chain by `sql` (triggers dropped first) and expects `audit verify` to
/// exit 1 naming `first_bad`.
fn expect_tampering_detected(db: &TestDb, sqls: &[String], first_bad: i64) {
    let (code, out) = verify_cli(db);
    assert_eq!(code, 0, "intact chain: {out}");
    assert!(out.contains("valid") && out.contains("5 entries"), "{out}");
    let mut conn = db.connection();
    common::drop_audit_triggers(&mut conn);
    for sql in sqls {
        common::execute(&mut conn, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let (code, out) = verify_cli(db);
    assert_eq!(code, 1, "tampered chain must be invalid: {out}");
    assert!(
        out.contains(&format!("first bad seq {first_bad}")),
        "expected seq {first_bad}: {out}"
    );
    let v = trialgate::storage::verify_chain(&mut conn, TRIAL, None).unwrap();
    assert_eq!(v.first_invalid_seq, Some(first_bad));
}

fn where_seq(seq: i64) -> String {
    format!("chain = '{TRIAL}' AND seq = {seq}")
}

fn audit_verify_detects_an_edited_record(db: TestDb) {
    chain_of_five(&db);
    expect_tampering_detected(
        &db,
        &[format!(
            "UPDATE audit_entries SET record = replace(record, '\"user3\"', '\"mallory\"') WHERE {}",
            where_seq(3)
        )],
        3,
    );
}
both_backends!(audit_verify_detects_an_edited_record);

fn audit_verify_detects_a_deleted_row(db: TestDb) {
    chain_of_five(&db);
    expect_tampering_detected(
        &db,
        &[format!("DELETE FROM audit_entries WHERE {}", where_seq(3))],
        3,
    );
}
both_backends!(audit_verify_detects_a_deleted_row);

fn audit_verify_detects_a_forged_row(db: TestDb) {
    let entries = chain_of_five(&db);
    // A well-formed sixth entry, correctly chained to the fifth: only the head row and
    // the server's own writes know it was never written by trialgate.
    let last = &entries[4];
    let record = last
        .record
        .replace("\"seq\":5", "\"seq\":6")
        .replace("\"user5\"", "\"mallory\"");
    assert_ne!(record, last.record);
    let mut hashed = last.hash.clone().into_bytes();
    hashed.extend_from_slice(record.as_bytes());
    let hash = hex::encode(Sha256::digest(&hashed));
    expect_tampering_detected(
        &db,
        &[format!(
            "INSERT INTO audit_entries (chain, seq, at, actor, role, action, record, prev_hash, hash) \
             SELECT chain, 6, at, 'mallory', role, action, '{record}', '{}', '{hash}' \
             FROM audit_entries WHERE {}",
            last.hash,
            where_seq(5)
        )],
        6,
    );
}
both_backends!(audit_verify_detects_a_forged_row);

fn audit_verify_detects_swapped_rows(db: TestDb) {
    chain_of_five(&db);
    let set = |from: i64, to: i64| {
        format!(
            "UPDATE audit_entries SET seq = {to} WHERE {}",
            where_seq(from)
        )
    };
    expect_tampering_detected(&db, &[set(2, 1000), set(3, 2), set(1000, 3)], 2);
}
both_backends!(audit_verify_detects_swapped_rows);

fn audit_check_against_the_seed(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    for i in 0..5 {
        enroll(&app, &inv, &pharm, &format!("P-{i}"), "SITE01");
    }
    let data = app.data_dir.path().display().to_string();
    let args = data_args(&app.db, &data);
    let seed = app.seed_file(TRIAL).display().to_string();
    let check = |seed: &str| {
        run(&[
            &["audit", "check", "--trial", TRIAL, "--seed-file", seed][..],
            &args,
        ]
        .concat())
    };
    let o = check(&seed);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).contains("all 5 allocations"), "{}", stdout(&o));
    run_expect(
        &[&["audit", "verify", "--trial", TRIAL][..], &args].concat(),
        0,
    );

    // Another seed is refused.
    let dir = tempfile::tempdir().unwrap();
    let wrong = vector_seed_file(dir.path());
    let o = check(&wrong);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("MISMATCH"), "{}", stdout(&o));

    // A subject whose arm was changed in the database no longer matches the schedule.
    let mut conn = app.db.connection();
    common::drop_table_triggers(&mut conn);
    common::execute(
        &mut conn,
        "UPDATE subjects SET arm = CASE arm WHEN 'CRT' THEN 'SFRT_SCART' ELSE 'CRT' END \
         WHERE sequence = 3",
    )
    .unwrap();
    let o = check(&seed);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("MISMATCH"));
}
both_backends!(audit_check_against_the_seed);

/// `user add --site` refuses admins, naming `sites`, and unregistered sites, saying how to
/// register them; nothing is created. A site-limited monitor is fine.
fn user_add_refuses_site_limited_admins_and_unregistered_sites(db: TestDb) {
    let app = TestApp::spawn(db);
    let data = app.data_dir.path().display().to_string();
    let args = data_args(&app.db, &data);
    for (role, site, says) in [
        ("admin", "SITE01", "sites"),
        ("monitor", "NOWHERE", "trialgate site add NOWHERE"),
    ] {
        let o = run(&[
            &["user", "add", "sam", "--role", role, "--site", site][..],
            &args,
        ]
        .concat());
        assert!(!o.status.success(), "{role}");
        assert!(stdout(&o).is_empty(), "no token printed");
        assert!(stderr(&o).contains(says), "{}", stderr(&o));
    }
    // A monitor limited to a registered site is fine.
    run_expect(
        &[
            &[
                "user", "add", "sam", "--role", "monitor", "--site", "SITE01",
            ][..],
            &args,
        ]
        .concat(),
        0,
    );
}
both_backends!(user_add_refuses_site_limited_admins_and_unregistered_sites);

/// `trialgate site add|list|change`, as the local operator: what the API lists next.
fn site_add_list_and_change(db: TestDb) {
    let app = TestApp::spawn(db);
    let data = app.data_dir.path().display().to_string();
    let args = data_args(&app.db, &data);
    let run_with = |head: &[&str], code: i32| run_expect(&[head, &args[..]].concat(), code);
    let o = run_with(
        &[
            "site",
            "add",
            "PUMCH",
            "--name",
            "北京协和医院",
            "--time-zone",
            "Asia/Shanghai",
            "--email",
            "gcp@pumch.cn",
        ],
        0,
    );
    assert!(
        stdout(&o).contains("site PUMCH (北京协和医院) registered"),
        "{}",
        stdout(&o)
    );
    let listed = stdout(&run_with(&["site", "list"], 0));
    assert!(
        listed
            .lines()
            .any(|l| l == "PUMCH\t北京协和医院\tAsia/Shanghai\tgcp@pumch.cn"),
        "{listed}"
    );
    let json: Value =
        serde_json::from_str(&stdout(&run_with(&["site", "list", "--format", "json"], 0))).unwrap();
    assert!(json
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["code"] == "PUMCH" && s["time_zone"] == "Asia/Shanghai"));
    // Refusals name the field; nothing changes.
    let o = run_with(
        &[
            "site",
            "add",
            "PUMCH",
            "--name",
            "Again",
            "--time-zone",
            "UTC",
        ],
        2,
    );
    assert!(stderr(&o).contains("registered already"), "{}", stderr(&o));
    let o = run_with(
        &[
            "site",
            "add",
            "BAD/1",
            "--name",
            "",
            "--time-zone",
            "Nowhere",
        ],
        2,
    );
    for field in ["code", "name", "time_zone"] {
        assert!(stderr(&o).contains(field), "{field}: {}", stderr(&o));
    }
    let o = run_with(&["site", "change", "PUMCH", "--time-zone", "Beijing"], 2);
    assert!(stderr(&o).contains("time_zone"), "{}", stderr(&o));
    run_with(
        &[
            "site",
            "change",
            "PUMCH",
            "--time-zone",
            "Asia/Urumqi",
            "--no-email",
        ],
        0,
    );
    let sites: Value = app.get(&app.admin, "/api/v1/sites").json().unwrap();
    let pumch = sites
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "PUMCH")
        .unwrap();
    assert_eq!(pumch["time_zone"], "Asia/Urumqi");
    assert!(pumch.get("email").is_none(), "{pumch}");
    // A user of the new site can now be created.
    run_with(
        &[
            "user",
            "add",
            "wang",
            "--role",
            "investigator",
            "--site",
            "PUMCH",
        ],
        0,
    );
    let o = run_with(&["site", "change", "NOWHERE", "--name", "x"], 2);
    assert!(stderr(&o).contains("NOWHERE"), "{}", stderr(&o));
}
both_backends!(site_add_list_and_change);

/// The commands that only read or copy never migrate: on a database without trialgate's
/// schema they refuse, name the fix, and leave the database as it was.
#[test]
fn audit_verify_and_backup_never_migrate() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let file = dir.path().join("fresh.db");
    let url = format!("sqlite://{}", file.display());
    // A fresh SQLite file: the database exists, trialgate's schema does not.
    drop(trialgate::storage::establish(&url).unwrap());
    let seed = vector_seed_file(dir.path());
    let backup = dir.path().join("copy.db").display().to_string();
    for args in [
        vec!["audit", "verify", "--trial", TRIAL],
        vec!["audit", "check", "--trial", TRIAL, "--seed-file", &seed],
        vec!["backup", "--to", &backup],
    ] {
        let o = run_expect(
            &[&args[..], &["--database-url", &url, "--data-dir", &data]].concat(),
            2,
        );
        let err = stderr(&o);
        assert!(
            err.contains(&format!("the database at {url} has no trialgate schema"))
                && err.contains("run `trialgate migrate`"),
            "{args:?}: {err}"
        );
    }
    let mut conn = trialgate::storage::establish(&url).unwrap();
    let schema = common::schema_dump(&mut conn);
    assert!(
        !schema
            .iter()
            .any(|line| line.contains("__diesel_schema_migrations")),
        "migrated: {schema:?}"
    );
    assert!(
        schema.is_empty(),
        "the database was left as it was: {schema:?}"
    );
    assert!(!dir.path().join("copy.db").exists());
    // No database file at all: refused, and none is created.
    let o = run_expect(
        &["audit", "verify", "--trial", TRIAL, "--data-dir", &data],
        2,
    );
    assert!(
        stderr(&o).contains("there is no database at sqlite://")
            && stderr(&o).contains("run `trialgate migrate`"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.path().join("data").exists());
}

/// `trialgate doctor` on a server's data directory: all well; then a seed file gone, the
/// checkpoint key readable by others, and a key that is not the database's, each named.
fn doctor_names_what_a_server_would_lack(db: TestDb) {
    let app = TestApp::spawn(db);
    let data = app.data_dir.path().display().to_string();
    let args = |extra: &str| -> Vec<String> {
        vec![
            "doctor".into(),
            "--database-url".into(),
            app.db.url.clone(),
            "--data-dir".into(),
            extra.to_string(),
        ]
    };
    let doctor = |dir: &str, code: i32| {
        let a = args(dir);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        stdout(&run_expect(&refs, code))
    };
    let out = doctor(&data, 0);
    assert!(
        out.contains("ok       trial NCT06987370 seed file"),
        "{out}"
    );
    assert!(out.contains("all "), "{out}");

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = app.data_dir.path().join("checkpoint.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let out = doctor(&data, 1);
        assert!(
            out.contains("PROBLEM  checkpoint key") && out.contains("chmod 600"),
            "{out}"
        );
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    // Another directory with the seed but its own checkpoint key.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other.path().join("seeds")).unwrap();
    std::fs::copy(
        app.seed_file("NCT06987370"),
        other.path().join("seeds/NCT06987370.seed"),
    )
    .unwrap();
    trialgate::audit::checkpoint::load_or_create_key(other.path()).unwrap();
    let out = doctor(&other.path().display().to_string(), 1);
    assert!(out.contains("is not this database's"), "{out}");

    std::fs::remove_file(app.seed_file("NCT06987370")).unwrap();
    let out = doctor(&data, 1);
    assert!(
        out.contains("PROBLEM  trial NCT06987370 seed file"),
        "{out}"
    );
}
both_backends!(doctor_names_what_a_server_would_lack);

/// `trialgate user list` and `user change`, as the local operator: the change is what the API
/// sees on the next request.
fn user_list_and_change(db: TestDb) {
    let app = TestApp::spawn(db);
    let data = app.data_dir.path().display().to_string();
    let args = data_args(&app.db, &data);
    let run_with =
        |head: &[&str], code: i32| stdout(&run_expect(&[head, &args[..]].concat(), code));
    let token = run_with(
        &[
            "user",
            "add",
            "wangli",
            "--role",
            "investigator",
            "--site",
            "S1",
            "--full-name",
            "王丽",
        ],
        0,
    )
    .trim()
    .to_string();
    let listed = run_with(&["user", "list"], 0);
    let line = listed.lines().find(|l| l.starts_with("wangli\t")).unwrap();
    assert!(
        line.contains("王丽") && line.contains("S1") && line.contains("Active"),
        "{line}"
    );
    let json: Value =
        serde_json::from_str(&run_with(&["user", "list", "--format", "json"], 0)).unwrap();
    assert!(json
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["full_name"] == "王丽"));
    run_with(
        &[
            "user",
            "change",
            "wangli",
            "--site",
            "S2",
            "--expires",
            "2099-12-31",
        ],
        0,
    );
    let screened = |site: &str| {
        app.post(
            &token,
            &format!("{T}/screenings"),
            &common::app::eligible("P-1", site),
        )
        .status()
        .as_u16()
    };
    assert_eq!(screened("S1"), 403);
    assert_eq!(screened("S2"), 201);
    // Refused changes are named and change nothing.
    let o = run_expect(
        &[
            &["user", "change", "wangli", "--role", "admin"][..],
            &args[..],
        ]
        .concat(),
        2,
    );
    assert!(stderr(&o).contains("sites"), "{}", stderr(&o));
    let o = run_expect(
        &[&["user", "change", "wangli", "--site", "S9"][..], &args[..]].concat(),
        2,
    );
    assert!(stderr(&o).contains("sites[0]"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("trialgate site add S9"),
        "{}",
        stderr(&o)
    );
    assert_eq!(screened("S2"), 201, "still at S2");
}
both_backends!(user_list_and_change);

/// `user token`: another token, printed once, with an expiry; `--revoke-others` rotates;
/// `--reset-password` clears the password so that the new token activates the account again.
fn user_token_rotates_and_resets(db: TestDb) {
    let app = TestApp::spawn(db);
    let data = app.data_dir.path().display().to_string();
    let args = data_args(&app.db, &data);
    let run_with = |head: &[&str], code: i32| run_expect(&[head, &args[..]].concat(), code);
    let first = app.user("lims", "monitor", &[]);
    let o = run_with(
        &[
            "user",
            "token",
            "lims",
            "--expires",
            "2099-01-01",
            "--revoke-others",
        ],
        0,
    );
    let second = stdout(&o).trim().to_string();
    assert!(second.starts_with("tg_"), "{second}");
    assert!(stderr(&o).contains("expiring 2099-01-01"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("1 other token(s) revoked"),
        "{}",
        stderr(&o)
    );
    assert_eq!(app.get(&first, "/api/v1/trials").status(), 401);
    assert_eq!(app.get(&second, "/api/v1/trials").status(), 200);
    let o = run_with(&["user", "token", "lims", "--reset-password"], 0);
    assert!(
        stderr(&o).contains("activates the account again"),
        "{}",
        stderr(&o)
    );
    let o = run_with(&["user", "token", "nobody"], 2);
    assert!(stderr(&o).contains("nobody"), "{}", stderr(&o));
}
both_backends!(user_token_rotates_and_resets);
