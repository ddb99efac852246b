//! Concurrency: the cap under fire, and parallel writers on one audit chain.

use std::sync::{Arc, Barrier};

use serde_json::{json, Value};

use crate::common::app::{eligible, TestApp};
use crate::common::TestDb;

const T: &str = "/api/v1/trials/NCT06987370";

/// Screens `n` eligible patients sequentially; returns their screening ids.
fn screen_many(app: &TestApp, token: &str, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let r = app.post(
                token,
                &format!("{T}/screenings"),
                &eligible(&format!("P-{i:04}"), "SITE01"),
            );
            assert_eq!(r.status(), 201);
            r.json::<Value>().unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// Fires one randomization per screening, all at once, against the given base URLs
/// (round-robin); returns the status codes.
fn fire(app: &TestApp, bases: &[String], token: &str, ids: Vec<String>) -> Vec<u16> {
    let barrier = Arc::new(Barrier::new(ids.len()));
    let threads: Vec<_> = ids
        .into_iter()
        .enumerate()
        .map(|(i, id)| {
            let barrier = barrier.clone();
            let client = app.client.clone();
            let url = format!("{}{T}/randomizations", bases[i % bases.len()]);
            let token = token.to_string();
            std::thread::spawn(move || {
                barrier.wait();
                let r = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&json!({ "screening_id": id }))
                    .send()
                    .unwrap();
                let status = r.status().as_u16();
                if status != 201 {
                    let p: Value = r.json().unwrap();
                    assert_eq!(p["code"], "enrollment_closed", "unexpected refusal {p}");
                }
                status
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

fn assert_cap_exact(app: &TestApp, statuses: &[u16]) {
    let mon = app.user("mona", "monitor", &[]);
    assert_eq!(statuses.iter().filter(|&&s| s == 201).count(), 90);
    assert_eq!(
        statuses.iter().filter(|&&s| s == 409).count(),
        statuses.len() - 90
    );
    let subjects: Vec<Value> = app.get(&mon, &format!("{T}/subjects")).json().unwrap();
    let sequences: Vec<i64> = subjects
        .iter()
        .map(|s| s["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=90).collect::<Vec<_>>());
    // Every allocation equals the schedule at its stratum position.
    let seed = trialgate::randomization::Seed::read_file(&app.seed_file("NCT06987370")).unwrap();
    let protocol = trialgate::protocol::Protocol::default_trial().unwrap();
    let schedule: Vec<_> =
        trialgate::randomization::Schedule::new(&seed, "NCT06987370", "", protocol.design())
            .take(90)
            .collect();
    for (s, due) in subjects.iter().zip(&schedule) {
        assert_eq!(s["arm"], protocol.arms[due.arm].code, "subject {s}");
    }
    let v: Value = app.get(&mon, &format!("{T}/audit/verify")).json().unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["entries"], 1 + statuses.len() as i64 + 90);
    let balance: Value = app.get(&mon, &format!("{T}/balance")).json().unwrap();
    assert_eq!(balance["enrolled"], 90);
}

fn cap_under_fire(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let ids = screen_many(&app, &inv, 120);
    let statuses = fire(&app, std::slice::from_ref(&app.base), &pharm, ids);
    assert_cap_exact(&app, &statuses);
}
both_backends!(cap_under_fire);

fn cap_under_fire_two_servers(db: TestDb) {
    if db.backend != trialgate::storage::Backend::Postgres {
        return; // two server processes share a database in production only on PostgreSQL
    }
    let app = TestApp::spawn(db);
    let (second, _handle) = app.second_server();
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let ids = screen_many(&app, &inv, 120);
    let statuses = fire(&app, &[app.base.clone(), second], &pharm, ids);
    assert_cap_exact(&app, &statuses);
}
both_backends!(cap_under_fire_two_servers);

fn parallel_screenings_keep_one_chain(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let barrier = Arc::new(Barrier::new(64));
    let threads: Vec<_> = (0..64)
        .map(|i| {
            let (barrier, client, token) = (barrier.clone(), app.client.clone(), inv.clone());
            let url = app.url(&format!("{T}/screenings"));
            std::thread::spawn(move || {
                barrier.wait();
                client
                    .post(url)
                    .bearer_auth(token)
                    .json(&eligible(&format!("P-{i}"), "SITE01"))
                    .send()
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 201);
    }
    let v: Value = app.get(&mon, &format!("{T}/audit/verify")).json().unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["entries"], 65);
}
both_backends!(parallel_screenings_keep_one_chain);
