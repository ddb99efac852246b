//! `/readyz`: ready only when every trial can be randomized and checkpoints are signed with
//! the database's key; otherwise 503 naming each problem. `/healthz` stays 200 meanwhile.

use serde_json::Value;

use crate::common::app::TestApp;
use crate::common::TestDb;

fn readyz(base: &str) -> (u16, Value) {
    let r = reqwest::blocking::get(format!("{base}/readyz")).unwrap();
    (r.status().as_u16(), r.json().unwrap())
}

fn ready_and_not_ready(db: TestDb) {
    let app = TestApp::spawn(db);
    let (status, body) = readyz(&app.base);
    assert_eq!(
        (status, &body),
        (200, &serde_json::json!({"status": "ready"}))
    );
    // The first server recorded its key (audited in the system chain).
    let mut conn = app.db.connection();
    let keys = trialgate::storage::repo::signing_keys::list(&mut conn).unwrap();
    assert_eq!(keys.len(), 1);
    let public = std::fs::read_to_string(app.data_dir.path().join("checkpoint.pub")).unwrap();
    assert_eq!(keys[0].public_key, public.trim());

    // A second instance whose data directory has the seed and the admin token but not the
    // checkpoint key: served, but not ready, naming the key.
    let other_dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other_dir.path().join("seeds")).unwrap();
    std::fs::copy(
        app.seed_file("NCT06987370"),
        other_dir.path().join("seeds/NCT06987370.seed"),
    )
    .unwrap();
    std::fs::copy(
        app.data_dir.path().join("admin.token"),
        other_dir.path().join("admin.token"),
    )
    .unwrap();
    let other = TestApp::spawn_in(app.db.shared(), other_dir, Vec::new());
    let (status, body) = readyz(&other.base);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "not_ready");
    let problems = body["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{body}");
    assert!(
        problems[0].as_str().unwrap().contains("checkpoint key"),
        "{body}"
    );
    assert_eq!(
        reqwest::blocking::get(format!("{}/healthz", other.base))
            .unwrap()
            .status(),
        200
    );
    drop(other);

    // A server whose seed file is gone: not ready, naming the trial.
    std::fs::remove_file(app.seed_file("NCT06987370")).unwrap();
    let (second, handle) = app.second_server();
    let (status, body) = readyz(&second);
    assert_eq!(status, 503, "{body}");
    let problems = body["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{body}");
    assert!(
        problems[0]
            .as_str()
            .unwrap()
            .starts_with("trial NCT06987370: "),
        "{body}"
    );
    super::support::stop(handle);
}
both_backends!(ready_and_not_ready);
