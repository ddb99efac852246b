//! `trialgate-load`: randomization throughput of a running trialgate server against the
//! database's raw durable commit rate, measured in the same run.
//!
//! ```text
//! cargo build --release --bins
//! target/release/trialgate-load --backend sqlite --clients 4 --requests 2000 [--json]
//! target/release/trialgate-load --backend postgres --clients 16 --requests 2000
//! ```
//!
//! By default it spawns `trialgate serve` (the `trialgate` binary next to this one, or
//! `--server-bin`) on a free loopback port with a temporary data directory and a copy of the
//! built-in protocol with a large cap and its own trial id. For PostgreSQL it creates a fresh
//! database `tg_load_<uuid>` on `--postgres-url` and drops it afterwards. It then creates an
//! investigator, a pharmacist and a monitor with the admin token, screens `--requests` eligible
//! patients (not timed), and randomizes them with `--clients` concurrent blocking clients,
//! recording each request's latency and sampling the server's VmRSS/VmHWM. Afterwards it checks
//! that every response was 201, that the sequences are exactly 1..N and that the trial's audit
//! chain verifies. In the same run it measures one-row INSERT transactions on the same backend
//! with the server's durability settings (SQLite: a separate file, WAL + synchronous=FULL,
//! `BEGIN IMMEDIATE`; PostgreSQL: the same server, a scratch database, synchronous_commit as
//! configured), over one connection and over `--clients` connections, interleaved with the
//! server load in `--rounds` rounds (fsync latency drifts on shared machines).
//!
//! With `--url` it drives an already running server instead: give `--admin-token-file`,
//! `--trial` (a trial with room under its cap) and optionally `--server-pid` for RSS.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Read as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use diesel::prelude::*;
use serde_json::{json, Value};
use trialgate::storage::{self, DbConnection, StorageError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "trialgate-load",
    about = "Randomization load test against the raw durable commit rate"
)]
struct Args {
    /// Database backend of the spawned server and of the raw commit measurement.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// Concurrent clients (threads with a blocking HTTP client, keep-alive).
    #[arg(long, default_value_t = 4)]
    clients: usize,
    /// Randomizations to perform (and patients to screen first).
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// One-row INSERT transactions per raw measurement, 1 and --clients connections each
    /// (default: --requests, at most 1000), spread over the rounds.
    #[arg(long)]
    raw_commits: Option<usize>,
    /// Rounds: the load is cut into this many slices, each followed (or preceded) by its share
    /// of the raw commit measurement, so both see the same disk conditions.
    #[arg(long, default_value_t = 4)]
    rounds: usize,
    /// Untimed one-row INSERT transactions before the raw measurement (steady-state WAL).
    #[arg(long, default_value_t = 1000)]
    raw_warmup: usize,
    /// PostgreSQL server for the spawned server's database and the raw measurement.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres_url: String,
    /// Drive this running server (e.g. http://127.0.0.1:8080) instead of spawning one.
    #[arg(long)]
    url: Option<String>,
    /// With --url: the file holding an admin token.
    #[arg(long)]
    admin_token_file: Option<PathBuf>,
    /// With --url: the trial to randomize in.
    #[arg(long)]
    trial: Option<String>,
    /// With --url: the server's process id, for RSS sampling.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The trialgate binary to spawn (default: `trialgate` next to this executable).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// `--workers` for the spawned server (default: the server's own, one per core).
    #[arg(long)]
    workers: Option<usize>,
    /// `--pool-size` for the spawned server (default: the server's own).
    #[arg(long)]
    pool_size: Option<u32>,
    /// Upper bound on each timed phase, in seconds.
    #[arg(long, default_value_t = 120)]
    max_seconds: u64,
    /// Copy the spawned server's log (stdout and stderr) to this file at the end.
    #[arg(long)]
    server_log: Option<PathBuf>,
    /// Print the result as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut cleanup = Cleanup::default();
    let outcome = run(&args, &mut cleanup);
    drop(cleanup);
    match outcome {
        Ok(report) => {
            if args.json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report.to_json()).unwrap_or_default()
                );
            } else {
                print!("{}", report.to_text());
            }
            if report.checks_passed() {
                ExitCode::SUCCESS
            } else {
                eprintln!("trialgate-load: checks FAILED");
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("trialgate-load: {e}");
            ExitCode::from(2)
        }
    }
}

type Res<T> = Result<T, String>;

/// What to undo at exit, whatever happened: the child server, temp files, scratch databases.
#[derive(Default)]
struct Cleanup {
    child: Option<Child>,
    dir: Option<PathBuf>,
    /// (maintenance URL, database name)
    pg_databases: Vec<(String, String)>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            stop_child(&mut child);
        }
        for (url, name) in self.pg_databases.drain(..) {
            if let Err(e) = drop_pg_database(&url, &name) {
                eprintln!("trialgate-load: could not drop database {name}: {e}");
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

struct Report {
    backend: Backend,
    clients: usize,
    requests: usize,
    server: String,
    screen_seconds: f64,
    load: LoadResult,
    raw_single: RawRate,
    raw_concurrent: RawRate,
    raw_settings: String,
    raw_warmup: usize,
    /// The machine's 1-minute load average before and after the server load.
    loadavg: (Option<f64>, Option<f64>),
    rss: RssStats,
    checks: Checks,
}

#[derive(Default)]
struct LoadResult {
    completed: usize,
    seconds: f64,
    statuses: BTreeMap<u16, usize>,
    latencies: Vec<Duration>,
    sequences: Vec<i64>,
}

impl LoadResult {
    fn merge(&mut self, other: LoadResult) {
        self.completed += other.completed;
        self.seconds += other.seconds;
        for (status, n) in other.statuses {
            *self.statuses.entry(status).or_insert(0) += n;
        }
        self.latencies.extend(other.latencies);
        self.sequences.extend(other.sequences);
    }

    fn throughput(&self) -> f64 {
        self.completed as f64 / self.seconds.max(1e-9)
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies.len()) - 1;
        self.latencies[index].as_secs_f64() * 1000.0
    }

    fn max_ms(&self) -> f64 {
        self.latencies
            .last()
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }
}

/// One timed batch of raw commits.
#[derive(Clone, Copy)]
struct Phase {
    commits: usize,
    seconds: f64,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.commits as f64 / self.seconds.max(1e-9)
    }

    fn to_json(self) -> Value {
        json!({"commits": self.commits, "seconds": self.seconds, "per_second": self.rate()})
    }
}

/// Raw commits over `connections` connections, one phase per round, interleaved with the
/// server's slices of the load (the disk's fsync latency drifts; interleaving lets both see
/// the same conditions).
struct RawRate {
    connections: usize,
    rounds: Vec<Phase>,
}

impl RawRate {
    /// All rounds together: all commits over all their time.
    fn rate(&self) -> f64 {
        let commits: usize = self.rounds.iter().map(|p| p.commits).sum();
        let seconds: f64 = self.rounds.iter().map(|p| p.seconds).sum();
        commits as f64 / seconds.max(1e-9)
    }

    fn commits(&self) -> usize {
        self.rounds.iter().map(|p| p.commits).sum()
    }

    fn round_range(&self) -> (f64, f64) {
        self.rounds
            .iter()
            .map(Phase::rate)
            .fold((f64::INFINITY, 0.0_f64), |(lo, hi), r| {
                (lo.min(r), hi.max(r))
            })
    }

    fn to_json(&self) -> Value {
        json!({
            "connections": self.connections,
            "per_second": self.rate(),
            "commits": self.commits(),
            "rounds": self.rounds.iter().map(|p| p.to_json()).collect::<Vec<_>>(),
        })
    }

    fn to_text(&self) -> String {
        let (lo, hi) = self.round_range();
        format!(
            "{:.1}/s ({} commits; rounds {:.0}–{:.0}/s)",
            self.rate(),
            self.commits(),
            lo,
            hi
        )
    }
}

#[derive(Default)]
struct RssStats {
    idle_kb: Option<u64>,
    max_sampled_kb: Option<u64>,
    hwm_kb: Option<u64>,
    samples: u64,
}

struct Checks {
    all_201: bool,
    sequences_gapless: bool,
    /// The server's verdict on the trial's chain.
    audit_valid: bool,
    audit_entries: u64,
    /// Entries before the run plus one per screening and one per randomization.
    audit_entries_expected: u64,
    /// PostgreSQL's start time changed during the run (another user restarted it).
    postgres_restarted: bool,
}

impl Report {
    fn checks_passed(&self) -> bool {
        self.checks.all_201
            && self.checks.sequences_gapless
            && self.checks.audit_valid
            && self.checks.audit_entries == self.checks.audit_entries_expected
            && !self.checks.postgres_restarted
    }

    fn ratio_concurrent(&self) -> f64 {
        self.load.throughput() / self.raw_concurrent.rate().max(1e-9)
    }

    fn ratio_single(&self) -> f64 {
        self.load.throughput() / self.raw_single.rate().max(1e-9)
    }

    fn peak_rss_kb(&self) -> Option<u64> {
        match (self.rss.hwm_kb, self.rss.max_sampled_kb) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }

    fn to_json(&self) -> Value {
        let statuses: BTreeMap<String, usize> = self
            .load
            .statuses
            .iter()
            .map(|(k, v)| (k.to_string(), *v))
            .collect();
        json!({
            "backend": self.backend.name(),
            "clients": self.clients,
            "requests": self.requests,
            "server": self.server,
            "screening_seconds": self.screen_seconds,
            "completed": self.load.completed,
            "seconds": self.load.seconds,
            "throughput_rps": self.load.throughput(),
            "latency_ms": {
                "p50": self.load.percentile_ms(50.0),
                "p99": self.load.percentile_ms(99.0),
                "max": self.load.max_ms(),
            },
            "statuses": statuses,
            "loadavg_1min": {"before_load": self.loadavg.0, "after_load": self.loadavg.1},
            "raw_commit_rate": {
                "settings": self.raw_settings,
                "warmup_commits": self.raw_warmup,
                "single": self.raw_single.to_json(),
                "concurrent": self.raw_concurrent.to_json(),
            },
            "ratio_server_to_raw_concurrent": self.ratio_concurrent(),
            "ratio_server_to_raw_single": self.ratio_single(),
            "rss_kb": {
                "idle_before_load": self.rss.idle_kb,
                "max_sampled_vmrss": self.rss.max_sampled_kb,
                "vmhwm": self.rss.hwm_kb,
                "peak": self.peak_rss_kb(),
                "samples": self.rss.samples,
            },
            "checks": {
                "all_201": self.checks.all_201,
                "sequences_gapless": self.checks.sequences_gapless,
                "audit_valid": self.checks.audit_valid,
                "audit_entries": self.checks.audit_entries,
                "audit_entries_expected": self.checks.audit_entries_expected,
                "postgres_restarted": self.checks.postgres_restarted,
                "passed": self.checks_passed(),
            },
        })
    }

    fn to_text(&self) -> String {
        let mb = |kb: Option<u64>| {
            kb.map_or("n/a".to_string(), |k| {
                format!("{:.1} MB", k as f64 / 1024.0)
            })
        };
        let yes = |b: bool| if b { "yes" } else { "NO" };
        let mut t = String::new();
        let _ = writeln!(
            t,
            "trialgate-load  backend={}  clients={}  requests={}  server: {}",
            self.backend.name(),
            self.clients,
            self.requests,
            self.server
        );
        let _ = writeln!(
            t,
            "screening (untimed)  {} patients in {:.2} s",
            self.requests, self.screen_seconds
        );
        let _ = writeln!(
            t,
            "server randomize     {} completed in {:.2} s = {:.1} req/s",
            self.load.completed,
            self.load.seconds,
            self.load.throughput()
        );
        let _ = writeln!(
            t,
            "machine load         1-min load average {} before, {} after ({} cores)",
            self.loadavg.0.map_or("n/a".into(), |l| format!("{l:.2}")),
            self.loadavg.1.map_or("n/a".into(), |l| format!("{l:.2}")),
            std::thread::available_parallelism().map_or(0, |n| n.get())
        );
        let _ = writeln!(
            t,
            "latency              p50 {:.2} ms   p99 {:.2} ms   max {:.2} ms",
            self.load.percentile_ms(50.0),
            self.load.percentile_ms(99.0),
            self.load.max_ms()
        );
        let _ = writeln!(t, "raw commits, 1 conn  {}", self.raw_single.to_text());
        let _ = writeln!(
            t,
            "raw commits, {:<2} conn {}",
            self.raw_concurrent.connections,
            self.raw_concurrent.to_text()
        );
        let _ = writeln!(
            t,
            "raw settings         {} (after {} untimed warm-up commits)",
            self.raw_settings, self.raw_warmup
        );
        let _ = writeln!(
            t,
            "ratio server/raw     {:.3} (vs {} conns)   {:.3} (vs 1 conn)",
            self.ratio_concurrent(),
            self.raw_concurrent.connections,
            self.ratio_single()
        );
        let _ = writeln!(
            t,
            "server RSS           peak {}  (VmHWM {}, max sampled VmRSS {}, idle before load {}, {} samples)",
            mb(self.peak_rss_kb()),
            mb(self.rss.hwm_kb),
            mb(self.rss.max_sampled_kb),
            mb(self.rss.idle_kb),
            self.rss.samples
        );
        let statuses: Vec<String> = self
            .load
            .statuses
            .iter()
            .map(|(k, v)| format!("{k}×{v}"))
            .collect();
        let _ = writeln!(
            t,
            "checks               all 201: {} ({})   sequences 1..{} gapless: {}   audit verify: {} ({} entries, {} expected)",
            yes(self.checks.all_201),
            statuses.join(", "),
            self.requests,
            yes(self.checks.sequences_gapless),
            if self.checks.audit_valid { "valid" } else { "INVALID" },
            self.checks.audit_entries,
            self.checks.audit_entries_expected
        );
        if self.checks.postgres_restarted {
            let _ = writeln!(
                t,
                "WARNING              PostgreSQL was restarted during the run: figures invalid"
            );
        }
        t
    }
}

fn run(args: &Args, cleanup: &mut Cleanup) -> Res<Report> {
    if args.clients == 0 || args.requests == 0 {
        return Err("--clients and --requests must be at least 1".into());
    }
    let limit = Duration::from_secs(args.max_seconds.max(1));
    let scratch = std::env::temp_dir().join(format!("trialgate-load-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).map_err(|e| format!("{}: {e}", scratch.display()))?;
    cleanup.dir = Some(scratch.clone());

    let pg_started = match args.backend {
        Backend::Postgres => Some(postgres_start_time(&args.postgres_url)?),
        Backend::Sqlite => None,
    };
    // The server: spawned, or given.
    let (base, admin, trial, pid, server_desc) = match &args.url {
        Some(url) => {
            let token_file = args
                .admin_token_file
                .as_ref()
                .ok_or("--url needs --admin-token-file")?;
            let admin = read_trimmed(token_file)?;
            let trial = args.trial.clone().ok_or("--url needs --trial")?;
            (
                url.trim_end_matches('/').to_string(),
                admin,
                trial,
                args.server_pid,
                format!("given {url}"),
            )
        }
        None => spawn_server(args, &scratch, cleanup, limit)?,
    };

    let http = agent(limit);
    let investigator = create_user(&http, &base, &admin, "load-investigator", "investigator")?;
    let pharmacist = create_user(&http, &base, &admin, "load-pharmacist", "pharmacist")?;
    let monitor = create_user(&http, &base, &admin, "load-monitor", "monitor")?;
    let audit_before = verify_audit(&http, &base, &monitor, &trial)?.1;

    let screen_start = Instant::now();
    let screenings = screen_patients(&base, &trial, &investigator, args, limit)?;
    let screen_seconds = screen_start.elapsed().as_secs_f64();

    // The raw durable commit rate of the same backend: set up, warm up, first half.
    let raw_commits = (args.raw_commits.unwrap_or(args.requests.min(1000))
        / args.rounds.clamp(1, args.requests))
    .max(1);
    let raw_url = match args.backend {
        Backend::Sqlite => format!("sqlite://{}", scratch.join("raw-commit.db").display()),
        Backend::Postgres => {
            let name = format!("tg_raw_{}", uuid::Uuid::new_v4().simple());
            create_pg_database(&args.postgres_url, &name)?;
            cleanup
                .pg_databases
                .push((args.postgres_url.clone(), name.clone()));
            with_database(&args.postgres_url, &name)?
        }
    };
    prepare_raw_table(&raw_url)?;
    let raw_settings = durability(&raw_url)?;
    // Untimed warm-up: a fresh SQLite WAL grows with every commit (each fsync then also writes
    // the file's new size) until the first checkpoint, after which it is reused in place as in
    // the long-running server; PostgreSQL gets the same treatment for symmetry.
    let warmup = args.raw_warmup;
    let mut next_id = 0;
    if warmup > 0 {
        raw_commit_rate(&raw_url, 1, warmup, next_id, limit)?;
        next_id += warmup;
    }
    let mut raw_phase = |connections: usize| -> Res<Phase> {
        let phase = raw_commit_rate(&raw_url, connections, raw_commits, next_id, limit)?;
        next_id += raw_commits;
        Ok(phase)
    };

    let mut rss = RssStats {
        idle_kb: pid.and_then(|p| read_status_kb(p, "VmRSS")),
        ..RssStats::default()
    };
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = pid.map(|p| {
        let stop = stop.clone();
        std::thread::spawn(move || sample_rss(p, &stop))
    });
    let loadavg_before = loadavg();
    // Rounds: a slice of the randomizations, then raw commits over 1 and over --clients
    // connections (every other round the server slice comes last).
    let rounds = args.rounds.clamp(1, args.requests);
    let mut load = LoadResult::default();
    let mut raw_single = RawRate {
        connections: 1,
        rounds: Vec::new(),
    };
    let mut raw_concurrent = RawRate {
        connections: args.clients,
        rounds: Vec::new(),
    };
    for r in 0..rounds {
        let slice = &screenings[r * args.requests / rounds..(r + 1) * args.requests / rounds];
        let server_last = r % 2 == 1;
        if !server_last {
            load.merge(randomize_all(
                &base,
                &trial,
                &pharmacist,
                slice,
                args,
                limit,
            )?);
        }
        raw_single.rounds.push(raw_phase(1)?);
        raw_concurrent.rounds.push(raw_phase(args.clients)?);
        if server_last {
            load.merge(randomize_all(
                &base,
                &trial,
                &pharmacist,
                slice,
                args,
                limit,
            )?);
        }
    }
    load.latencies.sort_unstable();
    let loadavg_after = loadavg();
    stop.store(true, Ordering::Relaxed);
    if let Some(handle) = sampler {
        if let Ok((max, samples)) = handle.join() {
            rss.max_sampled_kb = max;
            rss.samples = samples;
        }
    }
    rss.hwm_kb = pid.and_then(|p| read_status_kb(p, "VmHWM"));

    let (audit_valid, audit_entries) = verify_audit(&http, &base, &monitor, &trial)?;
    let mut sorted = load.sequences.clone();
    sorted.sort_unstable();
    // With a spawned server the trial is fresh: sequences must be exactly 1..N. Against a given
    // server they must at least be consecutive.
    let first = if args.url.is_none() {
        1
    } else {
        sorted.first().copied().unwrap_or(1)
    };
    let sequences_gapless = sorted.len() == args.requests
        && sorted
            .iter()
            .enumerate()
            .all(|(i, s)| *s == first + i as i64);
    let all_201 = load.statuses.len() == 1
        && load.statuses.get(&201) == Some(&args.requests)
        && load.completed == args.requests;
    // Every screening and every randomization adds one entry.
    let expected_entries = audit_before + 2 * args.requests as u64;
    let mut checks = Checks {
        all_201,
        sequences_gapless,
        audit_valid,
        audit_entries,
        audit_entries_expected: expected_entries,
        postgres_restarted: false,
    };

    if let Some(before) = &pg_started {
        checks.postgres_restarted = postgres_start_time(&args.postgres_url)? != *before;
    }
    if let Some(path) = &args.server_log {
        let log = scratch.join("server.log");
        if log.is_file() {
            std::fs::copy(&log, path).map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }

    Ok(Report {
        backend: args.backend,
        clients: args.clients,
        requests: args.requests,
        server: server_desc,
        screen_seconds,
        load,
        raw_single,
        raw_concurrent,
        raw_settings,
        raw_warmup: warmup,
        loadavg: (loadavg_before, loadavg_after),
        rss,
        checks,
    })
}

fn read_trimmed(path: &Path) -> Res<String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Starts `trialgate serve` on a free port; returns (base URL, admin token, trial, pid, description).
fn spawn_server(
    args: &Args,
    scratch: &Path,
    cleanup: &mut Cleanup,
    limit: Duration,
) -> Res<(String, String, String, Option<u32>, String)> {
    let bin = match &args.server_bin {
        Some(b) => b.clone(),
        None => std::env::current_exe()
            .map_err(|e| format!("current executable: {e}"))?
            .with_file_name("trialgate"),
    };
    if !bin.is_file() {
        return Err(format!(
            "{} not found: build it first (cargo build --release --bins) or pass --server-bin",
            bin.display()
        ));
    }
    let trial = format!("LOAD-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    let protocol = trialgate::protocol::DEFAULT_PROTOCOL_TOML
        .replacen("id = \"NCT06987370\"", &format!("id = \"{trial}\""), 1)
        .replacen("cap = 90", "cap = 1000000", 1);
    if !protocol.contains(&trial) || !protocol.contains("cap = 1000000") {
        return Err(
            "the built-in protocol no longer has the id/cap lines this tool rewrites".into(),
        );
    }
    let protocol_file = scratch.join("protocol.toml");
    std::fs::write(&protocol_file, protocol).map_err(|e| format!("protocol file: {e}"))?;
    let data_dir = scratch.join("data");
    let database_url = match args.backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let name = format!("tg_load_{}", uuid::Uuid::new_v4().simple());
            create_pg_database(&args.postgres_url, &name)?;
            cleanup
                .pg_databases
                .push((args.postgres_url.clone(), name.clone()));
            Some(with_database(&args.postgres_url, &name)?)
        }
    };
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("finding a free port: {e}"))?
        .port();
    let log_path = scratch.join("server.log");
    let log = File::create(&log_path).map_err(|e| format!("server log: {e}"))?;
    let log_err = log.try_clone().map_err(|e| format!("server log: {e}"))?;
    let mut cmd = Command::new(&bin);
    cmd.arg("serve")
        .arg("--bind")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("--protocol")
        .arg(&protocol_file)
        .env_remove("DATABASE_URL")
        .env_remove("TRIALGATE_DATA_DIR")
        .env_remove("TRIALGATE_BIND")
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::from(log_err));
    if let Some(url) = &database_url {
        cmd.arg("--database-url").arg(url);
    }
    if let Some(w) = args.workers {
        cmd.arg("--workers").arg(w.to_string());
    }
    if let Some(p) = args.pool_size {
        cmd.arg("--pool-size").arg(p.to_string());
    }
    let child = cmd
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let pid = child.id();
    cleanup.child = Some(child);
    let base = format!("http://127.0.0.1:{port}");
    let http = agent(Duration::from_secs(5));
    let deadline = Instant::now() + limit.min(Duration::from_secs(60));
    loop {
        if let Some(child) = cleanup.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "server exited ({status}) during start:\n{}",
                    tail(&log_path)
                ));
            }
        }
        if let Ok(r) = http.get(format!("{base}/healthz")).call() {
            if r.status().as_u16() == 200 {
                break;
            }
        }
        if Instant::now() > deadline {
            return Err(format!("server did not start:\n{}", tail(&log_path)));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let admin = read_trimmed(&data_dir.join("admin.token"))?;
    let desc = format!(
        "spawned {} ({}, workers {}, pool {})",
        bin.display(),
        args.backend.name(),
        args.workers
            .map_or("default".to_string(), |w| w.to_string()),
        args.pool_size
            .map_or("default".to_string(), |p| p.to_string())
    );
    Ok((base, admin, trial, Some(pid), desc))
}

/// Asks the child to stop (SIGTERM through `kill`, so the server shuts down gracefully), waits
/// up to 15 s, then kills it.
fn stop_child(child: &mut Child) {
    let asked = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if asked {
        let until = Instant::now() + Duration::from_secs(15);
        while Instant::now() < until {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let _ = child.kill();
    let _ = child.wait();
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(timeout))
            .build(),
    )
}

/// Sends a request; returns (status, body).
fn send(
    http: &ureq::Agent,
    method: &str,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> Res<(u16, String)> {
    let auth = format!("Bearer {token}");
    let result = match (method, body) {
        ("GET", _) => http.get(url).header("Authorization", &auth).call(),
        (_, Some(body)) => http
            .post(url)
            .header("Authorization", &auth)
            .content_type("application/json")
            .send(body.to_string()),
        (_, None) => http.post(url).header("Authorization", &auth).send_empty(),
    };
    let mut response = result.map_err(|e| format!("{method} {url}: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .read_to_string()
        .map_err(|e| format!("{method} {url}: reading body: {e}"))?;
    Ok((status, text))
}

fn create_user(http: &ureq::Agent, base: &str, admin: &str, name: &str, role: &str) -> Res<String> {
    let name = format!("{name}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let (status, text) = send(
        http,
        "POST",
        &format!("{base}/api/v1/users"),
        admin,
        Some(&json!({"name": name, "role": role})),
    )?;
    if status != 201 {
        return Err(format!("creating user {name}: {status} {text}"));
    }
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("user response: {e}"))?;
    v["token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("user response without token: {text}"))
}

/// (valid, entries) of the trial's audit chain.
fn verify_audit(http: &ureq::Agent, base: &str, monitor: &str, trial: &str) -> Res<(bool, u64)> {
    let (status, text) = send(
        http,
        "GET",
        &format!("{base}/api/v1/trials/{trial}/audit/verify"),
        monitor,
        None,
    )?;
    if status != 200 {
        return Err(format!("audit verify: {status} {text}"));
    }
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("audit verify: {e}"))?;
    Ok((
        v["valid"].as_bool() == Some(true),
        v["entries"].as_u64().unwrap_or(0),
    ))
}

/// A fully eligible screening request (the API tests' reference patient).
fn eligible(patient_ref: &str) -> Value {
    json!({
        "patient_ref": patient_ref, "site": "SITE01",
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

/// Screens `requests` eligible patients with `clients` threads; returns the screening ids.
fn screen_patients(
    base: &str,
    trial: &str,
    token: &str,
    args: &Args,
    limit: Duration,
) -> Res<Vec<String>> {
    let n = args.requests;
    let next = AtomicUsize::new(0);
    let deadline = Instant::now() + limit;
    let url = format!("{base}/api/v1/trials/{trial}/screenings");
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let results: Vec<Res<Vec<(usize, String)>>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..args.clients)
            .map(|_| {
                scope.spawn(|| -> Res<Vec<(usize, String)>> {
                    let http = agent(limit);
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= n {
                            return Ok(out);
                        }
                        if Instant::now() > deadline {
                            return Err(format!("screening did not finish within {limit:?}"));
                        }
                        let body = eligible(&format!("L{}-{i:07}", &tag[..8]));
                        let (status, text) = send(&http, "POST", &url, token, Some(&body))?;
                        let v: Value = serde_json::from_str(&text)
                            .map_err(|e| format!("screening response: {e}: {text}"))?;
                        if status != 201 || v["outcome"] != "eligible" {
                            return Err(format!("screening {i}: {status} {text}"));
                        }
                        let id = v["id"]
                            .as_str()
                            .ok_or_else(|| format!("screening without id: {text}"))?;
                        out.push((i, id.to_string()));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("screening thread panicked".into()))
            })
            .collect()
    });
    let mut ids = vec![String::new(); n];
    for r in results {
        for (i, id) in r? {
            ids[i] = id;
        }
    }
    Ok(ids)
}

struct Sample {
    status: u16,
    sequence: Option<i64>,
    latency: Duration,
}

/// Randomizes every screening with `clients` threads, timing each request.
fn randomize_all(
    base: &str,
    trial: &str,
    token: &str,
    screenings: &[String],
    args: &Args,
    limit: Duration,
) -> Res<LoadResult> {
    let next = AtomicUsize::new(0);
    let url = format!("{base}/api/v1/trials/{trial}/randomizations");
    let auth = format!("Bearer {token}");
    // Connect every client before the clock starts.
    let ready = std::sync::Barrier::new(args.clients + 1);
    let start_nanos = AtomicU64::new(0);
    let origin = Instant::now();
    let mut deadline_hit = false;
    let results: Vec<Res<(Vec<Sample>, Instant)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..args.clients)
            .map(|_| {
                scope.spawn(|| -> Res<(Vec<Sample>, Instant)> {
                    let http = agent(limit);
                    let warm = http.get(format!("{base}/healthz")).call();
                    ready.wait();
                    warm.map_err(|e| format!("connecting: {e}"))?;
                    let deadline =
                        origin + Duration::from_nanos(start_nanos.load(Ordering::Acquire)) + limit;
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= screenings.len() || Instant::now() > deadline {
                            return Ok((out, Instant::now()));
                        }
                        let body = json!({"screening_id": screenings[i]}).to_string();
                        let t0 = Instant::now();
                        let mut response = http
                            .post(&url)
                            .header("Authorization", &auth)
                            .content_type("application/json")
                            .send(body)
                            .map_err(|e| format!("randomization {i}: {e}"))?;
                        let text = response
                            .body_mut()
                            .read_to_string()
                            .map_err(|e| format!("randomization {i}: body: {e}"))?;
                        let latency = t0.elapsed();
                        let status = response.status().as_u16();
                        let sequence = if status == 201 {
                            serde_json::from_str::<Value>(&text)
                                .ok()
                                .and_then(|v| v["sequence"].as_i64())
                        } else {
                            None
                        };
                        out.push(Sample {
                            status,
                            sequence,
                            latency,
                        });
                    }
                })
            })
            .collect();
        start_nanos.store(origin.elapsed().as_nanos() as u64, Ordering::Release);
        ready.wait();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("client thread panicked".into()))
            })
            .collect()
    });
    let start = origin + Duration::from_nanos(start_nanos.load(Ordering::Acquire));
    let mut end = start;
    let mut statuses = BTreeMap::new();
    let mut latencies = Vec::with_capacity(screenings.len());
    let mut sequences = Vec::with_capacity(screenings.len());
    for r in results {
        let (samples, finished) = r?;
        end = end.max(finished);
        for s in samples {
            *statuses.entry(s.status).or_insert(0) += 1;
            latencies.push(s.latency);
            if let Some(seq) = s.sequence {
                sequences.push(seq);
            }
        }
    }
    latencies.sort_unstable();
    if latencies.len() < screenings.len() {
        deadline_hit = true;
    }
    if deadline_hit {
        eprintln!(
            "trialgate-load: stopped at the {limit:?} limit after {} requests",
            latencies.len()
        );
    }
    Ok(LoadResult {
        completed: latencies.len(),
        seconds: end.duration_since(start).as_secs_f64(),
        statuses,
        latencies,
        sequences,
    })
}

/// The 1-minute load average (other work on the machine skews every figure).
fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A `VmRSS`/`VmHWM`-style line of /proc/PID/status, in kB.
fn read_status_kb(pid: u32, field: &str) -> Option<u64> {
    let mut text = String::new();
    File::open(format!("/proc/{pid}/status"))
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
}

/// Samples VmRSS every 20 ms until `stop`; returns (max kB, samples). Bounded at 30 minutes.
fn sample_rss(pid: u32, stop: &AtomicBool) -> (Option<u64>, u64) {
    let mut max = None;
    let mut samples = 0;
    let until = Instant::now() + Duration::from_secs(1800);
    while !stop.load(Ordering::Relaxed) && Instant::now() < until {
        if let Some(kb) = read_status_kb(pid, "VmRSS") {
            max = Some(max.map_or(kb, |m: u64| m.max(kb)));
            samples += 1;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (max, samples)
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> Res<String> {
    let scheme_end = url.find("://").ok_or_else(|| format!("not a URL: {url}"))? + 3;
    let (before_query, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let host_end = before_query[scheme_end..]
        .find('/')
        .map_or(before_query.len(), |i| scheme_end + i);
    let mut out = format!("{}/{name}", &before_query[..host_end]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Ok(out)
}

fn create_pg_database(url: &str, name: &str) -> Res<()> {
    let mut conn = storage::establish(url).map_err(|e| format!("PostgreSQL {url}: {e}"))?;
    diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
        .execute(&mut conn)
        .map_err(|e| format!("CREATE DATABASE {name}: {e}"))?;
    Ok(())
}

fn drop_pg_database(url: &str, name: &str) -> Res<()> {
    let mut conn = storage::establish(url).map_err(|e| e.to_string())?;
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut conn)
        .map_err(|e| e.to_string())?;
    Ok(())
}

diesel::table! {
    load_raw_commit (id) {
        id -> BigInt,
        payload -> Text,
    }
}

fn prepare_raw_table(url: &str) -> Res<()> {
    let mut conn = storage::establish(url).map_err(|e| format!("raw database: {e}"))?;
    diesel::sql_query("DROP TABLE IF EXISTS load_raw_commit")
        .execute(&mut conn)
        .map_err(|e| format!("raw table: {e}"))?;
    diesel::sql_query(
        "CREATE TABLE load_raw_commit (id BIGINT PRIMARY KEY NOT NULL, payload TEXT NOT NULL)",
    )
    .execute(&mut conn)
    .map_err(|e| format!("raw table: {e}"))?;
    Ok(())
}

/// `total` one-row INSERT transactions over `connections` connections (each from
/// `storage::establish`, so with the server's pragmas), in the server's write transaction kind.
/// Ids start at `first_id`.
fn raw_commit_rate(
    url: &str,
    connections: usize,
    total: usize,
    first_id: usize,
    limit: Duration,
) -> Res<Phase> {
    let payload = "x".repeat(200);
    let next = AtomicUsize::new(0);
    let mut conns = Vec::with_capacity(connections);
    for _ in 0..connections {
        conns.push(storage::establish(url).map_err(|e| format!("raw database: {e}"))?);
    }
    let ready = std::sync::Barrier::new(connections + 1);
    let mut start = Instant::now();
    let results: Vec<Res<usize>> = std::thread::scope(|scope| {
        let workers: Vec<_> = conns
            .into_iter()
            .map(|mut conn| {
                let (next, ready, payload) = (&next, &ready, &payload);
                scope.spawn(move || -> Res<usize> {
                    ready.wait();
                    let deadline = Instant::now() + limit;
                    let mut done = 0;
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= total || Instant::now() > deadline {
                            return Ok(done);
                        }
                        insert_one(&mut conn, (first_id + i) as i64, payload)
                            .map_err(|e| format!("raw insert: {e}"))?;
                        done += 1;
                    }
                })
            })
            .collect();
        start = Instant::now();
        ready.wait();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err("raw thread panicked".into()))
            })
            .collect()
    });
    let seconds = start.elapsed().as_secs_f64();
    let mut commits = 0;
    for r in results {
        commits += r?;
    }
    Ok(Phase { commits, seconds })
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = diesel::sql_types::Text)]
    v: String,
}

/// When the PostgreSQL server started: a change during the run means someone restarted it.
fn postgres_start_time(url: &str) -> Res<String> {
    let conn = storage::establish(url).map_err(|e| format!("PostgreSQL {url}: {e}"))?;
    match conn {
        DbConnection::Postgres(mut c) => {
            diesel::sql_query("SELECT pg_postmaster_start_time()::text AS v")
                .get_result::<Setting>(&mut c)
                .map(|s| s.v)
                .map_err(|e| format!("pg_postmaster_start_time: {e}"))
        }
        DbConnection::Sqlite(_) => Err("--postgres-url is not a PostgreSQL URL".into()),
    }
}

/// The durability settings in force on a connection of `url`, for the report.
fn durability(url: &str) -> Res<String> {
    let conn = storage::establish(url).map_err(|e| format!("raw database: {e}"))?;
    let err = |e: diesel::result::Error| format!("reading settings: {e}");
    Ok(match conn {
        DbConnection::Sqlite(mut c) => {
            diesel::sql_query(
                "SELECT 'journal_mode=' || (SELECT journal_mode FROM pragma_journal_mode) \
             || ' synchronous=' || (SELECT synchronous FROM pragma_synchronous) \
             || ' (2=FULL)' AS v",
            )
            .get_result::<Setting>(&mut c)
            .map_err(err)?
            .v
        }
        DbConnection::Postgres(mut c) => {
            diesel::sql_query(
                "SELECT 'synchronous_commit=' || current_setting('synchronous_commit') \
             || ' fsync=' || current_setting('fsync') \
             || ' wal_sync_method=' || current_setting('wal_sync_method') \
             || ' commit_delay=' || current_setting('commit_delay') AS v",
            )
            .get_result::<Setting>(&mut c)
            .map_err(err)?
            .v
        }
    })
}

fn insert_one(conn: &mut DbConnection, id: i64, payload: &str) -> Result<(), StorageError> {
    storage::write_transaction(conn, |c| {
        diesel::insert_into(load_raw_commit::table)
            .values((
                load_raw_commit::id.eq(id),
                load_raw_commit::payload.eq(payload),
            ))
            .execute(c)
            .map(|_| ())
            .map_err(StorageError::from)
    })
}
