//! Backups: a restored database verifies and continues the same schedule.

use std::process::Command;

use serde_json::{json, Value};

use crate::common::app::{eligible, TestApp};
use crate::common::TestDb;

const T: &str = "/api/v1/trials/NCT06987370";

fn randomize_patients(app: &TestApp, inv: &str, pharm: &str, from: usize, to: usize) -> Vec<Value> {
    (from..to)
        .map(|i| {
            let s: Value = app
                .post(
                    inv,
                    &format!("{T}/screenings"),
                    &eligible(&format!("P-{i}"), "S1"),
                )
                .json()
                .unwrap();
            let r = app.post(
                pharm,
                &format!("{T}/randomizations"),
                &json!({"screening_id": s["id"]}),
            );
            assert_eq!(r.status(), 201);
            r.json().unwrap()
        })
        .collect()
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn backup_restores_and_continues(db: TestDb) {
    let backend = db.backend;
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    randomize_patients(&app, &inv, &pharm, 0, 5);
    let head: Value = app.get(&mon, &format!("{T}/audit/head")).json().unwrap();

    let restored = match backend {
        trialgate::storage::Backend::Sqlite => {
            let file = app.data_dir.path().join("backup.db");
            run(Command::new(env!("CARGO_BIN_EXE_trialgate"))
                .args(["backup", "--database-url", &app.db.url, "--to"])
                .arg(&file)
                .arg("--data-dir")
                .arg(app.data_dir.path()));
            // A second backup never overwrites the first.
            let again = Command::new(env!("CARGO_BIN_EXE_trialgate"))
                .args(["backup", "--database-url", &app.db.url, "--to"])
                .arg(&file)
                .output()
                .unwrap();
            assert!(!again.status.success());
            let restored = TestDb::sqlite();
            let path = restored.url.strip_prefix("sqlite://").unwrap().to_string();
            std::fs::copy(&file, path).unwrap();
            restored
        }
        trialgate::storage::Backend::Postgres => {
            let dump = app.data_dir.path().join("backup.dump");
            run(Command::new("pg_dump")
                .args(["--format=custom", "--file"])
                .arg(&dump)
                .arg(&app.db.url));
            let restored = TestDb::postgres().unwrap();
            run(Command::new("pg_restore")
                .args(["--no-owner", "--dbname", &restored.url])
                .arg(&dump));
            restored
        }
    };

    // The original server is gone; a new one runs on the restored database with the same
    // data directory (seed files and keys, which backups of the database do not hold).
    let data_dir = app.into_data_dir();
    let app = TestApp::spawn_in(restored, data_dir, Vec::new());
    let v: Value = app.get(&mon, &format!("{T}/audit/verify")).json().unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["head"], head["hash"]);
    let more = randomize_patients(&app, &inv, &pharm, 5, 8);
    assert_eq!(more[0]["sequence"], 6);

    let out = run(Command::new(env!("CARGO_BIN_EXE_trialgate"))
        .args([
            "audit",
            "check",
            "--trial",
            "NCT06987370",
            "--database-url",
            &app.db.url,
        ])
        .arg("--seed-file")
        .arg(app.seed_file("NCT06987370")));
    assert!(
        out.contains("all 8 allocations equal the schedule"),
        "{out}"
    );
}
both_backends!(backup_restores_and_continues);
