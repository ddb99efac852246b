//! The main path: screen, randomize, withdraw, audit — and its refusals.

use serde_json::{json, Value};

use crate::common::app::{eligible, TestApp};
use crate::common::TestDb;

const T: &str = "/api/v1/trials/NCT06987370";

fn screen(app: &TestApp, token: &str, body: &Value) -> Value {
    let r = app.post(token, &format!("{T}/screenings"), body);
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    r.json().unwrap()
}

fn randomize(app: &TestApp, token: &str, screening_id: &str) -> reqwest::blocking::Response {
    app.post(
        token,
        &format!("{T}/randomizations"),
        &json!({ "screening_id": screening_id }),
    )
}

fn first_randomization(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &["SITE01"]);
    let pharm = app.user("paul", "pharmacist", &["SITE01"]);
    let mon = app.user("mona", "monitor", &[]);

    let s = screen(&app, &inv, &eligible("SITE01-0001", "SITE01"));
    assert_eq!(s["outcome"], "eligible");
    assert_eq!(s["criteria"].as_array().unwrap().len(), 15);
    assert_eq!(s["missing"], json!([]));

    let r = randomize(&app, &pharm, s["id"].as_str().unwrap());
    assert_eq!(r.status(), 201);
    let a: Value = r.json().unwrap();
    assert_eq!(a["sequence"], 1);
    assert_eq!(a["patient_ref"], "SITE01-0001");
    assert_eq!(a["status"], "on_study");
    assert!(["SFRT_SCART", "CRT"].contains(&a["arm"].as_str().unwrap()));
    for hidden in [
        "block_index",
        "block_size",
        "stratum_position",
        "stratum_key",
    ] {
        assert!(a.get(hidden).is_none(), "allocation leaks {hidden}");
    }

    // The allocation is exactly the schedule's first entry for this trial's seed.
    let seed = trialgate::randomization::Seed::read_file(&app.seed_file("NCT06987370")).unwrap();
    let protocol = trialgate::protocol::Protocol::default_trial().unwrap();
    let due =
        trialgate::randomization::allocation_at(&seed, "NCT06987370", "", protocol.design(), 0);
    assert_eq!(a["arm"], protocol.arms[due.arm].code);

    let v: Value = app.get(&mon, &format!("{T}/audit/verify")).json().unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["entries"], 3, "initialized, screening, randomization");
    let head: Value = app.get(&mon, &format!("{T}/audit/head")).json().unwrap();
    assert_eq!(head["seq"], 3);
    assert_eq!(head["hash"], v["head"]);

    // The randomization's audit entry carries the schedule position, nothing about blocks.
    let entries: Value = app
        .get(&mon, &format!("{T}/audit?after=2&limit=10"))
        .json()
        .unwrap();
    let record: Value = serde_json::from_str(entries[0]["record"].as_str().unwrap()).unwrap();
    assert_eq!(record["action"], "subject.randomized");
    assert_eq!(record["data"]["stratum_position"], 0);
    for hidden in ["block_index", "block_size"] {
        assert!(record["data"].get(hidden).is_none(), "audit leaks {hidden}");
    }
}
both_backends!(first_randomization);

fn refusals_in_contract_order(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &["SITE01"]);

    // not_found
    let r = randomize(&app, &pharm, "no-such-screening");
    assert_eq!(r.status(), 404);
    assert_eq!(r.json::<Value>().unwrap()["code"], "not_found");

    // forbidden: another site's patient
    let other = screen(&app, &inv, &eligible("SITE02-0001", "SITE02"));
    let r = randomize(&app, &pharm, other["id"].as_str().unwrap());
    assert_eq!(r.status(), 403);
    assert_eq!(r.json::<Value>().unwrap()["code"], "forbidden");

    // not_eligible
    let mut low_hb = eligible("SITE01-0002", "SITE01");
    low_hb["labs"]["hemoglobin"]["value"] = json!(89);
    let s = screen(&app, &inv, &low_hb);
    assert_eq!(s["outcome"], "ineligible");
    let r = randomize(&app, &pharm, s["id"].as_str().unwrap());
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().unwrap()["code"], "not_eligible");

    // stale_screening: a later screening supersedes the first, even with an earlier date
    let first = screen(&app, &inv, &eligible("SITE01-0003", "SITE01"));
    let mut later = eligible("SITE01-0003", "SITE01");
    later["screening_date"] = json!("2026-11-01");
    let second = screen(&app, &inv, &later);
    let r = randomize(&app, &pharm, first["id"].as_str().unwrap());
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().unwrap()["code"], "stale_screening");
    let old: Value = app
        .get(
            &inv,
            &format!("{T}/screenings/{}", first["id"].as_str().unwrap()),
        )
        .json()
        .unwrap();
    assert_eq!(old["latest"], false);

    // already_randomized, with the subject in the problem body; it wins over stale
    let r = randomize(&app, &pharm, second["id"].as_str().unwrap());
    assert_eq!(r.status(), 201);
    let subject: Value = r.json().unwrap();
    for id in [&second["id"], &first["id"]] {
        let r = randomize(&app, &pharm, id.as_str().unwrap());
        assert_eq!(r.status(), 409);
        let p: Value = r.json().unwrap();
        assert_eq!(p["code"], "already_randomized");
        assert_eq!(p["subject_id"], subject["subject_id"]);
        assert_eq!(p["type"], "urn:trialgate:problem:already_randomized");
    }

    // withdrawal: once, then already_withdrawn; the subject stays randomized
    let sid = subject["subject_id"].as_str().unwrap();
    let path = format!("{T}/subjects/{sid}/withdrawal");
    let r = app.post(&inv, &path, &json!({"reason": "moved away"}));
    assert_eq!(r.status(), 200);
    let w: Value = r.json().unwrap();
    assert_eq!(w["status"], "withdrawn");
    assert_eq!(w["sequence"], subject["sequence"]);
    let r = app.post(&inv, &path, &json!({"reason": "again"}));
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().unwrap()["code"], "already_withdrawn");
    let trial: Value = app.get(&inv, T).json().unwrap();
    assert_eq!(trial["enrolled"], 1, "withdrawn subjects still count");
}
both_backends!(refusals_in_contract_order);

fn idempotent_replay(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let a = screen(&app, &inv, &eligible("P-1", "SITE01"));
    let b = screen(&app, &inv, &eligible("P-2", "SITE01"));
    let send = |token: &str, id: &Value, key: &str| {
        app.client
            .post(app.url(&format!("{T}/randomizations")))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(&json!({ "screening_id": id }))
            .send()
            .unwrap()
    };
    let first = send(&pharm, &a["id"], "key-1");
    assert_eq!(first.status(), 201);
    let first: Value = first.json().unwrap();
    let replay = send(&pharm, &a["id"], "key-1");
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["Idempotent-Replayed"], "true");
    assert_eq!(replay.json::<Value>().unwrap(), first);
    // The same key with another body is a conflict, and allocates nothing.
    let conflict = send(&pharm, &b["id"], "key-1");
    assert_eq!(conflict.status(), 422);
    assert_eq!(
        conflict.json::<Value>().unwrap()["code"],
        "idempotency_conflict"
    );
    let subjects: Value = app.get(&pharm, &format!("{T}/subjects")).json().unwrap();
    assert_eq!(subjects.as_array().unwrap().len(), 1);
    // Keys survive a restart: a second server on the same database replays too.
    let (base2, handle) = app.second_server();
    let again = app
        .client
        .post(format!("{base2}{T}/randomizations"))
        .bearer_auth(&pharm)
        .header("Idempotency-Key", "key-1")
        .json(&json!({ "screening_id": a["id"] }))
        .send()
        .unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.json::<Value>().unwrap(), first);
    drop(handle);
}
both_backends!(idempotent_replay);
