//! The training trial (`serve --training`): a copy of each trial with its own seed, chain and
//! patients, marked as training, never counted in the real trial; not served without the flag.

use serde_json::Value;

use super::support::{assert_problem, audit_records, get_json, stop, T};
use crate::common::app::{eligible, TestApp};
use crate::common::TestDb;

const TRAINING: &str = "/api/v1/trials/NCT06987370-TRAINING";

fn training_trial_is_separate_and_marked(db: TestDb) {
    let app = TestApp::spawn_training(db, tempfile::tempdir().unwrap());
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("phil", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let trials = get_json(&app, &inv, "/api/v1/trials");
    let ids: Vec<(&str, bool)> = trials
        .as_array()
        .unwrap()
        .iter()
        .map(|t| (t["id"].as_str().unwrap(), t["training"] == true))
        .collect();
    assert_eq!(
        ids,
        [("NCT06987370", false), ("NCT06987370-TRAINING", true)]
    );
    let detail = get_json(&app, &mon, TRAINING);
    assert_eq!(detail["training"], true);
    assert!(detail["title"].as_str().unwrap().starts_with("[TRAINING]"));
    assert_ne!(
        detail["seed_commitment"],
        get_json(&app, &mon, T)["seed_commitment"],
        "its own seed"
    );
    assert!(app.seed_file("NCT06987370-TRAINING").exists());

    // A whole tour in the training trial…
    let r = app.post(
        &inv,
        &format!("{TRAINING}/screenings"),
        &eligible("TR-1", "S1"),
    );
    assert_eq!(r.status(), 201);
    let s: Value = r.json().unwrap();
    let r = app.post(
        &pharm,
        &format!("{TRAINING}/randomizations"),
        &serde_json::json!({"screening_id": s["id"]}),
    );
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    // …leaves the real trial untouched: counts, screenings, chain, exports.
    let real = get_json(&app, &mon, T);
    assert_eq!(real["enrolled"], 0);
    assert!(get_json(&app, &inv, &format!("{T}/screenings"))
        .as_array()
        .unwrap()
        .is_empty());
    let actions: Vec<String> = audit_records(&app, &mon)
        .iter()
        .map(|r| r["action"].as_str().unwrap().to_string())
        .collect();
    assert!(
        !actions
            .iter()
            .any(|a| a.starts_with("screening") || a.starts_with("subject")),
        "{actions:?}"
    );
    let export: Value = app
        .get(&mon, &format!("{T}/export?format=json"))
        .json()
        .unwrap();
    assert!(export["subjects"].as_array().unwrap().is_empty());
    assert_eq!(get_json(&app, &mon, TRAINING)["enrolled"], 1);

    // A server without --training on the same database does not serve it.
    let (other, handle) = app.second_server();
    let r = reqwest::blocking::Client::new()
        .get(format!("{other}{TRAINING}"))
        .bearer_auth(&mon)
        .send()
        .unwrap();
    assert_problem(r, 404, "not_found");
    stop(handle);
}
both_backends!(training_trial_is_separate_and_marked);
