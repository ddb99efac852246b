//! `trialgate doctor`: a data directory and its database checked as a server needs them.

use std::process::ExitCode;

use super::{CliError, DataArgs};
use crate::service::readiness;

pub(super) fn run(data: &DataArgs) -> Result<ExitCode, CliError> {
    let mut conn = data.open_existing()?;
    let findings = readiness::doctor(&mut conn, &data.dir())?;
    let mut problems = 0;
    for f in &findings {
        match &f.problem {
            None => println!("ok       {}", f.subject),
            Some(p) => {
                problems += 1;
                println!("PROBLEM  {}: {p}", f.subject);
            }
        }
    }
    if problems == 0 {
        println!("all {} checks passed", findings.len());
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{problems} of {} checks found a problem", findings.len());
        Ok(ExitCode::from(1))
    }
}
