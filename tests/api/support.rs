//! Helpers shared by the API test modules: requests, problem-body checks, fixtures.

use reqwest::blocking::Response;
use reqwest::Method;
use serde_json::{json, Value};

use crate::common::app::{eligible, TestApp};

/// The default trial's path.
pub const T: &str = "/api/v1/trials/NCT06987370";
pub const TRIAL: &str = "NCT06987370";

/// Screens `body` as `token`; asserts 201 and returns the Screening.
pub fn screen(app: &TestApp, token: &str, body: &Value) -> Value {
    let r = app.post(token, &format!("{T}/screenings"), body);
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    r.json().unwrap()
}

/// Screens an eligible patient; returns the screening id.
pub fn screen_eligible(app: &TestApp, token: &str, patient_ref: &str, site: &str) -> String {
    let s = screen(app, token, &eligible(patient_ref, site));
    assert_eq!(s["outcome"], "eligible", "{s}");
    s["id"].as_str().unwrap().to_string()
}

pub fn randomize(app: &TestApp, token: &str, screening_id: &str) -> Response {
    app.post(
        token,
        &format!("{T}/randomizations"),
        &json!({ "screening_id": screening_id }),
    )
}

/// Randomizes; asserts 201 and returns the Allocation.
pub fn randomized(app: &TestApp, token: &str, screening_id: &str) -> Value {
    let r = randomize(app, token, screening_id);
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    r.json().unwrap()
}

/// Screens and randomizes an eligible patient; returns the Allocation.
pub fn enroll(app: &TestApp, inv: &str, pharm: &str, patient_ref: &str, site: &str) -> Value {
    let id = screen_eligible(app, inv, patient_ref, site);
    randomized(app, pharm, &id)
}

/// Any request, with an optional bearer token and JSON body.
pub fn send(
    app: &TestApp,
    method: Method,
    token: Option<&str>,
    path: &str,
    body: Option<&Value>,
) -> Response {
    let mut req = app.client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    req.send().unwrap()
}

pub fn get_json(app: &TestApp, token: &str, path: &str) -> Value {
    let r = app.get(token, path);
    assert_eq!(r.status(), 200, "GET {path}: {}", r.text().unwrap());
    r.json().unwrap()
}

/// Asserts an RFC 9457 problem response with `status` and `code`; returns the body.
pub fn assert_problem(r: Response, status: u16, code: &str) -> Value {
    assert_eq!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
        "application/problem+json",
        "problem content type for {code}"
    );
    let got = r.status().as_u16();
    let text = r.text().unwrap();
    assert_eq!(got, status, "status for {code}: {text}");
    let p: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["type"], format!("urn:trialgate:problem:{code}"), "{p}");
    assert_eq!(p["code"], code, "{p}");
    assert_eq!(p["status"], status, "{p}");
    assert!(
        p["title"].as_str().is_some_and(|t| !t.is_empty()),
        "title: {p}"
    );
    assert!(p["detail"].as_str().is_some(), "detail: {p}");
    p
}

/// The fields named by a 422 problem's `errors`.
pub fn error_fields(p: &Value) -> Vec<String> {
    p["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors in {p}"))
        .iter()
        .map(|e| {
            assert!(e["message"].as_str().is_some(), "{e}");
            e["field"].as_str().unwrap().to_string()
        })
        .collect()
}

/// The audit head `(seq, hash)` as a monitor sees it.
pub fn audit_head(app: &TestApp, monitor: &str) -> (i64, String) {
    let h = get_json(app, monitor, &format!("{T}/audit/head"));
    (
        h["seq"].as_i64().unwrap(),
        h["hash"].as_str().unwrap().to_string(),
    )
}

/// The parsed `record`s of a trial's audit entries, in order.
pub fn audit_records(app: &TestApp, monitor: &str) -> Vec<Value> {
    let entries = get_json(app, monitor, &format!("{T}/audit?limit=1000"));
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| serde_json::from_str(e["record"].as_str().unwrap()).unwrap())
        .collect()
}

/// Stops a server started with `TestApp::second_server`.
pub fn stop(handle: actix_web::dev::ServerHandle) {
    let stop = handle.stop(false);
    std::thread::spawn(move || actix_web::rt::System::new().block_on(stop))
        .join()
        .ok();
}

/// The default protocol with some text replaced (e.g. a smaller cap or stratification).
pub fn protocol_with(from: &str, to: &str) -> trialgate::protocol::Protocol {
    let text = trialgate::protocol::DEFAULT_PROTOCOL_TOML.replace(from, to);
    assert_ne!(
        text,
        trialgate::protocol::DEFAULT_PROTOCOL_TOML,
        "{from} not found"
    );
    trialgate::protocol::Protocol::from_toml(&text, "test protocol").unwrap()
}

/// `trialgate audit verify` of the default trial as an operator runs it, with `extra`
/// arguments: (exit code, stdout).
pub fn verify_cli(app: &TestApp, extra: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_trialgate"))
        .args([
            "audit",
            "verify",
            "--trial",
            "NCT06987370",
            "--database-url",
            &app.db.url,
        ])
        .arg("--data-dir")
        .arg(app.data_dir.path())
        .args(extra)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}
