//! Every problem code of api.md: its status and an RFC 9457 body.

use reqwest::Method;
use serde_json::{json, Value};

use super::support::{
    assert_problem, audit_head, enroll, error_fields, get_json, protocol_with, randomize,
    randomized, screen, screen_eligible, send, stop, T, TRIAL,
};
use crate::common::app::{eligible, TestApp};
use crate::common::TestDb;

fn post_raw(
    app: &TestApp,
    token: &str,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<reqwest::blocking::Body>,
) -> reqwest::blocking::Response {
    let mut req = app.client.post(app.url(path)).bearer_auth(token);
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    req.body(body).send().unwrap()
}

fn malformed_request(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let before = audit_head(&app, &mon);
    let json = Some("application/json");
    for (token, path) in [
        (&inv, format!("{T}/screenings")),
        (&pharm, format!("{T}/randomizations")),
        (&app.admin, "/api/v1/users".to_string()),
        (&app.admin, format!("{T}/close")),
    ] {
        for body in [r#"{"patient_ref": "#, "not json", r#"{"a":1}}"#, ""] {
            let r = post_raw(&app, token, &path, json, body);
            assert_problem(r, 400, "malformed_request");
        }
    }
    for path in [
        "/audit?limit=abc",
        "/audit?after=x",
        "/screenings?limit=abc",
        "/screenings?randomized=maybe",
    ] {
        let token = if path.starts_with("/audit") {
            &mon
        } else {
            &inv
        };
        assert_problem(
            app.get(token, &format!("{T}{path}")),
            400,
            "malformed_request",
        );
    }
    assert_eq!(audit_head(&app, &mon), before, "nothing was recorded");
}
both_backends!(malformed_request);

fn not_found(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    for path in [
        "/api/v1/trials/NCT00000000".to_string(),
        "/api/v1/trials/NCT00000000/subjects".to_string(),
        format!("{T}/screenings/0190c8f2-0000-7000-8000-000000000000"),
        format!("{T}/subjects/{TRIAL}-0001"),
        "/api/v1/no-such-route".to_string(),
        "/no-such-route".to_string(),
    ] {
        let p = assert_problem(app.get(&inv, &path), 404, "not_found");
        assert!(!p["detail"].as_str().unwrap().is_empty());
    }
    assert_problem(
        randomize(&app, &pharm, "no-such-screening"),
        404,
        "not_found",
    );
    let r = app.post(
        &inv,
        &format!("{T}/subjects/{TRIAL}-0042/withdrawal"),
        &json!({"reason": "gone"}),
    );
    assert_problem(r, 404, "not_found");
    let r = send(
        &app,
        Method::DELETE,
        Some(&app.admin),
        "/api/v1/users/nobody",
        None,
    );
    assert_problem(r, 404, "not_found");
    // An unknown route needs no token to be unknown.
    let r = app.client.get(app.url("/nowhere")).send().unwrap();
    assert_problem(r, 404, "not_found");
}
both_backends!(not_found);

fn validation_failed(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let screening = screen_eligible(&app, &inv, "P-1", "SITE01");
    let before = audit_head(&app, &mon);

    let mut bad_unit = eligible("P-2", "SITE01");
    bad_unit["labs"]["hemoglobin"]["unit"] = json!("mmol/L");
    let mut colour = eligible("P-3", "SITE01");
    colour["colour"] = json!("blue");
    let mut nested_unknown = eligible("P-4", "SITE01");
    nested_unknown["labs"]["alt"]["flag"] = json!("H");
    let mut future_birth = eligible("P-5", "SITE01");
    future_birth["birth_date"] = json!("2030-01-01");
    let mut no_ref = eligible("P-6", "SITE01");
    no_ref.as_object_mut().unwrap().remove("patient_ref");
    let mut negative = eligible("P-7", "SITE01");
    negative["labs"]["platelets"]["value"] = json!(-5);
    for (body, field) in [
        (bad_unit, "labs.hemoglobin.unit"),
        (colour, "colour"),
        (nested_unknown, "labs.alt.flag"),
        (future_birth, "birth_date"),
        (no_ref, "patient_ref"),
        (negative, "labs.platelets.value"),
    ] {
        let p = assert_problem(
            app.post(&inv, &format!("{T}/screenings"), &body),
            422,
            "validation_failed",
        );
        assert!(
            error_fields(&p).iter().any(|f| f == field),
            "expected {field} in {p}"
        );
    }
    // Randomization and other bodies reject unknown fields too.
    for (token, path, body, field) in [
        (
            &pharm,
            format!("{T}/randomizations"),
            json!({"screening_id": screening, "colour": "red"}),
            "colour",
        ),
        (
            &pharm,
            format!("{T}/randomizations"),
            json!({}),
            "screening_id",
        ),
        (
            &pharm,
            format!("{T}/randomizations"),
            json!({"screening_id": 7}),
            "screening_id",
        ),
        (
            &app.admin,
            "/api/v1/users".to_string(),
            json!({"name": "x", "role": "superuser"}),
            "role",
        ),
        (
            &app.admin,
            "/api/v1/users".to_string(),
            json!({"name": "x", "role": "monitor", "admin": true}),
            "admin",
        ),
        (
            &app.admin,
            format!("{T}/close"),
            json!({"reason": "", "reveal_seed": false}),
            "reason",
        ),
    ] {
        let p = assert_problem(app.post(token, &path, &body), 422, "validation_failed");
        assert!(
            error_fields(&p).iter().any(|f| f == field),
            "{path}: expected {field} in {p}"
        );
    }
    let r = app
        .client
        .post(app.url(&format!("{T}/randomizations")))
        .bearer_auth(&pharm)
        .header("Idempotency-Key", "k".repeat(129))
        .json(&json!({"screening_id": screening}))
        .send()
        .unwrap();
    let p = assert_problem(r, 422, "validation_failed");
    assert_eq!(error_fields(&p), ["Idempotency-Key"]);
    // `limit` above its maximum.
    for path in ["/audit?limit=1001", "/audit?limit=0"] {
        let p = assert_problem(
            app.get(&mon, &format!("{T}{path}")),
            422,
            "validation_failed",
        );
        assert_eq!(error_fields(&p), ["limit"]);
    }
    let p = assert_problem(
        app.get(&inv, &format!("{T}/screenings?limit=1001")),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["limit"]);
    assert_eq!(
        app.get(&mon, &format!("{T}/audit?limit=1000")).status(),
        200
    );
    assert_eq!(
        app.get(&inv, &format!("{T}/screenings?limit=1000"))
            .status(),
        200
    );
    let p = assert_problem(
        app.get(&mon, &format!("{T}/export?format=xml")),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["format"]);
    // Nothing was recorded by any refused request.
    assert_eq!(audit_head(&app, &mon), before);
    let subjects = get_json(&app, &pharm, &format!("{T}/subjects"));
    assert_eq!(subjects, json!([]));
}
both_backends!(validation_failed);

fn conflicts(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);

    // not_eligible, for ineligible and incomplete screenings
    let mut low_hb = eligible("P-1", "SITE01");
    low_hb["labs"]["hemoglobin"]["value"] = json!(89);
    let s = screen(&app, &inv, &low_hb);
    assert_eq!(s["outcome"], "ineligible");
    assert_problem(
        randomize(&app, &pharm, s["id"].as_str().unwrap()),
        409,
        "not_eligible",
    );
    let mut incomplete = eligible("P-2", "SITE01");
    incomplete["labs"].as_object_mut().unwrap().remove("anc");
    let s = screen(&app, &inv, &incomplete);
    assert_eq!(s["outcome"], "incomplete");
    assert_problem(
        randomize(&app, &pharm, s["id"].as_str().unwrap()),
        409,
        "not_eligible",
    );

    // stale_screening
    let old = screen_eligible(&app, &inv, "P-3", "SITE01");
    let new = screen_eligible(&app, &inv, "P-3", "SITE01");
    assert_problem(randomize(&app, &pharm, &old), 409, "stale_screening");

    // already_randomized, with the subject
    let a = randomized(&app, &pharm, &new);
    for id in [&new, &old] {
        let p = assert_problem(randomize(&app, &pharm, id), 409, "already_randomized");
        assert_eq!(p["subject_id"], a["subject_id"]);
    }

    // already_withdrawn
    let path = format!(
        "{T}/subjects/{}/withdrawal",
        a["subject_id"].as_str().unwrap()
    );
    assert_eq!(
        app.post(&inv, &path, &json!({"reason": "moved"})).status(),
        200
    );
    assert_problem(
        app.post(&inv, &path, &json!({"reason": "again"})),
        409,
        "already_withdrawn",
    );

    // idempotency_conflict
    let b = screen_eligible(&app, &inv, "P-4", "SITE01");
    let c = screen_eligible(&app, &inv, "P-5", "SITE01");
    let keyed = |id: &str| {
        app.client
            .post(app.url(&format!("{T}/randomizations")))
            .bearer_auth(&pharm)
            .header("Idempotency-Key", "same-key")
            .json(&json!({ "screening_id": id }))
            .send()
            .unwrap()
    };
    assert_eq!(keyed(&b).status(), 201);
    let head = audit_head(&app, &mon);
    assert_problem(keyed(&c), 422, "idempotency_conflict");
    assert_eq!(audit_head(&app, &mon), head);
}
both_backends!(conflicts);

fn enrollment_closed(db: TestDb) {
    let protocol = protocol_with("cap = 90", "cap = 2");
    let app = TestApp::spawn_with(db, vec![protocol]);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let first = enroll(&app, &inv, &pharm, "P-1", "SITE01");
    enroll(&app, &inv, &pharm, "P-2", "SITE01");
    // A withdrawn subject still counts toward the cap.
    let r = app.post(
        &inv,
        &format!(
            "{T}/subjects/{}/withdrawal",
            first["subject_id"].as_str().unwrap()
        ),
        &json!({"reason": "moved"}),
    );
    assert_eq!(r.status(), 200);
    let third = screen_eligible(&app, &inv, "P-3", "SITE01");
    let p = assert_problem(randomize(&app, &pharm, &third), 409, "enrollment_closed");
    assert!(p["detail"].as_str().unwrap().contains('2'), "{p}");
    let trial = get_json(&app, &inv, T);
    assert_eq!(trial["cap"], 2);
    assert_eq!(trial["enrolled"], 2);
    // Screening goes on; only randomization stops.
    screen_eligible(&app, &inv, "P-4", "SITE01");
}
both_backends!(enrollment_closed);

fn trial_closed(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let a = enroll(&app, &inv, &pharm, "P-1", "SITE01");
    let waiting = screen_eligible(&app, &inv, "P-2", "SITE01");
    let r = app.post(
        &app.admin,
        &format!("{T}/close"),
        &json!({"reason": "DSMB stop", "reveal_seed": false}),
    );
    assert_eq!(r.status(), 200);
    assert_problem(
        app.post(&inv, &format!("{T}/screenings"), &eligible("P-3", "SITE01")),
        409,
        "trial_closed",
    );
    assert_problem(randomize(&app, &pharm, &waiting), 409, "trial_closed");
    assert_problem(
        app.post(
            &inv,
            &format!(
                "{T}/subjects/{}/withdrawal",
                a["subject_id"].as_str().unwrap()
            ),
            &json!({"reason": "after close"}),
        ),
        409,
        "trial_closed",
    );
    assert_problem(
        app.post(
            &app.admin,
            &format!("{T}/close"),
            &json!({"reason": "twice", "reveal_seed": false}),
        ),
        409,
        "trial_closed",
    );
}
both_backends!(trial_closed);

fn body_limits_and_media_types(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let before = audit_head(&app, &mon);
    let mut big = eligible("P-1", "SITE01");
    big["padding"] = json!("x".repeat(70 * 1024));
    let big = serde_json::to_vec(&big).unwrap();
    for (token, path) in [
        (&inv, format!("{T}/screenings")),
        (&pharm, format!("{T}/randomizations")),
    ] {
        let r = post_raw(&app, token, &path, Some("application/json"), big.clone());
        assert_problem(r, 413, "payload_too_large");
        let body = serde_json::to_vec(&eligible("P-1", "SITE01")).unwrap();
        let r = post_raw(&app, token, &path, Some("text/plain"), body.clone());
        assert_problem(r, 415, "unsupported_media_type");
        let r = post_raw(&app, token, &path, None, body);
        assert_problem(r, 415, "unsupported_media_type");
    }
    // Exactly at the limit is not too large (it is a 422 for the padding field).
    let mut at_limit = eligible("P-1", "SITE01");
    at_limit["padding"] = json!("");
    let base = serde_json::to_vec(&at_limit).unwrap().len();
    at_limit["padding"] = json!("x".repeat(64 * 1024 - base));
    let bytes = serde_json::to_vec(&at_limit).unwrap();
    assert_eq!(bytes.len(), 64 * 1024);
    let r = post_raw(
        &app,
        &inv,
        &format!("{T}/screenings"),
        Some("application/json"),
        bytes,
    );
    assert_problem(r, 422, "validation_failed");
    assert_eq!(audit_head(&app, &mon), before);
}
both_backends!(body_limits_and_media_types);

fn seed_unavailable(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let waiting = screen_eligible(&app, &inv, "P-1", "SITE01");
    let seed_file = app.seed_file(TRIAL);
    let original = std::fs::read(&seed_file).unwrap();
    let other_seed = format!("{}\n", "11".repeat(32));
    for replacement in [None, Some(other_seed.as_bytes())] {
        match replacement {
            None => std::fs::remove_file(&seed_file).unwrap(),
            Some(bytes) => std::fs::write(&seed_file, bytes).unwrap(),
        }
        let (base, handle) = app.second_server();
        let r = app
            .client
            .post(format!("{base}{T}/randomizations"))
            .bearer_auth(&pharm)
            .json(&json!({ "screening_id": waiting }))
            .send()
            .unwrap();
        assert_eq!(r.headers()["retry-after"], "1");
        let p = assert_problem(r, 503, "seed_unavailable");
        assert!(!p["detail"].as_str().unwrap().contains(&other_seed[..64]));
        let detail: Value = app
            .client
            .get(format!("{base}{T}"))
            .bearer_auth(&inv)
            .send()
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(detail["seed_available"], false);
        // The first server still holds its seed and randomizes.
        assert_eq!(get_json(&app, &inv, T)["seed_available"], true);
        stop(handle);
    }
    std::fs::write(&seed_file, original).unwrap();
    randomized(&app, &pharm, &waiting);
}
both_backends!(seed_unavailable);

fn internal_error_leaks_nothing(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    screen_eligible(&app, &inv, "P-1", "SITE01");
    // A database administrator breaks the schema under the running server.
    let mut conn = app.db.connection();
    crate::common::execute(
        &mut conn,
        "ALTER TABLE screenings RENAME TO screenings_gone",
    )
    .unwrap();
    let r = app.get(&inv, &format!("{T}/screenings"));
    let text = format!("{:?}", r.headers());
    let p = assert_problem(r, 500, "internal");
    let body = p.to_string().to_lowercase();
    for leak in ["screenings", "relation", "table", "sql", "diesel", "select"] {
        assert!(!body.contains(leak), "500 body leaks {leak:?}: {p}");
        assert!(!text.to_lowercase().contains(leak), "headers leak {leak}");
    }
}
both_backends!(internal_error_leaks_nothing);

fn unauthorized_and_forbidden(db: TestDb) {
    let app = TestApp::spawn(db);
    let mon = app.user("mona", "monitor", &[]);
    let r = app.client.get(app.url(T)).send().unwrap();
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_problem(r, 401, "unauthorized");
    assert_problem(
        app.post(&mon, &format!("{T}/screenings"), &eligible("P-1", "SITE01")),
        403,
        "forbidden",
    );
}
both_backends!(unauthorized_and_forbidden);
