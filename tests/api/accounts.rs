//! Accounts: full names in any script, e-mail, expiry; the admin's user list and changes,
//! audited with old and new values and in force from the user's next request.

use diesel::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};

use super::support::{assert_problem, error_fields, get_json, send, T};
use crate::common::app::{eligible, TestApp};
use crate::common::TestDb;

fn patch(app: &TestApp, token: &str, name: &str, body: &Value) -> reqwest::blocking::Response {
    send(
        app,
        Method::PATCH,
        Some(token),
        &format!("/api/v1/users/{name}"),
        Some(body),
    )
}

fn system_actions(app: &TestApp) -> Vec<Value> {
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

fn accounts_are_listed_changed_and_expire(db: TestDb) {
    let app = TestApp::spawn(db);
    let r = app.post(
        &app.admin,
        "/api/v1/users",
        &json!({"name": "wangli", "role": "investigator", "sites": ["S1"],
                "full_name": " 王丽 ", "email": "wang.li@hospital.cn", "expires_at": "2099-01-01"}),
    );
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    let inv = r.json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let list = get_json(&app, &app.admin, "/api/v1/users");
    let u = list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "wangli")
        .unwrap()
        .clone();
    assert_eq!(u["full_name"], "王丽");
    assert_eq!(u["email"], "wang.li@hospital.cn");
    assert_eq!(u["status"], "active");
    assert_eq!(u["expires_at"], "2099-01-01T00:00:00.000000Z");
    assert!(
        list.to_string().find("tg_").is_none(),
        "never a token: {list}"
    );

    // Every bad field at once, nothing created.
    let p = assert_problem(
        app.post(
            &app.admin,
            "/api/v1/users",
            &json!({"name": "x y", "role": "nurse", "full_name": "a\u{202e}b",
                    "email": "not-an-address", "expires_at": "soon"}),
        ),
        422,
        "validation_failed",
    );
    assert_eq!(
        error_fields(&p),
        ["name", "role", "full_name", "email", "expires_at"]
    );

    // Sites change from the user's next request.
    let screen = |token: &str, site: &str| {
        app.post(
            token,
            &format!("{T}/screenings"),
            &eligible(&format!("P-{site}"), site),
        )
        .status()
        .as_u16()
    };
    assert_eq!(screen(&inv, "S2"), 403);
    let r = patch(
        &app,
        &app.admin,
        "wangli",
        &json!({"sites": ["S2"], "email": null}),
    );
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    let changed: Value = r.json().unwrap();
    assert_eq!(changed["sites"], json!(["S2"]));
    assert!(changed.get("email").is_none(), "{changed}");
    assert_eq!(screen(&inv, "S2"), 201);
    assert_eq!(screen(&inv, "S1"), 403);
    let entry = system_actions(&app)
        .into_iter()
        .find(|r| r["action"] == "user.changed")
        .unwrap();
    assert_eq!(entry["data"]["name"], "wangli");
    assert_eq!(
        entry["data"]["changes"]["sites"],
        json!({"old": ["S1"], "new": ["S2"]})
    );
    assert_eq!(
        entry["data"]["changes"]["email"],
        json!({"old": "wang.li@hospital.cn", "new": null})
    );
    assert!(entry["data"]["changes"].get("role").is_none());

    // Refusals.
    assert_problem(
        patch(&app, &app.admin, "nobody", &json!({"role": "monitor"})),
        404,
        "not_found",
    );
    assert_problem(
        patch(&app, &inv, "wangli", &json!({"sites": []})),
        403,
        "forbidden",
    );
    let p = assert_problem(
        patch(&app, &app.admin, "wangli", &json!({"sites": ["S2"]})),
        422,
        "validation_failed",
    );
    assert!(
        p["detail"].as_str().unwrap().contains("changes nothing"),
        "{p}"
    );
    // Admins are never limited to sites (a site-limited monitor is fine).
    let p = assert_problem(
        patch(&app, &app.admin, "wangli", &json!({"role": "admin"})),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["sites"]);
    // Only registered sites, each named by its index.
    let p = assert_problem(
        patch(
            &app,
            &app.admin,
            "wangli",
            &json!({"sites": ["S2", "S9", "NOWHERE"]}),
        ),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["sites[1]", "sites[2]"]);
    assert_problem(
        patch(&app, &app.admin, "wangli", &json!({"colour": "red"})),
        422,
        "validation_failed",
    );

    // An expired account no longer authenticates, and is listed as expired.
    assert_eq!(
        patch(
            &app,
            &app.admin,
            "wangli",
            &json!({"expires_at": "2020-01-01"})
        )
        .status(),
        200
    );
    assert_problem(app.get(&inv, "/api/v1/trials"), 401, "unauthorized");
    let list = get_json(&app, &app.admin, "/api/v1/users");
    let u = list
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "wangli")
        .unwrap();
    assert_eq!(u["status"], "expired");
    assert_eq!(
        patch(&app, &app.admin, "wangli", &json!({"expires_at": null})).status(),
        200
    );
    assert_eq!(app.get(&inv, "/api/v1/trials").status(), 200);
}
both_backends!(accounts_are_listed_changed_and_expire);

/// The access review: every account with its role's permissions, sites, status, last activity
/// and expiry; as CSV every cell is safe to open in a spreadsheet.
fn access_review_lists_who_can_do_what_where(db: TestDb) {
    let app = TestApp::spawn(db);
    let r = app.post(
        &app.admin,
        "/api/v1/users",
        &json!({"name": "zhang", "role": "pharmacist", "sites": ["S1"],
                "full_name": "=HYPERLINK(\"http://x\")", "expires_at": "2099-06-30"}),
    );
    assert_eq!(r.status(), 201);
    let token = r.json::<Value>().unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.get(&token, "/api/v1/trials").status(), 200);
    let review = get_json(&app, &app.admin, "/api/v1/users/access-review");
    let row = review
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "zhang")
        .unwrap();
    assert_eq!(
        row["permissions"],
        json!(["read_trials", "read_patients", "randomize", "read_sites"])
    );
    assert_eq!(row["sites"], json!(["S1"]));
    assert_eq!(row["expires_at"], "2099-06-30T00:00:00.000000Z");
    assert!(row["last_active_at"].as_str().is_some(), "{row}");
    let csv = app
        .get(&app.admin, "/api/v1/users/access-review?format=csv")
        .text()
        .unwrap();
    let line = csv.lines().find(|l| l.starts_with("zhang,")).unwrap();
    assert!(line.contains("'=HYPERLINK"), "formula-safe: {line}");
    assert!(
        line.contains("read_trials;read_patients;randomize"),
        "{line}"
    );
    assert_problem(
        app.get(&token, "/api/v1/users/access-review"),
        403,
        "forbidden",
    );
}
both_backends!(access_review_lists_who_can_do_what_where);

/// Bearer tokens for systems: another token with an expiry, rotation revoking the others, and
/// an expired token refused like a revoked one; every issue audited without the token.
fn tokens_rotate_and_expire(db: TestDb) {
    let app = TestApp::spawn(db);
    let first = app.user("lims", "monitor", &[]);
    let issue = |body: &Value| app.post(&app.admin, "/api/v1/users/lims/tokens", body);
    // Bad input named, nothing issued.
    let p = assert_problem(
        issue(&json!({"expires_at": "2001-01-01", "colour": "red"})),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["colour"]);
    let p = assert_problem(
        issue(&json!({"expires_at": "2001-01-01"})),
        422,
        "validation_failed",
    );
    assert_eq!(error_fields(&p), ["expires_at"]);
    assert_problem(
        app.post(&app.admin, "/api/v1/users/nobody/tokens", &json!({})),
        404,
        "not_found",
    );
    let r = issue(&json!({"expires_at": "2099-01-01"}));
    assert_eq!(r.status(), 201);
    let second: Value = r.json().unwrap();
    assert_eq!(second["expires_at"], "2099-01-01T00:00:00.000000Z");
    assert_eq!(second["revoked_tokens"], 0);
    let second = second["token"].as_str().unwrap().to_string();
    for token in [&first, &second] {
        assert_eq!(app.get(token, "/api/v1/trials").status(), 200);
    }
    // Rotation: the new one works, the old ones no longer.
    let r = issue(&json!({"revoke_others": true}));
    assert_eq!(r.status(), 201);
    let third: Value = r.json().unwrap();
    assert_eq!(third["revoked_tokens"], 2);
    let third = third["token"].as_str().unwrap().to_string();
    assert_eq!(app.get(&first, "/api/v1/trials").status(), 401);
    assert_eq!(app.get(&second, "/api/v1/trials").status(), 401);
    assert_eq!(app.get(&third, "/api/v1/trials").status(), 200);
    // A token past its expiry is refused.
    {
        use trialgate::storage::schema::tokens::dsl::*;
        let mut conn = app.db.connection();
        diesel::update(tokens.filter(revoked_at.is_null()))
            .set(
                expires_at.eq(Some(
                    chrono::NaiveDate::from_ymd_opt(2020, 1, 1)
                        .unwrap()
                        .and_hms_opt(0, 0, 0)
                        .unwrap(),
                )),
            )
            .execute(&mut conn)
            .unwrap();
    }
    assert_eq!(app.get(&third, "/api/v1/trials").status(), 401);
    let issued: Vec<Value> = system_actions(&app)
        .into_iter()
        .filter(|r| r["action"] == "user.token_issued")
        .collect();
    assert_eq!(issued.len(), 2);
    assert_eq!(issued[1]["data"]["revoked_tokens"], 2);
    let text = serde_json::to_string(&issued).unwrap();
    assert!(!text.contains(&third) && !text.contains("tg_"), "{text}");
}
both_backends!(tokens_rotate_and_expire);

/// A user name no account can have (a NUL, over 128 bytes) is `not_found` for the changes of
/// an account, on both backends (PostgreSQL refuses a NUL in text).
fn impossible_names_are_not_found(db: TestDb) {
    let app = TestApp::spawn(db);
    for name in ["a%00b", &"x".repeat(129)] {
        let path = format!("/api/v1/users/{name}");
        let r = patch(&app, &app.admin, name, &json!({"full_name": "X"}));
        assert_eq!(r.status(), 404, "PATCH {path}");
        let r = send(&app, Method::DELETE, Some(&app.admin), &path, None);
        assert_eq!(r.status(), 404, "DELETE {path}");
        let r = app.post(&app.admin, &format!("{path}/tokens"), &json!({}));
        assert_eq!(r.status(), 404, "POST {path}/tokens");
    }
}
both_backends!(impossible_names_are_not_found);
