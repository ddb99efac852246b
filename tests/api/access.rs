//! Who may do what: the role × endpoint matrix of api.md, authentication failures, site
//! limits, and allocation concealment.

use reqwest::Method;
use serde_json::{json, Value};
use trialgate::access::Permission;

use super::support::{
    assert_problem, enroll, get_json, randomized, screen, screen_eligible, send, T, TRIAL,
};
use crate::common::app::{eligible, TestApp};
use crate::common::TestDb;

const ANY: &[&str] = &["admin", "investigator", "pharmacist", "monitor"];
const READERS: &[&str] = &["investigator", "pharmacist", "monitor"];
const INVESTIGATOR: &[&str] = &["investigator"];
const PHARMACIST: &[&str] = &["pharmacist"];
const MONITOR: &[&str] = &["monitor"];
const ADMIN: &[&str] = &["admin"];

/// api.md's endpoint table. `{screening}`, `{fresh}` (an eligible, unrandomized screening),
/// `{subject}` and `{victim}` are filled in per role; the closing of the trial comes last.
const MATRIX: &[(&str, &str, &[&str], Permission)] = &[
    ("GET", "/api/v1/trials", ANY, Permission::ReadTrials),
    ("GET", "{T}", ANY, Permission::ReadTrials),
    ("POST", "{T}/screenings", INVESTIGATOR, Permission::Screen),
    (
        "GET",
        "{T}/screenings/{screening}",
        READERS,
        Permission::ReadPatients,
    ),
    (
        "GET",
        "{T}/screenings?outcome=eligible&randomized=false",
        READERS,
        Permission::ReadPatients,
    ),
    (
        "POST",
        "{T}/randomizations",
        PHARMACIST,
        Permission::Randomize,
    ),
    (
        "POST",
        "{T}/screenings/{fresh}/corrections",
        INVESTIGATOR,
        Permission::Correct,
    ),
    (
        "GET",
        "{T}/corrections",
        MONITOR,
        Permission::ReviewCorrections,
    ),
    (
        "POST",
        "{T}/corrections/{pending}/approval",
        MONITOR,
        Permission::ReviewCorrections,
    ),
    ("GET", "{T}/deviations", MONITOR, Permission::Monitor),
    ("GET", "{T}/subjects", READERS, Permission::ReadPatients),
    (
        "GET",
        "{T}/subjects/{subject}",
        READERS,
        Permission::ReadPatients,
    ),
    (
        "POST",
        "{T}/subjects/{subject}/withdrawal",
        INVESTIGATOR,
        Permission::Withdraw,
    ),
    ("GET", "{T}/balance", MONITOR, Permission::Monitor),
    (
        "GET",
        "{T}/audit?after=0&limit=10",
        MONITOR,
        Permission::Monitor,
    ),
    ("GET", "{T}/audit/head", MONITOR, Permission::Monitor),
    (
        "GET",
        "{T}/audit/checkpoint",
        MONITOR,
        Permission::VerifyLog,
    ),
    ("GET", "{T}/audit/verify", MONITOR, Permission::VerifyLog),
    ("GET", "{T}/log/checkpoint", MONITOR, Permission::VerifyLog),
    (
        "GET",
        "{T}/log/consistency?from=0&to=1",
        MONITOR,
        Permission::VerifyLog,
    ),
    (
        "GET",
        "{T}/log/inclusion?seq=1&size=1",
        MONITOR,
        Permission::VerifyLog,
    ),
    (
        "GET",
        "{T}/subjects/{subject}/receipt",
        READERS,
        Permission::ReadPatients,
    ),
    ("GET", "{T}/export?format=csv", MONITOR, Permission::Monitor),
    (
        "GET",
        "{T}/export?format=json",
        MONITOR,
        Permission::Monitor,
    ),
    (
        "GET",
        "{T}/export?format=fhir",
        MONITOR,
        Permission::Monitor,
    ),
    ("POST", "/api/v1/users", ADMIN, Permission::ManageUsers),
    ("GET", "/api/v1/users", ADMIN, Permission::ManageUsers),
    (
        "GET",
        "/api/v1/users/access-review?format=csv",
        ADMIN,
        Permission::ManageUsers,
    ),
    (
        "PATCH",
        "/api/v1/users/{victim}",
        ADMIN,
        Permission::ManageUsers,
    ),
    (
        "POST",
        "/api/v1/users/{victim}/tokens",
        ADMIN,
        Permission::ManageUsers,
    ),
    (
        "DELETE",
        "/api/v1/users/{victim}",
        ADMIN,
        Permission::ManageUsers,
    ),
    ("POST", "/api/v1/sites", ADMIN, Permission::ManageSites),
    ("GET", "/api/v1/sites", ANY, Permission::ReadSites),
    (
        "PATCH",
        "/api/v1/sites/SITE01",
        ADMIN,
        Permission::ManageSites,
    ),
    (
        "POST",
        "{T}/amendments?reason=matrix",
        ADMIN,
        Permission::AmendProtocol,
    ),
    ("POST", "{T}/close", ADMIN, Permission::CloseTrial),
];

/// The use cases declare their permission once (`access::Permission`); the contract's
/// roles per endpoint must be exactly the roles that permission names.
#[test]
fn declared_permissions_match_the_contract() {
    for (method, path, allowed, permission) in MATRIX {
        let declared: Vec<&str> = permission.roles().iter().map(|r| r.as_str()).collect();
        let mut want = allowed.to_vec();
        let mut got = declared.clone();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(
            got, want,
            "{method} {path}: {permission:?} declares {declared:?}"
        );
        // A site-limited monitor monitors the sites they visit; only the whole chain's
        // evidence (checkpoints, proofs, verification) needs a monitor without site limits.
        let whole_chain = ["/audit/checkpoint", "/audit/verify", "/log/"]
            .iter()
            .any(|p| path.contains(p));
        assert_eq!(permission.trial_wide(), whole_chain, "{method} {path}");
    }
    // Names in reports are distinct.
    let mut names: Vec<&str> = Permission::ALL.iter().map(|p| p.name()).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), Permission::ALL.len());
    // Every permission is used by some endpoint of the contract.
    for p in Permission::ALL {
        assert!(
            MATRIX.iter().any(|(_, _, _, q)| *q == p),
            "{p:?} has no endpoint"
        );
    }
}

/// What the ids of the matrix stand for.
struct Ids {
    screening: String,
    fresh: String,
    /// A correction waiting for a monitor.
    pending: String,
    subject: String,
    victim: String,
}

fn fill(template: &str, ids: &Ids) -> String {
    template
        .replace("{T}", T)
        .replace("{screening}", &ids.screening)
        .replace("{fresh}", &ids.fresh)
        .replace("{pending}", &ids.pending)
        .replace("{subject}", &ids.subject)
        .replace("{victim}", &ids.victim)
}

/// A valid body for each POST of the matrix.
fn body_for(path: &str, ids: &Ids, role: &str) -> Option<Value> {
    if path.ends_with("/screenings") {
        Some(eligible(&format!("M-{role}"), "SITE01"))
    } else if path.ends_with("/randomizations") {
        Some(json!({ "screening_id": ids.fresh }))
    } else if path.ends_with("/withdrawal") {
        Some(json!({ "reason": "matrix" }))
    } else if path.ends_with("/corrections") {
        Some(json!({ "reason": "matrix", "changes": {"initials": "AB"} }))
    } else if path.ends_with("/approval") {
        Some(json!({ "decision": "approve", "reason": "matrix" }))
    } else if path.ends_with("/users") {
        Some(json!({ "name": format!("made-by-{role}"), "role": "monitor" }))
    } else if path.ends_with("/tokens") {
        Some(json!({ "expires_at": "2099-01-01" }))
    } else if path.ends_with("/sites") {
        Some(json!({ "code": format!("M-{role}"), "name": "Matrix", "time_zone": "Asia/Shanghai" }))
    } else if path.ends_with("/sites/SITE01") {
        Some(json!({ "name": format!("Changed by {role}") }))
    } else if path.ends_with("/users/victim") {
        Some(json!({ "full_name": format!("Changed by {role}") }))
    } else if path.ends_with("/close") {
        Some(json!({ "reason": "matrix", "reveal_seed": false }))
    } else {
        None
    }
}

fn role_matrix(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let tokens = [
        ("admin", app.admin.clone()),
        ("investigator", inv.clone()),
        ("pharmacist", pharm.clone()),
        ("monitor", mon.clone()),
    ];
    app.user("victim", "monitor", &[]);
    let screening = screen_eligible(&app, &inv, "SITE01-0001", "SITE01");
    let subject = randomized(&app, &pharm, &screening)["subject_id"]
        .as_str()
        .unwrap()
        .to_string();
    let pending = app.post(
        &inv,
        &format!("{T}/screenings/{screening}/corrections"),
        &json!({"reason": "matrix", "changes": {"initials": "CD"}}),
    );
    assert_eq!(pending.status(), 201);
    let pending = pending.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids = Ids {
        screening,
        pending,
        fresh: screen_eligible(&app, &inv, "SITE01-0002", "SITE01"),
        subject,
        victim: "victim".into(),
    };

    for (method, template, allowed, _) in MATRIX {
        let path = fill(template, &ids);
        for (role, token) in &tokens {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            let body = body_for(&path, &ids, role);
            let r = if path.contains("/amendments") {
                // The whole protocol file, as TOML.
                app.client
                    .post(app.url(&path))
                    .bearer_auth(token)
                    .header("Content-Type", "application/toml")
                    .body(
                        trialgate::protocol::DEFAULT_PROTOCOL_TOML
                            .replacen("cap = 90", "cap = 91", 1),
                    )
                    .send()
                    .unwrap()
            } else {
                send(&app, method.clone(), Some(token), &path, body.as_ref())
            };
            let status = r.status().as_u16();
            if allowed.contains(role) {
                let text = r.text().unwrap();
                assert!(
                    !matches!(status, 401 | 403) && status < 500,
                    "{role} {method} {path}: allowed, got {status} {text}"
                );
                assert!(
                    (200..300).contains(&status),
                    "{role} {method} {path}: expected success, got {status} {text}"
                );
            } else {
                assert_eq!(status, 403, "{role} {method} {path}: must be forbidden");
                assert_problem(r, 403, "forbidden");
            }
        }
    }
}
both_backends!(role_matrix);

fn authentication_failures(db: TestDb) {
    // Dozens of bad tokens from one address: raise the quota so they stay 401s, not 429s.
    let app = TestApp::spawn_with_auth_quota(db, 10_000);
    let doomed = app.user("doomed", "monitor", &[]);
    assert_eq!(app.get(&doomed, T).status(), 200);
    let r = send(
        &app,
        Method::DELETE,
        Some(&app.admin),
        "/api/v1/users/doomed",
        None,
    );
    assert_eq!(r.status(), 200);
    let unknown = format!("tg_{}", "ab".repeat(32));
    let ids = Ids {
        screening: "s".into(),
        fresh: "s".into(),
        pending: "s".into(),
        subject: "x".into(),
        victim: "victim".into(),
    };
    for (method, template, _, _) in MATRIX {
        let path = fill(template, &ids);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = body_for(&path, &ids, "nobody");
        for token in [None, Some(doomed.as_str()), Some(unknown.as_str())] {
            let r = send(&app, method.clone(), token, &path, body.as_ref());
            let www = r
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_string());
            assert_eq!(r.status(), 401, "{method} {path} with {token:?}");
            assert!(
                www.as_deref().is_some_and(|w| w.starts_with("Bearer")),
                "{method} {path}: WWW-Authenticate is {www:?}"
            );
            assert_problem(r, 401, "unauthorized");
        }
    }
    // A malformed Authorization header is no better than none.
    let r = app
        .client
        .get(app.url(T))
        .header("Authorization", "Basic YWRtaW46YWRtaW4=")
        .send()
        .unwrap();
    assert_problem(r, 401, "unauthorized");
    // Nothing happened on behalf of the failed requests.
    let trial = get_json(&app, &app.admin, T);
    assert_eq!(trial["status"], "open");
    assert_eq!(trial["enrolled"], 0);
}
both_backends!(authentication_failures);

fn site_limits(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let inv1 = app.user("ines1", "investigator", &["SITE01"]);
    let pharm1 = app.user("paul1", "pharmacist", &["SITE01"]);
    // A site-limited monitor (a CRA visiting SITE01).
    let mon1 = app.user("mona1", "monitor", &["SITE01"]);

    let mine = enroll(&app, &inv1, &pharm1, "SITE01-0001", "SITE01");
    let theirs = enroll(&app, &inv, &pharm, "SITE02-0001", "SITE02");
    let their_screening = screen_eligible(&app, &inv, "SITE02-0002", "SITE02");
    let their_subject = theirs["subject_id"].as_str().unwrap();

    for token in [&inv1, &pharm1, &mon1] {
        let r = app.get(token, &format!("{T}/screenings/{their_screening}"));
        assert_problem(r, 403, "forbidden");
        let r = app.get(token, &format!("{T}/subjects/{their_subject}"));
        assert_problem(r, 403, "forbidden");
        // Their own site's subject is fine.
        let own = get_json(
            &app,
            token,
            &format!("{T}/subjects/{}", mine["subject_id"].as_str().unwrap()),
        );
        assert_eq!(own["site"], "SITE01");
        // Lists are filtered, not refused.
        for path in [
            format!("{T}/screenings"),
            format!("{T}/screenings?outcome=eligible&randomized=false"),
            format!("{T}/subjects"),
        ] {
            let list = get_json(&app, token, &path);
            let list = list.as_array().unwrap();
            assert!(
                list.iter().all(|x| x["site"] == "SITE01"),
                "{path} leaks another site: {list:?}"
            );
        }
        let subjects = get_json(&app, token, &format!("{T}/subjects"));
        assert_eq!(subjects.as_array().unwrap().len(), 1);
        let screenings = get_json(&app, token, &format!("{T}/screenings"));
        assert_eq!(screenings.as_array().unwrap().len(), 1);
    }
    // Acting on another site's patient.
    assert_problem(
        super::support::randomize(&app, &pharm1, &their_screening),
        403,
        "forbidden",
    );
    let r = app.post(
        &inv1,
        &format!("{T}/subjects/{their_subject}/withdrawal"),
        &json!({"reason": "not mine"}),
    );
    assert_problem(r, 403, "forbidden");
    let r = app.post(
        &inv1,
        &format!("{T}/screenings"),
        &eligible("SITE02-0009", "SITE02"),
    );
    assert_problem(r, 403, "forbidden");
    // The unlimited users see both sites.
    let all = get_json(&app, &inv, &format!("{T}/subjects"));
    assert_eq!(all.as_array().unwrap().len(), 2);
    // The site monitor's trial-wide views hold their sites only; the whole chain's evidence
    // is for monitors without site limits.
    for path in [
        "/audit/verify",
        "/audit/checkpoint",
        "/log/checkpoint",
        "/log/consistency?from=0&to=1",
        "/log/inclusion?seq=1&size=1",
    ] {
        let body = assert_problem(app.get(&mon1, &format!("{T}{path}")), 403, "forbidden");
        assert!(
            body["detail"]
                .as_str()
                .unwrap()
                .contains("without site limits"),
            "{path}: {body}"
        );
    }
    for path in [
        "/audit?after=0&limit=100",
        "/audit/head",
        "/balance",
        "/deviations",
        "/export?format=csv",
        "/export?format=json",
        "/export?format=fhir",
    ] {
        let r = app.get(&mon1, &format!("{T}{path}"));
        assert_eq!(r.status(), 200, "{path}");
        let body = r.text().unwrap();
        for other in [
            "SITE02-0001",
            "SITE02-0002",
            their_subject,
            &their_screening,
        ] {
            assert!(!body.contains(other), "{path} shows {other}: {body}");
        }
    }
    let balance = get_json(&app, &mon1, &format!("{T}/balance"));
    assert_eq!(balance["enrolled"], 1);
    // Nothing of the refused requests was recorded.
    let subjects = get_json(&app, &inv, &format!("{T}/subjects"));
    assert!(subjects
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "on_study"));
}
both_backends!(site_limits);

/// A patient is (trial, site, patient_ref): another site submitting the same ref neither
/// hides, supersedes nor blocks the first site's patient, and no refusal names its subject.
fn sites_cannot_touch_each_others_patients(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv1 = app.user("ines", "investigator", &["SITE01"]);
    let pharm1 = app.user("paul", "pharmacist", &["SITE01"]);
    let inv2 = app.user("ivan", "investigator", &["SITE02"]);
    let pharm2 = app.user("petra", "pharmacist", &["SITE02"]);
    let first = screen_eligible(&app, &inv1, "SITE01-0005", "SITE01");

    // SITE02 screens "SITE01-0005" at its own site: a different patient.
    let mut ineligible = eligible("SITE01-0005", "SITE02");
    ineligible["labs"]["hemoglobin"]["value"] = json!(80);
    let other = screen(&app, &inv2, &ineligible);
    assert_eq!(other["outcome"], "ineligible");

    // SITE01's patient is still in SITE01's queue, with its own screening as the latest.
    let queue = get_json(
        &app,
        &pharm1,
        &format!("{T}/screenings?outcome=eligible&randomized=false"),
    );
    let ids: Vec<&str> = queue
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [first.as_str()]);
    assert_eq!(
        get_json(&app, &pharm1, &format!("{T}/screenings/{first}"))["latest"],
        true
    );
    // …and randomizes: not stale.
    let a = randomized(&app, &pharm1, &first);
    let subject1 = a["subject_id"].as_str().unwrap().to_string();

    // SITE02's patient of the same ref: eligible on re-screening, randomized on its own.
    let second = screen_eligible(&app, &inv2, "SITE01-0005", "SITE02");
    let b = randomized(&app, &pharm2, &second);
    assert_ne!(b["subject_id"], a["subject_id"]);
    // A second attempt is refused naming SITE02's own subject, never SITE01's.
    let r = super::support::randomize(&app, &pharm2, &second);
    let text = r.text().unwrap();
    assert!(text.contains(b["subject_id"].as_str().unwrap()), "{text}");
    assert!(
        !text.contains(&subject1),
        "a refusal names another site's subject: {text}"
    );
    // SITE02 sees none of SITE01's subjects or screenings.
    for path in [format!("{T}/subjects"), format!("{T}/screenings")] {
        let body = app.get(&pharm2, &path).text().unwrap();
        assert!(!body.contains(&subject1), "{path}: {body}");
        assert!(!body.contains(&first), "{path}: {body}");
    }
}
both_backends!(sites_cannot_touch_each_others_patients);

const SECRETS: [&str; 5] = [
    "block_size",
    "block_index",
    "stratum_position",
    "block_sizes",
    // A hash over the protocol lets a script confirm a guess of the block sizes.
    "protocol_digest",
];

fn assert_concealed(what: &str, body: &str, seed_hex: &str) {
    for secret in SECRETS.iter().copied().chain([seed_hex]) {
        assert!(
            !body.contains(secret),
            "{what} shows {secret} to a pharmacist/investigator: {body}"
        );
    }
}

fn concealment(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let mon = app.user("mona", "monitor", &[]);
    let seed_hex = std::fs::read_to_string(app.seed_file(TRIAL))
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(seed_hex.len(), 64);

    let mut bodies: Vec<(String, String)> = Vec::new();
    let mut subject_ids = Vec::new();
    for i in 0..4 {
        let s = screen(&app, &inv, &eligible(&format!("P-{i}"), "SITE01"));
        bodies.push(("screening (POST)".into(), s.to_string()));
        let r = super::support::randomize(&app, &pharm, s["id"].as_str().unwrap());
        assert_eq!(r.status(), 201);
        let text = r.text().unwrap();
        let a: Value = serde_json::from_str(&text).unwrap();
        subject_ids.push(a["subject_id"].as_str().unwrap().to_string());
        bodies.push(("allocation".into(), text));
        // A refusal's body too.
        let r = super::support::randomize(&app, &pharm, s["id"].as_str().unwrap());
        assert_eq!(r.status(), 409);
        bodies.push(("already_randomized".into(), r.text().unwrap()));
    }
    let queued = screen_eligible(&app, &inv, "P-queue", "SITE01");
    let r = app.post(
        &inv,
        &format!("{T}/subjects/{}/withdrawal", subject_ids[0]),
        &json!({"reason": "moved"}),
    );
    assert_eq!(r.status(), 200);
    bodies.push(("withdrawal".into(), r.text().unwrap()));

    for token in [&inv, &pharm] {
        let mut paths = vec![
            "/api/v1/trials".to_string(),
            T.to_string(),
            format!("{T}/screenings"),
            format!("{T}/screenings?outcome=eligible&randomized=false"),
            format!("{T}/screenings/{queued}"),
            format!("{T}/subjects"),
        ];
        paths.extend(subject_ids.iter().map(|id| format!("{T}/subjects/{id}")));
        for path in paths {
            let r = app.get(token, &path);
            assert_eq!(r.status(), 200, "{path}");
            bodies.push((path, r.text().unwrap()));
        }
    }
    for (what, body) in &bodies {
        assert_concealed(what, body, &seed_hex);
    }
    for token in [&inv, &pharm] {
        let detail = get_json(&app, token, T);
        assert!(detail.get("block_sizes").is_none());
        assert!(detail.get("protocol_digest").is_none());
    }
    // Monitors and admins see the design.
    for token in [&mon, &app.admin] {
        let detail = get_json(&app, token, T);
        assert_eq!(detail["block_sizes"], json!([3, 6]));
        assert_eq!(detail["protocol_digest"].as_str().map(str::len), Some(64));
    }
    // While the seed is secret, nothing a monitor reads holds block data either.
    for path in [
        format!("{T}/balance"),
        format!("{T}/export?format=csv"),
        format!("{T}/export?format=json"),
        format!("{T}/export?format=fhir"),
        format!("{T}/audit?limit=1000"),
    ] {
        let body = app.get(&mon, &path).text().unwrap();
        for secret in ["block_index", "block_size\"", "\"size\"", "filled"] {
            assert!(
                !body.contains(secret),
                "{path} shows {secret} to a monitor: {body}"
            );
        }
    }
    let balance = get_json(&app, &mon, &format!("{T}/balance"));
    assert_eq!(balance["blocks"], Value::Null);
    assert!(balance["strata"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["blocks"].is_null()));
}
both_backends!(concealment);

/// The matrix is the route table: every operation the server registers (the OpenAPI
/// document is collected from the same `service(…)` calls) has a row, and every row is a
/// registered operation — so a new route cannot escape the access tests.
#[test]
fn matrix_covers_the_route_table() {
    use std::collections::BTreeSet;
    let documented: BTreeSet<(String, String)> = trialgate::http::openapi_document()
        .paths
        .paths
        .iter()
        .flat_map(|(path, item)| {
            [
                ("GET", item.get.is_some()),
                ("POST", item.post.is_some()),
                ("PUT", item.put.is_some()),
                ("DELETE", item.delete.is_some()),
                ("PATCH", item.patch.is_some()),
            ]
            .into_iter()
            .filter(|(_, present)| *present)
            .map(move |(method, _)| (method.to_string(), path.clone()))
        })
        // Public by contract, checked in endpoints.rs.
        .filter(|(_, path)| path.starts_with("/api/v1/") && path != "/api/v1/openapi.json")
        .collect();
    let matrix: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(method, template, _, _)| {
            let path = template.split('?').next().unwrap_or(template);
            let path = path
                .replace("{T}", "/api/v1/trials/{trial}")
                .replace("{screening}", "{id}")
                .replace("{fresh}", "{id}")
                .replace("{pending}", "{id}")
                .replace("{subject}", "{subject_id}")
                .replace("{victim}", "{name}")
                .replace("/sites/SITE01", "/sites/{code}");
            (method.to_string(), path)
        })
        .collect();
    let undocumented: Vec<_> = matrix.difference(&documented).collect();
    let untested: Vec<_> = documented.difference(&matrix).collect();
    assert!(
        untested.is_empty(),
        "routes without a row in MATRIX: {untested:?}"
    );
    assert!(
        undocumented.is_empty(),
        "MATRIX rows that are not routes: {undocumented:?}"
    );
}
