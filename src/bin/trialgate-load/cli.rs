//! Command-line options: the backend, the load's size and pacing, and how to reach or spawn
//! the server.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub(crate) fn name(self) -> &'static str {
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
pub(crate) struct Args {
    /// Database backend of the spawned server and of the raw commit measurement.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub(crate) backend: Backend,
    /// Concurrent clients (threads with a blocking HTTP client, keep-alive).
    #[arg(long, default_value_t = 4)]
    pub(crate) clients: usize,
    /// Randomizations to perform (and patients to screen first).
    #[arg(long, default_value_t = 2000)]
    pub(crate) requests: usize,
    /// One-row INSERT transactions per raw measurement, 1 and --clients connections each
    /// (default: --requests, at most 1000), spread over the rounds.
    #[arg(long)]
    pub(crate) raw_commits: Option<usize>,
    /// Rounds: the load is cut into this many slices, each followed (or preceded) by its share
    /// of the raw commit measurement, so both see the same disk conditions.
    #[arg(long, default_value_t = 4)]
    pub(crate) rounds: usize,
    /// Untimed one-row INSERT transactions before the raw measurement (steady-state WAL).
    #[arg(long, default_value_t = 1000)]
    pub(crate) raw_warmup: usize,
    /// PostgreSQL server for the spawned server's database and the raw measurement.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    pub(crate) postgres_url: String,
    /// Drive this running server (e.g. http://127.0.0.1:8080) instead of spawning one.
    #[arg(long)]
    pub(crate) url: Option<String>,
    /// With --url: the file holding an admin token.
    #[arg(long)]
    pub(crate) admin_token_file: Option<PathBuf>,
    /// With --url: the trial to randomize in.
    #[arg(long)]
    pub(crate) trial: Option<String>,
    /// With --url: the server's process id, for RSS sampling.
    #[arg(long)]
    pub(crate) server_pid: Option<u32>,
    /// The trialgate binary to spawn (default: `trialgate` next to this executable).
    #[arg(long)]
    pub(crate) server_bin: Option<PathBuf>,
    /// `--workers` for the spawned server (default: the server's own, one per core).
    #[arg(long)]
    pub(crate) workers: Option<usize>,
    /// `--pool-size` for the spawned server (default: the server's own).
    #[arg(long)]
    pub(crate) pool_size: Option<u32>,
    /// Upper bound on each timed phase, in seconds.
    #[arg(long, default_value_t = 120)]
    pub(crate) max_seconds: u64,
    /// Copy the spawned server's log (stdout and stderr) to this file at the end.
    #[arg(long)]
    pub(crate) server_log: Option<PathBuf>,
    /// Print the result as JSON instead of a table.
    #[arg(long)]
    pub(crate) json: bool,
}
