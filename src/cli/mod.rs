//! The `trialgate` command line: argument definitions, dispatch to one file per command
//! (`schedule`, `simulate`, `user`, `audit`, `receipt`, `backup`, `migrate`, `serve`), and the
//! helpers they share. Use cases live in the service layer; this edge parses, calls and prints.

mod audit;
mod backup;
mod doctor;
mod error;
mod migrate;
mod receipt;
mod schedule;
mod serve;
mod simulate;
mod site;
mod trial;
mod user;

use std::io;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::protocol::Protocol;
use crate::service::data_dir::DataDir;
use crate::storage::DbConnection;

pub use error::CliError;
pub use schedule::write_schedule;
pub use serve::ServeArgs;
pub use simulate::DEFAULT_SIMULATION_SEED;

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
    pub fn dir(&self) -> DataDir {
        DataDir::new(&self.data_dir)
    }

    /// The database URL in force: `--database-url`, or SQLite in the data directory.
    pub fn url(&self) -> String {
        self.dir().database_url(self.database_url.as_deref())
    }

    /// One connection, migrated first (creating the data directory for SQLite): for the
    /// commands that set up or write (`migrate`, `user add`, `user revoke`).
    fn open_migrated(&self) -> Result<DbConnection, CliError> {
        Ok(crate::service::maintenance::open_migrated(
            &self.dir(),
            &self.url(),
        )?)
    }

    /// One connection to an existing, migrated database, which is never migrated: for the
    /// commands that only read or copy (`audit verify`, `audit check`, `backup`).
    fn open_existing(&self) -> Result<DbConnection, CliError> {
        Ok(crate::service::maintenance::open_existing(&self.url())?)
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
        /// The person's name, any script.
        #[arg(long)]
        full_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// When the account stops authenticating: YYYY-MM-DD (its start, UTC) or RFC 3339.
        #[arg(long)]
        expires: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List the users: role, sites, status, expiry (never a token).
    List {
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Change a user's role, sites, full name, e-mail or expiry (audited `user.changed`).
    Change {
        name: String,
        #[arg(long)]
        role: Option<String>,
        /// The sites the user is limited to (repeatable); replaces the current ones.
        #[arg(long = "site", conflicts_with = "all_sites")]
        sites: Vec<String>,
        /// No site limit.
        #[arg(long)]
        all_sites: bool,
        #[arg(long)]
        full_name: Option<String>,
        #[arg(long, conflicts_with = "no_email")]
        email: Option<String>,
        #[arg(long)]
        no_email: bool,
        #[arg(long, conflicts_with = "no_expiry")]
        expires: Option<String>,
        /// The account never expires.
        #[arg(long)]
        no_expiry: bool,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Issue another token to a user (printed once): rotate a system's token, give it an
    /// expiry, or reset a forgotten password (the token then activates the account again).
    Token {
        name: String,
        /// When the token stops authenticating: YYYY-MM-DD or RFC 3339.
        #[arg(long)]
        expires: Option<String>,
        /// Revoke the user's other tokens.
        #[arg(long)]
        revoke_others: bool,
        /// Clear the password and end the user's browser sessions.
        #[arg(long)]
        reset_password: bool,
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
pub enum SiteCommand {
    /// Register a site (audited `site.created`): screenings and users name registered sites.
    Add {
        /// The site code screenings and users name, e.g. SITE01.
        code: String,
        /// The site's name, any script.
        #[arg(long)]
        name: String,
        /// IANA time zone name, e.g. Asia/Shanghai: the site's users read times in it.
        #[arg(long)]
        time_zone: String,
        #[arg(long)]
        email: Option<String>,
        #[command(flatten)]
        data: DataArgs,
    },
    /// List the registered sites.
    List {
        #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
        format: ReportFormat,
        #[command(flatten)]
        data: DataArgs,
    },
    /// Change a site's name, time zone or e-mail (audited `site.changed`).
    Change {
        code: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        time_zone: Option<String>,
        #[arg(long, conflicts_with = "no_email")]
        email: Option<String>,
        #[arg(long)]
        no_email: bool,
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
    /// Manage the register of sites (code, name, time zone).
    #[command(subcommand)]
    Site(SiteCommand),
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
    /// Check a subject's randomization receipt offline.
    #[command(subcommand)]
    Receipt(ReceiptCommand),
    /// A trial's protocol.
    #[command(subcommand)]
    Trial(TrialCommand),
    /// Check a data directory and its database as a server would need them: the schema,
    /// each trial's seed file, the checkpoint key, file modes. Exit 0 when all is well, 1 when
    /// not (each problem named with what to do).
    Doctor {
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum TrialCommand {
    /// Put a new version of the trial's protocol in force (audited `protocol.amended`). The
    /// design (arms, ratios, block sizes, stratification) is fixed once a subject is
    /// randomized; running servers use the new version from their next request.
    Amend {
        #[arg(long)]
        trial: String,
        /// The whole new protocol file (TOML).
        #[arg(long)]
        protocol: PathBuf,
        /// Why the protocol changes.
        #[arg(long)]
        reason: String,
        #[command(flatten)]
        data: DataArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum ReceiptCommand {
    /// Verify a receipt (JSON of GET …/subjects/{subject_id}/receipt) against the pinned
    /// checkpoint key; exit 0 when valid, 2 naming the failed check when not.
    Verify {
        /// The receipt file.
        file: PathBuf,
        /// The pinned checkpoint public key: standard base64 of 32 bytes (checkpoint.pub).
        #[arg(long)]
        public_key: String,
        /// The log origin: signed-note key name and origin-line prefix (`serve --log-origin`).
        #[arg(long, default_value = crate::audit::note::DEFAULT_ORIGIN)]
        origin: String,
    },
}

/// Runs a parsed command; errors are printed by the caller (`trialgate: {error}`, exit 2).
/// `serve` is handed to the caller's `serve` (the start-up code), so this edge never depends
/// on the start-up code above it.
pub fn run(
    cli: Cli,
    serve: impl FnOnce(ServeArgs) -> Result<ExitCode, CliError>,
) -> Result<ExitCode, CliError> {
    match cli.command {
        Command::Schedule {
            seed_file,
            protocol,
            stratum,
            n,
            format,
        } => schedule::run(&seed_file, protocol.as_deref(), &stratum, n, format),
        Command::Serve(args) => serve::run(args, serve),
        Command::Backup { to, data } => backup::run(&to, &data),
        Command::Migrate { data } => migrate::run(&data),
        Command::User(command) => user::run(command),
        Command::Site(command) => site::run(command),
        Command::Audit(command) => audit::run(command),
        Command::Simulate {
            protocol,
            trials,
            seed,
            format,
        } => simulate::run(protocol.as_deref(), trials, seed.as_deref(), format),
        Command::Receipt(command) => receipt::run(command),
        Command::Trial(command) => trial::run(command),
        Command::Doctor { data } => doctor::run(&data),
    }
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
pub use crate::service::maintenance::redact_url;

/// The protocol of `--protocol FILE`, or the built-in default trial.
pub fn load_protocol(path: Option<&Path>) -> Result<Protocol, CliError> {
    Ok(match path {
        Some(p) => Protocol::from_file(p),
        None => Protocol::default_trial(),
    }?)
}

/// `trialgate … | head` closes our stdout early; that is not an error worth reporting.
fn ignore_broken_pipe(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}
