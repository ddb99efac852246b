//! The fault harness: the real `trialgate serve` as a child process, a randomization load
//! whose every request is classified (acknowledged, refused, unknown), and the checker that
//! compares that client-side history with the database.
//!
//! Shared by the `faults` test binary and `fault_postgres_restart` (`#[path]`-included), so
//! not everything is used by both.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use reqwest::blocking::Client;
use serde_json::{json, Value};
use trialgate::storage::{self, Backend, DbConnection};

use crate::common::app::eligible;

pub const TRIAL: &str = "NCT06987370";
pub const T: &str = "/api/v1/trials/NCT06987370";

/// One fault scenario at a time per process: each measures timings on a small shared machine.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The run's size, from the environment (see docs/fault-tolerance.md).
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    /// `TRIALGATE_FAULT_KILLS`: SIGKILLs per backend (default 20).
    pub kills: usize,
    /// `TRIALGATE_FAULT_SECONDS`: seconds of load per scenario (default 10), spread over the
    /// kill cycles, or around the PostgreSQL outage.
    pub seconds: f64,
    /// `TRIALGATE_FAULT_SEED`: the seed of the load's choices and of the kill timing.
    pub seed: u64,
}

impl Budget {
    pub fn from_env() -> Budget {
        let seed = env_parse("TRIALGATE_FAULT_SEED").unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
        let budget = Budget {
            kills: env_parse("TRIALGATE_FAULT_KILLS").unwrap_or(20).max(1),
            seconds: env_parse("TRIALGATE_FAULT_SECONDS")
                .unwrap_or(10.0_f64)
                .max(1.0),
            seed,
        };
        println!(
            "fault budget: {} kills, {} s of load, seed {} (TRIALGATE_FAULT_KILLS, TRIALGATE_FAULT_SECONDS, TRIALGATE_FAULT_SEED)",
            budget.kills, budget.seconds, budget.seed
        );
        budget
    }
}

fn env_parse<V: std::str::FromStr>(name: &str) -> Option<V> {
    let value = std::env::var(name).ok()?;
    Some(
        value
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name}={value:?} is not a number")),
    )
}

/// `TRIALGATE_REQUIRE_FAULTS=1`: a fault test that cannot inject its fault fails.
pub fn faults_required() -> bool {
    std::env::var("TRIALGATE_REQUIRE_FAULTS").as_deref() == Ok("1")
}

/// splitmix64: enough randomness for timing and choices, reproducible from the seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// `base` scaled by a factor uniform in [0.5, 1.5).
    pub fn jitter(&mut self, base: Duration) -> Duration {
        base.mul_f64(0.5 + (self.below(1000) as f64) / 1000.0)
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The default protocol with a cap that the load never reaches.
pub fn large_cap_protocol() -> String {
    let text = include_str!("../../protocols/NCT06987370.toml");
    assert!(text.contains("\ncap = 90\n"), "the default protocol's cap");
    text.replace("\ncap = 90\n", "\ncap = 100000\n")
}

/// A client for the load and the checks. The timeout is far above the server's pool timeout
/// (5 s), so a request that times out is a hang, not a slow 503.
pub fn http_client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap()
}

pub struct ServerConfig {
    pub data_dir: PathBuf,
    /// `None`: SQLite in the data directory.
    pub database_url: Option<String>,
    pub pool_size: u32,
}

/// `trialgate serve` as a child process; its output goes to a log file outside the data dir.
pub struct Server {
    pub cfg: ServerConfig,
    dir: tempfile::TempDir,
    protocol: PathBuf,
    log: PathBuf,
    port: u16,
    child: Option<Child>,
    base: Arc<RwLock<String>>,
    /// Processes started (the first start included).
    pub starts: usize,
}

impl Server {
    pub fn start(cfg: ServerConfig) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let protocol = dir.path().join("protocol.toml");
        std::fs::write(&protocol, large_cap_protocol()).unwrap();
        let log = dir.path().join("server.log");
        let port = free_port();
        let mut server = Server {
            cfg,
            dir,
            protocol,
            log,
            port,
            child: None,
            base: Arc::new(RwLock::new(format!("http://127.0.0.1:{port}"))),
            starts: 0,
        };
        server.launch_until_healthy();
        server
    }

    pub fn base(&self) -> String {
        self.base.read().unwrap().clone()
    }

    /// The base URL as the load threads follow it across restarts.
    pub fn base_handle(&self) -> Arc<RwLock<String>> {
        self.base.clone()
    }

    pub fn data_dir(&self) -> &Path {
        &self.cfg.data_dir
    }

    pub fn admin_token(&self) -> String {
        std::fs::read_to_string(self.cfg.data_dir.join("admin.token"))
            .unwrap()
            .trim()
            .to_string()
    }

    pub fn seed_file(&self) -> PathBuf {
        self.cfg
            .data_dir
            .join("seeds")
            .join(format!("{TRIAL}.seed"))
    }

    fn spawn(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trialgate"));
        cmd.arg("serve")
            .arg("--bind")
            .arg(format!("127.0.0.1:{}", self.port))
            .arg("--data-dir")
            .arg(&self.cfg.data_dir)
            .arg("--protocol")
            .arg(&self.protocol)
            .arg("--pool-size")
            .arg(self.cfg.pool_size.to_string())
            .arg("--workers")
            .arg("2")
            .env("RUST_LOG", "warn")
            .env_remove("DATABASE_URL")
            .env_remove("TRIALGATE_DATA_DIR")
            .env_remove("TRIALGATE_BIND")
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        if let Some(url) = &self.cfg.database_url {
            cmd.arg("--database-url").arg(url);
        }
        self.child = Some(cmd.spawn().unwrap());
        self.starts += 1;
    }

    /// SIGKILL (what `Child::kill` sends on Unix), then reaps the process.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server if it runs, starts it again on the same port (another one if that is
    /// taken; clients follow [`base_handle`](Self::base_handle)) and waits for `/healthz`.
    /// Returns the time from spawn to healthy.
    pub fn restart(&mut self) -> Duration {
        self.kill();
        let started = Instant::now();
        self.launch_until_healthy();
        started.elapsed()
    }

    fn launch_until_healthy(&mut self) {
        let client = Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        for _ in 0..3 {
            self.spawn();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let child = self.child.as_mut().unwrap();
                if child.try_wait().unwrap().is_some() {
                    break; // exited at start: most likely its port was taken meanwhile
                }
                let healthy = client
                    .get(format!("{}/healthz", self.base()))
                    .send()
                    .is_ok_and(|r| r.status() == 200);
                if healthy {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "server not healthy within 60 s; log:\n{}",
                    self.log_tail()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            self.child = None;
            self.port = free_port();
            *self.base.write().unwrap() = format!("http://127.0.0.1:{}", self.port);
        }
        panic!(
            "server exited at start three times; log:\n{}",
            self.log_tail()
        );
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Runs a `trialgate` CLI command against this server's data: (success, stdout+stderr).
    pub fn cli(&self, args: &[&str]) -> (bool, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trialgate"));
        cmd.args(args)
            .arg("--data-dir")
            .arg(&self.cfg.data_dir)
            .env("RUST_LOG", "warn")
            .env_remove("DATABASE_URL")
            .env_remove("TRIALGATE_DATA_DIR");
        if let Some(url) = &self.cfg.database_url {
            cmd.arg("--database-url").arg(url);
        }
        let out = cmd.output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.success(), text)
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        trialgate::server::database_url(&self.cfg.data_dir, self.cfg.database_url.as_deref())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

pub struct Actors {
    pub admin: String,
    pub investigator: String,
    pub pharmacist: String,
    pub monitor: String,
}

pub fn create_actors(server: &Server, client: &Client) -> Actors {
    let admin = server.admin_token();
    let user = |name: &str, role: &str| {
        let r = client
            .post(format!("{}/api/v1/users", server.base()))
            .bearer_auth(&admin)
            .json(&json!({"name": name, "role": role}))
            .send()
            .unwrap();
        assert_eq!(r.status(), 201, "creating {name}");
        r.json::<Value>().unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    Actors {
        investigator: user("ines", "investigator"),
        pharmacist: user("paul", "pharmacist"),
        monitor: user("mona", "monitor"),
        admin,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Patient {
    pub screening_id: String,
    pub patient_ref: String,
}

/// Screens `n` eligible patients `{prefix}-0000`, … (three threads; every one must be 201).
pub fn screen(
    server: &Server,
    client: &Client,
    token: &str,
    prefix: &str,
    n: usize,
) -> Vec<Patient> {
    let url = format!("{}{T}/screenings", server.base());
    let workers = 3;
    let handles: Vec<JoinHandle<Vec<(usize, Patient)>>> = (0..workers)
        .map(|w| {
            let (client, url, token, prefix) = (
                client.clone(),
                url.clone(),
                token.to_string(),
                prefix.to_string(),
            );
            std::thread::spawn(move || {
                (w..n)
                    .step_by(workers)
                    .map(|i| {
                        let patient_ref = format!("{prefix}-{i:05}");
                        let r = client
                            .post(&url)
                            .bearer_auth(&token)
                            .json(&eligible(&patient_ref, "SITE01"))
                            .send()
                            .unwrap();
                        assert_eq!(r.status(), 201, "screening {patient_ref}");
                        let body: Value = r.json().unwrap();
                        assert_eq!(body["outcome"], "eligible");
                        let screening_id = body["id"].as_str().unwrap().to_string();
                        (
                            i,
                            Patient {
                                screening_id,
                                patient_ref,
                            },
                        )
                    })
                    .collect()
            })
        })
        .collect();
    let mut all: Vec<(usize, Patient)> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, p)| p).collect()
}

/// What a 201 said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alloc {
    pub subject_id: String,
    pub sequence: i64,
    pub arm: String,
    pub patient_ref: String,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// 201.
    Ack { alloc: Alloc, replayed: bool },
    /// 409 / 422 with its problem code.
    Refused { status: u16, code: String },
    /// Unknown: 503 with its problem code.
    Unavailable { code: String },
    /// Unknown: no connection, or the connection broke before a full answer.
    Connection(String),
    /// Unknown: no answer within the client timeout (a hang).
    Timeout,
    /// Anything else (500, …): always a finding.
    Unexpected { status: u16, body: String },
}

impl Outcome {
    pub fn is_unknown(&self) -> bool {
        matches!(
            self,
            Outcome::Unavailable { .. } | Outcome::Connection(_) | Outcome::Timeout
        )
    }
}

/// Why a request was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// A patient's first randomization, under a new key.
    Fresh,
    /// An acknowledged key sent again: must return the same allocation.
    Replay,
    /// An acknowledged patient under a new key: must be refused (`already_randomized`).
    Duplicate,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub key: String,
    pub patient: Patient,
    pub kind: Kind,
    /// Attempts made so far under this key by this request.
    pub attempts: u32,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub key: String,
    pub patient: Patient,
    pub kind: Kind,
    /// 1 for the first send of a request, 2… for retries under the same key.
    pub attempt: u32,
    /// When it was sent, from the history's epoch.
    pub sent: Duration,
    pub took: Duration,
    pub outcome: Outcome,
}

impl Attempt {
    pub fn done(&self) -> Duration {
        self.sent + self.took
    }
}

/// Every request the clients sent, and what came back.
pub struct History {
    pub epoch: Instant,
    attempts: Mutex<Vec<Attempt>>,
}

impl Default for History {
    fn default() -> Self {
        History {
            epoch: Instant::now(),
            attempts: Mutex::new(Vec::new()),
        }
    }
}

impl History {
    pub fn now(&self) -> Duration {
        self.epoch.elapsed()
    }

    pub fn push(&self, a: Attempt) {
        self.attempts.lock().unwrap().push(a);
    }

    pub fn snapshot(&self) -> Vec<Attempt> {
        self.attempts.lock().unwrap().clone()
    }

    /// Sends one randomization and records it.
    pub fn send(&self, client: &Client, base: &str, token: &str, req: &Request) -> Outcome {
        let sent = self.now();
        let started = Instant::now();
        let outcome = randomize(client, base, token, &req.key, &req.patient.screening_id);
        self.push(Attempt {
            key: req.key.clone(),
            patient: req.patient.clone(),
            kind: req.kind,
            attempt: req.attempts + 1,
            sent,
            took: started.elapsed(),
            outcome: outcome.clone(),
        });
        outcome
    }
}

/// One `POST /randomizations` under an `Idempotency-Key`, classified.
pub fn randomize(
    client: &Client,
    base: &str,
    token: &str,
    key: &str,
    screening_id: &str,
) -> Outcome {
    let response = client
        .post(format!("{base}{T}/randomizations"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(&json!({ "screening_id": screening_id }))
        .send();
    let r = match response {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Outcome::Timeout,
        Err(e) => return Outcome::Connection(error_chain(&e)),
    };
    let status = r.status().as_u16();
    let replayed = r.headers().contains_key("Idempotent-Replayed");
    let body = match r.text() {
        Ok(body) => body,
        Err(e) if e.is_timeout() => return Outcome::Timeout,
        Err(e) => return Outcome::Connection(error_chain(&e)),
    };
    let json: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let code = json["code"].as_str().unwrap_or("").to_string();
    match status {
        201 => match alloc_of(&json) {
            Some(alloc) => Outcome::Ack { alloc, replayed },
            None => Outcome::Unexpected { status, body },
        },
        409 | 422 => Outcome::Refused { status, code },
        503 => Outcome::Unavailable { code },
        _ => Outcome::Unexpected { status, body },
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let _ = write!(text, ": {s}");
        source = s.source();
    }
    text
}

pub fn alloc_of(v: &Value) -> Option<Alloc> {
    Some(Alloc {
        subject_id: v["subject_id"].as_str()?.to_string(),
        sequence: v["sequence"].as_i64()?,
        arm: v["arm"].as_str()?.to_string(),
        patient_ref: v["patient_ref"].as_str()?.to_string(),
    })
}

pub struct LoadOptions {
    pub threads: usize,
    /// Each client pauses up to this long between answered requests.
    pub pause_ms: u64,
    pub seed: u64,
    /// Prefix of the idempotency keys.
    pub name: String,
}

struct LoadShared {
    base: Arc<RwLock<String>>,
    client: Client,
    token: String,
    queue: Mutex<VecDeque<Patient>>,
    acked: Mutex<Vec<(String, Patient)>>,
    history: Arc<History>,
    keys: AtomicUsize,
    name: String,
    pause_ms: u64,
}

/// Client threads randomizing the queued patients until stopped. A request whose answer is
/// unknown is retried under the same key until it gets an answer; about one request in 16
/// replays an acknowledged key and one in 16 tries an acknowledged patient under a new key.
pub struct Load {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Option<Request>>>,
    shared: Arc<LoadShared>,
}

impl Load {
    pub fn start(
        base: Arc<RwLock<String>>,
        token: &str,
        patients: Vec<Patient>,
        history: Arc<History>,
        opts: LoadOptions,
    ) -> Load {
        let shared = Arc::new(LoadShared {
            base,
            client: http_client(),
            token: token.to_string(),
            queue: Mutex::new(patients.into()),
            acked: Mutex::new(Vec::new()),
            history,
            keys: AtomicUsize::new(0),
            name: opts.name,
            pause_ms: opts.pause_ms,
        });
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..opts.threads)
            .map(|i| {
                let (shared, stop) = (shared.clone(), stop.clone());
                let rng = Rng::new(opts.seed.wrapping_add(i as u64 + 1));
                std::thread::spawn(move || worker(&shared, &stop, rng))
            })
            .collect();
        Load {
            stop,
            threads,
            shared,
        }
    }

    /// Patients not yet sent.
    pub fn remaining(&self) -> usize {
        self.shared.queue.lock().unwrap().len()
    }

    /// Stops the clients; returns the requests whose answer is still unknown.
    pub fn stop(self) -> Vec<Request> {
        self.stop.store(true, Ordering::SeqCst);
        self.threads
            .into_iter()
            .filter_map(|t| t.join().unwrap())
            .collect()
    }
}

fn worker(shared: &LoadShared, stop: &AtomicBool, mut rng: Rng) -> Option<Request> {
    let mut pending: Option<Request> = None;
    while !stop.load(Ordering::SeqCst) {
        let mut req = match pending.take() {
            Some(req) => req,
            None => match next_request(shared, &mut rng) {
                Some(req) => req,
                None => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            },
        };
        let base = shared.base.read().unwrap().clone();
        let outcome = shared
            .history
            .send(&shared.client, &base, &shared.token, &req);
        req.attempts += 1;
        match outcome {
            o if o.is_unknown() => {
                pending = Some(req);
                std::thread::sleep(Duration::from_millis(25));
            }
            Outcome::Ack { .. } if req.kind == Kind::Fresh => {
                shared.acked.lock().unwrap().push((req.key, req.patient));
                pause(&mut rng, shared.pause_ms);
            }
            _ => pause(&mut rng, shared.pause_ms),
        }
    }
    pending
}

fn pause(rng: &mut Rng, max_ms: u64) {
    if max_ms > 0 {
        std::thread::sleep(Duration::from_millis(rng.below(max_ms + 1)));
    }
}

fn next_request(shared: &LoadShared, rng: &mut Rng) -> Option<Request> {
    let dice = rng.below(16);
    if dice < 2 {
        let acked = shared.acked.lock().unwrap();
        if !acked.is_empty() {
            let (key, patient) = acked[rng.below(acked.len() as u64) as usize].clone();
            return Some(if dice == 0 {
                Request {
                    key,
                    patient,
                    kind: Kind::Replay,
                    attempts: 0,
                }
            } else {
                Request {
                    key: new_key(shared),
                    patient,
                    kind: Kind::Duplicate,
                    attempts: 0,
                }
            });
        }
    }
    let patient = shared.queue.lock().unwrap().pop_front()?;
    Some(Request {
        key: new_key(shared),
        patient,
        kind: Kind::Fresh,
        attempts: 0,
    })
}

fn new_key(shared: &LoadShared) -> String {
    format!(
        "{}-{:06}",
        shared.name,
        shared.keys.fetch_add(1, Ordering::SeqCst)
    )
}

/// Retries each still-unknown request under its own key until it gets an answer (at most
/// 40 tries of each, 100 ms apart). Returns how many stayed unknown.
pub fn resolve(
    history: &History,
    client: &Client,
    base: &str,
    token: &str,
    pending: Vec<Request>,
) -> usize {
    let mut unresolved = 0;
    for mut req in pending {
        let mut answered = false;
        for _ in 0..40 {
            let outcome = history.send(client, base, token, &req);
            req.attempts += 1;
            if !outcome.is_unknown() {
                answered = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if !answered {
            unresolved += 1;
        }
    }
    unresolved
}

#[derive(QueryableByName)]
struct IntegrityLine {
    #[diesel(sql_type = Text)]
    integrity_check: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(conn: &mut DbConnection, sql: &str) -> i64 {
    let rows: Vec<Count> = match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(sql).load(c),
        DbConnection::Postgres(c) => diesel::sql_query(sql).load(c),
    }
    .unwrap();
    rows[0].n
}

/// `PRAGMA integrity_check` of a SQLite database: its lines (`["ok"]` when sound).
pub fn sqlite_integrity(conn: &mut DbConnection) -> Vec<String> {
    match conn {
        DbConnection::Sqlite(c) => diesel::sql_query("PRAGMA integrity_check")
            .load::<IntegrityLine>(c)
            .unwrap()
            .into_iter()
            .map(|l| l.integrity_check)
            .collect(),
        DbConnection::Postgres(_) => vec!["ok".into()],
    }
}

/// The database right after a crash (server dead, before the restart): every subject has its
/// audit entry and no entry lacks its subject; SQLite passes `integrity_check`. Returns the
/// number of subjects.
pub fn crash_point_check(url: &str) -> i64 {
    let mut conn = storage::establish(url).unwrap();
    if conn.backend() == Backend::Sqlite {
        let lines = sqlite_integrity(&mut conn);
        assert_eq!(lines, ["ok"], "SQLite integrity_check after a crash");
    }
    let subjects = count(
        &mut conn,
        &format!("SELECT COUNT(*) AS n FROM subjects WHERE trial_id = '{TRIAL}'"),
    );
    let entries = count(
        &mut conn,
        &format!(
            "SELECT COUNT(*) AS n FROM audit_entries WHERE chain = '{TRIAL}' AND action = 'subject.randomized'"
        ),
    );
    assert_eq!(
        subjects, entries,
        "after a crash: {subjects} subjects but {entries} subject.randomized audit entries"
    );
    subjects
}

/// Figures of one scenario's client-side history.
#[derive(Debug, Default)]
pub struct Summary {
    pub attempts: usize,
    /// Distinct fresh requests (keys).
    pub requests: usize,
    pub acknowledged: usize,
    pub refused: BTreeMap<String, usize>,
    /// Requests whose first answer was unknown.
    pub unknown: usize,
    pub retries: usize,
    /// Unknown requests whose retry found the allocation already made (ack lost in a crash).
    pub unknown_committed: usize,
    /// Unknown requests whose retry made the allocation.
    pub unknown_then_new: usize,
    /// Unknown requests (duplicate probes) whose retry was refused.
    pub unknown_then_refused: usize,
    pub still_unknown: usize,
    pub replays: usize,
    pub duplicates: usize,
    pub status_503: usize,
    pub connection_errors: usize,
    pub timeouts: usize,
    pub unexpected: usize,
    pub max_latency: Duration,
}

pub fn summarize(attempts: &[Attempt]) -> Summary {
    let mut s = Summary {
        attempts: attempts.len(),
        ..Summary::default()
    };
    let mut sorted: Vec<&Attempt> = attempts.iter().collect();
    sorted.sort_by_key(|a| a.sent);
    let mut by_key: BTreeMap<&str, Vec<&Attempt>> = BTreeMap::new();
    for a in sorted {
        s.max_latency = s.max_latency.max(a.took);
        if a.attempt > 1 {
            s.retries += 1;
        }
        match &a.outcome {
            Outcome::Unavailable { .. } => s.status_503 += 1,
            Outcome::Connection(_) => s.connection_errors += 1,
            Outcome::Timeout => s.timeouts += 1,
            Outcome::Unexpected { .. } => s.unexpected += 1,
            _ => {}
        }
        if a.kind == Kind::Replay {
            if a.attempt == 1 {
                s.replays += 1;
            }
            continue;
        }
        by_key.entry(a.key.as_str()).or_default().push(a);
    }
    for list in by_key.values() {
        let first = list[0];
        match first.kind {
            Kind::Duplicate => s.duplicates += 1,
            _ => s.requests += 1,
        }
        let answer = list.iter().find(|a| !a.outcome.is_unknown());
        if first.outcome.is_unknown() {
            s.unknown += 1;
            match answer.map(|a| &a.outcome) {
                Some(Outcome::Ack { replayed: true, .. }) => s.unknown_committed += 1,
                Some(Outcome::Ack {
                    replayed: false, ..
                }) => s.unknown_then_new += 1,
                Some(Outcome::Refused { .. }) => s.unknown_then_refused += 1,
                None => s.still_unknown += 1,
                _ => {}
            }
        }
        match answer.map(|a| &a.outcome) {
            Some(Outcome::Ack { .. }) if first.kind == Kind::Fresh => s.acknowledged += 1,
            Some(Outcome::Refused { code, .. }) => {
                *s.refused.entry(code.clone()).or_default() += 1;
            }
            _ => {}
        }
    }
    s
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let refused: Vec<String> = self
            .refused
            .iter()
            .map(|(code, n)| format!("{n} {code}"))
            .collect();
        writeln!(
            f,
            "  requests: {} fresh + {} duplicate probes + {} replays = {} keys; {} HTTP attempts ({} retries under the same key)",
            self.requests,
            self.duplicates,
            self.replays,
            self.requests + self.duplicates + self.replays,
            self.attempts,
            self.retries
        )?;
        writeln!(
            f,
            "  acknowledged {}, refused {} ({}), unknown at first {} (retried under the same key: {} had been committed, {} allocated then, {} refused, {} never answered)",
            self.acknowledged,
            self.refused.values().sum::<usize>(),
            if refused.is_empty() { "-".into() } else { refused.join(", ") },
            self.unknown,
            self.unknown_committed,
            self.unknown_then_new,
            self.unknown_then_refused,
            self.still_unknown
        )?;
        write!(
            f,
            "  attempts answered 503: {}, connection errors: {}, timeouts: {}, unexpected: {}; slowest answer {} ms",
            self.status_503,
            self.connection_errors,
            self.timeouts,
            self.unexpected,
            self.max_latency.as_millis()
        )
    }
}

/// Median and maximum, in milliseconds.
pub fn median_max(values: &[Duration]) -> (u128, u128) {
    let mut ms: Vec<u128> = values.iter().map(Duration::as_millis).collect();
    ms.sort_unstable();
    match ms.len() {
        0 => (0, 0),
        n => (ms[n / 2], ms[n - 1]),
    }
}

/// Time from each fault (`at`) to the first acknowledgement of a request sent after it.
pub fn recoveries(attempts: &[Attempt], faults: &[Duration]) -> Vec<Duration> {
    faults
        .iter()
        .filter_map(|&at| {
            attempts
                .iter()
                .filter(|a| a.sent >= at && matches!(a.outcome, Outcome::Ack { .. }))
                .map(|a| a.done() - at)
                .min()
        })
        .collect()
}

/// What the checker saw in the database.
#[derive(Debug)]
pub struct Checked {
    pub subjects: usize,
    pub audit_entries: i64,
    pub screenings: i64,
}

/// Compares the client-side history with the server and the database, after a clean restart.
/// `screened`: screenings acknowledged by the server over the whole scenario. Panics with
/// every violation found.
pub fn check(
    server: &Server,
    client: &Client,
    actors: &Actors,
    history: &[Attempt],
    screened: usize,
) -> Checked {
    let mut violations: Vec<String> = Vec::new();
    let base = server.base();

    // 1. The history on its own: one allocation per key, no ack for a duplicate patient,
    //    no answer outside the contract.
    let mut acked: BTreeMap<&str, &Alloc> = BTreeMap::new();
    let mut unresolved_patients: HashSet<&str> = HashSet::new();
    let mut sorted: Vec<&Attempt> = history.iter().collect();
    sorted.sort_by_key(|a| a.sent);
    let mut by_key: HashMap<&str, Vec<&Attempt>> = HashMap::new();
    for a in sorted {
        by_key.entry(a.key.as_str()).or_default().push(a);
    }
    for (key, list) in &by_key {
        for a in list {
            match &a.outcome {
                Outcome::Ack { alloc, .. } => {
                    if a.kind == Kind::Duplicate {
                        violations.push(format!(
                            "duplicate: patient {} randomized again under new key {key}: {alloc:?}",
                            a.patient.patient_ref
                        ));
                    }
                    if alloc.patient_ref != a.patient.patient_ref {
                        violations.push(format!(
                            "key {key} for {} answered with {alloc:?}",
                            a.patient.patient_ref
                        ));
                    }
                    match acked.get(key) {
                        Some(earlier) if *earlier != alloc => violations.push(format!(
                            "key {key} acknowledged twice with different allocations: {earlier:?} then {alloc:?}"
                        )),
                        Some(_) => {}
                        None => {
                            acked.insert(key, alloc);
                        }
                    }
                }
                Outcome::Refused { code, .. }
                    if a.kind == Kind::Duplicate && code != "already_randomized" =>
                {
                    violations.push(format!(
                        "duplicate probe {key} refused with {code}, not already_randomized"
                    ));
                }
                Outcome::Refused { code, .. } if a.kind != Kind::Duplicate => {
                    violations.push(format!("request {key} refused with {code}"));
                }
                Outcome::Unavailable { code } if code != "service_unavailable" => {
                    violations.push(format!("request {key}: 503 with code {code:?}"));
                }
                Outcome::Timeout => violations.push(format!(
                    "request {key} sent at {:?} got no answer within the client timeout (a hang)",
                    a.sent
                )),
                Outcome::Unexpected { status, body } => violations.push(format!(
                    "request {key} sent at {:?}: unexpected {status}: {body}",
                    a.sent
                )),
                _ => {}
            }
        }
        if list.iter().all(|a| a.outcome.is_unknown()) {
            unresolved_patients.insert(list[0].patient.patient_ref.as_str());
        }
    }

    // 2. The server's view, as a monitor reads it.
    let subjects: Vec<Value> = client
        .get(format!("{base}{T}/subjects"))
        .bearer_auth(&actors.monitor)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let listed: Vec<Alloc> = subjects.iter().map(|s| alloc_of(s).unwrap()).collect();
    let sequences: Vec<i64> = listed.iter().map(|a| a.sequence).collect();
    if sequences != (1..=listed.len() as i64).collect::<Vec<_>>() {
        violations.push(format!(
            "sequences are not 1..{}: {sequences:?}",
            listed.len()
        ));
    }
    let mut patients = HashSet::new();
    let mut ids = HashSet::new();
    for a in &listed {
        if !patients.insert(a.patient_ref.as_str()) {
            violations.push(format!("patient {} randomized twice", a.patient_ref));
        }
        if !ids.insert(a.subject_id.as_str()) {
            violations.push(format!("subject id {} twice", a.subject_id));
        }
    }
    let by_id: HashMap<&str, &Alloc> = listed.iter().map(|a| (a.subject_id.as_str(), a)).collect();
    for (key, alloc) in &acked {
        match by_id.get(alloc.subject_id.as_str()) {
            Some(found) if *found == *alloc => {}
            Some(found) => violations.push(format!(
                "acknowledged {alloc:?} (key {key}) but the server lists {found:?}"
            )),
            None => violations.push(format!(
                "lost: acknowledged {alloc:?} (key {key}) is not in the subject list"
            )),
        }
    }
    let acked_patients: HashSet<&str> = acked.values().map(|a| a.patient_ref.as_str()).collect();
    for a in &listed {
        if !acked_patients.contains(a.patient_ref.as_str())
            && !unresolved_patients.contains(a.patient_ref.as_str())
        {
            violations.push(format!(
                "allocation {a:?} answers no request of the history"
            ));
        }
    }

    // 3. The audit chain through the API and the CLI; every allocation equals the schedule
    //    and has its audit entry.
    let verify: Value = client
        .get(format!("{base}{T}/audit/verify"))
        .bearer_auth(&actors.monitor)
        .send()
        .unwrap()
        .json()
        .unwrap();
    if verify["valid"] != true {
        violations.push(format!("/audit/verify: {verify}"));
    }
    let seed_file = server.seed_file();
    let seed_file = seed_file.to_str().unwrap();
    for args in [
        vec!["audit", "check", "--trial", TRIAL, "--seed-file", seed_file],
        vec!["audit", "verify", "--trial", TRIAL],
        vec!["audit", "verify", "--trial", "_system"],
    ] {
        let (ok, out) = server.cli(&args);
        if !ok {
            violations.push(format!("trialgate {}: {out}", args.join(" ")));
        }
    }

    // 4. The database itself.
    let mut conn = storage::establish(&server.database_url()).unwrap();
    let integrity = sqlite_integrity(&mut conn);
    if integrity != ["ok"] {
        violations.push(format!("SQLite integrity_check: {integrity:?}"));
    }
    let rows = storage::repo::subjects::list(&mut conn, TRIAL).unwrap();
    if rows.len() != listed.len() {
        violations.push(format!(
            "the database has {} subjects, the API lists {}",
            rows.len(),
            listed.len()
        ));
    }
    let keys_by_subject: HashMap<&str, &str> = acked
        .iter()
        .map(|(key, a)| (a.subject_id.as_str(), *key))
        .collect();
    for row in &rows {
        if let Some(key) = keys_by_subject.get(row.id.as_str()) {
            if row.idempotency_key.as_deref() != Some(*key) {
                violations.push(format!(
                    "subject {} stored with key {:?}, acknowledged under {key}",
                    row.id, row.idempotency_key
                ));
            }
        }
    }
    let screenings = count(
        &mut conn,
        &format!("SELECT COUNT(*) AS n FROM screenings WHERE trial_id = '{TRIAL}'"),
    );
    if screenings != screened as i64 {
        violations.push(format!(
            "{screenings} screenings in the database, {screened} acknowledged"
        ));
    }
    let audit_entries = count(
        &mut conn,
        &format!("SELECT COUNT(*) AS n FROM audit_entries WHERE chain = '{TRIAL}'"),
    );
    // trial.initialized + one per screening + one per allocation, nothing half-written.
    let expected = 1 + screenings + rows.len() as i64;
    if audit_entries != expected || verify["entries"] != json!(audit_entries) {
        violations.push(format!(
            "audit chain has {audit_entries} entries (API: {}), expected 1 + {screenings} screenings + {} subjects",
            verify["entries"],
            rows.len()
        ));
    }

    assert!(
        violations.is_empty(),
        "{} violation(s):\n{}\nserver log tail:\n{}",
        violations.len(),
        violations.join("\n"),
        server.log_tail()
    );
    Checked {
        subjects: listed.len(),
        audit_entries,
        screenings,
    }
}
