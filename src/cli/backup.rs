//! `trialgate backup`: an online copy of the SQLite database. Never migrates.

use std::path::Path;
use std::process::ExitCode;

use super::{CliError, DataArgs};

pub(super) fn run(to: &Path, data: &DataArgs) -> Result<ExitCode, CliError> {
    let mut conn = data.open_existing()?;
    crate::service::maintenance::backup(&mut conn, to)?;
    println!("backup written to {} (integrity ok)", to.display());
    eprintln!(
        "the seed files in {} are not in the database: back them up separately",
        data.dir().seeds_dir().display()
    );
    Ok(ExitCode::SUCCESS)
}
