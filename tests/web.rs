//! The web pages over real HTTP, with a cookie-keeping client: every page for its role and
//! refused for the others, sign-in and sign-out, session expiry, CSRF refusals, the
//! screening form's field errors, randomizing once, the monitor's dashboard, admin forms.
//! Every test on SQLite and on PostgreSQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

use std::sync::Arc;

use reqwest::blocking::{Client, Response};
use reqwest::cookie::{CookieStore, Jar};
use reqwest::redirect::Policy;
use serde_json::Value;

use common::app::{eligible, TestApp, TEST_PASSWORD};
use common::TestDb;

const T: &str = "NCT06987370";

/// The electronic signature of the final acts (randomize, withdraw, decide, close).
const SIGN: (&str, &str) = ("signature_password", TEST_PASSWORD);

/// A browser-like client: keeps cookies, does not follow redirects (tests look at them).
struct Web<'a> {
    app: &'a TestApp,
    client: Client,
    jar: Arc<Jar>,
}

impl<'a> Web<'a> {
    fn new(app: &'a TestApp) -> Self {
        let jar = Arc::new(Jar::default());
        let client = Client::builder()
            .cookie_provider(jar.clone())
            .redirect(Policy::none())
            .build()
            .unwrap();
        Web { app, client, jar }
    }

    /// Signs in with `token` and checks the redirect to the role's home page.
    fn signed_in(app: &'a TestApp, token: &str) -> Self {
        let web = Web::new(app);
        let r = web.sign_in(token);
        assert_eq!(r.status(), 303, "{}", r.text().unwrap());
        web
    }

    /// A person's sign-in: the first time, activation with the token (setting
    /// [`TEST_PASSWORD`]); afterwards name and password.
    fn sign_in(&self, token: &str) -> Response {
        if token == self.app.admin {
            // The first admin signs too (closing a trial), so they get a printed name.
            self.app.name_admin();
        }
        let r = self.activate(token, TEST_PASSWORD);
        if r.status() != 409 {
            return r;
        }
        let name = self
            .app
            .name_of(token)
            .expect("the name of an activated token");
        self.sign_in_with(&name, TEST_PASSWORD)
    }

    /// Name and password on the sign-in form.
    fn sign_in_with(&self, name: &str, password: &str) -> Response {
        let page = self.get("/signin");
        assert_eq!(page.status(), 200);
        let csrf = hidden(&page.text().unwrap(), "csrf");
        self.post(
            "/signin",
            &[("csrf", &csrf), ("name", name), ("password", password)],
        )
    }

    /// The activation form: the one-time token and a new password, typed twice.
    fn activate(&self, token: &str, password: &str) -> Response {
        let page = self.get("/signin/activate");
        assert_eq!(page.status(), 200);
        let csrf = hidden(&page.text().unwrap(), "csrf");
        self.post(
            "/signin/activate",
            &[
                ("csrf", &csrf),
                ("token", token),
                ("password", password),
                ("password_repeat", password),
            ],
        )
    }

    fn get(&self, path: &str) -> Response {
        self.client
            .get(self.app.url(path))
            .header("Accept", "text/html")
            .send()
            .unwrap()
    }

    /// GET, expecting 200 and HTML.
    fn page(&self, path: &str) -> String {
        let r = self.get(path);
        assert_eq!(r.status(), 200, "GET {path}");
        assert!(content_type(&r).starts_with("text/html"), "GET {path}");
        r.text().unwrap()
    }

    fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.client
            .post(self.app.url(path))
            .form(fields)
            .send()
            .unwrap()
    }

    /// The session's CSRF token, read from a page's sign-out form.
    fn csrf(&self) -> String {
        hidden(&self.page("/trials"), "csrf")
    }

    fn session_cookie(&self) -> Option<String> {
        let url = reqwest::Url::parse(&self.app.base).unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|c| c.strip_prefix("tg_session="))
            .map(str::to_string)
    }
}

fn content_type(r: &Response) -> String {
    r.headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

fn location(r: &Response) -> String {
    r.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default()
}

/// The value of the hidden input `name`.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no hidden {name} in {html}"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

fn users(app: &TestApp) -> (String, String, String) {
    (
        app.user("ines", "investigator", &["SITE01"]),
        app.user("paul", "pharmacist", &["SITE01"]),
        app.user("mona", "monitor", &[]),
    )
}

/// The form of a fully eligible patient (the same values as the API tests' request).
fn eligible_form(patient: &str) -> Vec<(String, String)> {
    [
        ("patient_ref", patient),
        ("site", "SITE01"),
        ("birth_date", "1961-03-02"),
        ("sex", "female"),
        ("screening_date", "2026-11-20"),
        ("liver_metastasis", "no"),
        ("attestations.bone_met_soft_tissue", "yes"),
        ("attestations.informed_consent", "yes"),
        ("attestations.acute_infection_or_serious_disease", "no"),
        ("attestations.neuro_psych_history", "no"),
        ("attestations.investigator_finds_suitable", "yes"),
        ("labs.hemoglobin.value", "112"),
        ("labs.hemoglobin.unit", "g/L"),
        ("labs.anc.value", "2.1"),
        ("labs.anc.unit", "10^9/L"),
        ("labs.platelets.value", "180"),
        ("labs.platelets.unit", "10^9/L"),
        ("labs.alt.value", "35"),
        ("labs.alt.uln", "40"),
        ("labs.alt.unit", "U/L"),
        ("labs.ast.value", "30"),
        ("labs.ast.uln", "40"),
        ("labs.ast.unit", "U/L"),
        ("labs.bilirubin.value", "12"),
        ("labs.bilirubin.uln", "21"),
        ("labs.bilirubin.unit", "umol/L"),
        ("labs.alp.value", "150"),
        ("labs.alp.uln", "125"),
        ("labs.alp.unit", "U/L"),
        ("labs.creatinine.value", "80"),
        ("labs.creatinine.uln", "97"),
        ("labs.creatinine.unit", "umol/L"),
        ("labs.creatinine_clearance_24h.value", "62"),
        ("labs.urine_protein_dipstick", "1+"),
        ("labs.urine_protein_24h.value", "1.2"),
        ("labs.urine_protein_24h.unit", "g/24h"),
        ("labs.upc_ratio", "1.4"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

fn set(form: &mut [(String, String)], name: &str, value: &str) {
    form.iter_mut().find(|(n, _)| n == name).unwrap().1 = value.to_string();
}

/// Posts the screening form with the session's CSRF token.
fn screen(web: &Web, form: &[(String, String)]) -> Response {
    let csrf = web.csrf();
    let mut fields: Vec<(&str, &str)> = vec![("csrf", &csrf)];
    fields.extend(form.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    web.post(&format!("/trials/{T}/screening"), &fields)
}

/// Screens through the form and returns the result page's path.
fn screen_ok(web: &Web, form: &[(String, String)]) -> String {
    let r = screen(web, form);
    assert_eq!(r.status(), 303, "{}", r.text().unwrap());
    let to = location(&r);
    assert!(to.starts_with(&format!("/trials/{T}/screenings/")), "{to}");
    to
}

fn root_and_sign_in(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, pharm, mon) = users(&app);
    let web = Web::new(&app);
    let r = web.get("/");
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/signin");
    let page = web.page("/signin");
    for label in ["<label for=\"name\">", "<label for=\"password\">"] {
        assert!(page.contains(label), "labelled input {label}");
    }
    assert!(page.contains("href=\"/signin/activate\""), "{page}");
    let activation = web.page("/signin/activate");
    for label in ["token", "password", "password_repeat"] {
        assert!(
            activation.contains(&format!("<label for=\"{label}\">")),
            "{label}"
        );
    }
    assert_eq!(web.get("/static/style.css").status(), 200);

    // Activation with the one-time token signs in; the session cookie's attributes.
    let r = web.activate(&inv, TEST_PASSWORD);
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/trials/{T}/screening"));
    let set_cookie: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = set_cookie
        .iter()
        .find(|c| c.starts_with("tg_session="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(session.contains(attribute), "{session}");
    }
    assert!(!session.contains("Secure"), "plain http by default");
    // The root now leads to the role's home.
    let r = web.get("/");
    assert_eq!(location(&r), format!("/trials/{T}/screening"));

    // The database keeps only the session id's hash.
    let id = web.session_cookie().unwrap();
    let mut conn = app.db.connection();
    let rows: Vec<String> = {
        use diesel::prelude::*;
        use trialgate::storage::schema::web_sessions;
        web_sessions::table
            .select(web_sessions::id_hash)
            .load(&mut conn)
            .unwrap()
    };
    assert_eq!(rows, [trialgate::service::web_sessions::session_hash(&id)]);
    assert_ne!(rows[0], id);

    for (token, home) in [
        (&pharm, format!("/trials/{T}/queue")),
        (&mon, format!("/trials/{T}/dashboard")),
        (&app.admin, "/admin".to_string()),
    ] {
        let w = Web::new(&app);
        let r = w.sign_in(token);
        assert_eq!(location(&r), home);
        w.page(&home);
    }
}
both_backends!(root_and_sign_in);

fn bad_token_is_refused(db: TestDb) {
    let app = TestApp::spawn(db);
    let web = Web::new(&app);
    let r = web.activate(
        "tg_0000000000000000000000000000000000000000000000000000000000000000",
        TEST_PASSWORD,
    );
    assert_eq!(r.status(), 401);
    let body = r.text().unwrap();
    assert!(
        body.contains("not valid, has expired or has been revoked"),
        "{body}"
    );
    assert!(web.session_cookie().is_none());
    assert_eq!(web.get("/admin").status(), 303);
    // Sign-in without the form's token (no cookie): refused.
    let other = Web::new(&app);
    let r = other.post(
        "/signin",
        &[
            ("csrf", "x"),
            ("name", "admin"),
            ("password", TEST_PASSWORD),
        ],
    );
    assert_eq!(r.status(), 403);
    assert!(other.session_cookie().is_none());
}
both_backends!(bad_token_is_refused);

/// Every page for every role: 200 for those allowed, a 403 page for the others, the
/// sign-in page for nobody.
fn pages_by_role(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, pharm, mon) = users(&app);
    let s = Web::signed_in(&app, &inv);
    let id = hidden_id(&screen_ok(&s, &eligible_form("SITE01-0001")));
    let p = Web::signed_in(&app, &pharm);
    let confirm = p.page(&format!("/trials/{T}/randomize/{id}"));
    let r = p.post(
        &format!("/trials/{T}/randomize/{id}"),
        &[
            ("csrf", &hidden(&confirm, "csrf")),
            ("idempotency_key", &hidden(&confirm, "idempotency_key")),
            SIGN,
        ],
    );
    assert_eq!(r.status(), 303);
    let subject = location(&r).rsplit('/').next().unwrap().to_string();

    let webs = [
        ("investigator", Web::signed_in(&app, &inv)),
        ("pharmacist", p),
        ("monitor", Web::signed_in(&app, &mon)),
        ("admin", Web::signed_in(&app, &app.admin)),
    ];
    let readers = vec!["investigator", "pharmacist", "monitor"];
    let pages: Vec<(String, Vec<&str>)> = vec![
        (
            "/trials".into(),
            vec!["investigator", "pharmacist", "monitor", "admin"],
        ),
        (format!("/trials/{T}/screening"), vec!["investigator"]),
        (format!("/trials/{T}/screenings"), readers.clone()),
        (format!("/trials/{T}/screenings/{id}"), readers.clone()),
        (format!("/trials/{T}/queue"), vec!["pharmacist"]),
        (format!("/trials/{T}/randomize/{id}"), vec!["pharmacist"]),
        (format!("/trials/{T}/subjects"), readers.clone()),
        (format!("/trials/{T}/subjects/{subject}"), readers.clone()),
        (
            format!("/trials/{T}/subjects/{subject}/withdraw"),
            vec!["investigator"],
        ),
        (format!("/trials/{T}/dashboard"), vec!["monitor"]),
        (format!("/trials/{T}/audit"), vec!["monitor"]),
        (format!("/trials/{T}/audit/verify"), vec!["monitor"]),
        (format!("/trials/{T}/export/csv"), vec!["monitor"]),
        ("/admin".into(), vec!["admin"]),
        ("/admin/users/ines/revoke".into(), vec!["admin"]),
        ("/admin/sites".into(), vec!["admin"]),
        ("/admin/sites/SITE01".into(), vec!["admin"]),
        (format!("/admin/trials/{T}/close"), vec!["admin"]),
        (format!("/admin/trials/{T}/amend"), vec!["admin"]),
    ];
    let anonymous = Web::new(&app);
    for (path, allowed) in &pages {
        for (role, web) in &webs {
            let r = web.get(path);
            if allowed.contains(role) {
                assert_eq!(r.status(), 200, "{role} GET {path}");
            } else {
                assert_eq!(r.status(), 403, "{role} GET {path}");
                assert!(content_type(&r).starts_with("text/html"), "{role} {path}");
                let body = r.text().unwrap();
                assert!(body.contains("Not allowed"), "{role} {path}: {body}");
                assert!(body.contains(&format!("({role})")), "{role} {path}: {body}");
            }
        }
        let r = anonymous.get(path);
        assert_eq!(r.status(), 303, "anonymous GET {path}");
        assert_eq!(location(&r), "/signin");
    }
    // Forms refused by role (with a valid CSRF token): a page, nothing done.
    let (_, investigator) = &webs[0];
    let csrf = investigator.csrf();
    let r = investigator.post(
        "/admin/users",
        &[("csrf", &csrf), ("name", "eve"), ("role", "admin")],
    );
    assert_eq!(r.status(), 403);
    assert!(r.text().unwrap().contains("Not allowed"));
    // Unknown pages: an HTML 404 for browsers, the API's problem body for clients.
    let r = investigator.get("/no/such/page");
    assert_eq!(r.status(), 404);
    assert!(content_type(&r).starts_with("text/html"));
    let r = app.get(&app.admin, "/api/v1/nope");
    assert_eq!(r.status(), 404);
    assert!(content_type(&r).starts_with("application/problem+json"));
}
both_backends!(pages_by_role);

/// The screening id at the end of a result page's path.
fn hidden_id(path: &str) -> String {
    path.rsplit('/').next().unwrap().to_string()
}

fn csrf_is_required(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, pharm, _) = users(&app);
    let s = Web::signed_in(&app, &inv);
    let form = eligible_form("SITE01-0002");
    let fields: Vec<(&str, &str)> = form.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    // Without a token, then with a wrong one, then with another session's token.
    let other = Web::signed_in(&app, &inv);
    let foreign = other.csrf();
    for token in [None, Some("00ff"), Some(foreign.as_str())] {
        let mut sent = fields.clone();
        if let Some(t) = token {
            sent.push(("csrf", t));
        }
        let r = s.post(&format!("/trials/{T}/screening"), &sent);
        assert_eq!(r.status(), 403, "{token:?}");
        let body = r.text().unwrap();
        assert!(body.contains("This form cannot be accepted"), "{body}");
    }
    let listed: Value = app
        .get(&inv, &format!("/api/v1/trials/{T}/screenings"))
        .json()
        .unwrap();
    assert_eq!(listed, serde_json::json!([]), "nothing recorded");

    // Sign-out and randomization also need the token.
    assert_eq!(s.post("/signout", &[]).status(), 403);
    assert_eq!(s.get("/trials").status(), 200, "still signed in");
    let id = hidden_id(&screen_ok(&s, &form));
    let p = Web::signed_in(&app, &pharm);
    let confirm = p.page(&format!("/trials/{T}/randomize/{id}"));
    let r = p.post(
        &format!("/trials/{T}/randomize/{id}"),
        &[
            ("csrf", "bad"),
            ("idempotency_key", &hidden(&confirm, "idempotency_key")),
            SIGN,
        ],
    );
    assert_eq!(r.status(), 403);
    let subjects: Value = app
        .get(&pharm, &format!("/api/v1/trials/{T}/subjects"))
        .json()
        .unwrap();
    assert_eq!(subjects, serde_json::json!([]), "nothing allocated");
    let a = Web::signed_in(&app, &app.admin);
    let r = a.post("/admin/users", &[("name", "eve"), ("role", "admin")]);
    assert_eq!(r.status(), 403);
    let r = a.post(
        &format!("/admin/trials/{T}/close"),
        &[("reason", "x"), ("confirm", "yes"), SIGN],
    );
    assert_eq!(r.status(), 403);
}
both_backends!(csrf_is_required);

fn field_errors_keep_what_was_typed(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, _, _) = users(&app);
    let s = Web::signed_in(&app, &inv);
    let page = s.page(&format!("/trials/{T}/screening"));
    // Every input is labelled; units come from the accepted ones.
    for (id, label) in [
        ("f-patient_ref", "Patient reference"),
        ("f-birth_date", "Date of birth"),
        ("f-labs-hemoglobin-value", "Value"),
        ("f-labs-alt-uln", "Upper limit of normal"),
    ] {
        assert!(
            page.contains(&format!("<label for=\"{id}\">{label}</label>")),
            "{id}"
        );
    }
    assert!(page.contains("<option value=\"g/dL\">g/dL</option>"));
    for group in [
        "Patient",
        "Attestations",
        "Blood counts",
        "Liver",
        "Kidney",
        "Urine",
    ] {
        assert!(
            page.contains(&format!("<legend>{group}</legend>")),
            "{group}"
        );
    }

    // Errors of the use case: a malformed date, a ULN left out, an unknown unit.
    let mut form = eligible_form("SITE01-0003");
    set(&mut form, "birth_date", "02/03/1961");
    set(&mut form, "labs.alt.uln", "");
    set(&mut form, "labs.hemoglobin.unit", "g/dL");
    set(&mut form, "labs.hemoglobin.value", "11.2");
    set(&mut form, "labs.anc.unit", "cells");
    // Every problem at once: the ULN left out (not even a request yet) and what the use
    // case refuses in the rest.
    let r = screen(&s, &form);
    assert_eq!(r.status(), 422);
    let body = r.text().unwrap();
    assert!(body.contains("id=\"f-labs-alt-uln-error\""), "{body}");
    assert!(body.contains("id=\"f-birth_date-error\""), "{body}");
    assert!(body.contains("There are 3 problems"), "{body}");
    assert!(body.contains("is required"));
    // Everything typed is still there.
    assert!(body.contains("value=\"SITE01-0003\""));
    assert!(body.contains("value=\"02/03/1961\""));
    assert!(body.contains("value=\"11.2\""));
    assert!(body.contains("<option value=\"g/dL\" selected>"));
    assert!(body.contains("<option value=\"cells\" selected>cells</option>"));
    assert!(body.contains("name=\"attestations.informed_consent\" value=\"yes\" checked"));
    assert!(body.contains("aria-invalid=\"true\""));

    set(&mut form, "labs.alt.uln", "40");
    let r = screen(&s, &form);
    assert_eq!(r.status(), 422);
    let body = r.text().unwrap();
    assert!(body.contains("id=\"f-birth_date-error\""), "{body}");
    assert!(body.contains("id=\"f-labs-anc-unit-error\""), "{body}");
    assert!(body.contains("is not an accepted unit"));
    assert!(body.contains("is not a date of the form YYYY-MM-DD"));
    assert!(body.contains("There are 2 problems"), "{body}");

    // Not even a number: named at the input, value kept.
    let mut form = eligible_form("SITE01-0004");
    set(&mut form, "labs.platelets.value", "lots");
    let r = screen(&s, &form);
    assert_eq!(r.status(), 422);
    let body = r.text().unwrap();
    assert!(
        body.contains("id=\"f-labs-platelets-value-error\""),
        "{body}"
    );
    assert!(body.contains("value=\"lots\""));

    // Another site than the user's: refused at the site input, values kept.
    let mut form = eligible_form("SITE02-0001");
    set(&mut form, "site", "SITE02");
    let r = screen(&s, &form);
    assert_eq!(r.status(), 403);
    let body = r.text().unwrap();
    assert!(body.contains("id=\"f-site-error\""), "{body}");
    assert!(body.contains("value=\"SITE02-0001\""));

    // The same refusals as the API: nothing was recorded.
    let listed: Value = app
        .get(&inv, &format!("/api/v1/trials/{T}/screenings"))
        .json()
        .unwrap();
    assert_eq!(listed, serde_json::json!([]));
}
both_backends!(field_errors_keep_what_was_typed);

fn screening_results_and_list(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, _, _) = users(&app);
    let s = Web::signed_in(&app, &inv);
    let eligible_path = screen_ok(&s, &eligible_form("SITE01-0005"));
    let body = s.page(&eligible_path);
    assert!(
        body.contains("Outcome: <span class=\"badge pass\">Eligible</span>"),
        "{body}"
    );
    assert_eq!(
        body.matches("<span class=\"badge pass\">Pass</span>")
            .count(),
        15
    );
    assert!(body.contains("Hemoglobin ≥ 90 g/L"), "criterion text");

    let mut form = eligible_form("SITE01-0006");
    set(&mut form, "labs.hemoglobin.value", "8");
    set(&mut form, "labs.hemoglobin.unit", "g/dL");
    set(&mut form, "attestations.informed_consent", "");
    let body = s.page(&screen_ok(&s, &form));
    assert!(
        body.contains("<span class=\"badge fail\">Ineligible</span>"),
        "{body}"
    );
    assert!(body.contains("Hb 80 g/L &lt; 90 g/L"), "{body}");
    assert!(body.contains("<span class=\"badge missing\">Missing</span>"));

    // The form and the API agree.
    let id = hidden_id(&eligible_path);
    let api: Value = app
        .get(&inv, &format!("/api/v1/trials/{T}/screenings/{id}"))
        .json()
        .unwrap();
    assert_eq!(api["outcome"], "eligible");
    let api_eligible: Value = app
        .post(
            &inv,
            &format!("/api/v1/trials/{T}/screenings"),
            &eligible("SITE01-0007", "SITE01"),
        )
        .json()
        .unwrap();
    assert_eq!(api_eligible["criteria"], api["criteria"]);

    let list = s.page(&format!("/trials/{T}/screenings"));
    for patient in ["SITE01-0005", "SITE01-0006", "SITE01-0007"] {
        assert!(list.contains(patient), "{patient}");
    }
    let only = s.page(&format!("/trials/{T}/screenings?outcome=ineligible"));
    assert!(only.contains("SITE01-0006") && !only.contains("SITE01-0005"));
}
both_backends!(screening_results_and_list);

fn randomize_once_without_block_information(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, pharm, mon) = users(&app);
    let s = Web::signed_in(&app, &inv);
    let id = hidden_id(&screen_ok(&s, &eligible_form("SITE01-0008")));
    let p = Web::signed_in(&app, &pharm);
    let queue = p.page(&format!("/trials/{T}/queue"));
    assert!(queue.contains("SITE01-0008"));
    assert!(queue.contains(&format!("/trials/{T}/randomize/{id}")));
    let confirm = p.page(&format!("/trials/{T}/randomize/{id}"));
    assert!(confirm.contains("You are about to randomize"));
    assert!(confirm.contains("SITE01-0008"));
    let csrf = hidden(&confirm, "csrf");
    let key = hidden(&confirm, "idempotency_key");
    let path = format!("/trials/{T}/randomize/{id}");
    // A double click, then a reload of the POST: one allocation, the same card.
    let first = p.post(&path, &[("csrf", &csrf), ("idempotency_key", &key), SIGN]);
    let second = p.post(&path, &[("csrf", &csrf), ("idempotency_key", &key), SIGN]);
    let third = p.post(&path, &[("csrf", &csrf), ("idempotency_key", &key), SIGN]);
    assert_eq!(first.status(), 303);
    let card_path = location(&first);
    assert_eq!(location(&second), card_path);
    assert_eq!(location(&third), card_path);
    let subjects: Value = app
        .get(&pharm, &format!("/api/v1/trials/{T}/subjects"))
        .json()
        .unwrap();
    assert_eq!(subjects.as_array().unwrap().len(), 1);
    let a = &subjects[0];
    let card = p.page(&card_path);
    assert!(card.contains(a["subject_id"].as_str().unwrap()));
    assert!(card.contains(a["arm_name"].as_str().unwrap()));
    assert!(card.contains("paul"));
    assert!(card.contains("data-print"));
    // The card offers the allocation's receipt, which verifies with the public key alone.
    let receipt_path = format!("{card_path}/receipt");
    assert!(card.contains(&format!("href=\"{receipt_path}\"")), "{card}");
    let r = p.get(&receipt_path);
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    let receipt: Value = r.json().unwrap();
    assert_eq!(receipt["subject_id"], a["subject_id"]);
    assert!(receipt["checkpoint"]
        .as_str()
        .unwrap()
        .starts_with(&format!("trialgate/{T}\n")));

    // The confirmation page now says so and has no form; a post with another key (an old
    // tab, a forged form) makes no second allocation.
    let again = p.page(&format!("/trials/{T}/randomize/{id}"));
    assert!(again.contains("already randomized"));
    assert!(!again.contains("idempotency_key"));
    let r = p.post(
        &path,
        &[("csrf", &csrf), ("idempotency_key", "another-tab"), SIGN],
    );
    assert_eq!(r.status(), 409);
    assert!(r.text().unwrap().contains("Already randomized"));
    let subjects: Value = app
        .get(&pharm, &format!("/api/v1/trials/{T}/subjects"))
        .json()
        .unwrap();
    assert_eq!(subjects.as_array().unwrap().len(), 1);
    assert!(!p
        .page(&format!("/trials/{T}/queue"))
        .contains("SITE01-0008"));

    // No pharmacist page says anything about blocks, positions or strata.
    for page in [
        format!("/trials/{T}/queue"),
        format!("/trials/{T}/randomize/{id}"),
        card_path.clone(),
        format!("/trials/{T}/subjects"),
        format!("/trials/{T}/screenings"),
        format!("/trials/{T}/screenings/{id}"),
        "/trials".to_string(),
    ] {
        let body = p.page(&page).to_lowercase();
        for word in ["block", "stratum", "position", "[3, 6]", "sizes"] {
            assert!(!body.contains(word), "{page} mentions {word:?}");
        }
    }
    // The monitor sees it counted.
    let m = Web::signed_in(&app, &mon);
    let dashboard = m.page(&format!("/trials/{T}/dashboard"));
    assert!(dashboard.contains("<p class=\"big-number\" id=\"enrolled\">1 of 90</p>"));
}
both_backends!(randomize_once_without_block_information);

fn monitor_dashboard_audit_and_exports(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, pharm, mon) = users(&app);
    let s = Web::signed_in(&app, &inv);
    let id = hidden_id(&screen_ok(&s, &eligible_form("SITE01-0010")));
    let mut ineligible = eligible_form("SITE01-0011");
    set(&mut ineligible, "labs.platelets.value", "20");
    screen_ok(&s, &ineligible);
    let mut incomplete = eligible_form("SITE01-0012");
    set(&mut incomplete, "labs.anc.value", "");
    screen_ok(&s, &incomplete);
    let r = app.post(
        &pharm,
        &format!("/api/v1/trials/{T}/randomizations"),
        &serde_json::json!({ "screening_id": id }),
    );
    assert_eq!(r.status(), 201);

    let m = Web::signed_in(&app, &mon);
    let d = m.page(&format!("/trials/{T}/dashboard"));
    assert!(d.contains("1 of 90"));
    assert!(d.contains("<svg"), "chart inline");
    assert!(d.contains("Cumulative allocations"));
    assert!(d.contains("<polyline"), "a line per arm");
    // CONSORT-style flow.
    assert!(
        d.contains("<span class=\"count\">3</span> patients screened"),
        "{d}"
    );
    assert!(d.contains("<span class=\"count\">1</span> ineligible"));
    assert!(
        d.contains("Platelet count ≥ 75×10⁹/L: <strong>1</strong>"),
        "{d}"
    );
    assert!(d.contains("<span class=\"count\">1</span> incomplete"));
    assert!(d.contains("<span class=\"count\">1</span> randomized"));
    assert!(d.contains("Balance per block"));
    assert!(
        d.contains("Shown after the trial is closed with its seed revealed"),
        "no block table while the seed is secret"
    );
    assert!(!d.contains("table class=\"blocks\""), "{d}");
    // The chain head as the API reports it.
    let head: Value = app
        .get(&mon, &format!("/api/v1/trials/{T}/audit/head"))
        .json()
        .unwrap();
    assert!(d.contains(head["hash"].as_str().unwrap()));
    let v = m.page(&format!("/trials/{T}/audit/verify"));
    assert!(v.contains("Valid."), "{v}");
    let log = m.page(&format!("/trials/{T}/audit"));
    assert!(log.contains("subject.randomized") && log.contains("screening.recorded"));
    assert!(log.contains(&format!("Entries 1–{} of {}", head["seq"], head["seq"])));
    let r = m.get(&format!("/trials/{T}/export/csv"));
    assert_eq!(r.status(), 200);
    assert!(content_type(&r).starts_with("text/csv"));
    assert!(r.text().unwrap().starts_with("subject_id,"));
    let r = m.get(&format!("/trials/{T}/export/fhir"));
    assert!(content_type(&r).starts_with("application/fhir+json"));
    assert_eq!(m.get(&format!("/trials/{T}/export/xml")).status(), 404);
}
both_backends!(monitor_dashboard_audit_and_exports);

/// A subject row deleted behind the server's back turns the web verification red too.
fn web_verification_reports_a_tampered_table(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, pharm, mon) = users(&app);
    let s = Web::signed_in(&app, &inv);
    let id = hidden_id(&screen_ok(&s, &eligible_form("SITE01-0010")));
    let r = app.post(
        &pharm,
        &format!("/api/v1/trials/{T}/randomizations"),
        &serde_json::json!({ "screening_id": id }),
    );
    assert_eq!(r.status(), 201);
    let m = Web::signed_in(&app, &mon);
    assert!(m
        .page(&format!("/trials/{T}/audit/verify"))
        .contains("Valid."));
    let mut conn = app.db.connection();
    common::drop_table_triggers(&mut conn);
    common::execute(&mut conn, "DELETE FROM subjects").unwrap();
    let v = m.page(&format!("/trials/{T}/audit/verify"));
    assert!(v.contains("INVALID."), "{v}");
    assert!(v.contains("The chain breaks at entry 3."), "{v}");
    assert!(v.contains("is recorded but has no row"), "{v}");
}
both_backends!(web_verification_reports_a_tampered_table);

fn admin_users_and_closing(db: TestDb) {
    let app = TestApp::spawn(db);
    let a = Web::signed_in(&app, &app.admin);
    let csrf = a.csrf();
    // A bad name: the error at the input, the values kept.
    let r = a.post(
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("name", "ines smith"),
            ("role", "pharmacist"),
            ("sites", "SITE01, SITE/2"),
        ],
    );
    assert_eq!(r.status(), 422);
    let body = r.text().unwrap();
    assert!(body.contains("id=\"name-error\""), "{body}");
    assert!(body.contains("id=\"sites-error\""), "{body}");
    assert!(body.contains("id=\"full_name-error\""), "{body}");
    assert!(body.contains("value=\"ines smith\""));
    assert!(body.contains("<option value=\"pharmacist\" selected>"));

    let r = a.post(
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("name", "ines"),
            ("role", "investigator"),
            ("sites", "SITE01"),
            ("full_name", "王丽"),
        ],
    );
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["cache-control"], "no-store");
    let body = r.text().unwrap();
    assert!(body.contains("shown only once"));
    let start = body.find("value=\"tg_").unwrap() + 7;
    let token = body[start..].split('"').next().unwrap().to_string();
    assert!(body.contains("data-copy=\"new-token\""));
    assert_eq!(app.get(&token, "/api/v1/trials").status(), 200);
    assert!(a.page("/admin").contains("ines"));

    // Revoke: confirmation, then the token and the user's sessions stop working.
    let ines = Web::signed_in(&app, &token);
    assert_eq!(ines.get(&format!("/trials/{T}/screening")).status(), 200);
    let confirm = a.page("/admin/users/ines/revoke");
    assert!(confirm.contains("Revoke ines?"));
    let r = a.post("/admin/users/ines/revoke", &[("csrf", &csrf)]);
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/admin?revoked=ines");
    assert!(a.page("/admin?revoked=ines").contains("is revoked"));
    assert_eq!(app.get(&token, "/api/v1/trials").status(), 401);
    let r = ines.get(&format!("/trials/{T}/screening"));
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/signin");
    assert_eq!(Web::new(&app).sign_in(&token).status(), 401);

    // Closing: reason required, a confirmation step, then closed.
    let close = format!("/admin/trials/{T}/close");
    a.page(&close);
    let r = a.post(
        &close,
        &[("csrf", &csrf), ("reason", ""), ("confirm", "yes"), SIGN],
    );
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("id=\"reason-error\""));
    let r = a.post(
        &close,
        &[
            ("csrf", &csrf),
            ("reason", "enrollment complete"),
            ("reveal_seed", "yes"),
        ],
    );
    assert_eq!(r.status(), 200);
    let review = r.text().unwrap();
    assert!(review.contains("This cannot be undone"));
    assert!(review.contains("Revealed in the audit trail"));
    let detail: Value = app
        .get(&app.admin, &format!("/api/v1/trials/{T}"))
        .json()
        .unwrap();
    assert_eq!(
        detail["status"], "open",
        "nothing closed before confirmation"
    );
    let r = a.post(
        &close,
        &[
            ("csrf", &csrf),
            ("reason", "enrollment complete"),
            ("reveal_seed", "yes"),
            ("confirm", "yes"),
            SIGN,
        ],
    );
    assert_eq!(r.status(), 303);
    let detail: Value = app
        .get(&app.admin, &format!("/api/v1/trials/{T}"))
        .json()
        .unwrap();
    assert_eq!(detail["status"], "closed");
    assert_eq!(detail["seed_revealed"], true);
}
both_backends!(admin_users_and_closing);

fn sign_out_and_expiry(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, _, _) = users(&app);
    let s = Web::signed_in(&app, &inv);
    let old = s.session_cookie().unwrap();
    let r = s.post("/signout", &[("csrf", &s.csrf())]);
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/signin?signed_out=1");
    assert!(s.session_cookie().is_none(), "cookie removed");
    assert!(s
        .page("/signin?signed_out=1")
        .contains("You are signed out"));
    // The old cookie no longer opens anything: the session is gone server side.
    let replay = Client::builder().redirect(Policy::none()).build().unwrap();
    let r = replay
        .get(app.url(&format!("/trials/{T}/screening")))
        .header("Cookie", format!("tg_session={old}"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), "/signin");

    // Absolute expiry and idle expiry, both decided by the server.
    for column in ["expires_at", "last_seen_at"] {
        let w = Web::signed_in(&app, &inv);
        assert_eq!(w.get("/trials").status(), 200);
        let mut conn = app.db.connection();
        common::execute(
            &mut conn,
            &format!("UPDATE web_sessions SET {column} = '2000-01-01 00:00:00'"),
        )
        .unwrap();
        let r = w.get("/trials");
        assert_eq!(r.status(), 303, "{column}");
        assert_eq!(location(&r), "/signin");
    }
    // Expired sessions are deleted.
    let mut conn = app.db.connection();
    let left: i64 = {
        use diesel::prelude::*;
        trialgate::storage::schema::web_sessions::table
            .count()
            .get_result(&mut conn)
            .unwrap()
    };
    assert_eq!(left, 0);
}
both_backends!(sign_out_and_expiry);

/// Login CSRF: a sign-in form token the server did not issue for this browser is refused,
/// whatever cookie an attacker planted to match it.
fn signin_needs_a_server_issued_token(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, _, _) = users(&app);
    // Both have set their passwords.
    Web::signed_in(&app, &app.admin);
    Web::signed_in(&app, &inv);
    let raw = Client::builder().redirect(Policy::none()).build().unwrap();
    let planted = |cookie: &str, csrf: &str| {
        raw.post(app.url("/signin"))
            .header("Cookie", format!("tg_signin={cookie}"))
            .form(&[
                ("csrf", csrf),
                ("name", "admin"),
                ("password", TEST_PASSWORD),
            ])
            .send()
            .unwrap()
    };
    // The attacker's own value in the cookie and in the form, of any shape.
    for value in ["a".repeat(64), "0123456789abcdef".repeat(4), "x".into()] {
        let r = planted(&value, &value);
        assert_eq!(r.status(), 403, "planted {value}");
        assert!(r
            .headers()
            .get_all("set-cookie")
            .iter()
            .all(|c| !c.to_str().unwrap().starts_with("tg_session=")));
    }
    // A token the server issued to another browser, with this browser's own pre-session.
    let theirs = Web::new(&app);
    let their_token = hidden(&theirs.page("/signin"), "csrf");
    let mine = Web::new(&app);
    mine.page("/signin");
    let r = mine.post(
        "/signin",
        &[
            ("csrf", &their_token),
            ("name", "admin"),
            ("password", TEST_PASSWORD),
        ],
    );
    assert_eq!(r.status(), 403);
    assert!(mine.session_cookie().is_none());
    // A server-issued pair sent from another site's page (Sec-Fetch-Site) is refused too.
    let w = Web::new(&app);
    let csrf = hidden(&w.page("/signin"), "csrf");
    let r = w
        .client
        .post(app.url("/signin"))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "admin"),
            ("password", TEST_PASSWORD),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(w.session_cookie().is_none());
    // The pre-session cookie is HttpOnly and SameSite=Strict; the normal flow works, also
    // after a wrong password, and from the same origin.
    let w = Web::new(&app);
    let r = w.get("/signin");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("tg_signin="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let csrf = hidden(&r.text().unwrap(), "csrf");
    let r = w.post(
        "/signin",
        &[
            ("csrf", &csrf),
            ("name", "admin"),
            ("password", "not the password"),
        ],
    );
    assert_eq!(r.status(), 401);
    let csrf = hidden(&r.text().unwrap(), "csrf");
    let r = w
        .client
        .post(app.url("/signin"))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "ines"),
            ("password", TEST_PASSWORD),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    assert!(w.session_cookie().is_some());
    // Nothing is kept in one process: a form from this server signs in at another instance
    // (same database and data directory), as behind a load balancer.
    let (second, _handle) = app.second_server();
    let w = Web::new(&app);
    let csrf = hidden(&w.page("/signin"), "csrf");
    let r = w
        .client
        .post(format!("{second}/signin"))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "ines"),
            ("password", TEST_PASSWORD),
        ])
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
}
both_backends!(signin_needs_a_server_issued_token);

/// The admin form refuses site limits for admins, and unregistered sites, at the sites input.
fn admin_form_refuses_site_limited_admins_and_monitors(db: TestDb) {
    let app = TestApp::spawn(db);
    let a = Web::signed_in(&app, &app.admin);
    let csrf = a.csrf();
    for (role, site) in [("admin", "SITE01"), ("monitor", "NOWHERE")] {
        let r = a.post(
            "/admin/users",
            &[
                ("csrf", &csrf),
                ("name", "sam"),
                ("role", role),
                ("sites", site),
            ],
        );
        assert_eq!(r.status(), 422, "{role}");
        let body = r.text().unwrap();
        assert!(body.contains("id=\"sites-error\""), "{body}");
        assert!(body.contains(&format!("<option value=\"{role}\" selected>")));
    }
    assert!(!a.page("/admin").contains("<td>sam</td>"), "nobody created");
}
both_backends!(admin_form_refuses_site_limited_admins_and_monitors);

/// Pager arithmetic never overflows and never links to a negative entry.
fn audit_log_pager_saturates(db: TestDb) {
    let app = TestApp::spawn(db);
    let (_, _, mon) = users(&app);
    let m = Web::signed_in(&app, &mon);
    for after in [
        i64::MAX.to_string(),
        (i64::MAX - 10).to_string(),
        "-1".into(),
        i64::MIN.to_string(),
        "1".into(),
    ] {
        let r = m.get(&format!("/trials/{T}/audit?after={after}"));
        assert_eq!(r.status(), 200, "after={after}");
        let body = r.text().unwrap();
        assert!(!body.contains("after=-"), "after={after}: {body}");
        assert!(!body.contains("Entries -"), "after={after}: {body}");
        assert!(
            !body.contains(&i64::MIN.to_string()[1..]),
            "after={after}: {body}"
        );
    }
    // Past every 64-bit number: the query is refused as a page, not a crash.
    let r = m.get(&format!("/trials/{T}/audit?after=99999999999999999999"));
    assert_eq!(r.status(), 400);
}
both_backends!(audit_log_pager_saturates);

/// The screening form refuses invalid UTF-8 (percent-encoded or raw) as the API does: a 400
/// page, nothing recorded.
fn screening_form_refuses_invalid_utf8(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, _, _) = users(&app);
    let s = Web::signed_in(&app, &inv);
    let mut form = eligible_form("SITE01-0099");
    form.push(("csrf".into(), s.csrf()));
    let mut url = reqwest::Url::parse("http://x/").unwrap();
    url.query_pairs_mut().extend_pairs(form.iter());
    let encoded = url.query().unwrap().to_string();
    let bodies: Vec<Vec<u8>> = vec![
        encoded.replace("SITE01-0099", "SITE01-%FF99").into_bytes(),
        encoded.replace("SITE01-0099", "SITE01-%C3").into_bytes(),
        [
            encoded.replace("SITE01-0099", "SITE01-").as_bytes(),
            &[0xFF],
            b"99",
        ]
        .concat(),
        format!("{encoded}&labs.upc_ratio%FF=1").into_bytes(),
    ];
    for body in bodies {
        let r = s
            .client
            .post(app.url(&format!("/trials/{T}/screening")))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.clone())
            .send()
            .unwrap();
        assert_eq!(r.status(), 400, "{}", String::from_utf8_lossy(&body));
        assert!(content_type(&r).starts_with("text/html"));
        assert!(r.text().unwrap().contains("UTF-8"));
    }
    let listed: Value = app
        .get(&inv, &format!("/api/v1/trials/{T}/screenings"))
        .json()
        .unwrap();
    assert_eq!(listed, serde_json::json!([]), "nothing recorded");
    // Not a form, or too large a form: refused as pages too.
    let r = s
        .client
        .post(app.url(&format!("/trials/{T}/screening")))
        .header("Content-Type", "application/json")
        .body(encoded.clone())
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(content_type(&r).starts_with("text/html"));
    let r = s
        .client
        .post(app.url(&format!("/trials/{T}/screening")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(format!("{encoded}&note={}", "x".repeat(70 * 1024)))
        .send()
        .unwrap();
    assert_eq!(r.status(), 413);
    assert!(content_type(&r).starts_with("text/html"));
    // Valid UTF-8 beyond ASCII is read as typed (then canonicalised: fullwidth ＳＩＴＥ０１).
    let r = s
        .client
        .post(app.url(&format!("/trials/{T}/screening")))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(encoded.replace(
            "SITE01-0099",
            "%EF%BC%B3%EF%BC%A9%EF%BC%B4%EF%BC%A5%EF%BC%90%EF%BC%91-0100",
        ))
        .send()
        .unwrap();
    assert_eq!(r.status(), 303);
    let listed: Value = app
        .get(&inv, &format!("/api/v1/trials/{T}/screenings"))
        .json()
        .unwrap();
    assert_eq!(listed[0]["patient_ref"], "SITE01-0100");
}
both_backends!(screening_form_refuses_invalid_utf8);

/// `/admin` shows only known notices: nothing typed into the query string comes back.
fn admin_notices_reflect_nothing(db: TestDb) {
    let app = TestApp::spawn(db);
    let a = Web::signed_in(&app, &app.admin);
    for query in [
        "closed=Call%20555-0100%20to%20re-verify%20your%20account",
        "revoked=Call%20555-0100%20to%20re-verify%20your%20account",
        "closed=NCT00000000",
        "revoked=nobody",
        "revoked=admin",
        &format!("closed={T}"),
    ] {
        let body = a.page(&format!("/admin?{query}"));
        assert!(!body.contains("555-0100"), "{query}");
        assert!(!body.contains("NCT00000000"), "{query}");
        assert!(!body.contains("is closed."), "{query}: the trial is open");
        assert!(!body.contains("is revoked"), "{query}: nobody is revoked");
    }
    // The known notices still show, as the server spells the trial.
    let r = app.post(
        &app.admin,
        &format!("/api/v1/trials/{T}/close"),
        &serde_json::json!({"reason": "done"}),
    );
    assert_eq!(r.status(), 200, "{}", r.text().unwrap());
    let body = a.page(&format!("/admin?closed={T}"));
    assert!(
        body.contains(&format!("Trial <strong>{T}</strong> is closed.")),
        "{body}"
    );
}
both_backends!(admin_notices_reflect_nothing);

/// The sign-in page's 429 says when to retry.
fn signin_rate_limit_says_retry_after(db: TestDb) {
    let app = TestApp::spawn_with_auth_quota(db, 2);
    let web = Web::new(&app);
    let mut last = None;
    for _ in 0..4 {
        last = Some(web.sign_in("tg_wrong"));
    }
    let r = last.unwrap();
    assert_eq!(r.status(), 429);
    assert!(content_type(&r).starts_with("text/html"));
    let seconds: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&seconds), "{seconds}");
}
both_backends!(signin_rate_limit_says_retry_after);

/// A closed trial looks closed on every page, for every role, and offers nothing that would
/// write to it; the close review refuses an empty reason before the confirmation.
fn closed_trial_pages(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, pharm, mon) = users(&app);
    let s = Web::signed_in(&app, &inv);
    let waiting = hidden_id(&screen_ok(&s, &eligible_form("SITE01-0020")));
    let randomized = hidden_id(&screen_ok(&s, &eligible_form("SITE01-0021")));
    let r = app.post(
        &pharm,
        &format!("/api/v1/trials/{T}/randomizations"),
        &serde_json::json!({ "screening_id": randomized }),
    );
    assert_eq!(r.status(), 201);
    let card = format!("/trials/{T}/subjects/{T}-0001");
    assert!(s.page(&card).contains(&format!("{card}/withdraw")));
    let p = Web::signed_in(&app, &pharm);
    assert!(p
        .page(&format!("/trials/{T}/queue"))
        .contains(&format!("/trials/{T}/randomize/{waiting}")));
    assert!(s
        .page(&format!("/trials/{T}/screenings"))
        .contains(&format!("href=\"/trials/{T}/screening\"")));

    // The review step refuses a reason that is empty or only whitespace, at the input.
    let a = Web::signed_in(&app, &app.admin);
    let close = format!("/admin/trials/{T}/close");
    for reason in ["", "  \r\n\t "] {
        let r = a.post(&close, &[("csrf", &a.csrf()), ("reason", reason)]);
        assert_eq!(r.status(), 422, "{reason:?}");
        let body = r.text().unwrap();
        assert!(body.contains("id=\"reason-error\""), "{body}");
        assert!(body.contains("must not be empty"), "{body}");
        assert!(
            !body.contains("This cannot be undone"),
            "no confirmation: {body}"
        );
    }
    let r = a.post(
        &close,
        &[
            ("csrf", &a.csrf()),
            ("reason", "DSMB <stopped> the trial"),
            ("confirm", "yes"),
            SIGN,
        ],
    );
    assert_eq!(r.status(), 303);

    let banner = "is closed</strong> since ";
    let reason = "Reason: DSMB &lt;stopped&gt; the trial";
    let m = Web::signed_in(&app, &mon);
    for (web, path) in [
        (&s, format!("/trials/{T}/screenings")),
        (&s, format!("/trials/{T}/screenings/{waiting}")),
        (&s, "/trials".to_string()),
        (&p, format!("/trials/{T}/queue")),
        (&p, format!("/trials/{T}/randomize/{waiting}")),
        (&m, format!("/trials/{T}/dashboard")),
        (&m, format!("/trials/{T}/audit")),
        (&a, format!("/admin/trials/{T}/close")),
    ] {
        let body = web.page(&path);
        assert!(body.contains(banner), "GET {path}: {body}");
        assert!(body.contains(reason), "GET {path}: {body}");
    }
    // Error pages about the trial say it too.
    let r = p.get(&format!("/trials/{T}/screenings/no-such-screening"));
    assert_eq!(r.status(), 404);
    assert!(r.text().unwrap().contains(banner));

    // No way to screen: no navigation link, a notice instead of the form.
    let form = s.page(&format!("/trials/{T}/screening"));
    assert!(
        form.contains("is closed: no new screening can be recorded"),
        "{form}"
    );
    assert!(!form.contains("name=\"patient_ref\""), "{form}");
    for path in [
        format!("/trials/{T}/screenings"),
        format!("/trials/{T}/screenings/{waiting}"),
    ] {
        let body = s.page(&path);
        assert!(
            !body.contains(&format!("href=\"/trials/{T}/screening\"")),
            "{path}: {body}"
        );
    }
    // No way to randomize: no button in the queue or on the result, no form to confirm.
    let queue = p.page(&format!("/trials/{T}/queue"));
    assert!(queue.contains("SITE01-0020"));
    assert!(!queue.contains("/randomize/"), "{queue}");
    assert!(!p
        .page(&format!("/trials/{T}/screenings/{waiting}"))
        .contains("/randomize/"));
    let confirm = p.page(&format!("/trials/{T}/randomize/{waiting}"));
    assert!(!confirm.contains("idempotency_key"), "{confirm}");
    // No way to withdraw.
    assert!(!s.page(&card).contains(&format!("{card}/withdraw")));
    assert!(!s
        .page(&format!("/trials/{T}/screenings/{randomized}"))
        .contains("/withdraw"));
    let form = s.page(&format!("{card}/withdraw"));
    assert!(form.contains("The trial is closed"), "{form}");
    assert!(!form.contains("name=\"reason\""), "{form}");
    // The admin's close page offers no second close.
    assert!(!a.page(&close).contains("name=\"reason\""));
}
both_backends!(closed_trial_pages);

/// Withdrawal through the web: offered to investigators on the subject's and the result
/// page, a reason required (checked on the review step), a confirmation naming the patient,
/// then the subject page shows when, by whom and why; a second withdrawal is refused
/// clearly and other roles are refused. Dashboard and exports count it.
fn withdraw_through_the_web(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, pharm, mon) = users(&app);
    let s = Web::signed_in(&app, &inv);
    let result = screen_ok(&s, &eligible_form("SITE01-0030"));
    let r = app.post(
        &pharm,
        &format!("/api/v1/trials/{T}/randomizations"),
        &serde_json::json!({ "screening_id": hidden_id(&result) }),
    );
    assert_eq!(r.status(), 201);
    let subject = r.json::<Value>().unwrap()["subject_id"]
        .as_str()
        .unwrap()
        .to_string();
    let card = format!("/trials/{T}/subjects/{subject}");
    let withdraw = format!("{card}/withdraw");
    let api_subject = || -> Value {
        app.get(&mon, &format!("/api/v1/trials/{T}/subjects/{subject}"))
            .json()
            .unwrap()
    };
    let link = format!("href=\"{withdraw}\"");
    assert!(s.page(&card).contains(&link));
    assert!(s.page(&result).contains(&link));

    // Roles without the permission: no link, a 403 page, nothing done.
    let p = Web::signed_in(&app, &pharm);
    let m = Web::signed_in(&app, &mon);
    for web in [&p, &m] {
        assert!(!web.page(&card).contains(&link));
        assert_eq!(web.get(&withdraw).status(), 403);
        let r = web.post(
            &withdraw,
            &[
                ("csrf", &web.csrf()),
                ("reason", "no"),
                ("confirm", "yes"),
                SIGN,
            ],
        );
        assert_eq!(r.status(), 403);
        assert!(r.text().unwrap().contains("Not allowed"));
    }
    assert_eq!(api_subject()["status"], "on_study");
    // Without the form's token: refused.
    assert_eq!(
        s.post(&withdraw, &[("reason", "x"), ("confirm", "yes"), SIGN])
            .status(),
        403
    );

    let form = s.page(&withdraw);
    assert!(
        form.contains("<textarea id=\"reason\" name=\"reason\""),
        "{form}"
    );
    // The review step refuses what the use case would: empty, control characters.
    for (reason, says) in [
        ("   ", "must not be empty"),
        ("moved\u{7}away", "control characters"),
    ] {
        let r = s.post(&withdraw, &[("csrf", &s.csrf()), ("reason", reason)]);
        assert_eq!(r.status(), 422, "{reason:?}");
        let body = r.text().unwrap();
        assert!(body.contains("id=\"reason-error\""), "{body}");
        assert!(body.contains(says), "{body}");
        assert!(!body.contains("This cannot be undone"), "{body}");
    }
    // A forged confirmation with an empty reason: the use case's error at the input.
    let r = s.post(
        &withdraw,
        &[
            ("csrf", &s.csrf()),
            ("reason", ""),
            ("confirm", "yes"),
            SIGN,
        ],
    );
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("id=\"reason-error\""));

    let r = s.post(
        &withdraw,
        &[("csrf", &s.csrf()), ("reason", "  moved <abroad>  ")],
    );
    assert_eq!(r.status(), 200);
    let confirm = r.text().unwrap();
    assert!(
        confirm.contains(&format!(
            "Withdraw patient SITE01-0030 (subject {subject})? This cannot be undone."
        )),
        "{confirm}"
    );
    assert!(confirm.contains("moved &lt;abroad&gt;"));
    assert_eq!(
        api_subject()["status"],
        "on_study",
        "nothing before confirmation"
    );
    // The hidden field as a browser reads it back.
    let reason = hidden(&confirm, "reason")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&amp;", "&");
    let r = s.post(
        &withdraw,
        &[
            ("csrf", &s.csrf()),
            ("reason", &reason),
            ("confirm", "yes"),
            SIGN,
        ],
    );
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), card);
    let shown = s.page(&card);
    assert!(shown.contains("Withdrawn on "), "{shown}");
    assert!(shown.contains(" by ines"), "{shown}");
    assert!(shown.contains("moved &lt;abroad&gt;"), "{shown}");
    assert!(!shown.contains(&link), "no second withdrawal offered");
    assert!(!s.page(&result).contains(&link));
    let a = api_subject();
    assert_eq!(a["status"], "withdrawn");
    assert_eq!(a["withdrawn_by"], "ines");
    assert_eq!(a["withdrawal_reason"], "moved <abroad>");

    // Again (another tab): refused as such, nothing changed.
    for fields in [
        vec![("reason", "again"), ("confirm", "yes"), SIGN],
        vec![("reason", "again")],
    ] {
        let csrf = s.csrf();
        let mut sent = vec![("csrf", csrf.as_str())];
        sent.extend(fields);
        let r = s.post(&withdraw, &sent);
        assert_eq!(r.status(), 409);
        let body = r.text().unwrap();
        assert!(body.contains("Already withdrawn"), "{body}");
        assert!(body.contains("already withdrawn"), "{body}");
    }
    assert!(!s.page(&withdraw).contains("name=\"reason\""));
    assert_eq!(api_subject()["withdrawal_reason"], "moved <abroad>");

    // The monitor's flow and exports show it.
    let d = m.page(&format!("/trials/{T}/dashboard"));
    assert!(d.contains("1 withdrawn in all"), "{d}");
    let csv = m.get(&format!("/trials/{T}/export/csv")).text().unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let row = reader.records().next().unwrap().unwrap();
    let col = |name: &str| &row[header.iter().position(|h| h == name).unwrap()];
    assert_eq!(col("status"), "withdrawn");
    assert_eq!(col("withdrawn_by"), "ines");
    assert_eq!(col("withdrawal_reason"), "moved <abroad>");
    assert!(!col("withdrawn_at").is_empty());
    let json: Value = m.get(&format!("/trials/{T}/export/json")).json().unwrap();
    assert_eq!(json["subjects"][0]["withdrawn_by"], "ines");
    assert_eq!(json["subjects"][0]["withdrawal_reason"], "moved <abroad>");
}
both_backends!(withdraw_through_the_web);

/// A form with errors comes back with a summary at the top that takes the focus and lists
/// every error in the order of the form, each linked to its input; what could not even be
/// read (a malformed number) and what the use case refuses are named in one round trip.
fn screening_error_summary(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, _, _) = users(&app);
    let s = Web::signed_in(&app, &inv);
    let mut form = eligible_form("SITE01-0040");
    set(&mut form, "labs.anc.value", "1,5x");
    set(&mut form, "birth_date", "2030-01-01");
    set(&mut form, "patient_ref", "");
    let r = screen(&s, &form);
    assert_eq!(r.status(), 422);
    let body = r.text().unwrap();
    let start = body
        .find("<div class=\"error-summary\" role=\"alert\" tabindex=\"-1\" autofocus")
        .unwrap_or_else(|| panic!("no error summary: {body}"));
    let form_at = body
        .find(&format!(
            "<form method=\"post\" action=\"/trials/{T}/screening\""
        ))
        .unwrap();
    assert!(start < form_at, "above the form");
    let summary = &body[start..start + body[start..].find("</div>").unwrap()];
    assert!(summary.contains("There are 3 problems"), "{summary}");
    let links: Vec<&str> = summary
        .split("<a href=\"#")
        .skip(1)
        .map(|l| l.split('"').next().unwrap())
        .collect();
    assert_eq!(
        links,
        ["f-patient_ref", "f-birth_date", "f-labs-anc-value"],
        "{summary}"
    );
    for id in links {
        assert!(body.contains(&format!("id=\"{id}\"")), "{id} exists");
    }
    assert!(
        summary.contains("&quot;1,5x&quot; is not a number"),
        "{summary}"
    );
    assert!(body.contains("value=\"1,5x\""), "kept as typed");
    // One error: said so.
    let mut form = eligible_form("SITE01-0041");
    set(&mut form, "labs.alt.uln", "");
    let body = screen(&s, &form).text().unwrap();
    assert!(body.contains("There is 1 problem"), "{body}");
    assert!(body.contains("href=\"#f-labs-alt-uln\""), "{body}");
    // A decimal comma is read as a decimal point (numbers are text inputs: a browser would
    // empty a number input holding "2,1").
    let mut form = eligible_form("SITE01-0042");
    set(&mut form, "labs.anc.value", "2,1");
    let body = s.page(&screen_ok(&s, &form));
    assert!(body.contains("Eligible"), "{body}");
    assert!(!s
        .page(&format!("/trials/{T}/screening"))
        .contains("type=\"number\""));
}
both_backends!(screening_error_summary);

/// The site input: a site-limited user chooses among their sites (one: preselected); a user
/// without site limits types the code.
fn screening_site_input(db: TestDb) {
    let app = TestApp::spawn(db);
    let one = app.user("ines", "investigator", &["SITE01"]);
    let two = app.user("ida", "investigator", &["SITE01", "SITE02"]);
    let all = app.user("ivan", "investigator", &[]);
    let page = Web::signed_in(&app, &one).page(&format!("/trials/{T}/screening"));
    assert!(
        page.contains("<select id=\"f-site\" name=\"site\""),
        "{page}"
    );
    assert!(page.contains("<option value=\"SITE01\" selected>SITE01</option>"));
    assert_eq!(page.matches("<option value=\"SITE0").count(), 1, "{page}");
    let page = Web::signed_in(&app, &two).page(&format!("/trials/{T}/screening"));
    assert!(
        page.contains("<select id=\"f-site\" name=\"site\""),
        "{page}"
    );
    assert!(page.contains("<option value=\"SITE02\">SITE02</option>"));
    let page = Web::signed_in(&app, &all).page(&format!("/trials/{T}/screening"));
    assert!(
        page.contains("<input id=\"f-site\" type=\"text\" name=\"site\" value=\"\""),
        "{page}"
    );
}
both_backends!(screening_site_input);

/// An incomplete screening names what is missing as people read it and offers to complete
/// it: the form comes back with everything recorded filled in, the missing inputs listed,
/// linked and marked; sending it records a new screening. Criterion details read as text.
fn complete_an_incomplete_screening(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, pharm, _) = users(&app);
    let other_site = app.user("otto", "investigator", &["SITE02"]);
    let s = Web::signed_in(&app, &inv);
    let mut form = eligible_form("SITE01-0050");
    set(&mut form, "labs.creatinine.value", "150");
    set(&mut form, "labs.creatinine_clearance_24h.value", "");
    set(&mut form, "attestations.informed_consent", "");
    set(&mut form, "labs.hemoglobin.value", "11,5");
    set(&mut form, "labs.hemoglobin.unit", "g/dL");
    let first = screen_ok(&s, &form);
    let id = hidden_id(&first);
    let result = s.page(&first);
    assert!(result.contains("<span class=\"badge missing\">Incomplete</span>"));
    assert!(result.contains("Still needed:"), "{result}");
    assert!(
        result.contains("24-hour creatinine clearance (mL/min)"),
        "{result}"
    );
    assert!(
        result.contains("Signed informed consent obtained?"),
        "{result}"
    );
    for machine in ["creatinine_clearance_24h", "attested", "informed_consent"] {
        assert!(!result.contains(machine), "{machine} in {result}");
    }
    assert!(result.contains("Answered yes"), "{result}");
    assert!(result.contains("Not answered"), "{result}");
    let complete = format!("/trials/{T}/screening?from={id}");
    assert!(
        result.contains(&format!("href=\"{complete}\">Complete this screening</a>")),
        "{result}"
    );
    // Not offered to a pharmacist, nor on a complete screening.
    let p = Web::signed_in(&app, &pharm);
    assert!(!p.page(&first).contains("Complete this screening"));
    assert_eq!(p.get(&complete).status(), 403);
    let eligible_path = screen_ok(&s, &eligible_form("SITE01-0051"));
    assert!(!s.page(&eligible_path).contains("Complete this screening"));

    // The form, filled in from the earlier screening.
    let page = s.page(&complete);
    for kept in [
        "value=\"SITE01-0050\"",
        "value=\"1961-03-02\"",
        "value=\"2026-11-20\"",
        "value=\"150\"",
        "value=\"11.5\"",
        "<option value=\"g/dL\" selected>",
        "name=\"attestations.bone_met_soft_tissue\" value=\"yes\" checked",
        "name=\"liver_metastasis\" value=\"no\" checked",
    ] {
        assert!(page.contains(kept), "{kept}: {page}");
    }
    let start = page.find("Still needed:").unwrap();
    let list = &page[start..start + page[start..].find("</ul>").unwrap()];
    assert!(
        list.contains(
            "<a href=\"#f-labs-creatinine_clearance_24h-value\">24-hour creatinine clearance (mL/min)</a>"
        ),
        "{list}"
    );
    assert!(
        list.contains(
            "<a href=\"#f-attestations-informed_consent\">Signed informed consent obtained?</a>"
        ),
        "{list}"
    );
    assert_eq!(list.matches("<li>").count(), 2, "{list}");
    // The needed inputs are marked, and say so to assistive technology.
    assert!(page.contains("aria-describedby=\"f-labs-creatinine_clearance_24h-value-needed\""));
    assert!(
        page.contains("<fieldset class=\"question needed\" id=\"f-attestations-informed_consent\"")
    );
    assert_eq!(page.matches("class=\"needed-mark\"").count(), 2);

    // Completed and sent: a new screening, eligible; the earlier one no longer counts.
    let mut form = eligible_form("SITE01-0050");
    set(&mut form, "labs.creatinine.value", "150");
    set(&mut form, "labs.creatinine_clearance_24h.value", "62");
    let second = screen_ok(&s, &form);
    assert_ne!(second, first);
    assert!(s
        .page(&second)
        .contains("<span class=\"badge pass\">Eligible</span>"));
    let earlier = s.page(&first);
    assert!(earlier.contains("no longer counts"));
    assert!(!earlier.contains("Complete this screening"));

    // A dipstick of 2+ without a quantitative test: the detail and the list name both.
    let mut form = eligible_form("SITE01-0052");
    set(&mut form, "labs.urine_protein_dipstick", "2+");
    set(&mut form, "labs.urine_protein_24h.value", "");
    set(&mut form, "labs.upc_ratio", "");
    let body = s.page(&screen_ok(&s, &form));
    assert!(
        body.contains("dipstick 2+ ≥ 2+; needs a 24-h protein or a UPC"),
        "{body}"
    );
    assert!(body.contains("24-hour urine protein (or the urine protein/creatinine ratio)"));
    assert!(
        !body.contains("upc_ratio") && !body.contains("urine_protein_24h"),
        "{body}"
    );

    // Another site's screening, an unknown or hostile id: refused as pages.
    let o = Web::signed_in(&app, &other_site);
    assert_eq!(o.get(&complete).status(), 403);
    for bad in ["no-such-id", "%00%0A%E2%80%AE", &"x".repeat(5000)] {
        for path in [
            format!("/trials/{T}/screening?from={bad}"),
            format!("/trials/{T}/screenings/{bad}"),
            format!("/trials/{T}/subjects/{bad}"),
            format!("/trials/{T}/subjects/{bad}/withdraw"),
        ] {
            let r = s.get(&path);
            assert_eq!(r.status(), 404, "{path}");
            assert!(content_type(&r).starts_with("text/html"));
        }
    }
}
both_backends!(complete_an_incomplete_screening);

/// Posts the amendment form: the review, or with `confirm` the amendment itself.
fn amend(web: &Web, protocol: &str, reason: &str, confirm: bool) -> Response {
    let csrf = web.csrf();
    let mut fields = vec![
        ("csrf", csrf.as_str()),
        ("protocol", protocol),
        ("reason", reason),
    ];
    if confirm {
        fields.push(("confirm", "yes"));
    }
    web.post(&format!("/admin/trials/{T}/amend"), &fields)
}

/// Admins amend a protocol on the web: a review of what changes (values before and after,
/// criteria changed), refusals at their input before any confirmation, then the amendment,
/// checked again, and a notice naming the version in force.
fn admin_amends_the_protocol(db: TestDb) {
    use trialgate::protocol::DEFAULT_PROTOCOL_TOML as CURRENT;
    let app = TestApp::spawn(db);
    let (inv, pharm, _) = users(&app);
    let a = Web::signed_in(&app, &app.admin);
    let path = format!("/admin/trials/{T}/amend");
    assert!(a.page("/admin").contains(&format!("href=\"{path}\"")));
    let form = a.page(&path);
    assert!(
        form.contains("<textarea class=\"code\" id=\"protocol\" name=\"protocol\""),
        "{form}"
    );
    assert!(
        form.contains("data-load=\"protocol\""),
        "the file input app.js enables"
    );
    let cap = |r: &str| -> Value {
        app.get(&app.admin, &format!("/api/v1/trials/{T}"))
            .json::<Value>()
            .unwrap()[r]
            .clone()
    };

    // Refused for every other role.
    for token in [&inv, &pharm] {
        let w = Web::signed_in(&app, token);
        assert_eq!(w.get(&path).status(), 403);
        let r = amend(&w, CURRENT, "x", true);
        assert_eq!(r.status(), 403);
        assert!(r.text().unwrap().contains("Not allowed"));
    }

    // The review: what changes, nothing in force yet.
    let amended = CURRENT.replacen("cap = 90", "cap = 120", 1).replacen(
        "Platelet count ≥ 75×10⁹/L",
        "Platelets ≥ 75×10⁹/L",
        1,
    );
    let r = amend(&a, &amended, "DSMB letter <2026-12-01>", false);
    assert_eq!(r.status(), 200);
    let review = r.text().unwrap();
    assert!(
        review.contains("protocol version <strong>2</strong>"),
        "{review}"
    );
    assert!(
        review.contains("<th scope=\"row\"><code>cap</code></th><td><code>90</code></td><td><code>120</code></td>"),
        "{review}"
    );
    assert!(review.contains("<code>criteria</code>"), "{review}");
    assert!(review.contains("Changed"), "{review}");
    assert!(
        review.contains("<code>platelets</code> — Platelets ≥ 75×10⁹/L"),
        "{review}"
    );
    assert!(
        !review.contains("Added") && !review.contains("Removed"),
        "{review}"
    );
    assert!(review.contains("DSMB letter &lt;2026-12-01&gt;"));
    assert!(review.contains("Put version 2 in force"));
    assert_eq!(cap("cap"), 90, "nothing before confirmation");

    // Refusals, each at its input, and no confirmation offered.
    let refused = |protocol: &str, reason: &str, confirm: bool, at: &str, says: &str| {
        let r = amend(&a, protocol, reason, confirm);
        assert_eq!(r.status(), 422, "{says}");
        let body = r.text().unwrap();
        assert!(
            body.contains(&format!("id=\"{at}-error\"")),
            "{says}: {body}"
        );
        assert!(body.contains(says), "{says}: {body}");
        assert!(!body.contains("in force</button>"), "{says}: {body}");
        assert!(body.contains("value=\"csrf\"") || body.contains("name=\"csrf\""));
    };
    refused(&amended, "  ", false, "reason", "must not be empty");
    refused(
        &CURRENT.replacen("id = \"NCT06987370\"", "id = \"NCT00000000\"", 1),
        "typo",
        false,
        "protocol",
        "id: the amendment is for trial &quot;NCT00000000&quot;",
    );
    refused("cap = ", "broken", false, "protocol", "protocol amendment:");
    refused("", "empty", false, "protocol", "is required");
    refused(CURRENT, "same", false, "protocol", "changes nothing");
    let oversize = format!("{amended}\n# {}\n", "x".repeat(70 * 1024));
    refused(
        &oversize,
        "big",
        false,
        "protocol",
        "a protocol file may be at most 65536 bytes",
    );
    // Larger than any form: refused as a page.
    let r = amend(&a, &"# x\n".repeat(80 * 1024), "huge", false);
    assert_eq!(r.status(), 413);
    assert!(content_type(&r).starts_with("text/html"));

    // Confirmed: in force, the admin told so.
    let r = amend(&a, &amended, "DSMB letter <2026-12-01>", true);
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/admin?amended={T}"));
    let home = a.page(&location(&r));
    assert!(
        home.contains(&format!(
            "Trial <strong>{T}</strong>: protocol version 2 in force."
        )),
        "{home}"
    );
    assert_eq!(cap("cap"), 120);

    // After the first randomization the design is locked: refused naming the key, on the
    // review and again on a (forged) confirmation.
    let s = Web::signed_in(&app, &inv);
    let id = hidden_id(&screen_ok(&s, &eligible_form("SITE01-0060")));
    let r = app.post(
        &pharm,
        &format!("/api/v1/trials/{T}/randomizations"),
        &serde_json::json!({ "screening_id": id }),
    );
    assert_eq!(r.status(), 201);
    let locked = amended.replacen("block_sizes = [3, 6]", "block_sizes = [3]", 1);
    assert_ne!(locked, amended);
    for confirm in [false, true] {
        refused(
            &locked,
            "smaller blocks",
            confirm,
            "protocol",
            "block_sizes: may not change once a subject is randomized (1 are)",
        );
    }
    // The form comes back with what was typed.
    let body = amend(&a, &locked, "smaller blocks", false).text().unwrap();
    assert!(body.contains("block_sizes = [3]"), "{body}");
    assert!(body.contains(">smaller blocks</textarea>"), "{body}");
    let detail: Value = app
        .get(&app.admin, &format!("/api/v1/trials/{T}"))
        .json()
        .unwrap();
    assert_eq!(detail["block_sizes"], serde_json::json!([3, 6]));
}
both_backends!(admin_amends_the_protocol);

/// The fields of the form a page draws (inputs with their values, selects' selected option,
/// checked radios and checkboxes, textareas), as a browser would send them.
fn form_fields(html: &str, action: &str) -> Vec<(String, String)> {
    let start = html
        .find(&format!("action=\"{action}\""))
        .unwrap_or_else(|| panic!("no form for {action}"));
    let form = &html[start
        ..html[start..]
            .find("</form>")
            .map_or(html.len(), |e| start + e)];
    let attr = |tag: &str, name: &str| -> Option<String> {
        let marker = format!(" {name}=\"");
        let at = tag.find(&marker)? + marker.len();
        Some(
            tag[at..]
                .split('"')
                .next()?
                .replace("&quot;", "\"")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&amp;", "&"),
        )
    };
    let mut out = Vec::new();
    for (i, _) in form.match_indices("<input") {
        let tag = &form[i..i + form[i..].find('>').unwrap()];
        let (Some(name), kind) = (attr(tag, "name"), attr(tag, "type").unwrap_or_default()) else {
            continue;
        };
        if (kind == "radio" || kind == "checkbox") && !tag.contains(" checked") {
            continue;
        }
        out.push((name, attr(tag, "value").unwrap_or_default()));
    }
    for (i, _) in form.match_indices("<select") {
        let end = i + form[i..].find("</select>").unwrap();
        let tag = &form[i..i + form[i..].find('>').unwrap()];
        let name = attr(tag, "name").unwrap();
        let body = &form[i..end];
        let chosen = body
            .match_indices("<option")
            .map(|(j, _)| &body[j..j + body[j..].find('>').unwrap()])
            .find(|o| o.contains(" selected"))
            .and_then(|o| attr(o, "value"))
            .unwrap_or_default();
        out.push((name, chosen));
    }
    for (i, _) in form.match_indices("<textarea") {
        let open = i + form[i..].find('>').unwrap();
        let name = attr(&form[i..open], "name").unwrap();
        let close = open + form[open..].find("</textarea>").unwrap();
        out.push((name, form[open + 1..close].to_string()));
    }
    out
}

fn put(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    match fields.iter_mut().find(|(n, _)| n == name) {
        Some(f) => f.1 = value.to_string(),
        None => fields.push((name.to_string(), value.to_string())),
    }
}

fn post_fields(web: &Web, path: &str, fields: &[(String, String)]) -> Response {
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    web.post(path, &pairs)
}

/// An investigator corrects a randomized patient's Hb on the web; the correction waits; a
/// monitor sees old → new in the queue and approves it; the subject keeps the arm and the
/// deviation is listed.
fn correction_and_approval_through_the_web(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, pharm, mon) = users(&app);
    let i = Web::signed_in(&app, &inv);
    let mut form = eligible_form("SITE01-0070");
    form.push(("initials".into(), "wxl".into()));
    let result = screen_ok(&i, &form);
    let id = hidden_id(&result);
    let allocation: Value = app
        .post(
            &pharm,
            &format!("/api/v1/trials/{T}/randomizations"),
            &serde_json::json!({ "screening_id": id }),
        )
        .json()
        .unwrap();
    let page = i.page(&result);
    let correct = format!("/trials/{T}/screenings/{id}/correct");
    assert!(page.contains(&format!("href=\"{correct}\"")), "{page}");
    let drawn = i.page(&correct);
    assert!(drawn.contains("keeps the arm and stratum"), "{drawn}");
    let mut fields = form_fields(&drawn, &correct);
    // Everything the screening recorded is filled in; patient and site are not inputs.
    assert!(fields
        .iter()
        .any(|(n, v)| n == "labs.hemoglobin.value" && v == "112"));
    assert!(fields
        .iter()
        .any(|(n, v)| n == "initials" && v.eq_ignore_ascii_case("WXL")));
    assert!(!fields
        .iter()
        .any(|(n, _)| n == "patient_ref" || n == "site"));
    // Unchanged, or without a reason: refused at the form.
    let r = post_fields(&i, &correct, &fields);
    assert_eq!(r.status(), 422);
    let body = r.text().unwrap();
    assert!(body.contains("Nothing was changed"), "{body}");
    assert!(body.contains("Reason for the correction"), "{body}");
    put(&mut fields, "labs.hemoglobin.value", "8.5");
    put(&mut fields, "labs.hemoglobin.unit", "g/dL");
    put(&mut fields, "reason", "Hb is 8.5 g/dL on the lab report");
    let r = post_fields(&i, &correct, &fields);
    assert_eq!(r.status(), 303, "{}", r.text().unwrap());
    let corrected = location(&r);
    let page = i.page(&corrected);
    assert!(page.contains("Waiting for a monitor"), "{page}");
    assert!(page.contains("Ineligible"), "{page}");

    let m = Web::signed_in(&app, &mon);
    let queue = m.page(&format!("/trials/{T}/corrections"));
    assert!(queue.contains("SITE01-0070"), "{queue}");
    assert!(queue.contains("112 g/L"), "{queue}");
    assert!(queue.contains("8.5 g/dL"), "{queue}");
    assert!(
        queue.contains("Hb is 8.5 g/dL on the lab report"),
        "{queue}"
    );
    let cid = hidden_id(&corrected);
    let decide = format!("/trials/{T}/corrections/{cid}/decision");
    // A reason is required.
    let csrf = m.csrf();
    let r = m.post(
        &decide,
        &[
            ("csrf", &csrf),
            ("decision", "approve"),
            ("reason", " "),
            SIGN,
        ],
    );
    assert_eq!(r.status(), 422);
    // The investigator cannot reach the decision.
    let icsrf = i.csrf();
    let r = i.post(
        &decide,
        &[
            ("csrf", &icsrf),
            ("decision", "approve"),
            ("reason", "mine"),
        ],
    );
    assert_eq!(r.status(), 403);
    let r = m.post(
        &decide,
        &[
            ("csrf", &csrf),
            ("decision", "approve"),
            ("reason", "source document verified"),
            SIGN,
        ],
    );
    assert_eq!(r.status(), 303);
    let after = m.page(&location(&r));
    assert!(after.contains("The correction is approved"), "{after}");
    assert!(after.contains("Randomized but not eligible"), "{after}");
    let dashboard = m.page(&format!("/trials/{T}/dashboard"));
    assert!(
        dashboard.contains("Randomized but not eligible: 1"),
        "{dashboard}"
    );
    // The subject keeps its arm.
    let subject: Value = app
        .get(
            &mon,
            &format!(
                "/api/v1/trials/{T}/subjects/{}",
                allocation["subject_id"].as_str().unwrap()
            ),
        )
        .json()
        .unwrap();
    assert_eq!(subject["arm"], allocation["arm"]);
}
both_backends!(correction_and_approval_through_the_web);

/// The pharmacist sees initials, birth date and sex before randomizing, and on the card.
fn pharmacist_confirms_the_patients_identity(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, pharm, _) = users(&app);
    let i = Web::signed_in(&app, &inv);
    let mut form = eligible_form("SITE01-0080");
    form.push(("initials".into(), "zwl".into()));
    let id = hidden_id(&screen_ok(&i, &form));
    let p = Web::signed_in(&app, &pharm);
    let queue = p.page(&format!("/trials/{T}/queue"));
    assert!(
        queue.contains("ZWL") && queue.contains("1961-03-02"),
        "{queue}"
    );
    let confirm = p.page(&format!("/trials/{T}/randomize/{id}"));
    for shown in ["ZWL", "1961-03-02", "Female"] {
        assert!(confirm.contains(shown), "{shown} in {confirm}");
    }
    let key = hidden(&confirm, "idempotency_key");
    let csrf = p.csrf();
    let r = p.post(
        &format!("/trials/{T}/randomize/{id}"),
        &[("csrf", &csrf), ("idempotency_key", &key), SIGN],
    );
    assert_eq!(r.status(), 303);
    let card = p.page(&location(&r));
    assert!(card.contains("ZWL · 1961-03-02 · Female"), "{card}");
}
both_backends!(pharmacist_confirms_the_patients_identity);

/// A screening form sent twice (double click, resubmitted after a timeout) records one
/// screening; an implausible value asks to be confirmed and is then accepted.
fn the_screening_form_records_once_and_asks_about_implausible_values(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, _, mon) = users(&app);
    let i = Web::signed_in(&app, &inv);
    let action = format!("/trials/{T}/screening");
    let blank = i.page(&action);
    let token = hidden(&blank, "form_token");
    let mut form = eligible_form("SITE01-0090");
    form.push(("form_token".into(), token));
    let first = screen_ok(&i, &form);
    let second = screen_ok(&i, &form);
    assert_eq!(first, second);
    let recorded = app
        .get(&mon, &format!("/api/v1/trials/{T}/audit?limit=1000"))
        .json::<Value>()
        .unwrap()
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "screening.recorded")
        .count();
    assert_eq!(recorded, 1);

    let mut form = eligible_form("SITE01-0091");
    set(&mut form, "labs.hemoglobin.value", "11.2");
    let r = screen(&i, &form);
    assert_eq!(r.status(), 422);
    let body = r.text().unwrap();
    assert!(body.contains("plausible range"), "{body}");
    assert!(
        body.contains("name=\"confirm_implausible\" value=\"hemoglobin\""),
        "{body}"
    );
    form.push(("confirm_implausible".into(), "hemoglobin".into()));
    let page = i.page(&screen_ok(&i, &form));
    assert!(page.contains("Ineligible"), "{page}");
}
both_backends!(the_screening_form_records_once_and_asks_about_implausible_values);

/// Every page of a training trial says so; the real trial's pages do not.
fn training_trial_pages_are_marked(db: TestDb) {
    let app = TestApp::spawn_training(db, tempfile::tempdir().unwrap());
    let (inv, _, _) = users(&app);
    let i = Web::signed_in(&app, &inv);
    let trials = i.page("/trials");
    assert!(trials.contains("NCT06987370-TRAINING"), "{trials}");
    for path in [
        "/trials/NCT06987370-TRAINING/screening",
        "/trials/NCT06987370-TRAINING/screenings",
    ] {
        assert!(i.page(path).contains("Training trial"), "{path}");
    }
    assert!(!i
        .page(&format!("/trials/{T}/screening"))
        .contains("Training trial"));
}
both_backends!(training_trial_pages_are_marked);

/// The admin downloads the access review from the users page; nobody else can.
fn admin_downloads_the_access_review(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, _, _) = users(&app);
    let a = Web::signed_in(&app, &app.admin);
    let home = a.page("/admin");
    assert!(home.contains("href=\"/admin/access-review.csv\""), "{home}");
    let r = a.get("/admin/access-review.csv");
    assert_eq!(r.status(), 200);
    assert!(content_type(&r).starts_with("text/csv"));
    let csv = r.text().unwrap();
    assert!(
        csv.starts_with("name,full_name,role,sites,permissions"),
        "{csv}"
    );
    assert!(
        csv.lines()
            .any(|l| l.starts_with("ines,") && l.contains("SITE01")),
        "{csv}"
    );
    let i = Web::signed_in(&app, &inv);
    assert_eq!(i.get("/admin/access-review.csv").status(), 403);
}
both_backends!(admin_downloads_the_access_review);

/// The system chain's records, read from the database.
fn system_records(app: &TestApp) -> Vec<Value> {
    let mut conn = app.db.connection();
    trialgate::storage::read_audit(&mut conn, "_system", 0, 10_000)
        .unwrap()
        .into_iter()
        .map(|e| serde_json::from_str(&e.record).unwrap())
        .collect()
}

/// A person's account over its life on the web: activation with the one-time token and a
/// password that meets the policy (every problem named at once), sign-in by name and password
/// only, a password change that ends the other sessions, and an admin's reset with a new
/// token. Nothing secret reaches the audit trail.
fn activation_and_passwords(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &["SITE01"]);
    let w = Web::new(&app);
    let page = w.page("/signin/activate");
    let csrf = hidden(&page, "csrf");
    let activate = |csrf: &str, password: &str, repeat: &str| {
        w.post(
            "/signin/activate",
            &[
                ("csrf", csrf),
                ("token", &inv),
                ("password", password),
                ("password_repeat", repeat),
            ],
        )
    };
    // Too short and not repeated: both at once, nothing set.
    let r = activate(&csrf, "Short-1", "Short-2");
    assert_eq!(r.status(), 422);
    let body = r.text().unwrap();
    assert!(body.contains("There are 2 problems"), "{body}");
    assert!(body.contains("at least 12 characters"), "{body}");
    assert!(body.contains("the same password typed again"), "{body}");
    let csrf = hidden(&body, "csrf");
    for weak in ["password1234", "qwertyuiop123", "ines-harbour-kestrel"] {
        let r = activate(&csrf, weak, weak);
        assert_eq!(r.status(), 422, "{weak}");
        let body = r.text().unwrap();
        assert!(
            body.contains("too easy to guess") || body.contains("your name"),
            "{weak}: {body}"
        );
    }
    assert!(w.session_cookie().is_none());
    let r = activate(&csrf, TEST_PASSWORD, TEST_PASSWORD);
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), format!("/trials/{T}/screening"));

    // The token activates once; afterwards the web takes name and password (the token stays
    // an API credential).
    let again = Web::new(&app);
    let r = again.activate(&inv, TEST_PASSWORD);
    assert_eq!(r.status(), 409);
    assert!(r.text().unwrap().contains("already activated"));
    assert_eq!(app.get(&inv, "/api/v1/trials").status(), 200);
    assert_eq!(
        again.sign_in_with("ines", "Kestrel-Harbour-2932").status(),
        401
    );
    assert_eq!(again.sign_in_with("nobody", TEST_PASSWORD).status(), 401);
    // A name no account can have (a NUL, too long) is refused like any other, not an error.
    for impossible in ["ines\u{0}", &"x".repeat(65)] {
        assert_eq!(again.sign_in_with(impossible, TEST_PASSWORD).status(), 401);
    }
    assert_eq!(again.sign_in_with("ines", TEST_PASSWORD).status(), 303);

    // A password change: the current one is checked, the other session ends.
    let new_password = "Lantern-Orchard-5817";
    let form = w.page("/account/password");
    assert!(form.contains("autocomplete=\"new-password\""), "{form}");
    let csrf = w.csrf();
    let r = w.post(
        "/account/password",
        &[
            ("csrf", &csrf),
            ("current_password", "wrong"),
            ("password", new_password),
            ("password_repeat", new_password),
        ],
    );
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("is not your password"));
    let r = w.post(
        "/account/password",
        &[
            ("csrf", &csrf),
            ("current_password", TEST_PASSWORD),
            ("password", new_password),
            ("password_repeat", new_password),
        ],
    );
    assert_eq!(r.status(), 200);
    assert!(r.text().unwrap().contains("Your password is changed"));
    assert_eq!(
        w.get("/trials").status(),
        200,
        "this browser stays signed in"
    );
    assert_eq!(
        again.get("/trials").status(),
        303,
        "the other session ended"
    );
    assert_eq!(
        Web::new(&app).sign_in_with("ines", TEST_PASSWORD).status(),
        401
    );
    assert_eq!(
        Web::new(&app).sign_in_with("ines", new_password).status(),
        303
    );

    // A forgotten password: the admin issues a new token that resets it.
    let r = app.post(
        &app.admin,
        "/api/v1/users/ines/tokens",
        &serde_json::json!({ "reset_password": true }),
    );
    assert_eq!(r.status(), 201);
    let issued: Value = r.json().unwrap();
    assert_eq!(issued["password_reset"], true);
    let fresh = issued["token"].as_str().unwrap().to_string();
    assert_eq!(
        w.get("/trials").status(),
        303,
        "sessions end with the reset"
    );
    assert_eq!(
        Web::new(&app).sign_in_with("ines", new_password).status(),
        401
    );
    assert_eq!(Web::new(&app).activate(&fresh, TEST_PASSWORD).status(), 303);

    let records = system_records(&app);
    let actions: Vec<&str> = records
        .iter()
        .filter_map(|r| r["action"].as_str())
        .collect();
    for action in [
        "user.activated",
        "user.password_changed",
        "user.token_issued",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    let text = serde_json::to_string(&records).unwrap();
    for secret in [
        TEST_PASSWORD,
        new_password,
        "$argon2",
        fresh.as_str(),
        inv.as_str(),
    ] {
        assert!(!text.contains(secret), "{secret} in the audit trail");
    }
    // Failed sign-ins were counted like wrong tokens.
    assert!(actions.contains(&"auth.failed"), "{actions:?}");
}
both_backends!(activation_and_passwords);

/// Randomizing, withdrawing, deciding a correction and closing are signed with the password
/// again and the stated meaning; a wrong password does nothing; the signature is in the audit
/// entry, on the card, in the API and in both exports, and `audit verify` notices a changed one.
fn final_acts_are_signed(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, pharm, mon) = users(&app);
    let i = Web::signed_in(&app, &inv);
    let id = hidden_id(&screen_ok(&i, &eligible_form("SITE01-0001")));
    let p = Web::signed_in(&app, &pharm);
    let path = format!("/trials/{T}/randomize/{id}");
    let confirm = p.page(&path);
    assert!(confirm.contains("Electronic signature"), "{confirm}");
    assert!(
        confirm.contains("I randomize patient SITE01-0001"),
        "{confirm}"
    );
    let key = hidden(&confirm, "idempotency_key");
    let csrf = p.csrf();
    let subjects = || {
        app.get(&mon, &format!("/api/v1/trials/{T}/subjects"))
            .json::<Value>()
            .unwrap()
    };
    for (password, problem) in [
        ("", "Enter your password to sign."),
        ("Kestrel-Harbour-2932", "The password is not correct"),
    ] {
        let r = p.post(
            &path,
            &[
                ("csrf", &csrf),
                ("idempotency_key", &key),
                ("signature_password", password),
            ],
        );
        assert_eq!(r.status(), 422);
        let body = r.text().unwrap();
        assert!(body.contains(problem), "{body}");
        assert!(body.contains("aria-invalid=\"true\""), "{body}");
    }
    assert_eq!(
        subjects().as_array().unwrap().len(),
        0,
        "nothing randomized"
    );
    let r = p.post(&path, &[("csrf", &csrf), ("idempotency_key", &key), SIGN]);
    assert_eq!(r.status(), 303);
    let card_path = location(&r);
    let card = p.page(&card_path);
    assert!(
        card.contains("Signed electronically by <strong>Test paul</strong> (paul)"),
        "{card}"
    );
    let subject = subjects()[0].clone();
    let signature = &subject["randomization_signature"];
    assert_eq!(signature["name"], "paul");
    assert_eq!(signature["full_name"], "Test paul");
    assert_eq!(signature["meaning"], "I randomize patient SITE01-0001");
    assert_eq!(signature["signed_at"], subject["randomized_at"]);
    let entries: Value = app
        .get(&mon, &format!("/api/v1/trials/{T}/audit?limit=1000"))
        .json()
        .unwrap();
    let randomized = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "subject.randomized")
        .unwrap()
        .clone();
    let record: Value = serde_json::from_str(randomized["record"].as_str().unwrap())
        .unwrap_or_else(|_| randomized.clone());
    let data = record.get("data").unwrap_or(&randomized["data"]);
    assert_eq!(&data["signature"], signature);

    // Withdrawal: signed with the investigator's password.
    let subject_id = subject["subject_id"].as_str().unwrap().to_string();
    let withdraw = format!("/trials/{T}/subjects/{subject_id}/withdraw");
    let review = i.post(&withdraw, &[("csrf", &i.csrf()), ("reason", "moved away")]);
    let review = review.text().unwrap();
    assert!(
        review.contains(&format!("I withdraw subject {subject_id}")),
        "{review}"
    );
    let r = i.post(
        &withdraw,
        &[
            ("csrf", &i.csrf()),
            ("reason", "moved away"),
            ("confirm", "yes"),
            SIGN,
        ],
    );
    assert_eq!(r.status(), 303);
    assert!(i.page(&card_path).contains("Withdrawal signature"));
    let withdrawn = subjects()[0].clone();
    assert_eq!(withdrawn["withdrawal_signature"]["name"], "ines");

    // Both exports carry the signatures.
    let m = Web::signed_in(&app, &mon);
    let csv = m.get(&format!("/trials/{T}/export/csv")).text().unwrap();
    assert!(
        csv.contains("randomization_signature,withdrawal_signature"),
        "{csv}"
    );
    assert!(
        csv.contains("Signed electronically by Test paul (paul)"),
        "{csv}"
    );
    let json: Value = m.get(&format!("/trials/{T}/export/json")).json().unwrap();
    assert_eq!(
        json["subjects"][0]["withdrawal_signature"]["full_name"],
        "Test ines"
    );

    // Closing: signed by the admin.
    let a = Web::signed_in(&app, &app.admin);
    let close = format!("/admin/trials/{T}/close");
    let r = a.post(
        &close,
        &[
            ("csrf", &a.csrf()),
            ("reason", "enrollment complete"),
            ("confirm", "yes"),
        ],
    );
    assert_eq!(r.status(), 422, "no signature, not closed");
    let r = a.post(
        &close,
        &[
            ("csrf", &a.csrf()),
            ("reason", "enrollment complete"),
            ("confirm", "yes"),
            SIGN,
        ],
    );
    assert_eq!(r.status(), 303);
    let entries: Value = app
        .get(&mon, &format!("/api/v1/trials/{T}/audit?limit=1000"))
        .json()
        .unwrap();
    let closed = entries
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "trial.closed")
        .unwrap()
        .to_string();
    assert!(closed.contains("I close trial NCT06987370"), "{closed}");

    // The signature column cannot be changed; with the guards dropped, verification says so.
    assert!(m
        .page(&format!("/trials/{T}/audit/verify"))
        .contains("Valid."));
    let mut conn = app.db.connection();
    let forged = "UPDATE subjects SET randomization_signature = \
        '{\"name\":\"mona\",\"full_name\":\"Test mona\",\"meaning\":\"I randomize patient SITE01-0001\",\"signed_at\":\"2026-01-01T00:00:00.000000Z\"}'";
    assert!(
        common::execute(&mut conn, forged).is_err(),
        "the guard refuses"
    );
    common::drop_table_triggers(&mut conn);
    common::execute(&mut conn, forged).unwrap();
    let v = m.page(&format!("/trials/{T}/audit/verify"));
    assert!(v.contains("INVALID."), "{v}");
    assert!(
        v.contains("differs from its subject.randomized entry"),
        "{v}"
    );
}
both_backends!(final_acts_are_signed);

/// The admin's page of one account: its details, a change (audited, every refused field at
/// its input) and another token (a password reset, shown once).
fn admin_manages_an_account(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &["SITE01"]);
    let i = Web::signed_in(&app, &inv);
    let a = Web::signed_in(&app, &app.admin);
    assert!(a.page("/admin").contains("href=\"/admin/users/ines\""));
    let page = a.page("/admin/users/ines");
    assert!(
        page.contains("Test ines") && page.contains("SITE01"),
        "{page}"
    );
    let csrf = a.csrf();
    let r = a.post(
        "/admin/users/ines",
        &[
            ("csrf", &csrf),
            ("full_name", ""),
            ("role", "investigator"),
            ("sites", "SITE01"),
            ("email", "not-an-address"),
        ],
    );
    assert_eq!(r.status(), 422);
    let body = r.text().unwrap();
    for field in ["full_name", "email"] {
        assert!(
            body.contains(&format!("id=\"{field}-error\"")),
            "{field}: {body}"
        );
    }
    let r = a.post(
        "/admin/users/ines",
        &[
            ("csrf", &csrf),
            ("full_name", "王丽"),
            ("role", "investigator"),
            ("sites", "SITE01"),
            ("email", "wang.li@hospital.cn"),
        ],
    );
    assert_eq!(r.status(), 200);
    assert!(r.text().unwrap().contains("The account is changed."));
    let users: Value = app.get(&app.admin, "/api/v1/users").json().unwrap();
    let ines = users
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["name"] == "ines")
        .unwrap();
    assert_eq!(ines["full_name"], "王丽");
    assert_eq!(ines["password_set"], true);
    // A reset: shown once, the sessions end, the token activates again.
    let r = a.post(
        "/admin/users/ines/token",
        &[("csrf", &csrf), ("reset_password", "yes")],
    );
    assert_eq!(r.status(), 200);
    let body = r.text().unwrap();
    assert!(body.contains("shown only once"), "{body}");
    let start = body.find("value=\"tg_").unwrap() + 7;
    let token = body[start..].split('"').next().unwrap().to_string();
    assert_eq!(i.get("/trials").status(), 303, "ines's session ended");
    assert_eq!(Web::new(&app).activate(&token, TEST_PASSWORD).status(), 303);
    assert_eq!(a.get("/admin/users/nobody").status(), 404);
}
both_backends!(admin_manages_an_account);
// ---------------------------------------------------------------------------------------
// Languages

impl<'a> Web<'a> {
    /// A browser whose every request says `Accept-Language: {accept}`.
    fn speaking(app: &'a TestApp, accept: &str) -> Self {
        let jar = Arc::new(Jar::default());
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT_LANGUAGE,
            reqwest::header::HeaderValue::from_str(accept).unwrap(),
        );
        let client = Client::builder()
            .cookie_provider(jar.clone())
            .default_headers(headers)
            .redirect(Policy::none())
            .build()
            .unwrap();
        Web { app, client, jar }
    }

    fn signed_in_speaking(app: &'a TestApp, token: &str, accept: &str) -> Self {
        let web = Web::speaking(app, accept);
        let r = web.sign_in(token);
        assert_eq!(r.status(), 303, "{}", r.text().unwrap());
        web
    }

    fn cookie(&self, name: &str) -> Option<String> {
        let url = reqwest::Url::parse(&self.app.base).unwrap();
        let header = self.jar.cookies(&url)?;
        header
            .to_str()
            .unwrap()
            .split("; ")
            .find_map(|c| c.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    }
}

fn html_lang(html: &str) -> &str {
    let start = html
        .find("<html lang=\"")
        .expect("an html element with lang")
        + 12;
    html[start..].split('"').next().unwrap()
}

fn pages_answer_in_the_language_asked_for(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, pharm, mon) = users(&app);
    for (accept, lang, signin) in [
        ("zh-CN", "zh-CN", "用户名"),
        ("zh-Hans-CN,zh;q=0.9,en;q=0.8", "zh-CN", "用户名"),
        ("en-US,en;q=0.9", "en", "User name"),
        ("fr-FR, zh;q=0.5, en;q=0.4", "zh-CN", "用户名"),
        ("fr-FR", "en", "User name"),
    ] {
        let page = Web::speaking(&app, accept).page("/signin");
        assert_eq!(html_lang(&page), lang, "{accept}");
        assert!(page.contains(signin), "{accept}");
    }
    // A 404 page and a refused sign-in (no session yet) follow the browser too.
    let zh = Web::speaking(&app, "zh-CN");
    let r = zh.get("/no/such/page");
    assert_eq!(r.status(), 404);
    let body = r.text().unwrap();
    assert_eq!(html_lang(&body), "zh-CN");
    assert!(body.contains("此地址没有页面"), "{body}");
    let r = zh.sign_in("tg_not_a_token");
    assert_eq!(r.status(), 401);
    assert!(r.text().unwrap().contains("此令牌无效、已过期或已被吊销"));

    let i = Web::signed_in_speaking(&app, &inv, "zh-CN");
    let form = i.page(&format!("/trials/{T}/screening"));
    assert_eq!(html_lang(&form), "zh-CN");
    for text in [
        "筛选患者",
        "血红蛋白",
        "是否已签署知情同意书？",
        "评估并记录",
        "退出登录",
    ] {
        assert!(form.contains(text), "{text}");
    }
    assert!(!form.contains("Evaluate and record"));
    // A field error in Chinese, next to its input and in the summary.
    let mut bad = eligible_form("SITE01-0101");
    set(&mut bad, "labs.hemoglobin.value", "abc");
    set(&mut bad, "birth_date", "2031-01-01");
    let r = screen(&i, &bad);
    assert_eq!(r.status(), 422);
    let page = r.text().unwrap();
    assert!(page.contains("“abc”不是数字"), "{page}");
    assert!(
        page.contains("2031-01-01 晚于筛选日期 2026-11-20"),
        "{page}"
    );
    assert!(page.contains("共有 2 处问题"), "{page}");
    // The result page: the protocol's Chinese criterion texts, the outcome in Chinese.
    let result = i.page(&screen_ok(&i, &eligible_form("SITE01-0102")));
    for text in [
        "已签署知情同意书",
        "血红蛋白（HB）≥ 90 g/L",
        "合格",
        "回答：是",
    ] {
        assert!(result.contains(text), "{text}");
    }
    assert!(!result.contains("Signed informed consent"));
    let id = hidden_id(&screen_ok(&i, &eligible_form("SITE01-0103")));

    // The pharmacist's queue, confirmation and allocation card.
    let p = Web::signed_in_speaking(&app, &pharm, "zh-CN,zh;q=0.9");
    assert!(p.page(&format!("/trials/{T}/queue")).contains("随机化队列"));
    let confirm = p.page(&format!("/trials/{T}/randomize/{id}"));
    assert!(confirm.contains("您即将随机化"));
    // The electronic signature in Chinese, with the statement as it is recorded.
    for text in [
        "电子签名",
        "本人对患者 SITE01-0103 进行随机化",
        "(I randomize patient SITE01-0103)",
    ] {
        assert!(confirm.contains(text), "{text}: {confirm}");
    }
    let r = p.post(
        &format!("/trials/{T}/randomize/{id}"),
        &[
            ("csrf", &hidden(&confirm, "csrf")),
            ("idempotency_key", &hidden(&confirm, "idempotency_key")),
            SIGN,
        ],
    );
    assert_eq!(r.status(), 303);
    let card = p.page(&location(&r));
    assert_eq!(html_lang(&card), "zh-CN");
    assert!(card.contains("电子签名人："), "{card}");
    assert!(card.contains("分配卡") && card.contains("组别"), "{card}");
    assert!(
        card.contains("常规放疗") || card.contains("SFRT/SCART"),
        "the arm by its Chinese name: {card}"
    );
    assert!(!card.contains("Conventional radiotherapy"));

    // The monitor's dashboard, its chart included.
    let m = Web::signed_in_speaking(&app, &mon, "zh");
    let dash = m.page(&format!("/trials/{T}/dashboard"));
    for text in ["监查面板", "患者流程", "累计分配数", "稽查轨迹"] {
        assert!(dash.contains(text), "{text}");
    }
    // The API stays English, whatever the client's language.
    let r = app
        .client
        .get(app.url("/api/v1/trials/NO-SUCH-TRIAL"))
        .bearer_auth(&mon)
        .header("Accept-Language", "zh-CN")
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    let problem: Value = r.json().unwrap();
    assert_eq!(problem["title"], "Not found");
}
both_backends!(pages_answer_in_the_language_asked_for);

fn a_chosen_language_beats_accept_language(db: TestDb) {
    let app = TestApp::spawn(db);
    let (inv, _, _) = users(&app);
    let en = Web::signed_in_speaking(&app, &inv, "en-US");
    let form = en.page(&format!("/trials/{T}/screening"));
    assert_eq!(html_lang(&form), "en");
    // The header offers the other language, as a POST with the session's CSRF token.
    assert!(form.contains("action=\"/language\""));
    assert!(form.contains("简体中文"));
    let csrf = hidden(&form, "csrf");
    let back = format!("/trials/{T}/screenings?outcome=eligible");
    let choose = |web: &Web, fields: &[(&str, &str)], from: &str| {
        web.client
            .post(web.app.url("/language"))
            .header("Referer", from)
            .form(fields)
            .send()
            .unwrap()
    };
    let from = app.url(&back);
    let refused = choose(&en, &[("language", "zh-CN")], &from);
    assert_eq!(refused.status(), 403, "no CSRF token, no change");
    let bad = choose(&en, &[("csrf", &csrf), ("language", "fr")], &from);
    assert_eq!(bad.status(), 422);
    assert_eq!(html_lang(&en.page("/trials")), "en", "nothing changed");
    let r = choose(&en, &[("csrf", &csrf), ("language", "zh-CN")], &from);
    assert_eq!(r.status(), 303);
    assert_eq!(location(&r), back, "back to the page it was chosen on");
    assert_eq!(en.cookie("tg_lang").as_deref(), Some("zh-CN"));
    let list = en.page(&back);
    assert_eq!(
        html_lang(&list),
        "zh-CN",
        "the choice beats Accept-Language"
    );
    assert!(list.contains("筛选记录"));
    // Another browser of the same user, saying English, gets the user's choice.
    let other = Web::signed_in_speaking(&app, &inv, "en-US,en;q=0.9");
    assert_eq!(html_lang(&other.page("/trials")), "zh-CN");
    // Signed out, the sign-in page follows the cookie of the browser that chose.
    let r = en.post("/signout", &[("csrf", &hidden(&list, "csrf"))]);
    assert_eq!(r.status(), 303);
    let signin = en.page("/signin?signed_out=1");
    assert_eq!(html_lang(&signin), "zh-CN");
    assert!(signin.contains("您已退出登录"));
    // The sign-in page's own switch keeps a choice for the browser.
    let fresh = Web::speaking(&app, "zh-CN");
    let page = fresh.page("/signin?lang=en");
    assert_eq!(html_lang(&page), "en");
    assert_eq!(fresh.cookie("tg_lang").as_deref(), Some("en"));
    assert_eq!(html_lang(&fresh.page("/signin")), "en");
    // Only a page of this server is gone back to.
    let zh = Web::signed_in_speaking(&app, &inv, "zh-CN");
    let csrf = zh.csrf();
    let evil_paths = [
        "https://evil.example/trials".to_string(),
        app.url("//evil.example/"),
        app.url("/\\evil.example"),
        "/trials".to_string(),
        "not a url".to_string(),
    ];
    for evil in &evil_paths {
        let r = choose(&zh, &[("csrf", &csrf), ("language", "en")], evil);
        assert_eq!(r.status(), 303);
        assert_eq!(location(&r), format!("/trials/{T}/screening"), "{evil}");
    }
    // A page whose address carries text shows none of it in the switch.
    let page = zh.page(&format!("/trials/{T}/screening?note=Call%20555-0100"));
    assert!(!page.contains("555-0100"));
}
both_backends!(a_chosen_language_beats_accept_language);

/// Enrolls through the API; (screening id, subject id, randomized_at).
fn enroll_api(
    app: &TestApp,
    inv: &str,
    pharm: &str,
    patient: &str,
    site: &str,
) -> (String, String, String) {
    let r = app.post(
        inv,
        &format!("/api/v1/trials/{T}/screenings"),
        &eligible(patient, site),
    );
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    let screening = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = app.post(
        pharm,
        &format!("/api/v1/trials/{T}/randomizations"),
        &serde_json::json!({ "screening_id": screening }),
    );
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());
    let a: Value = r.json().unwrap();
    (
        screening,
        a["subject_id"].as_str().unwrap().to_string(),
        a["randomized_at"].as_str().unwrap().to_string(),
    )
}

/// Site users read their site's local time with the offset (the allocation card printed in
/// Beijing says Beijing time); users without sites keep UTC; the screening form's default date
/// is the site's today.
fn site_users_read_local_times(db: TestDb) {
    use chrono::{DateTime, FixedOffset, Utc};
    let app = TestApp::spawn(db);
    app.site("BJ01", "Asia/Shanghai");
    let inv = app.user("wang", "investigator", &["BJ01"]);
    let pharm = app.user("li", "pharmacist", &["BJ01"]);
    let mon = app.user("mona", "monitor", &[]);
    let (_, subject, at) = enroll_api(&app, &inv, &pharm, "BJ-0001", "BJ01");
    let beijing = FixedOffset::east_opt(8 * 3600).unwrap();
    let local = DateTime::parse_from_rfc3339(&at)
        .unwrap()
        .with_timezone(&beijing);
    let shown = format!("{} CST (UTC+08:00)", local.format("%Y-%m-%d %H:%M:%S"));
    let utc = format!(
        "{} UTC",
        DateTime::parse_from_rfc3339(&at)
            .unwrap()
            .with_timezone(&Utc)
            .format("%Y-%m-%d %H:%M:%S")
    );

    let p = Web::signed_in(&app, &pharm);
    let card = p.page(&format!("/trials/{T}/subjects/{subject}"));
    assert!(card.contains(&shown), "{shown} not on the card: {card}");
    assert!(!card.contains(&utc), "{card}");
    assert!(p.page(&format!("/trials/{T}/subjects")).contains(&shown));
    let i = Web::signed_in(&app, &inv);
    assert!(i
        .page(&format!("/trials/{T}/subjects/{subject}"))
        .contains(&shown));
    // The screening form starts at today's date in Beijing.
    let today = Utc::now().with_timezone(&beijing).date_naive().to_string();
    let form = i.page(&format!("/trials/{T}/screening"));
    assert!(
        form.contains(&format!("value=\"{today}\"")),
        "{today}: {form}"
    );
    // A monitor without sites reads UTC.
    let m = Web::signed_in(&app, &mon);
    let log = m.page(&format!("/trials/{T}/audit"));
    assert!(log.contains(" UTC<"), "{log}");
    assert!(!log.contains("UTC+08:00"), "{log}");
    // The site's zone changes: its users read the new zone on their next page.
    let r = app
        .client
        .patch(app.url("/api/v1/sites/BJ01"))
        .bearer_auth(&app.admin)
        .json(&serde_json::json!({"time_zone": "Europe/Berlin"}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let card = p.page(&format!("/trials/{T}/subjects/{subject}"));
    assert!(!card.contains("UTC+08:00"), "{card}");
    assert!(
        card.contains("(UTC+01:00)") || card.contains("(UTC+02:00)"),
        "{card}"
    );
}
both_backends!(site_users_read_local_times);

/// A site-limited monitor's pages (dashboard, audit log, corrections, exports) hold their
/// sites' patients only, never another site's; a change of their sites applies to their
/// open session's next page; the chain's verification is for unlimited monitors.
fn site_monitor_pages(db: TestDb) {
    let app = TestApp::spawn(db);
    let inv = app.user("ines", "investigator", &[]);
    let pharm = app.user("paul", "pharmacist", &[]);
    let cra = app.user("cra", "monitor", &["SITE01"]);
    let (_, mine, _) = enroll_api(&app, &inv, &pharm, "SITE01-0001", "SITE01");
    let (their_screening, theirs, _) = enroll_api(&app, &inv, &pharm, "SITE02-0042", "SITE02");
    let r = app.post(
        &inv,
        &format!("/api/v1/trials/{T}/screenings/{their_screening}/corrections"),
        &serde_json::json!({"reason": "typo at SITE02", "changes": {"initials": "AB"}}),
    );
    assert_eq!(r.status(), 201);
    let c = Web::signed_in(&app, &cra);
    let pages = [
        format!("/trials/{T}/dashboard"),
        format!("/trials/{T}/audit"),
        format!("/trials/{T}/corrections"),
        format!("/trials/{T}/export/csv"),
        format!("/trials/{T}/export/json"),
        format!("/trials/{T}/export/fhir"),
    ];
    for path in &pages {
        let r = c.get(path);
        assert_eq!(r.status(), 200, "{path}");
        let body = r.text().unwrap();
        for other in [
            "SITE02-0042",
            theirs.as_str(),
            their_screening.as_str(),
            "typo at SITE02",
        ] {
            assert!(!body.contains(other), "{path} shows {other}");
        }
    }
    let export = |c: &Web| c.get(&format!("/trials/{T}/export/json")).text().unwrap();
    assert!(export(&c).contains(&mine));
    let dashboard = c.page(&format!("/trials/{T}/dashboard"));
    assert!(
        dashboard.contains("<p class=\"big-number\" id=\"enrolled\">1 of 90</p>"),
        "{dashboard}"
    );
    assert!(!dashboard.contains("Verify the chain"), "{dashboard}");
    let r = c.get(&format!("/trials/{T}/audit/verify"));
    assert_eq!(r.status(), 403);
    assert!(r.text().unwrap().contains("without site limits"));

    // Moved to SITE02 by an admin: the same session sees SITE02 on its next page.
    let r = app
        .client
        .patch(app.url("/api/v1/users/cra"))
        .bearer_auth(&app.admin)
        .json(&serde_json::json!({"sites": ["SITE02"]}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let moved = export(&c);
    assert!(moved.contains(&theirs), "{moved}");
    assert!(!moved.contains("SITE01-0001"), "{moved}");
    assert!(c
        .page(&format!("/trials/{T}/corrections"))
        .contains("typo at SITE02"));
}
both_backends!(site_monitor_pages);

/// The admin's Sites page: register a site (errors at their inputs), change it; the user
/// form offers the registered sites.
fn admin_sites_page(db: TestDb) {
    let app = TestApp::spawn(db);
    let a = Web::signed_in(&app, &app.admin);
    let csrf = a.csrf();
    let r = a.post(
        "/admin/sites",
        &[
            ("csrf", &csrf),
            ("code", "BJ/01"),
            ("name", "北京协和医院"),
            ("time_zone", "Peking"),
        ],
    );
    assert_eq!(r.status(), 422);
    let body = r.text().unwrap();
    assert!(body.contains("id=\"code-error\""), "{body}");
    assert!(body.contains("id=\"time_zone-error\""), "{body}");
    assert!(
        body.contains("value=\"北京协和医院\""),
        "the values are kept"
    );
    let r = a.post(
        "/admin/sites",
        &[
            ("csrf", &csrf),
            ("code", "BJ01"),
            ("name", "北京协和医院"),
            ("time_zone", "Asia/Shanghai"),
            ("email", ""),
        ],
    );
    assert_eq!(r.status(), 303, "{}", r.text().unwrap());
    let list = a.page(&location(&r));
    assert!(
        list.contains("Site <strong>BJ01</strong> is registered."),
        "{list}"
    );
    assert!(list.contains("北京协和医院") && list.contains("Asia/Shanghai"));
    // Twice: refused at the code.
    let r = a.post(
        "/admin/sites",
        &[
            ("csrf", &csrf),
            ("code", "BJ01"),
            ("name", "Again"),
            ("time_zone", "UTC"),
        ],
    );
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("registered already"));
    // Change.
    let form = a.page("/admin/sites/BJ01");
    assert!(form.contains("value=\"Asia/Shanghai\""), "{form}");
    let r = a.post(
        "/admin/sites/BJ01",
        &[
            ("csrf", &csrf),
            ("name", "北京协和医院 (东院)"),
            ("time_zone", "Asia/Shanghai"),
            ("email", "gcp@pumch.cn"),
        ],
    );
    assert_eq!(r.status(), 303);
    let sites: Value = app.get(&app.admin, "/api/v1/sites").json().unwrap();
    let bj = sites
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["code"] == "BJ01")
        .unwrap();
    assert_eq!(bj["name"], "北京协和医院 (东院)");
    assert_eq!(bj["email"], "gcp@pumch.cn");
    // Without CSRF: refused, nothing changed.
    let r = a.post("/admin/sites/BJ01", &[("name", "x"), ("time_zone", "UTC")]);
    assert_eq!(r.status(), 403);
    // The user form offers the registered sites.
    let admin = a.page("/admin");
    assert!(
        admin.contains("<strong>BJ01</strong> (北京协和医院 (东院))"),
        "{admin}"
    );
    // A user of an unregistered site is refused at the sites input, saying how to register.
    let r = a.post(
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("name", "wang"),
            ("role", "monitor"),
            ("sites", "BJ01, BJ02"),
        ],
    );
    assert_eq!(r.status(), 422);
    assert!(r.text().unwrap().contains("BJ02 is not registered"));
    let r = a.post(
        "/admin/users",
        &[
            ("csrf", &csrf),
            ("name", "wang"),
            ("role", "monitor"),
            ("sites", "BJ01"),
            ("full_name", "王伟"),
        ],
    );
    assert_eq!(r.status(), 200, "a site-limited monitor");
}
both_backends!(admin_sites_page);
