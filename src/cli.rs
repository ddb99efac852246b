//! The `trialgate` command line: argument definitions and dispatch to the library.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::protocol::Protocol;
use crate::randomization::{Schedule, Seed, ALGORITHM};

#[derive(Debug, Parser)]
#[command(
    name = "trialgate",
    version,
    about = "Randomization and enrollment server for clinical trials"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScheduleFormat {
    Text,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
}

/// Where the data lives: shared by every command that touches the database.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Data directory: SQLite file, seed files, admin token.
    #[arg(long, env = "TRIALGATE_DATA_DIR", default_value = "./trialgate-data")]
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…` (default: SQLite in the data directory).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

impl DataArgs {
    fn url(&self) -> String {
        crate::service::setup::database_url(&self.data_dir, self.database_url.as_deref())
    }

    /// One migrated connection (creating the data directory for SQLite). Commands use a
    /// single connection, not a pool: no background threads may outlive `main`, where a pool's
    /// connection threads racing libpq's exit-time cleanup could crash a finished command.
    fn open(&self) -> Result<crate::storage::DbConnection, String> {
        crate::service::setup::prepare_data_dir(&self.data_dir).map_err(|e| e.to_string())?;
        let mut conn = crate::storage::establish(&self.url()).map_err(|e| e.to_string())?;
        crate::storage::run_migrations(&mut conn).map_err(|e| e.to_string())?;
        Ok(conn)
    }
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print its token (shown once).
    Add {
        name: String,
        #[arg(long)]
        role: String,
        /// Limit the user to these sites (repeatable); none: all sites.
        #[arg(long = "site")]
        sites: Vec<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Revoke every token of a user.
    Revoke {
        name: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute every hash of a chain; exit 0 when valid, 1 when not.
    Verify {
        /// Trial id, or `_system` for the chain of user events.
        #[arg(long)]
        trial: String,
        /// A head hash recorded earlier: the chain must still contain it.
        #[arg(long)]
        expect_head: Option<String>,
        /// A signed checkpoint saved earlier (JSON of GET /audit/checkpoint): its signature
        /// must verify with the pinned key and the chain must still contain its head.
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// The pinned checkpoint public key (base64); default: checkpoint.pub in the data dir.
        #[arg(long)]
        public_key: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Check every allocation against the schedule recomputed from the seed file.
    Check {
        #[arg(long)]
        trial: String,
        #[arg(long)]
        seed_file: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
}

/// `trialgate serve`: started by the binary's entry point through [`run`]'s `serve`
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
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (API and web pages).
    Serve(ServeArgs),
    /// Copy the SQLite database online to a new file (PostgreSQL: use pg_dump).
    Backup {
        /// Destination file; never overwritten.
        #[arg(long)]
        to: PathBuf,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Apply database migrations and exit.
    Migrate {
        #[command(flatten)]
        data: DataArgs,
    },
    /// Manage users and tokens.
    #[command(subcommand)]
    User(UserCommand),
    /// Verify the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Report the design's operating characteristics from simulated trials.
    Simulate {
        #[arg(long)]
        protocol: Option<PathBuf>,
        /// Number of simulated trials.
        #[arg(long, default_value_t = 10_000)]
        trials: u64,
        /// Simulation seed (64 hex characters); a fixed default makes runs reproducible.
        #[arg(long)]
        seed: Option<String>,
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
    },
    /// Print the allocation schedule of one stratum for a seed file.
    Schedule {
        /// Seed file: 64 hex characters.
        #[arg(long)]
        seed_file: PathBuf,
        /// Protocol file (TOML); the built-in NCT06987370 protocol when absent.
        #[arg(long)]
        protocol: Option<PathBuf>,
        /// Stratum key, e.g. `site=SITE01` (empty: the unstratified stream).
        #[arg(long, default_value = "")]
        stratum: String,
        /// Number of allocations to print.
        #[arg(short = 'n', default_value_t = 90)]
        n: u64,
        #[arg(long, value_enum, default_value_t = ScheduleFormat::Text)]
        format: ScheduleFormat,
    },
}

/// Runs a parsed command; errors are printed by the caller.
/// Runs a command; `serve` is handed to the caller's `serve` (the start-up code).
pub fn run(
    cli: Cli,
    serve: impl FnOnce(ServeArgs) -> Result<ExitCode, String>,
) -> Result<ExitCode, String> {
    match cli.command {
        Command::Schedule {
            seed_file,
            protocol,
            stratum,
            n,
            format,
        } => {
            let protocol = load_protocol(protocol.as_deref())?;
            let seed = Seed::read_file(&seed_file).map_err(|e| e.to_string())?;
            let mut out = io::BufWriter::new(io::stdout().lock());
            write_schedule(&mut out, &protocol, &seed, &stratum, n, format)
                .and_then(|()| out.flush())
                .or_else(ignore_broken_pipe)
                .map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve(args) => {
            init_logging();
            serve(args)
        }
        Command::Backup { to, data } => {
            let mut conn = data.open()?;
            crate::storage::backup_sqlite(&mut conn, &to).map_err(|e| e.to_string())?;
            println!("backup written to {} (integrity ok)", to.display());
            eprintln!(
                "the seed files in {} are not in the database: back them up separately",
                data.data_dir.join("seeds").display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Migrate { data } => {
            init_logging();
            data.open()?;
            println!("migrations applied to {}", redact_url(&data.url()));
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Add {
            name,
            role,
            sites,
            data,
        }) => {
            let mut conn = data.open()?;
            let created = crate::service::users::create(
                &mut conn,
                &crate::service::users::cli_actor(),
                &name,
                &role,
                &sites,
            )
            .map_err(|e| e.to_string())?;
            println!("{}", created.token);
            eprintln!(
                "user {} ({}) created; the token above is shown once",
                created.name, created.role
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::User(UserCommand::Revoke { name, data }) => {
            let mut conn = data.open()?;
            let revoked = crate::service::users::revoke(
                &mut conn,
                &crate::service::users::cli_actor(),
                &name,
            )
            .map_err(|e| e.to_string())?;
            println!(
                "user {} revoked ({} tokens)",
                revoked.name, revoked.revoked_tokens
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify {
            trial,
            expect_head,
            checkpoint,
            public_key,
            data,
        }) => {
            let checkpoint = match &checkpoint {
                None => None,
                Some(path) => {
                    match verified_checkpoint(path, &trial, public_key.as_deref(), &data.data_dir) {
                        Ok(c) => Some(c),
                        Err(problem) => {
                            println!("checkpoint {}: INVALID: {problem}", path.display());
                            return Ok(ExitCode::from(1));
                        }
                    }
                }
            };
            let mut conn = data.open()?;
            let v = crate::service::audit_trail::verify_chain(
                &mut conn,
                &trial,
                expect_head.as_deref(),
            )
            .map_err(|e| e.to_string())?;
            if let (true, Some(c)) = (v.valid, &checkpoint) {
                // The chain must still hold the checkpoint's entry, unchanged.
                let entry = crate::storage::read_audit(&mut conn, &trial, c.seq - 1, 1)
                    .map_err(|e| e.to_string())?;
                match entry.first() {
                    Some(e) if e.seq == c.seq && e.hash == c.hash => println!(
                        "checkpoint: signature valid (key {}), chain extends seq {} hash {}",
                        c.key_id, c.seq, c.hash
                    ),
                    _ => {
                        println!(
                            "chain {trial}: INVALID: it does not contain the checkpoint's entry seq {} hash {} (rewritten or truncated)",
                            c.seq, c.hash
                        );
                        return Ok(ExitCode::from(1));
                    }
                }
            }
            if v.valid {
                println!(
                    "chain {trial}: valid, {} entries, head {}",
                    v.entries, v.head
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "chain {trial}: INVALID, first bad seq {}{}",
                    v.first_invalid_seq
                        .map_or("?".to_string(), |s| s.to_string()),
                    v.problem.map_or(String::new(), |p| format!(": {p}"))
                );
                Ok(ExitCode::from(1))
            }
        }
        Command::Audit(AuditCommand::Check {
            trial,
            seed_file,
            data,
        }) => {
            let seed = Seed::read_file(&seed_file).map_err(|e| e.to_string())?;
            let mut conn = data.open()?;
            let report = crate::service::audit_trail::check_allocations(&mut conn, &trial, &seed)
                .map_err(|e| e.to_string())?;
            for problem in &report.problems {
                println!("MISMATCH: {problem}");
            }
            if report.problems.is_empty() {
                println!(
                    "trial {trial}: all {} allocations equal the schedule of seed {}",
                    report.checked,
                    seed.commitment()
                );
                Ok(ExitCode::SUCCESS)
            } else {
                println!(
                    "trial {trial}: {} problem(s) in {} allocations",
                    report.problems.len(),
                    report.checked
                );
                Ok(ExitCode::from(1))
            }
        }
        Command::Simulate {
            protocol,
            trials,
            seed,
            format,
        } => simulate(protocol.as_deref(), trials, seed.as_deref(), format),
    }
}

/// Reads a checkpoint file and checks its signature against the pinned key.
fn verified_checkpoint(
    path: &Path,
    trial: &str,
    public_key: Option<&str>,
    data_dir: &Path,
) -> Result<crate::audit::checkpoint::Checkpoint, String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let c: crate::audit::checkpoint::Checkpoint =
        serde_json::from_str(&text).map_err(|e| format!("not a checkpoint: {e}"))?;
    if c.trial != trial {
        return Err(format!("it is for trial {}, not {trial}", c.trial));
    }
    let signer = crate::audit::checkpoint::verify_signature(&c).map_err(|e| e.to_string())?;
    let pinned = match public_key {
        Some(k) => k.trim().to_string(),
        None => std::fs::read_to_string(crate::audit::checkpoint::public_key_path(data_dir))
            .map_err(|e| {
                format!("no pinned key (--public-key or checkpoint.pub in the data dir): {e}")
            })?
            .trim()
            .to_string(),
    };
    if crate::audit::checkpoint::public_key_base64(&signer) != pinned {
        return Err("it is signed by a key other than the pinned one".into());
    }
    Ok(c)
}

pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&io::stderr()))
        .with_writer(io::stderr)
        .try_init();
}

/// A database URL without its password, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn simulate(
    protocol: Option<&Path>,
    trials: u64,
    seed: Option<&str>,
    format: ReportFormat,
) -> Result<ExitCode, String> {
    let protocol = load_protocol(protocol)?;
    let seed = match seed {
        Some(hex) => Seed::from_hex(hex).map_err(|e| format!("--seed: {e}"))?,
        None => DEFAULT_SIMULATION_SEED,
    };
    if trials == 0 {
        return Err("--trials must be at least 1".into());
    }
    let report = crate::randomization::simulation::simulate(
        protocol.design(),
        &protocol.id,
        u64::from(protocol.cap),
        trials,
        &seed,
    );
    let mut out = io::BufWriter::new(io::stdout().lock());
    match format {
        ReportFormat::Json => serde_json::to_writer_pretty(&mut out, &report)
            .map_err(io::Error::from)
            .and_then(|()| writeln!(out)),
        ReportFormat::Text => write!(out, "{}", simulation_text(&report, &protocol)),
    }
    .and_then(|()| out.flush())
    .or_else(ignore_broken_pipe)
    .map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}

/// The report as a statistician reads it.
fn simulation_text(r: &crate::randomization::simulation::SimulationReport, p: &Protocol) -> String {
    use std::fmt::Write as _;
    let ratio = p
        .arms
        .iter()
        .map(|a| format!("{} {}", a.code, a.ratio))
        .collect::<Vec<_>>()
        .join(" : ");
    let mut t = String::new();
    let _ = writeln!(
        t,
        "trial {}: {ratio}, block sizes {:?}, {} patients",
        p.id, r.block_sizes, r.patients
    );
    let _ = writeln!(
        t,
        "{} simulated trials ({}), seed commitment {}",
        r.trials, r.algorithm, r.seed_commitment
    );
    let _ = writeln!(t);
    let _ = writeln!(
        t,
        "correct guess rate     {:.4}   ({})",
        r.correct_guess_rate, r.guess_strategy
    );
    let _ = writeln!(
        t,
        "deterministic share    {:.4}   (arm certain given the design and all earlier arms)",
        r.deterministic_share
    );
    let _ = writeln!(
        t,
        "mean final imbalance   {:.4}   (|N_A*r_B - N_B*r_A|, largest pair)",
        r.mean_final_imbalance
    );
    let _ = writeln!(t, "mean max imbalance     {:.4}", r.mean_max_imbalance);
    let _ = writeln!(t, "max imbalance          {}", r.max_imbalance);
    let _ = writeln!(t);
    let _ = writeln!(t, "imbalance   final (trials)   max (trials)");
    let mut levels: Vec<u64> = r
        .final_imbalance_distribution
        .iter()
        .chain(&r.max_imbalance_distribution)
        .map(|c| c.imbalance)
        .collect();
    levels.sort_unstable();
    levels.dedup();
    let find = |d: &[crate::randomization::simulation::ImbalanceCount], level| {
        d.iter()
            .find(|c| c.imbalance == level)
            .map_or(0, |c| c.trials)
    };
    for level in levels {
        let _ = writeln!(
            t,
            "{level:>9}   {:>14}   {:>12}",
            find(&r.final_imbalance_distribution, level),
            find(&r.max_imbalance_distribution, level)
        );
    }
    t
}

/// The default simulation seed: fixed, so `trialgate simulate` is reproducible.
pub const DEFAULT_SIMULATION_SEED: Seed = Seed::from_bytes([0x5e; 32]);

/// The protocol of `--protocol FILE`, or the built-in default trial.
pub fn load_protocol(path: Option<&Path>) -> Result<Protocol, String> {
    match path {
        Some(p) => Protocol::from_file(p),
        None => Protocol::default_trial(),
    }
    .map_err(|e| e.to_string())
}

/// `trialgate … | head` closes our stdout early; that is not an error worth reporting.
fn ignore_broken_pipe(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}

pub fn write_schedule(
    out: &mut impl Write,
    protocol: &Protocol,
    seed: &Seed,
    stratum: &str,
    n: u64,
    format: ScheduleFormat,
) -> io::Result<()> {
    let entries = Schedule::new(seed, &protocol.id, stratum, protocol.design()).take(n as usize);
    let code = |arm: usize| protocol.arms[arm].code.as_str();
    match format {
        ScheduleFormat::Text => {
            writeln!(
                out,
                "# trial {}  stratum {:?}  algorithm {ALGORITHM}  seed commitment {}",
                protocol.id,
                stratum,
                seed.commitment()
            )?;
            writeln!(out, "{:>8} {:>6} {:>5}  arm", "position", "block", "size")?;
            for e in entries {
                writeln!(
                    out,
                    "{:>8} {:>6} {:>5}  {}",
                    e.position,
                    e.block_index,
                    e.block_size,
                    code(e.arm)
                )?;
            }
        }
        ScheduleFormat::Csv => {
            let mut w = csv::Writer::from_writer(&mut *out);
            w.write_record(["position", "block_index", "block_size", "arm"])?;
            for e in entries {
                w.write_record([
                    e.position.to_string(),
                    e.block_index.to_string(),
                    e.block_size.to_string(),
                    crate::service::csv_cell::text(code(e.arm)).into_owned(),
                ])?;
            }
            w.flush()?;
        }
        ScheduleFormat::Json => {
            let allocations: Vec<_> = entries
                .map(|e| {
                    serde_json::json!({
                        "position": e.position,
                        "block_index": e.block_index,
                        "block_size": e.block_size,
                        "arm": code(e.arm),
                    })
                })
                .collect();
            let doc = serde_json::json!({
                "trial": protocol.id,
                "stratum": stratum,
                "algorithm": ALGORITHM,
                "seed_commitment": seed.commitment(),
                "allocations": allocations,
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
        }
    }
    Ok(())
}
