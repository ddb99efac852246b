//! `TestApp`: the real server on a random port, with a fresh database and data directory,
//! spoken to over HTTP like any client.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use reqwest::blocking::{Client, Response};
use serde_json::{json, Value};
use trialgate::protocol::Protocol;
use trialgate::server::{Application, Settings};

use super::TestDb;

/// The password test people choose when they activate their accounts.
pub const TEST_PASSWORD: &str = "Kestrel-Harbour-2931";

pub struct TestApp {
    pub base: String,
    pub client: Client,
    pub admin: String,
    /// The login name of each token the tests created (the first admin's is `admin`).
    names: std::sync::Mutex<std::collections::HashMap<String, String>>,
    pub data_dir: tempfile::TempDir,
    pub db: TestDb,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestApp {
    pub fn spawn(db: TestDb) -> TestApp {
        Self::spawn_with(db, Vec::new())
    }

    pub fn spawn_with(db: TestDb, protocols: Vec<Protocol>) -> TestApp {
        Self::spawn_in(db, tempfile::tempdir().unwrap(), protocols)
    }

    /// A server on an existing data directory (seed files, keys, admin token).
    pub fn spawn_in(db: TestDb, data_dir: tempfile::TempDir, protocols: Vec<Protocol>) -> TestApp {
        Self::spawn_full(db, data_dir, protocols, AUTH_QUOTA, false)
    }

    /// A server that also runs the training copy of each trial (`serve --training`), on an
    /// existing data directory.
    pub fn spawn_training(db: TestDb, data_dir: tempfile::TempDir) -> TestApp {
        Self::spawn_full(db, data_dir, Vec::new(), AUTH_QUOTA, true)
    }

    /// A server allowing `quota` failed authentications per minute from one address, for
    /// tests that send many bad tokens on purpose.
    pub fn spawn_with_auth_quota(db: TestDb, quota: u32) -> TestApp {
        Self::spawn_full(db, tempfile::tempdir().unwrap(), Vec::new(), quota, false)
    }

    fn spawn_full(
        db: TestDb,
        data_dir: tempfile::TempDir,
        protocols: Vec<Protocol>,
        auth_quota: u32,
        training: bool,
    ) -> TestApp {
        let (base, handle, thread) = start(
            data_dir.path().to_path_buf(),
            db.url.clone(),
            protocols,
            auth_quota,
            training,
        );
        let admin = std::fs::read_to_string(data_dir.path().join("admin.token"))
            .unwrap()
            .trim()
            .to_string();
        let app = TestApp {
            base,
            client: Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            names: std::sync::Mutex::new([(admin.clone(), "admin".to_string())].into()),
            admin,
            data_dir,
            db,
            handle,
            thread: Some(thread),
        };
        for code in TEST_SITES {
            app.site(code, "UTC");
        }
        app
    }

    /// Registers a site (as the admin) unless it is registered already.
    pub fn site(&self, code: &str, time_zone: &str) {
        let r = self.post(
            &self.admin,
            "/api/v1/sites",
            &json!({"code": code, "name": format!("Hospital {code}"), "time_zone": time_zone}),
        );
        assert!(
            r.status() == 201 || r.status() == 409,
            "registering {code}: {}",
            r.text().unwrap()
        );
    }

    /// Another server process's worth: a second server on the same database and data dir.
    pub fn second_server(&self) -> (String, actix_web::dev::ServerHandle) {
        let (base, handle, _thread) = start(
            self.data_dir.path().to_path_buf(),
            self.db.url.clone(),
            Vec::new(),
            AUTH_QUOTA,
            false,
        );
        (base, handle)
    }

    /// Stops the server and keeps its data directory for another one.
    pub fn into_data_dir(mut self) -> tempfile::TempDir {
        std::mem::replace(&mut self.data_dir, tempfile::tempdir().unwrap())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn get(&self, token: &str, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .unwrap()
    }

    pub fn post(&self, token: &str, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .bearer_auth(token)
            .json(body)
            .send()
            .unwrap()
    }

    /// Creates a user (with a full name, so that they can sign) and returns its token.
    pub fn user(&self, name: &str, role: &str, sites: &[&str]) -> String {
        let r = self.post(
            &self.admin,
            "/api/v1/users",
            &json!({"name": name, "role": role, "sites": sites, "full_name": format!("Test {name}")}),
        );
        assert_eq!(r.status(), 201, "{}", r.text().unwrap());
        let token = r.json::<Value>().unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string();
        self.remember(&token, name);
        token
    }

    /// Records whose a token is (for tokens the tests obtained another way).
    pub fn remember(&self, token: &str, name: &str) {
        self.names
            .lock()
            .unwrap()
            .insert(token.to_string(), name.to_string());
    }

    /// The login name of a token the tests created, if known.
    pub fn name_of(&self, token: &str) -> Option<String> {
        self.names.lock().unwrap().get(token).cloned()
    }

    /// Gives the first admin a full name (they must have one to sign, e.g. to close a trial).
    pub fn name_admin(&self) {
        let r = self
            .client
            .patch(self.url("/api/v1/users/admin"))
            .bearer_auth(&self.admin)
            .json(&json!({"full_name": "Test Administrator"}))
            .send()
            .unwrap();
        assert!(
            r.status() == 200 || r.status() == 422,
            "{}",
            r.text().unwrap()
        );
    }

    pub fn seed_file(&self, trial: &str) -> PathBuf {
        self.data_dir
            .path()
            .join("seeds")
            .join(format!("{trial}.seed"))
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let stop = self.handle.stop(false);
        // The server's System lives on its own thread; stopping returns once it is down.
        std::thread::spawn(move || actix_web::rt::System::new().block_on(stop))
            .join()
            .ok();
        if let Some(t) = self.thread.take() {
            t.join().ok();
        }
    }
}

/// The sites every test server registers (time zone UTC), as the tests name them.
pub const TEST_SITES: [&str; 6] = ["SITE01", "SITE02", "SITE03", "S1", "S2", "S3"];

/// Failed authentications per address and minute the test servers allow (the default).
pub const AUTH_QUOTA: u32 = 20;

fn start(
    data_dir: PathBuf,
    url: String,
    protocols: Vec<Protocol>,
    auth_quota: u32,
    training: bool,
) -> (
    String,
    actix_web::dev::ServerHandle,
    std::thread::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let system = actix_web::rt::System::new();
        system.block_on(async move {
            let mut settings = Settings::new("127.0.0.1:0", data_dir);
            settings.database_url = Some(url);
            settings.protocols = protocols;
            settings.workers = Some(2);
            settings.auth_failures_per_minute = auth_quota;
            settings.pool_size = 8;
            settings.training = training;
            match Application::build(settings) {
                Ok(app) => {
                    tx.send(Ok((app.port(), app.handle()))).unwrap();
                    app.run_until_stopped().await.unwrap();
                }
                Err(e) => tx.send(Err(e.to_string())).unwrap(),
            }
        });
    });
    let (port, handle) = rx
        .recv_timeout(Duration::from_secs(60))
        .unwrap()
        .unwrap_or_else(|e| panic!("server did not start: {e}"));
    (format!("http://127.0.0.1:{port}"), handle, thread)
}

/// A fully eligible screening request for `patient_ref` at `site`.
pub fn eligible(patient_ref: &str, site: &str) -> Value {
    json!({
        "patient_ref": patient_ref, "site": site,
        "birth_date": "1961-03-02", "sex": "female", "screening_date": "2026-11-20",
        "liver_metastasis": false,
        "attestations": {
            "bone_met_soft_tissue": true, "informed_consent": true,
            "acute_infection_or_serious_disease": false, "neuro_psych_history": false,
            "investigator_finds_suitable": true
        },
        "labs": {
            "hemoglobin": {"value": 112, "unit": "g/L"},
            "anc": {"value": 2.1, "unit": "10^9/L"},
            "platelets": {"value": 180, "unit": "10^9/L"},
            "alt": {"value": 35, "uln": 40, "unit": "U/L"},
            "ast": {"value": 30, "uln": 40, "unit": "U/L"},
            "bilirubin": {"value": 12, "uln": 21, "unit": "umol/L"},
            "alp": {"value": 150, "uln": 125, "unit": "U/L"},
            "creatinine": {"value": 80, "uln": 97, "unit": "umol/L"},
            "creatinine_clearance_24h": {"value": 62, "unit": "mL/min"},
            "urine_protein_dipstick": "1+",
            "urine_protein_24h": {"value": 1.2, "unit": "g/24h"},
            "upc_ratio": 1.4
        }
    })
}
