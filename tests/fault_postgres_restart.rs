//! PostgreSQL stopped with `pg_ctlcluster … stop -m immediate` under randomization load, then
//! started again: requests meanwhile get 503 (never a hang, never a 500), the load resumes, and
//! the checker finds every acknowledged allocation, none duplicated, no gap, the chain valid.
//!
//! Its own test binary, so that no other test of the suite uses PostgreSQL while it is down
//! (cargo runs test binaries one after another). Needs root and `pg_ctlcluster`; skips with a
//! message otherwise, unless `TRIALGATE_REQUIRE_POSTGRES=1`. PostgreSQL is started again in
//! every case (a drop guard), also when the test fails.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "common/mod.rs"]
mod common;
#[path = "faults/harness/mod.rs"]
mod harness;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use harness::{
    check, create_actors, http_client, median_max, recoveries, resolve, screen, summarize, Budget,
    History, Load, LoadOptions, Outcome, Server, ServerConfig,
};

/// How long PostgreSQL stays down: longer than the server's pool timeout (5 s), so requests
/// waiting for a connection give up with 503 while it is down.
const OUTAGE: Duration = Duration::from_secs(7);

/// The `pg_ctlcluster` cluster that serves the test URL's port.
struct Cluster {
    version: String,
    name: String,
    port: u16,
}

fn cluster(port: u16) -> Result<Cluster, String> {
    let out = Command::new("pg_lsclusters")
        .arg("-h")
        .output()
        .map_err(|e| format!("pg_lsclusters: {e}"))?;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            (f.len() >= 3 && f[2].parse() == Ok(port)).then(|| Cluster {
                version: f[0].to_string(),
                name: f[1].to_string(),
                port,
            })
        })
        .next()
        .ok_or_else(|| format!("no pg_ctlcluster cluster on port {port}"))
}

fn pg_ctl(c: &Cluster, action: &[&str]) -> Result<(), String> {
    let out = Command::new("pg_ctlcluster")
        .arg("--skip-systemctl-redirect")
        .args([c.version.as_str(), c.name.as_str()])
        .args(action)
        .output()
        .map_err(|e| format!("pg_ctlcluster: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "pg_ctlcluster {} {} {}: {}",
            c.version,
            c.name,
            action.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn ready(c: &Cluster) -> bool {
    Command::new("pg_isready")
        .args(["-q", "-h", "127.0.0.1", "-p", &c.port.to_string()])
        .status()
        .is_ok_and(|s| s.success())
}

/// PostgreSQL stopped; started again by [`start`](Self::start) or, whatever happens, on drop.
struct Stopped<'a> {
    cluster: &'a Cluster,
    running: bool,
}

impl<'a> Stopped<'a> {
    fn immediate(cluster: &'a Cluster) -> Stopped<'a> {
        let guard = Stopped {
            cluster,
            running: false,
        };
        pg_ctl(cluster, &["stop", "-m", "immediate"]).unwrap();
        guard
    }

    /// Starts PostgreSQL and waits until it accepts connections (at most 60 s).
    fn start(&mut self) -> Result<(), String> {
        if self.running {
            return Ok(());
        }
        // "already running" is fine: a start may have been cut short.
        let started = pg_ctl(self.cluster, &["start"]);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !ready(self.cluster) {
            if Instant::now() > deadline {
                return Err(format!("PostgreSQL not ready within 60 s ({started:?})"));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.running = true;
        Ok(())
    }
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.start() {
            eprintln!(
                "PostgreSQL could NOT be restarted: {e}; run `pg_ctlcluster --skip-systemctl-redirect {} {} start`",
                self.cluster.version, self.cluster.name
            );
        }
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// The cluster to stop, or why the test cannot run (an error when PostgreSQL is required).
fn preconditions() -> Option<Cluster> {
    let url = common::postgres_admin_url();
    let port = url
        .split_once("://")
        .and_then(|(_, rest)| rest.split(['/', '?']).next())
        .and_then(|authority| authority.rsplit_once(':'))
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or(5432);
    let host_is_local = ["@127.0.0.1", "@localhost", "//127.0.0.1", "//localhost"]
        .iter()
        .any(|h| url.contains(h));
    let cause = if !is_root() {
        "not root".to_string()
    } else if !host_is_local {
        "the test PostgreSQL is not on this machine".to_string()
    } else {
        match cluster(port) {
            Ok(c) => return Some(c),
            Err(e) => e,
        }
    };
    let line = format!("{cause}: PostgreSQL stop/start test NOT run");
    assert!(
        std::env::var("TRIALGATE_REQUIRE_POSTGRES").as_deref() != Ok("1"),
        "{line} (TRIALGATE_REQUIRE_POSTGRES=1)"
    );
    eprintln!("{line}");
    None
}

#[test]
fn postgres_stopped_immediately_under_load() {
    let Some(cluster) = preconditions() else {
        return;
    };
    let Some(db) = common::TestDb::postgres() else {
        return;
    };
    let budget = Budget::from_env();
    let data = tempfile::tempdir().unwrap();
    let mut server = Server::start(ServerConfig {
        data_dir: data.path().to_path_buf(),
        database_url: Some(db.url.clone()),
        pool_size: 4,
    });
    let client = http_client();
    let actors = create_actors(&server, &client);
    // Generous: an idle machine randomizes several hundred a second; running out would
    // leave the outage without load.
    let screened = (budget.seconds * 500.0) as usize + 500;
    let patients = screen(&server, &client, &actors.investigator, "PG", screened);
    let history = Arc::new(History::default());
    let load = Load::start(
        server.base_handle(),
        &actors.pharmacist,
        patients,
        history.clone(),
        LoadOptions {
            threads: 4,
            pause_ms: 10,
            seed: budget.seed,
            name: "pgstop".into(),
        },
    );
    let phase = Duration::from_secs_f64(budget.seconds / 2.0);
    std::thread::sleep(phase);

    // PostgreSQL goes down mid-load.
    let stopped_at = history.now();
    let mut postgres = Stopped::immediate(&cluster);
    let stop_took = history.now() - stopped_at;
    let health_started = Instant::now();
    let health = client
        .get(format!("{}/healthz", server.base()))
        .send()
        .map(|r| r.status().as_u16());
    let health_took = health_started.elapsed();
    std::thread::sleep(OUTAGE.saturating_sub(history.now() - stopped_at));
    let started_at = history.now();
    postgres.start().unwrap();
    let ready_after = history.now() - started_at;

    std::thread::sleep(phase);
    let left = load.remaining();
    let pending = load.stop();
    let unresolved = resolve(
        &history,
        &client,
        &server.base(),
        &actors.pharmacist,
        pending,
    );
    assert!(left > 0, "the load ran out of patients: screen more");
    server.restart();
    let attempts = history.snapshot();
    let checked = check(&server, &client, &actors, &attempts, screened);
    let summary = summarize(&attempts);

    let during: Vec<_> = attempts
        .iter()
        .filter(|a| a.done() > stopped_at && a.sent < started_at)
        .collect();
    let answered_503 = during
        .iter()
        .filter(|a| matches!(a.outcome, Outcome::Unavailable { .. }))
        .count();
    let slowest_during = during.iter().map(|a| a.took).max().unwrap_or_default();
    let (_, first_ack_after_start) = median_max(&recoveries(&attempts, &[started_at]));
    println!(
        "FAULTS postgres-stop: stop -m immediate took {} ms, down {} ms, ready {} ms after start; /healthz while down: {health:?} in {} ms\n  attempts overlapping the outage: {} ({answered_503} answered 503, slowest {} ms); first ack {first_ack_after_start} ms after PostgreSQL was started (pool reconnect included); unresolved after final retries: {unresolved}\n{summary}\n  {} subjects, {} audit entries, {} screenings; checks passed",
        stop_took.as_millis(),
        (started_at - stopped_at).as_millis(),
        ready_after.as_millis(),
        health_took.as_millis(),
        during.len(),
        slowest_during.as_millis(),
        checked.subjects,
        checked.audit_entries,
        checked.screenings,
    );
    assert_eq!(health.ok(), Some(503), "/healthz while PostgreSQL is down");
    assert!(
        answered_503 > 0,
        "no request was answered 503 during the outage"
    );
    assert_eq!(summary.unexpected, 0);
    assert_eq!(summary.timeouts, 0);
}
