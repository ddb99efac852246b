//! `trialgate serve`: its arguments; the server itself is started by the caller of
//! [`super::run`].

use std::path::PathBuf;
use std::process::ExitCode;

use super::{init_logging, CliError, DataArgs};

/// `trialgate serve`: started by the binary's entry point through [`super::run`]'s `serve`
/// argument, so this edge never depends on the start-up code above it.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "TRIALGATE_BIND", default_value = "127.0.0.1:8080")]
    pub bind: String,
    #[command(flatten)]
    pub data: DataArgs,
    /// Protocol files of the trials to serve (repeatable); default: NCT06987370.
    #[arg(long = "protocol")]
    pub protocols: Vec<PathBuf>,
    /// Database connections in the pool.
    #[arg(long, default_value_t = 16)]
    pub pool_size: u32,
    /// HTTP worker threads (default: one per core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Mark the web pages' cookies Secure: set it when users reach the server over https
    /// (behind a TLS-terminating proxy).
    #[arg(long, env = "TRIALGATE_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// The Merkle log's origin: signed checkpoints read `{origin}/{trial}`, and the signature
    /// line names the key by it. Every instance on one database must use the same.
    #[arg(long, env = "TRIALGATE_LOG_ORIGIN", default_value = crate::audit::note::DEFAULT_ORIGIN)]
    pub log_origin: String,
    /// Also serve a training copy of every trial, `{id}-TRAINING`, with its own seed, audit
    /// chain and patients, marked on every page: for staff training and the README tour.
    #[arg(long, env = "TRIALGATE_TRAINING")]
    pub training: bool,
}

pub(super) fn run(
    args: ServeArgs,
    serve: impl FnOnce(ServeArgs) -> Result<ExitCode, CliError>,
) -> Result<ExitCode, CliError> {
    init_logging();
    serve(args)
}
