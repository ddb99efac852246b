//! End to end in a real headless Chromium, driven over WebDriver (chromedriver + fantoccini):
//! the admin signs in with `admin.token` and creates the users; the investigator screens an
//! eligible and an ineligible patient through the form; the pharmacist randomizes from the
//! queue, submits twice and sees one allocation, on pages without block information; the
//! monitor sees the new subject counted and the chart drawn.
//!
//! Every page is also checked at 1280 and 390 px: nothing wider than the viewport, and no
//! serious or critical violation found by axe-core (installed from npm on first use).
//!
//! Needs Debian's `chromium` and `chromium-driver`. Without them the test says so and passes,
//! unless `TRIALGATE_REQUIRE_BROWSER=1` (CI), where it fails. Screenshots of each role's main
//! page go to `target/browser-screenshots/`, or to `$TRIALGATE_SCREENSHOT_DIR` (the README's
//! images, `phone-*.png` at 390 px among them: `TRIALGATE_SCREENSHOT_DIR=docs/img cargo test --test browser`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use common::app::{eligible, TestApp, TEST_PASSWORD};
use common::TestDb;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const T: &str = "NCT06987370";

/// chromedriver, stopped when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts chromedriver on a free port and waits until it listens.
fn start_driver() -> (Driver, u16) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    (driver, port)
}

fn screenshot_dir() -> PathBuf {
    match std::env::var_os("TRIALGATE_SCREENSHOT_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)
            }
        }
        None => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("browser-screenshots"),
    }
}

/// A screenshot of the whole page (the window is stretched to the page's height).
async fn screenshot(c: &Client, name: &str) {
    c.execute(
        "document.activeElement && document.activeElement.blur();",
        vec![],
    )
    .await
    .unwrap();
    let height = c
        .execute(
            "return Math.ceil(document.documentElement.scrollHeight);",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap_or(900.0) as u32;
    c.set_window_size(1100, (height + 140).clamp(700, 4000))
        .await
        .unwrap();
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    c.set_window_size(1100, 900).await.unwrap();
}

async fn fill(c: &Client, id: &str, value: &str) {
    let e = c.find(Locator::Id(id)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(value).await.unwrap();
}

/// Date inputs are typed in the browser's locale format; set the ISO value directly.
async fn set_date(c: &Client, id: &str, value: &str) {
    let e = c.find(Locator::Id(id)).await.unwrap();
    c.execute(
        "arguments[0].value = arguments[1];",
        vec![serde_json::to_value(&e).unwrap(), json!(value)],
    )
    .await
    .unwrap();
}

async fn choose(c: &Client, id: &str, value: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .select_by_value(value)
        .await
        .unwrap();
}

async fn radio(c: &Client, name: &str, value: &str) {
    c.find(Locator::Css(&format!(
        "input[type=radio][name=\"{name}\"][value=\"{value}\"]"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
}

/// Clicks `css` once it is on the page (after a submit the next page may still be loading).
async fn click(c: &Client, css: &str) {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn text_of(c: &Client, css: &str) -> String {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn path_of(c: &Client) -> String {
    c.current_url().await.unwrap().path().to_string()
}

/// The tokens whose accounts these tests activated, with their user names.
static ACTIVATED: std::sync::Mutex<Vec<(String, String)>> = std::sync::Mutex::new(Vec::new());

/// A person signs in as they would: the first time they activate their account with the
/// token and choose [`TEST_PASSWORD`]; afterwards they type name and password.
async fn sign_in(c: &Client, base: &str, name: &str, token: &str) {
    c.goto(&format!("{base}/")).await.unwrap();
    assert_eq!(path_of(c).await, "/signin");
    let activated = ACTIVATED.lock().unwrap().iter().any(|(t, _)| t == token);
    if activated {
        fill(c, "name", name).await;
        fill(c, "password", TEST_PASSWORD).await;
        click(c, "form[action=\"/signin\"] button[type=submit]").await;
    } else {
        click(c, "a[href=\"/signin/activate\"]").await;
        fill(c, "token", token).await;
        fill(c, "password", TEST_PASSWORD).await;
        fill(c, "password_repeat", TEST_PASSWORD).await;
        click(c, "form[action=\"/signin/activate\"] button[type=submit]").await;
        ACTIVATED
            .lock()
            .unwrap()
            .push((token.to_string(), name.to_string()));
    }
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("header .who"))
        .await
        .unwrap();
}

/// Types the password of an electronic signature into the form on the page.
async fn sign_with_password(c: &Client, form: &str) {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(&format!(
            "{form} input[name=signature_password]"
        )))
        .await
        .unwrap()
        .send_keys(TEST_PASSWORD)
        .await
        .unwrap();
}

async fn sign_out(c: &Client) {
    click(c, "form[action=\"/signout\"] button").await;
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("password"))
        .await
        .unwrap();
}

/// Creates a user on the admin page and returns the token shown once.
async fn create_user(c: &Client, base: &str, name: &str, role: &str, sites: &str) -> String {
    c.goto(&format!("{base}/admin")).await.unwrap();
    fill(c, "name", name).await;
    choose(c, "role", role).await;
    fill(c, "sites", sites).await;
    fill(c, "full_name", &format!("Test {name}")).await;
    click(c, "form[action=\"/admin/users\"] button[type=submit]").await;
    let token = c
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Id("new-token"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    assert!(token.starts_with("tg_"), "{token}");
    token
}

/// Fills the screening form of the investigator's home page, as a person would.
async fn fill_screening(c: &Client, patient: &str, hemoglobin: &str) {
    fill(c, "f-patient_ref", patient).await;
    set_date(c, "f-birth_date", "1961-03-02").await;
    choose(c, "f-sex", "female").await;
    set_date(c, "f-screening_date", "2026-11-20").await;
    for (name, value) in [
        ("attestations.bone_met_soft_tissue", "yes"),
        ("attestations.informed_consent", "yes"),
        ("attestations.acute_infection_or_serious_disease", "no"),
        ("attestations.neuro_psych_history", "no"),
        ("attestations.investigator_finds_suitable", "yes"),
        ("liver_metastasis", "no"),
    ] {
        radio(c, name, value).await;
    }
    for (id, value) in [
        ("f-labs-hemoglobin-value", hemoglobin),
        ("f-labs-anc-value", "2.1"),
        ("f-labs-platelets-value", "180"),
        ("f-labs-alt-value", "35"),
        ("f-labs-alt-uln", "40"),
        ("f-labs-ast-value", "30"),
        ("f-labs-ast-uln", "40"),
        ("f-labs-bilirubin-value", "12"),
        ("f-labs-bilirubin-uln", "21"),
        ("f-labs-alp-value", "150"),
        ("f-labs-alp-uln", "125"),
        ("f-labs-creatinine-value", "80"),
        ("f-labs-creatinine-uln", "97"),
        ("f-labs-upc_ratio", "0.4"),
    ] {
        fill(c, id, value).await;
    }
    choose(c, "f-labs-urine_protein_dipstick", "1+").await;
}

async fn submit_screening(c: &Client) -> String {
    click(c, "form[action$=\"/screening\"] button[type=submit]").await;
    text_of(c, "p.outcome .badge").await
}

/// What the browser saw, checked against the API afterwards.
struct Seen {
    card_path: String,
    investigator: String,
    pharmacist: String,
    monitor: String,
}

async fn run(c: &Client, base: &str, admin: &str) -> Seen {
    c.set_window_size(1100, 900).await.unwrap();

    // Admin: sign in with admin.token, create the users (each token shown once).
    sign_in(c, base, "admin", admin).await;
    assert_eq!(path_of(c).await, "/admin");
    let inv = create_user(c, base, "ines", "investigator", "SITE01").await;
    let pharm = create_user(c, base, "paul", "pharmacist", "SITE01").await;
    let mon = create_user(c, base, "mona", "monitor", "").await;
    c.goto(&format!("{base}/admin")).await.unwrap();
    screenshot(c, "admin").await;
    sign_out(c).await;

    // Investigator: an eligible and an ineligible patient through the form.
    sign_in(c, base, "ines", &inv).await;
    assert_eq!(path_of(c).await, format!("/trials/{T}/screening"));
    fill_screening(c, "SITE01-0001", "112").await;
    screenshot(c, "investigator").await;
    assert_eq!(submit_screening(c).await, "Eligible");
    let passes = c
        .find_all(Locator::Css("table.criteria .badge.pass"))
        .await
        .unwrap();
    assert_eq!(passes.len(), 15);
    click(c, "a.button[href$=\"/screening\"]").await;
    fill_screening(c, "SITE01-0002", "80").await;
    // A ULN left out: the error next to its input, everything typed still there.
    c.find(Locator::Id("f-labs-alt-uln"))
        .await
        .unwrap()
        .clear()
        .await
        .unwrap();
    click(c, "form[action$=\"/screening\"] button[type=submit]").await;
    let error = text_of(c, "#f-labs-alt-uln-error").await;
    assert!(error.contains("is required"), "{error}");
    let kept = c
        .find(Locator::Id("f-patient_ref"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("SITE01-0002"));
    let kept = c
        .find(Locator::Id("f-labs-hemoglobin-value"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("80"));
    screenshot(c, "investigator-errors").await;
    fill(c, "f-labs-alt-uln", "40").await;
    assert_eq!(submit_screening(c).await, "Ineligible");
    screenshot(c, "investigator-result").await;
    let failed = text_of(c, "table.criteria").await;
    assert!(failed.contains("Hb 80 g/L < 90 g/L"), "{failed}");
    sign_out(c).await;

    // Pharmacist: the queue, the confirmation, a double submit, one allocation.
    sign_in(c, base, "paul", &pharm).await;
    assert_eq!(path_of(c).await, format!("/trials/{T}/queue"));
    let queue = text_of(c, "table.queue").await;
    assert!(queue.contains("SITE01-0001") && !queue.contains("SITE01-0002"));
    screenshot(c, "pharmacist").await;
    let no_design = |html: &str, page: &str| {
        let lower = html.to_lowercase();
        for word in ["block", "stratum", "position"] {
            assert!(
                !lower.contains(word),
                "pharmacist page {page} mentions {word}"
            );
        }
    };
    no_design(&c.source().await.unwrap(), "queue");
    click(c, "table.queue a.button").await;
    let confirm = text_of(c, "div.confirm").await;
    assert!(confirm.contains("SITE01-0001"), "{confirm}");
    no_design(&c.source().await.unwrap(), "confirmation");
    let form_action = c
        .find(Locator::Css("div.confirm form"))
        .await
        .unwrap()
        .attr("action")
        .await
        .unwrap()
        .unwrap();
    let key = c
        .find(Locator::Css("input[name=idempotency_key]"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap()
        .unwrap();
    // The electronic signature, then two clicks in a row on the submit button (a double click).
    sign_with_password(c, "div.confirm form").await;
    c.execute(
        "const b = document.querySelector('div.confirm button[type=submit]'); b.click(); b.click();",
        vec![],
    )
    .await
    .unwrap();
    let subject = text_of(c, "article.allocation dd.subject").await;
    assert_eq!(subject, format!("{T}-0001"));
    let arm = text_of(c, "article.allocation dd.arm").await;
    assert!(["SFRT/SCART", "Conventional radiotherapy"].contains(&arm.as_str()));
    let signature = text_of(c, "article.allocation .signature-record").await;
    assert!(
        signature.contains("Signed electronically by Test paul (paul)")
            && signature.contains("I randomize patient SITE01-0001"),
        "{signature}"
    );
    let card_path = path_of(c).await;
    screenshot(c, "pharmacist-card").await;
    no_design(&c.source().await.unwrap(), "allocation card");
    // The same form sent once more (a reload of the POST, an impatient user): the browser
    // ends on the same card.
    let replay = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             const csrf = document.querySelector('input[name=csrf]').value;
             const key = arguments[1];
             fetch(arguments[0], { method: 'POST', credentials: 'same-origin',
                 headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
                 body: new URLSearchParams({ csrf: csrf, idempotency_key: key,
                                             signature_password: arguments[2] }) })
               .then(r => done(new URL(r.url).pathname)).catch(e => done('error ' + e));",
            vec![json!(form_action), json!(key), json!(TEST_PASSWORD)],
        )
        .await
        .unwrap();
    assert_eq!(replay.as_str(), Some(card_path.as_str()));
    sign_out(c).await;

    // Monitor: the new subject counted, the chart drawn, the chain valid.
    sign_in(c, base, "mona", &mon).await;
    assert_eq!(path_of(c).await, format!("/trials/{T}/dashboard"));
    assert_eq!(text_of(c, "#enrolled").await, "1 of 90");
    let chart = c.find(Locator::Css("figure.chart svg")).await.unwrap();
    let (_, _, width, height) = chart.rectangle().await.unwrap();
    assert!(
        width > 300.0 && height > 100.0,
        "chart drawn {width}×{height}"
    );
    let lines = c
        .find_all(Locator::Css("figure.chart svg polyline"))
        .await
        .unwrap();
    assert!(lines.len() >= 2, "a line per arm");
    let flow = text_of(c, "ol.flow").await;
    assert!(flow.contains("2 patients screened"), "{flow}");
    assert!(flow.contains("1 randomized"), "{flow}");
    click(c, "form[action$=\"/audit/verify\"] button").await;
    assert!(text_of(c, "div.notice").await.starts_with("Valid."));

    Seen {
        card_path,
        investigator: inv,
        pharmacist: pharm,
        monitor: mon,
    }
}

/// More patients through the API, so that the dashboard's screenshot shows a trial under way.
fn enroll_more(app: &TestApp, seen: &Seen) {
    for i in 3..=24 {
        let mut body = eligible(&format!("SITE01-{i:04}"), "SITE01");
        match i % 8 {
            0 => body["labs"]["platelets"]["value"] = json!(40),
            5 => body["attestations"]["informed_consent"] = Value::Null,
            7 => body["labs"]["alt"]["value"] = json!(150),
            _ => {}
        }
        let r = app.post(
            &seen.investigator,
            &format!("/api/v1/trials/{T}/screenings"),
            &body,
        );
        assert_eq!(r.status(), 201);
        let screening: Value = r.json().unwrap();
        if screening["outcome"] == "eligible" && i < 22 {
            let r = app.post(
                &seen.pharmacist,
                &format!("/api/v1/trials/{T}/randomizations"),
                &json!({ "screening_id": screening["id"] }),
            );
            assert_eq!(r.status(), 201);
        }
    }
    let r = app.post(
        &seen.investigator,
        &format!("/api/v1/trials/{T}/subjects/{T}-0002/withdrawal"),
        &json!({ "reason": "moved to another region" }),
    );
    assert_eq!(r.status(), 200);
}

/// The monitor's dashboard once more, with every subject counted.
async fn dashboard_screenshot(c: &Client, base: &str, enrolled: usize) {
    c.goto(&format!("{base}/trials/{T}/dashboard"))
        .await
        .unwrap();
    assert_eq!(text_of(c, "#enrolled").await, format!("{enrolled} of 90"));
    screenshot(c, "monitor").await;
    sign_out(c).await;
}

/// Whether Chromium and chromedriver are installed; without them a test says so and passes,
/// unless `TRIALGATE_REQUIRE_BROWSER=1`.
fn browser_installed() -> bool {
    let required = std::env::var("TRIALGATE_REQUIRE_BROWSER").as_deref() == Ok("1");
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        let line = format!(
            "{CHROMIUM} or {CHROMEDRIVER} not installed (apt-get install chromium chromium-driver): browser test NOT run"
        );
        if required {
            panic!("{line} (TRIALGATE_REQUIRE_BROWSER=1)");
        }
        let _ = writeln!(std::io::stderr().lock(), "{line}");
        return false;
    }
    true
}

/// A headless Chromium session through the chromedriver on `port`.
async fn chromium(port: u16, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1100,900",
                "--lang=en-US", "--hide-scrollbars",
                format!("--user-data-dir={}", profile.display()),
            ],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a Chromium session")
}

#[test]
fn browser_end_to_end() {
    if !browser_installed() {
        return;
    }
    let app = TestApp::spawn(TestDb::sqlite());
    let (_driver, port) = start_driver();
    let profile = tempfile::tempdir().unwrap();
    let base = app.base.clone();
    let admin = app.admin.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (client, seen) = runtime.block_on(async {
        let client = chromium(port, profile.path()).await;
        let seen = run(&client, &base, &admin).await;
        (client, seen)
    });
    // One allocation, whatever the double submit and the replay did.
    assert_eq!(seen.card_path, format!("/trials/{T}/subjects/{T}-0001"));
    let subjects: Value = app
        .get(&seen.monitor, &format!("/api/v1/trials/{T}/subjects"))
        .json()
        .unwrap();
    assert_eq!(subjects.as_array().unwrap().len(), 1, "{subjects}");

    enroll_more(&app, &seen);
    let enrolled = app
        .get(&seen.monitor, &format!("/api/v1/trials/{T}/subjects"))
        .json::<Value>()
        .unwrap()
        .as_array()
        .unwrap()
        .len();
    runtime.block_on(async {
        dashboard_screenshot(&client, &base, enrolled).await;
        client.close().await.unwrap();
    });
    drop(profile);
}

/// A screening form sent back with several errors: the focus is on the error summary, which
/// lists every one of them; its links take the focus to the input concerned.
#[test]
fn screening_errors_take_the_focus() {
    if !browser_installed() {
        return;
    }
    let app = TestApp::spawn(TestDb::sqlite());
    let inv = app.user("ines", "investigator", &["SITE01"]);
    let (_driver, port) = start_driver();
    let profile = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let c = chromium(port, profile.path()).await;
        sign_in(&c, &app.base, "ines", &inv).await;
        assert_eq!(path_of(&c).await, format!("/trials/{T}/screening"));
        fill_screening(&c, "SITE01-0001", "112").await;
        fill(&c, "f-patient_ref", "").await;
        set_date(&c, "f-birth_date", "2030-01-01").await;
        fill(&c, "f-labs-anc-value", "1,5x").await;
        click(&c, "form[action$=\"/screening\"] button[type=submit]").await;
        let summary = text_of(&c, "div.error-summary").await;
        assert!(summary.contains("There are 3 problems"), "{summary}");
        for named in [
            "Patient reference: is required",
            "Date of birth: 2030-01-01 is after the screening date",
            "Absolute neutrophil count (ANC): \"1,5x\" is not a number",
        ] {
            assert!(summary.contains(named), "{named}: {summary}");
        }
        let focused = c
            .execute(
                "const a = document.activeElement; \
                 return [a === document.querySelector('div.error-summary'), a.getAttribute('role')];",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(focused, json!([true, "alert"]), "the summary has the focus");
        click(&c, "div.error-summary a[href=\"#f-labs-anc-value\"]").await;
        let focused = c
            .execute("return document.activeElement.id;", vec![])
            .await
            .unwrap();
        assert_eq!(focused, json!("f-labs-anc-value"));
        c.close().await.unwrap();
    });
}

/// A trial's life in a browser: an investigator corrects a randomized patient's Hb, a monitor
/// approves it from the queue (the deviation is shown), the investigator withdraws the subject.
#[test]
fn correction_approval_and_withdrawal() {
    if !browser_installed() {
        return;
    }
    let app = TestApp::spawn(TestDb::sqlite());
    let inv = app.user("ines", "investigator", &["SITE01"]);
    let pharm = app.user("paul", "pharmacist", &["SITE01"]);
    let mon = app.user("mona", "monitor", &[]);
    let (_driver, port) = start_driver();
    let profile = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = app.base.clone();
    let (c, screening) = runtime.block_on(async {
        let c = chromium(port, profile.path()).await;
        c.set_window_size(1100, 900).await.unwrap();
        sign_in(&c, &base, "ines", &inv).await;
        fill_screening(&c, "SITE01-0001", "112").await;
        assert_eq!(submit_screening(&c).await, "Eligible");
        let screening = path_of(&c).await;
        (c, screening)
    });
    // (The blocking HTTP client runs outside the browser's runtime.)
    let id = screening.rsplit('/').next().unwrap().to_string();
    let r = app.post(
        &pharm,
        &format!("/api/v1/trials/{T}/randomizations"),
        &json!({ "screening_id": id }),
    );
    assert_eq!(r.status(), 201);
    let subject = r.json::<Value>().unwrap()["subject_id"]
        .as_str()
        .unwrap()
        .to_string();
    runtime.block_on(async {
        // The correction: the form comes filled in; change Hb's unit and value, give a reason.
        c.goto(&format!("{base}{screening}")).await.unwrap();
        click(&c, "a.button[href$=\"/correct\"]").await;
        let kept = c
            .find(Locator::Id("f-labs-hemoglobin-value"))
            .await
            .unwrap()
            .prop("value")
            .await
            .unwrap();
        assert_eq!(kept.as_deref(), Some("112"));
        fill(&c, "f-labs-hemoglobin-value", "8.5").await;
        choose(&c, "f-labs-hemoglobin-unit", "g/dL").await;
        fill(&c, "f-reason", "Hb is 8.5 g/dL on the lab report").await;
        click(&c, "form[action$=\"/correct\"] button[type=submit]").await;
        // The correction's result page (the form page has a notice too).
        text_of(&c, "table.criteria").await;
        let notice = text_of(&c, "div.notice").await;
        assert!(notice.contains("Waiting for a monitor"), "{notice}");
        sign_out(&c).await;

        // The monitor's queue: old → new, approve with a reason.
        sign_in(&c, &base, "mona", &mon).await;
        click(&c, "nav a[href$=\"/corrections\"]").await;
        let changes = text_of(&c, "table.changes").await;
        assert!(
            changes.contains("112 g/L") && changes.contains("8.5 g/dL"),
            "{changes}"
        );
        c.find(Locator::Css("form.decision textarea"))
            .await
            .unwrap()
            .send_keys("source document verified")
            .await
            .unwrap();
        sign_with_password(&c, "form.decision").await;
        click(&c, "form.decision button[value=approve]").await;
        let done = text_of(&c, "div.notice").await;
        assert!(done.contains("approved"), "{done}");
        let deviations = text_of(&c, "section[aria-labelledby=deviations-title]").await;
        assert!(
            deviations.contains("Randomized but not eligible"),
            "{deviations}"
        );
        sign_out(&c).await;

        // The investigator withdraws the subject: reason, review, confirm.
        sign_in(&c, &base, "ines", &inv).await;
        c.goto(&format!("{base}/trials/{T}/subjects/{subject}"))
            .await
            .unwrap();
        click(&c, "a.button.danger[href$=\"/withdraw\"]").await;
        fill(&c, "reason", "moved to another city").await;
        click(&c, "form button.primary[type=submit]").await;
        sign_with_password(&c, "div.confirm form").await;
        click(&c, "form button.danger[type=submit]").await;
        let card = text_of(&c, "article.allocation").await;
        assert!(card.contains("Withdrawal signature"), "{card}");
        assert!(card.contains("Withdrawn"), "{card}");
        assert!(card.contains("moved to another city"), "{card}");
        c.close().await.unwrap();
    });
    let s: Value = app
        .get(&mon, &format!("/api/v1/trials/{T}/subjects/{subject}"))
        .json()
        .unwrap();
    assert_eq!(s["status"], "withdrawn");
}

/// The axe-core release the accessibility check injects (npm, MPL-2.0).
const AXE_VERSION: &str = "4.10.3";

/// axe-core's script, installed from npm into the tests' cache directory when it is missing
/// (`.ci/run` makes sure npm is there). `None` (the test says so and passes) without npm,
/// unless `TRIALGATE_REQUIRE_BROWSER=1`.
fn axe_script() -> Option<String> {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("axe-{AXE_VERSION}"));
    let file = dir.join("node_modules/axe-core/axe.min.js");
    if !file.exists() {
        let installed = Command::new("npm")
            .arg("install")
            .arg("--prefix")
            .arg(&dir)
            .args(["--no-audit", "--no-fund", "--no-save", "--loglevel=error"])
            .arg(format!("axe-core@{AXE_VERSION}"))
            .status()
            .is_ok_and(|s| s.success());
        if !installed || !file.exists() {
            let line =
                format!("npm install axe-core@{AXE_VERSION} failed: accessibility test NOT run");
            if std::env::var("TRIALGATE_REQUIRE_BROWSER").as_deref() == Ok("1") {
                panic!("{line} (TRIALGATE_REQUIRE_BROWSER=1)");
            }
            let _ = writeln!(std::io::stderr().lock(), "{line}");
            return None;
        }
    }
    Some(std::fs::read_to_string(file).unwrap())
}

/// Sets the viewport (not the window) to `width` × `height` CSS pixels.
async fn viewport(c: &Client, width: u32, height: u32) {
    c.set_window_size(width, height).await.unwrap();
    let inner = c
        .execute("return [window.innerWidth, window.innerHeight];", vec![])
        .await
        .unwrap();
    let (w, h) = (inner[0].as_i64().unwrap(), inner[1].as_i64().unwrap());
    if (w, h) != (i64::from(width), i64::from(height)) {
        let fix = |want: u32, got: i64| (2 * i64::from(want) - got).max(1) as u32;
        c.set_window_size(fix(width, w), fix(height, h))
            .await
            .unwrap();
    }
}

/// A screenshot of the whole page at a phone's width.
async fn phone_screenshot(c: &Client, name: &str) {
    c.execute(
        "document.activeElement && document.activeElement.blur();",
        vec![],
    )
    .await
    .unwrap();
    viewport(c, PHONE, 844).await;
    let height = c
        .execute(
            "return Math.ceil(document.documentElement.scrollHeight);",
            vec![],
        )
        .await
        .unwrap()
        .as_f64()
        .unwrap_or(844.0) as u32;
    viewport(c, PHONE, height.clamp(600, 6000)).await;
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let dir = screenshot_dir();
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// A phone's width in CSS pixels (an iPhone 12 to 15), and a desktop's.
const PHONE: u32 = 390;
const DESKTOP: u32 = 1280;

/// The page's width against the viewport's; when wider, the outermost elements that stick
/// out (their parent fits), to say what to fix.
const OVERFLOW_JS: &str = "
    const w = window.innerWidth;
    const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
        Array.from(e.classList).map(k => '.' + k).join('');
    const out = [];
    if (document.documentElement.scrollWidth > w) {
        for (const e of document.body.querySelectorAll('*')) {
            const r = e.getBoundingClientRect();
            const p = e.parentElement.getBoundingClientRect();
            if (r.right > w + 0.5 && p.right <= w + 0.5) {
                out.push(name(e.parentElement) + ' > ' + name(e) + ' (' + Math.round(r.right) + ' px)');
            }
        }
    }
    return [document.documentElement.scrollWidth, w, out.slice(0, 8)];";

/// axe's serious and critical violations of the page: `rule: target, target` each.
const AXE_RUN_JS: &str = "
    const done = arguments[arguments.length - 1];
    axe.run(document, { resultTypes: ['violations'] })
      .then(r => done(r.violations
        .filter(v => window.TRIALGATE_AXE_ALL || v.impact === 'serious' || v.impact === 'critical')
        .map(v => v.id + ' (' + v.impact + '): ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
      .catch(e => done(['axe failed: ' + e]));";

/// Checks the page shown at both widths: in the language asked for (its `lang`), nothing wider
/// than the viewport, no serious or critical axe violation. Problems go to `problems`, so that
/// one run lists them all.
async fn check_page(c: &Client, axe: &str, what: &str, problems: &mut Vec<String>) {
    let want = c
        .execute("return window.name;", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_string();
    let lang = c
        .execute("return document.documentElement.lang;", vec![])
        .await
        .unwrap();
    if !want.is_empty() && lang.as_str() != Some(want.as_str()) {
        problems.push(format!("{what}: lang {lang}, not {want}"));
    }
    let what = &format!("{what} [{want}]");
    c.execute(axe, vec![]).await.unwrap();
    // TRIALGATE_AXE_ALL=1 lists the moderate and minor violations too (they fail the test then).
    if std::env::var_os("TRIALGATE_AXE_ALL").is_some() {
        c.execute("window.TRIALGATE_AXE_ALL = true;", vec![])
            .await
            .unwrap();
    }
    for width in [DESKTOP, PHONE] {
        viewport(c, width, 900).await;
        let fit = c.execute(OVERFLOW_JS, vec![]).await.unwrap();
        let (scroll, inner) = (fit[0].as_i64().unwrap(), fit[1].as_i64().unwrap());
        if scroll > inner {
            problems.push(format!(
                "{what} at {width} px: {scroll} px wide in a {inner} px viewport: {}",
                fit[2]
            ));
        }
        let violations = c.execute_async(AXE_RUN_JS, vec![]).await.unwrap();
        for v in violations.as_array().unwrap() {
            problems.push(format!("{what} at {width} px: {}", v.as_str().unwrap()));
        }
    }
    viewport(c, DESKTOP, 900).await;
}

/// Opens `path` and checks it.
async fn check(c: &Client, base: &str, path: &str, axe: &str, problems: &mut Vec<String>) {
    c.goto(&format!("{base}{path}")).await.unwrap();
    check_page(c, axe, path, problems).await;
}

/// Every page, for the roles that see it, in English and in Chinese, at a desktop's and a
/// phone's width: in the language chosen, none wider than the viewport (tables scroll in
/// their own box) and axe-core finds no serious or critical violation. Also the screenshots
/// of the README (the Chinese ones prefixed `zh-`).
#[test]
fn every_page_fits_a_phone_and_passes_axe() {
    if !browser_installed() {
        return;
    }
    let Some(axe) = axe_script() else {
        return;
    };
    let app = TestApp::spawn(TestDb::sqlite());
    let inv = app.user("ines", "investigator", &["SITE01"]);
    let pharm = app.user("paul", "pharmacist", &["SITE01"]);
    let mon = app.user("mona", "monitor", &[]);
    // The data every page needs: a randomized subject with a pending correction, one
    // patient waiting in the queue, an ineligible and an incomplete screening.
    let screen = |body: &Value| -> String {
        let r = app.post(&inv, &format!("/api/v1/trials/{T}/screenings"), body);
        assert_eq!(r.status(), 201);
        r.json::<Value>().unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let randomized = screen(&eligible("SITE01-0001", "SITE01"));
    let r = app.post(
        &pharm,
        &format!("/api/v1/trials/{T}/randomizations"),
        &json!({ "screening_id": randomized }),
    );
    assert_eq!(r.status(), 201);
    let subject = r.json::<Value>().unwrap()["subject_id"]
        .as_str()
        .unwrap()
        .to_string();
    let waiting = screen(&eligible("SITE01-0002", "SITE01"));
    let mut body = eligible("SITE01-0003", "SITE01");
    body["labs"]["platelets"]["value"] = json!(40);
    let ineligible = screen(&body);
    let mut body = eligible("SITE01-0004", "SITE01");
    body["attestations"]["informed_consent"] = Value::Null;
    let incomplete = screen(&body);
    let r = app.post(
        &inv,
        &format!("/api/v1/trials/{T}/screenings/{randomized}/corrections"),
        &json!({ "reason": "Hb is 8.5 g/dL on the lab report",
                 "changes": { "labs": { "hemoglobin": { "value": 8.5, "unit": "g/dL" } } } }),
    );
    assert_eq!(r.status(), 201, "{}", r.text().unwrap());

    let (_driver, port) = start_driver();
    let profile = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let base = app.base.clone();
    let admin = app.admin.clone();
    let started = Instant::now();
    let problems = runtime.block_on(async {
        let c = chromium(port, profile.path()).await;
        let mut p = Vec::new();
        let p = &mut p;
        let axe = axe.as_str();
        // The browser says English (`--lang`); the sign-in page's switch picks Chinese.
        for lang in ["en", "zh-CN"] {
            let zh = lang != "en";
            let shot = |name: &str| {
                if zh {
                    format!("zh-{name}")
                } else {
                    name.to_string()
                }
            };
            viewport(&c, DESKTOP, 900).await;
            c.goto(&format!("{base}/signin?lang={lang}")).await.unwrap();
            // Where check_page finds the language every page must be in (kept across pages).
            c.execute(&format!("window.name = '{lang}';"), vec![])
                .await
                .unwrap();

            // Signed out: the sign-in page, a refused token, an unknown page.
            check(&c, &base, "/signin", axe, p).await;
            if zh {
                screenshot(&c, "zh-signin").await;
            }
            fill(&c, "name", "nobody").await;
            fill(&c, "password", "not-a-password").await;
            click(&c, "form[action=\"/signin\"] button[type=submit]").await;
            check_page(&c, axe, "sign-in refused", p).await;
            check(&c, &base, "/no-such-page", axe, p).await;
            check(&c, &base, "/signin/activate", axe, p).await;

            // Investigator.
            sign_in(&c, &base, "ines", &inv).await;
            check(&c, &base, "/account/password", axe, p).await;
            check(&c, &base, &format!("/trials/{T}/screening"), axe, p).await;
            phone_screenshot(&c, &shot("phone-screening-form")).await;
            viewport(&c, DESKTOP, 900).await;
            if zh {
                screenshot(&c, "zh-investigator").await;
            }
            fill(&c, "f-labs-anc-value", "1,5x").await;
            click(&c, "form[action$=\"/screening\"] button[type=submit]").await;
            text_of(&c, "div.error-summary").await;
            check_page(&c, axe, "screening form with errors", p).await;
            for path in [
                format!("/trials/{T}/screenings"),
                format!("/trials/{T}/screenings/{randomized}"),
                format!("/trials/{T}/screenings/{ineligible}"),
                format!("/trials/{T}/screenings/{incomplete}"),
                format!("/trials/{T}/screenings/{waiting}/correct"),
                format!("/trials/{T}/subjects"),
                format!("/trials/{T}/subjects/{subject}"),
                format!("/trials/{T}/subjects/{subject}/withdraw"),
            ] {
                check(&c, &base, &path, axe, p).await;
            }
            fill(&c, "reason", "moved to another city").await;
            click(&c, "form button.primary[type=submit]").await;
            text_of(&c, "form button.danger[type=submit]").await;
            check_page(&c, axe, "withdrawal review", p).await;
            // Not the investigator's: the error page.
            check(&c, &base, &format!("/trials/{T}/dashboard"), axe, p).await;
            check(&c, &base, &format!("/trials/{T}/subjects/{T}-9999"), axe, p).await;
            sign_out(&c).await;

            // Pharmacist.
            sign_in(&c, &base, "paul", &pharm).await;
            check(&c, &base, &format!("/trials/{T}/queue"), axe, p).await;
            phone_screenshot(&c, &shot("phone-queue")).await;
            viewport(&c, DESKTOP, 900).await;
            if zh {
                screenshot(&c, "zh-pharmacist").await;
            }
            check(
                &c,
                &base,
                &format!("/trials/{T}/randomize/{waiting}"),
                axe,
                p,
            )
            .await;
            check(
                &c,
                &base,
                &format!("/trials/{T}/randomize/{randomized}"),
                axe,
                p,
            )
            .await;
            check(&c, &base, &format!("/trials/{T}/subjects"), axe, p).await;
            check(
                &c,
                &base,
                &format!("/trials/{T}/subjects/{subject}"),
                axe,
                p,
            )
            .await;
            phone_screenshot(&c, &shot("phone-card")).await;
            viewport(&c, DESKTOP, 900).await;
            if zh {
                screenshot(&c, "zh-pharmacist-card").await;
            }
            sign_out(&c).await;

            // Monitor.
            sign_in(&c, &base, "mona", &mon).await;
            for path in [
                "/trials".to_string(),
                format!("/trials/{T}/dashboard"),
                format!("/trials/{T}/corrections"),
                format!("/trials/{T}/audit"),
                format!("/trials/{T}/audit?after=2"),
                format!("/trials/{T}/audit/verify"),
            ] {
                check(&c, &base, &path, axe, p).await;
                if zh && path.ends_with("/dashboard") {
                    screenshot(&c, "zh-monitor").await;
                    phone_screenshot(&c, "zh-phone-dashboard").await;
                    viewport(&c, DESKTOP, 900).await;
                }
            }
            sign_out(&c).await;

            // Admin.
            sign_in(&c, &base, "admin", &admin).await;
            check(&c, &base, "/admin", axe, p).await;
            fill(&c, "name", "").await;
            click(&c, "form[action=\"/admin/users\"] button[type=submit]").await;
            check_page(&c, axe, "user form with errors", p).await;
            let otto = if zh { "otto-zh" } else { "otto" };
            create_user(&c, &base, otto, "monitor", "").await;
            check_page(&c, axe, "user created", p).await;
            for path in [
                format!("/admin/users/{otto}/revoke"),
                format!("/admin/users/{otto}"),
                format!("/admin/trials/{T}/amend"),
                format!("/admin/trials/{T}/close"),
            ] {
                check(&c, &base, &path, axe, p).await;
            }
            fill(&c, "reason", "enrollment complete").await;
            click(&c, "form button.primary[type=submit]").await;
            text_of(&c, "form button.danger[type=submit]").await;
            check_page(&c, axe, "close review", p).await;
            sign_out(&c).await;
        }
        c.close().await.unwrap();
        std::mem::take(p)
    });
    let _ = writeln!(
        std::io::stderr().lock(),
        "every page checked in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
