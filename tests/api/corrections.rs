//! Corrections of screenings, their approval by a monitor, the deviations they reveal, and
//! the screening desk's request rules (every error at once, plausibility, initials, one
//! screening per submission).

use diesel::connection::SimpleConnection;
use serde_json::{json, Value};

use super::support::{
    assert_problem, audit_records, error_fields, get_json, protocol_with, randomize, randomized,
    screen, screen_eligible, verify_cli, T,
};
use crate::common::app::{eligible, TestApp};
use crate::common::{drop_table_triggers, TestDb};

fn correct(
    app: &TestApp,
    token: &str,
    screening: &str,
    body: &Value,
) -> reqwest::blocking::Response {
    app.post(
        token,
        &format!("{T}/screenings/{screening}/corrections"),
        body,
    )
}

fn corrected(app: &TestApp, token: &str, screening: &str, body: &Value) -> Value {
    let r = correct(app, token, screening, body);
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    r.json().unwrap()
}

fn decide(
    app: &TestApp,
    token: &str,
    correction: &str,
    decision: &str,
) -> reqwest::blocking::Response {
    app.post(
        token,
        &format!("{T}/corrections/{correction}/approval"),
        &json!({"decision": decision, "reason": "checked against the source lab report"}),
    )
}

/// Screens and randomizes; returns (screening id, allocation).
fn enroll(app: &TestApp, inv: &str, pharm: &str, patient: &str, site: &str) -> (String, Value) {
    let s = screen_eligible(app, inv, patient, site);
    let a = randomized(app, pharm, &s);
    (s, a)
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// Hb transcribed as 11.2 g/dL → 112 g/L eligible; 8.5 g/dL is not.
fn low_hemoglobin() -> Value {
    json!({"labs": {"hemoglobin": {"value": 8.5, "unit": "g/dL"}}})
}

fn screening_again_after_randomization_is_refused(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("phil", "pharmacist", &[]);
    let (_, a) = enroll(&app, &inv, &pharm, "P-1", "S1");
    let mut again = eligible("P-1", "S1");
    again["labs"]["hemoglobin"] = json!({"value": 80, "unit": "g/L"});
    let p = assert_problem(
        app.post(&inv, &format!("{T}/screenings"), &again),
        409,
        "already_randomized",
    );
    assert_eq!(p["subject_id"], a["subject_id"]);
    assert!(p["detail"].as_str().unwrap().contains("correct"), "{p}");
    // Nothing was recorded: the patient's screening is still the eligible one.
    let list = get_json(&app, &inv, &format!("{T}/screenings?patient_ref=P-1"));
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["outcome"], "eligible");
}
both_backends!(screening_again_after_randomization_is_refused);

fn correction_before_randomization_is_applied(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("phil", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let mut body = eligible("P-1", "S1");
    body["labs"]["creatinine_clearance_24h"] = Value::Null;
    body["labs"]["creatinine"] = json!({"value": 200, "uln": 97, "unit": "umol/L"});
    let first = screen(&app, &inv, &body);
    assert_eq!(first["outcome"], "incomplete");
    let c = corrected(
        &app,
        &inv,
        first["id"].as_str().unwrap(),
        &json!({"reason": "24-hour clearance came back",
                "changes": {"labs": {"creatinine_clearance_24h": {"value": 62, "unit": "mL/min"}}}}),
    );
    assert_eq!(c["correction_status"], "applied");
    assert_eq!(c["corrects"], first["id"]);
    assert_eq!(c["outcome"], "eligible");
    assert_eq!(c["latest"], true);
    // The other labs were kept, the date too.
    assert_eq!(c["screening_date"], first["screening_date"]);
    let old = get_json(&app, &inv, &format!("{T}/screenings/{}", id(&first)));
    assert_eq!(old["latest"], false);
    assert_problem(randomize(&app, &pharm, &id(&first)), 409, "stale_screening");
    assert_eq!(randomize(&app, &pharm, &id(&c)).status(), 201);
    let entry = audit_records(&app, &mon)
        .into_iter()
        .find(|r| r["action"] == "screening.corrected")
        .unwrap();
    assert_eq!(entry["data"]["corrects"], first["id"]);
    assert_eq!(entry["data"]["screening_id"], c["id"]);
    assert_eq!(entry["data"]["reason"], "24-hour clearance came back");
    let changes = entry["data"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{changes:?}");
    assert_eq!(changes[0]["field"], "labs.creatinine_clearance_24h");
    assert_eq!(changes[0]["old"], Value::Null);
    assert_eq!(changes[0]["new"]["value"].as_f64(), Some(62.0));
    // Correcting the superseded screening is refused.
    assert_problem(
        correct(
            &app,
            &inv,
            &id(&first),
            &json!({"reason": "x", "changes": {"sex": "male"}}),
        ),
        409,
        "stale_screening",
    );
    assert_eq!(verify_cli(&app, &[]).0, 0);
}
both_backends!(correction_before_randomization_is_applied);

fn approved_correction_keeps_the_arm_and_records_the_deviation(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("phil", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let (screening, a) = enroll(&app, &inv, &pharm, "P-1", "S1");
    let subject = a["subject_id"].as_str().unwrap().to_string();
    let c = corrected(
        &app,
        &inv,
        &screening,
        &json!({"reason": "Hb was 8.5 g/dL on the source report", "changes": low_hemoglobin()}),
    );
    assert_eq!(c["correction_status"], "pending");
    assert_eq!(c["outcome"], "ineligible");
    assert_eq!(c["subject_id"], a["subject_id"]);
    assert_eq!(c["latest"], false, "pending corrections are not in effect");
    // While pending: the randomized screening stands; a second correction waits its turn.
    let list = get_json(&app, &inv, &format!("{T}/screenings?patient_ref=P-1"));
    assert_eq!(list[0]["id"].as_str(), Some(screening.as_str()));
    assert_problem(
        correct(
            &app,
            &inv,
            &screening,
            &json!({"reason": "x", "changes": {"sex": "male"}}),
        ),
        409,
        "correction_pending",
    );
    // The corrector (or any investigator) cannot approve; pharmacists neither.
    assert_problem(decide(&app, &inv, &id(&c), "approve"), 403, "forbidden");
    assert_problem(decide(&app, &pharm, &id(&c), "approve"), 403, "forbidden");
    let queue = get_json(&app, &mon, &format!("{T}/corrections"));
    assert_eq!(queue.as_array().unwrap().len(), 1, "{queue}");
    assert_eq!(queue[0]["screening"]["id"], c["id"]);
    assert_eq!(queue[0]["previous_outcome"], "eligible");
    assert_eq!(queue[0]["changes"][0]["field"], "labs.hemoglobin");
    assert_eq!(queue[0]["changes"][0]["old"]["value"].as_f64(), Some(112.0));
    assert_eq!(queue[0]["changes"][0]["new"]["unit"], "g/dL");

    let r = decide(&app, &mon, &id(&c), "approve");
    assert_eq!(r.status(), 200);
    let approved: Value = r.json().unwrap();
    assert_eq!(approved["correction_status"], "approved");
    assert_eq!(approved["latest"], true);
    assert_problem(decide(&app, &mon, &id(&c), "reject"), 409, "not_pending");
    assert!(get_json(&app, &mon, &format!("{T}/corrections"))
        .as_array()
        .unwrap()
        .is_empty());
    // Intention to treat: the subject is unchanged.
    let s = get_json(&app, &mon, &format!("{T}/subjects/{subject}"));
    assert_eq!(s["arm"], a["arm"]);
    assert_eq!(s["status"], "on_study");
    let deviations = get_json(&app, &mon, &format!("{T}/deviations"));
    assert_eq!(deviations.as_array().unwrap().len(), 1, "{deviations}");
    assert_eq!(deviations[0]["kind"], "ineligible_randomized");
    assert_eq!(deviations[0]["subject_id"], a["subject_id"]);
    assert_eq!(deviations[0]["screening_id"], c["id"]);
    let records = audit_records(&app, &mon);
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    let tail = &actions[actions.len() - 3..];
    assert_eq!(
        tail,
        [
            "screening.corrected",
            "correction.approved",
            "deviation.recorded"
        ]
    );
    // The exports carry it.
    let export: Value = app
        .get(&mon, &format!("{T}/export?format=json"))
        .json()
        .unwrap();
    assert_eq!(export["deviations"][0]["kind"], "ineligible_randomized");
    let csv = app
        .get(&mon, &format!("{T}/export?format=csv"))
        .text()
        .unwrap();
    assert!(csv.lines().next().unwrap().contains("deviations"), "{csv}");
    assert!(csv.contains("ineligible_randomized"), "{csv}");
    assert_eq!(verify_cli(&app, &[]).0, 0);
}
both_backends!(approved_correction_keeps_the_arm_and_records_the_deviation);

fn corrected_stratum_is_misstratified_and_rejection_changes_nothing(db: TestDb) {
    let app = TestApp::spawn_with(
        db,
        vec![protocol_with(
            "stratification = []",
            "stratification = [\"sex\"]",
        )],
    );
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("phil", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let mon2 = app.user("mark", "monitor", &[]);
    let (screening, a) = enroll(&app, &inv, &pharm, "P-1", "S1");
    // Rejected: nothing changes, and the patient can be corrected again.
    let c1 = corrected(
        &app,
        &inv,
        &screening,
        &json!({"reason": "typo", "changes": {"sex": "male"}}),
    );
    let r = decide(&app, &mon, &id(&c1), "reject");
    assert_eq!(r.status(), 200);
    assert_eq!(r.json::<Value>().unwrap()["correction_status"], "rejected");
    let s = get_json(&app, &inv, &format!("{T}/screenings/{screening}"));
    assert_eq!(s["latest"], true);
    assert!(get_json(&app, &mon, &format!("{T}/deviations"))
        .as_array()
        .unwrap()
        .is_empty());
    let all = get_json(&app, &mon, &format!("{T}/corrections?status=all"));
    assert_eq!(all[0]["screening"]["correction_status"], "rejected");
    assert_eq!(all[0]["decided_by"], "mona");
    // Approved: misstratified, eligible still.
    let c2 = corrected(
        &app,
        &inv,
        &screening,
        &json!({"reason": "sex was mis-keyed", "changes": {"sex": "male"}}),
    );
    assert_eq!(decide(&app, &mon2, &id(&c2), "approve").status(), 200);
    let d = get_json(&app, &mon, &format!("{T}/deviations"));
    let kinds: Vec<&str> = d
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["misstratified"]);
    let s = get_json(
        &app,
        &mon,
        &format!("{T}/subjects/{}", a["subject_id"].as_str().unwrap()),
    );
    assert_eq!(s["arm"], a["arm"]);
    let export: Value = app
        .get(&mon, &format!("{T}/export?format=json"))
        .json()
        .unwrap();
    assert_eq!(export["subjects"][0]["stratum_key"], "sex=female");
    assert_eq!(verify_cli(&app, &[]).0, 0);
}
both_backends!(corrected_stratum_is_misstratified_and_rejection_changes_nothing);

fn bad_corrections_are_refused_naming_every_field(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let other = app.user("otto", "investigator", &["S2"]);
    let mon = app.user("mona", "monitor", &[]);
    let s = screen_eligible(&app, &inv, "P-1", "S1");
    let before = audit_records(&app, &mon).len();
    let p = assert_problem(
        correct(
            &app,
            &inv,
            &s,
            &json!({"reason": "bad\u{0007}bell", "changes": {"patient_ref": "P-2", "site": "S2"}}),
        ),
        422,
        "validation_failed",
    );
    assert_eq!(
        error_fields(&p),
        ["reason", "changes.patient_ref", "changes.site"]
    );
    let p = assert_problem(
        correct(
            &app,
            &inv,
            &s,
            &json!({"reason": "typo", "changes": {"labs": {"hemoglobin": {"value": -1, "unit": "mg/L"}, "colour": 1}}}),
        ),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["changes.labs.colour"]);
    let p = assert_problem(
        correct(
            &app,
            &inv,
            &s,
            &json!({"reason": "typo", "changes": {"labs": {"hemoglobin": {"value": -1, "unit": "mg/L"}}, "birth_date": "2030-01-01"}}),
        ),
        422,
        "validation_failed",
    );
    let fields = error_fields(&p);
    for f in [
        "changes.birth_date",
        "changes.labs.hemoglobin.value",
        "changes.labs.hemoglobin.unit",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
    }
    assert_problem(
        correct(&app, &inv, &s, &json!({"reason": "typo", "changes": {}})),
        422,
        "validation_failed",
    );
    assert_problem(
        correct(
            &app,
            &inv,
            &s,
            &json!({"reason": "typo", "changes": {"sex": "female"}}),
        ),
        422,
        "validation_failed",
    );
    assert_problem(
        correct(
            &app,
            &other,
            &s,
            &json!({"reason": "typo", "changes": {"sex": "male"}}),
        ),
        403,
        "forbidden",
    );
    assert_problem(
        correct(
            &app,
            &mon,
            &s,
            &json!({"reason": "typo", "changes": {"sex": "male"}}),
        ),
        403,
        "forbidden",
    );
    assert_problem(
        correct(
            &app,
            &inv,
            "no-such",
            &json!({"reason": "typo", "changes": {"sex": "male"}}),
        ),
        404,
        "not_found",
    );
    assert_eq!(
        audit_records(&app, &mon).len(),
        before,
        "nothing was recorded"
    );
}
both_backends!(bad_corrections_are_refused_naming_every_field);

fn every_screening_error_at_once_and_plausibility(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let mut body = eligible("", "S1");
    body["birth_date"] = json!("2030-01-01");
    body["labs"]["hemoglobin"] = json!({"value": 11.2, "unit": "g/L"});
    body["labs"]["platelets"] = json!({"value": 180000, "unit": "10^9/L"});
    body["initials"] = json!("W1");
    let p = assert_problem(
        app.post(&inv, &format!("{T}/screenings"), &body),
        422,
        "validation_failed",
    );
    let fields = error_fields(&p);
    for f in [
        "patient_ref",
        "birth_date",
        "labs.hemoglobin",
        "labs.platelets",
        "initials",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
    }
    // A wrong type does not hide the other problems (the four at once).
    let mut body = eligible("", "S1");
    body["birth_date"] = json!("2030-01-01");
    body["labs"]["anc"] = json!({"value": "1,5x", "unit": "10^9/L"});
    body["labs"]["hemoglobin"] = json!({"value": 11.2, "unit": "g/L"});
    body["shoe_size"] = json!(42);
    let p = assert_problem(
        app.post(&inv, &format!("{T}/screenings"), &body),
        422,
        "validation_failed",
    );
    let fields = error_fields(&p);
    for f in [
        "patient_ref",
        "birth_date",
        "labs.anc.value",
        "labs.hemoglobin",
        "shoe_size",
    ] {
        assert!(fields.iter().any(|x| x == f), "{f} in {fields:?}");
    }
    let mut body = eligible("P-0", "S1");
    body["initials"] = json!("W1");
    body["labs"]["hemoglobin"] = json!({"value": 11.2, "unit": "g/L"});
    body["labs"]["platelets"] = json!({"value": 180000, "unit": "10^9/L"});
    // Confirmed as typed, the implausible values are accepted (and judged as they are).
    body["patient_ref"] = json!("P-1");
    body["birth_date"] = json!("1961-03-02");
    body["initials"] = json!("wxl");
    body["confirm_implausible"] = json!(["hemoglobin", "platelets"]);
    let s = screen(&app, &inv, &body);
    assert_eq!(s["outcome"], "ineligible");
    assert_eq!(s["initials"], "WXL");
    assert_eq!(s["birth_date"], "1961-03-02");
    assert_eq!(s["sex"], "female");
    let mut body = eligible("P-2", "S1");
    body["confirm_implausible"] = json!(["haemoglobin"]);
    let p = assert_problem(
        app.post(&inv, &format!("{T}/screenings"), &body),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["confirm_implausible"]);
    // A screening dated before the trial started.
    let mut body = eligible("P-3", "S1");
    body["screening_date"] = json!("2024-06-01");
    let p = assert_problem(
        app.post(&inv, &format!("{T}/screenings"), &body),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["screening_date"]);
}
both_backends!(every_screening_error_at_once_and_plausibility);

fn a_repeated_submission_records_one_screening(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let send = |body: &Value, key: &str| {
        app.client
            .post(app.url(&format!("{T}/screenings")))
            .bearer_auth(&inv)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .unwrap()
    };
    let body = eligible("P-1", "S1");
    let first = send(&body, "form-1");
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("Idempotent-Replayed").is_none());
    let first: Value = first.json().unwrap();
    let again = send(&body, "form-1");
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["Idempotent-Replayed"], "true");
    assert_eq!(again.json::<Value>().unwrap()["id"], first["id"]);
    let recorded = audit_records(&app, &mon)
        .into_iter()
        .filter(|r| r["action"] == "screening.recorded")
        .count();
    assert_eq!(recorded, 1);
    assert_problem(
        send(&eligible("P-2", "S1"), "form-1"),
        422,
        "idempotency_conflict",
    );
}
both_backends!(a_repeated_submission_records_one_screening);

fn tampered_corrections_are_reported(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("phil", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let (screening, _) = enroll(&app, &inv, &pharm, "P-1", "S1");
    let c = corrected(
        &app,
        &inv,
        &screening,
        &json!({"reason": "Hb", "changes": low_hemoglobin()}),
    );
    assert_eq!(decide(&app, &mon, &id(&c), "approve").status(), 200);
    assert_eq!(verify_cli(&app, &[]).0, 0);
    let mut conn = app.db.connection();
    drop_table_triggers(&mut conn);
    conn.batch_execute("DELETE FROM deviations").unwrap();
    let v = get_json(&app, &mon, &format!("{T}/audit/verify"));
    assert_eq!(v["valid"], false, "{v}");
    assert_ne!(verify_cli(&app, &[]).0, 0);
}
both_backends!(tampered_corrections_are_reported);

/// An id with a NUL or far too long is simply not found, everywhere an id is taken
/// (PostgreSQL text cannot hold NUL: asking it would be a 500).
fn ids_no_row_can_have_are_not_found(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("phil", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let long = "x".repeat(200);
    for bad in ["a\u{0}b", long.as_str()] {
        assert_problem(
            app.post(
                &pharm,
                &format!("{T}/randomizations"),
                &json!({"screening_id": bad}),
            ),
            404,
            "not_found",
        );
        let quoted = bad.replace('\u{0}', "%00");
        assert_problem(
            correct(
                &app,
                &inv,
                &quoted,
                &json!({"reason": "x", "changes": {"sex": "male"}}),
            ),
            404,
            "not_found",
        );
        assert_problem(decide(&app, &mon, &quoted, "approve"), 404, "not_found");
        assert_problem(
            app.post(
                &inv,
                &format!("{T}/subjects/{quoted}/withdrawal"),
                &json!({"reason": "x"}),
            ),
            404,
            "not_found",
        );
        assert_problem(
            app.get(&mon, &format!("{T}/subjects/{quoted}/receipt")),
            404,
            "not_found",
        );
    }
}
both_backends!(ids_no_row_can_have_are_not_found);
