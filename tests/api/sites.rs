//! The sites register (`/api/v1/sites`): registering, listing, changing, audited on the
//! system chain; screenings and users name registered sites only; site-limited monitors see
//! the monitoring views of their sites only.

use diesel::prelude::*;
use serde_json::{json, Value};

use super::support::{
    assert_problem, error_fields, get_json, randomized, screen_eligible, send, T,
};
use crate::common::app::{eligible, TestApp, TEST_SITES};
use crate::common::TestDb;

fn system_records(app: &TestApp) -> Vec<Value> {
    use trialgate::storage::schema::audit_entries::dsl::*;
    let mut conn = app.db.connection();
    let records: Vec<String> = audit_entries
        .filter(chain.eq("_system"))
        .order(seq.asc())
        .select(record)
        .load(&mut conn)
        .unwrap();
    records
        .iter()
        .map(|r| serde_json::from_str(r).unwrap())
        .collect()
}

fn patch(app: &TestApp, token: &str, code: &str, body: &Value) -> reqwest::blocking::Response {
    send(
        app,
        reqwest::Method::PATCH,
        Some(token),
        &format!("/api/v1/sites/{code}"),
        Some(body),
    )
}

fn sites_are_registered_listed_and_changed(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let r = app.post(
        &app.admin,
        "/api/v1/sites",
        &json!({"code": "PUMCH", "name": " 北京协和医院 ", "time_zone": "Asia/Shanghai",
                "email": "gcp@pumch.cn"}),
    );
    assert_eq!(r.status(), 201);
    assert_eq!(r.headers()["location"], "/api/v1/sites/PUMCH");
    let site: Value = r.json().unwrap();
    assert_eq!(site["code"], "PUMCH");
    assert_eq!(site["name"], "北京协和医院", "trimmed");
    assert_eq!(site["time_zone"], "Asia/Shanghai");
    assert_eq!(site["email"], "gcp@pumch.cn");

    // Any role lists the register (the test server registered its own sites too).
    let list = get_json(&app, &inv, "/api/v1/sites");
    let codes: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap())
        .collect();
    let mut want: Vec<&str> = TEST_SITES.iter().copied().chain(["PUMCH"]).collect();
    want.sort_unstable();
    assert_eq!(codes, want);

    // A second registration of the code is a conflict; nothing changes.
    let p = assert_problem(
        app.post(
            &app.admin,
            "/api/v1/sites",
            &json!({"code": "PUMCH", "name": "Other", "time_zone": "UTC"}),
        ),
        409,
        "site_exists",
    );
    assert!(p["detail"].as_str().unwrap().contains("PATCH"), "{p}");
    // Every bad field at once.
    let p = assert_problem(
        app.post(
            &app.admin,
            "/api/v1/sites",
            &json!({"code": "SITE/9", "name": "evil\u{202e}name", "time_zone": "Mars/Olympus",
                    "email": "not-an-address"}),
        ),
        422,
        "validation_failed",
    );
    let mut fields = error_fields(&p);
    fields.sort_unstable();
    assert_eq!(fields, ["code", "email", "name", "time_zone"]);
    let p = assert_problem(
        app.post(
            &app.admin,
            "/api/v1/sites",
            &json!({"code": "X", "name": "", "time_zone": ""}),
        ),
        422,
        "validation_failed",
    );
    let mut fields = error_fields(&p);
    fields.sort_unstable();
    assert_eq!(fields, ["name", "time_zone"]);
    // Only admins register.
    assert_problem(
        app.post(
            &inv,
            "/api/v1/sites",
            &json!({"code": "MINE", "name": "Mine", "time_zone": "UTC"}),
        ),
        403,
        "forbidden",
    );
    assert_eq!(
        get_json(&app, &inv, "/api/v1/sites")
            .as_array()
            .unwrap()
            .len(),
        want.len()
    );

    // Changing: old and new values in the audit trail.
    let r = patch(
        &app,
        &app.admin,
        "PUMCH",
        &json!({"time_zone": "Asia/Urumqi", "email": null}),
    );
    assert_eq!(r.status(), 200);
    let changed: Value = r.json().unwrap();
    assert_eq!(changed["time_zone"], "Asia/Urumqi");
    assert!(changed.get("email").is_none(), "{changed}");
    assert!(changed["changed_at"].is_string(), "{changed}");
    assert_problem(
        patch(
            &app,
            &app.admin,
            "PUMCH",
            &json!({"time_zone": "Asia/Urumqi"}),
        ),
        422,
        "validation_failed",
    );
    let p = assert_problem(
        patch(
            &app,
            &app.admin,
            "PUMCH",
            &json!({"time_zone": "Beijing", "name": "\u{7}"}),
        ),
        422,
        "validation_failed",
    );
    let mut fields = error_fields(&p);
    fields.sort_unstable();
    assert_eq!(fields, ["name", "time_zone"]);
    assert_problem(
        patch(&app, &app.admin, "NOWHERE", &json!({"name": "x"})),
        404,
        "not_found",
    );
    assert_problem(
        patch(&app, &inv, "PUMCH", &json!({"name": "x"})),
        403,
        "forbidden",
    );
    assert_problem(
        patch(&app, &app.admin, "PUMCH", &json!({"colour": "red"})),
        422,
        "validation_failed",
    );

    let records = system_records(&app);
    let created = records
        .iter()
        .find(|r| r["action"] == "site.created" && r["data"]["code"] == "PUMCH")
        .unwrap();
    assert_eq!(created["data"]["name"], "北京协和医院");
    assert_eq!(created["data"]["time_zone"], "Asia/Shanghai");
    let changes: Vec<&Value> = records
        .iter()
        .filter(|r| r["action"] == "site.changed")
        .collect();
    assert_eq!(changes.len(), 1, "refused changes are not recorded");
    assert_eq!(changes[0]["data"]["code"], "PUMCH");
    assert_eq!(
        changes[0]["data"]["changes"],
        json!({
            "time_zone": {"old": "Asia/Shanghai", "new": "Asia/Urumqi"},
            "email": {"old": "gcp@pumch.cn", "new": null},
        })
    );
    assert_eq!(changes[0]["role"], "admin");
    // The system chain still verifies.
    let mut conn = app.db.connection();
    assert!(
        trialgate::storage::verify_chain(&mut conn, "_system", None)
            .unwrap()
            .valid
    );
}
both_backends!(sites_are_registered_listed_and_changed);

/// A screening or user naming an unregistered site is refused, saying how to register it.
fn unregistered_sites_are_refused_with_how_to_register(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let p = assert_problem(
        app.post(&inv, &format!("{T}/screenings"), &eligible("P-1", "SITE09")),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["site"]);
    let message = p["errors"][0]["message"].as_str().unwrap();
    for how in ["POST /api/v1/sites", "trialgate site add SITE09", "Sites"] {
        assert!(message.contains(how), "{message}");
    }
    // Reported with the request's other problems.
    let mut bad = eligible("P-1", "SITE09");
    bad["sex"] = json!("unknown");
    let p = assert_problem(
        app.post(&inv, &format!("{T}/screenings"), &bad),
        422,
        "validation_failed",
    );
    let mut fields = error_fields(&p);
    fields.sort_unstable();
    assert_eq!(fields, ["sex", "site"]);
    // Users too, each site by its index.
    let p = assert_problem(
        app.post(
            &app.admin,
            "/api/v1/users",
            &json!({"name": "ivan", "role": "investigator", "sites": ["SITE01", "SITE09"]}),
        ),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["sites[1]"]);
    assert!(p["detail"].as_str().unwrap().contains("trialgate site add"));
    // Nothing was recorded.
    assert!(get_json(&app, &inv, &format!("{T}/screenings"))
        .as_array()
        .unwrap()
        .is_empty());
    assert!(!get_json(&app, &app.admin, "/api/v1/users")
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["name"] == "ivan"));
    // Once registered, the same requests succeed.
    app.site("SITE09", "Asia/Shanghai");
    screen_eligible(&app, &inv, "P-1", "SITE09");
    app.user("ivan", "investigator", &["SITE01", "SITE09"]);
}
both_backends!(unregistered_sites_are_refused_with_how_to_register);

/// A site-limited monitor (a CRA) reads balance, flow, deviations, the audit log and the
/// exports of their sites, with 200, and nothing of another site's patients; a change of
/// their sites applies from their next request.
fn a_site_monitor_sees_only_their_sites(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let cra = app.user("cra", "monitor", &["SITE01"]);
    let my_screening = screen_eligible(&app, &inv, "SITE01-0001", "SITE01");
    randomized(&app, &pharm, &my_screening);
    let first_of_theirs = screen_eligible(&app, &inv, "SITE02-0077", "SITE02");
    let theirs = randomized(&app, &pharm, &first_of_theirs);
    let their_screening = screen_eligible(&app, &inv, "SITE02-0078", "SITE02");
    // A correction at each site, waiting for a monitor.
    for (id, site) in [(&my_screening, "SITE01"), (&first_of_theirs, "SITE02")] {
        let r = app.post(
            &inv,
            &format!("{T}/screenings/{id}/corrections"),
            &json!({"reason": format!("typo at {site}"), "changes": {"initials": "AB"}}),
        );
        assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    }
    let theirs_id = theirs["subject_id"].as_str().unwrap().to_string();
    let their_refs = ["SITE02-0077", "SITE02-0078"];
    let views = [
        "/balance",
        "/deviations",
        "/corrections",
        "/audit?after=0&limit=1000",
        "/audit/head",
        "/export?format=csv",
        "/export?format=json",
        "/export?format=fhir",
    ];
    for path in views {
        let r = app.get(&cra, &format!("{T}{path}"));
        assert_eq!(r.status(), 200, "{path}");
        let body = r.text().unwrap();
        for other in their_refs.iter().copied().chain([
            theirs_id.as_str(),
            their_screening.as_str(),
            first_of_theirs.as_str(),
            "typo at SITE02",
        ]) {
            assert!(!body.contains(other), "{path} shows {other}: {body}");
        }
    }
    let balance = get_json(&app, &cra, &format!("{T}/balance"));
    assert_eq!(balance["enrolled"], 1);
    assert_eq!(get_json(&app, &mon, &format!("{T}/balance"))["enrolled"], 2);
    // The audit log: their sites' entries and the trial's own (initialised), in order.
    let entries = get_json(&app, &cra, &format!("{T}/audit?after=0&limit=1000"));
    let entries = entries.as_array().unwrap();
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "trial.initialized",
            "screening.recorded",
            "subject.randomized",
            "screening.corrected"
        ],
        "{entries:?}"
    );
    let seqs: Vec<i64> = entries.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    // Paging skips other sites' entries: one entry per page, none repeated.
    let mut after = 0;
    let mut paged = Vec::new();
    loop {
        let page = get_json(&app, &cra, &format!("{T}/audit?after={after}&limit=1"));
        let Some(e) = page.as_array().unwrap().first() else {
            break;
        };
        after = e["seq"].as_i64().unwrap();
        paged.push(after);
    }
    assert_eq!(paged, seqs);
    // The unlimited monitor sees every entry.
    let all = get_json(&app, &mon, &format!("{T}/audit?after=0&limit=1000"));
    assert!(all.as_array().unwrap().len() > entries.len());

    // Moved to SITE02: the next request sees SITE02's patients, not SITE01's.
    let r = send(
        &app,
        reqwest::Method::PATCH,
        Some(&app.admin),
        "/api/v1/users/cra",
        Some(&json!({"sites": ["SITE02"]})),
    );
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    let body = app
        .get(&cra, &format!("{T}/export?format=json"))
        .text()
        .unwrap();
    assert!(body.contains(&theirs_id), "{body}");
    assert!(!body.contains("SITE01-0001"), "{body}");
    assert_eq!(get_json(&app, &cra, &format!("{T}/balance"))["enrolled"], 1);
}
both_backends!(a_site_monitor_sees_only_their_sites);
