//! `trialgate migrate`: apply the database migrations and exit.

use std::process::ExitCode;

use super::{init_logging, redact_url, CliError, DataArgs};

pub(super) fn run(data: &DataArgs) -> Result<ExitCode, CliError> {
    init_logging();
    data.open_migrated()?;
    println!("migrations applied to {}", redact_url(&data.url()));
    Ok(ExitCode::SUCCESS)
}
