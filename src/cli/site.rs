//! `trialgate site add|list|change`: the register of sites, acting as the local operator.

use std::process::ExitCode;

use super::{CliError, ReportFormat, SiteCommand};
use crate::service::{sites, users};

pub(super) fn run(command: SiteCommand) -> Result<ExitCode, CliError> {
    match command {
        SiteCommand::Add {
            code,
            name,
            time_zone,
            email,
            data,
        } => {
            let mut conn = data.open_migrated()?;
            let new = sites::NewSite {
                code,
                name,
                time_zone,
                email,
            };
            let site = sites::create(&mut conn, &users::cli_actor(), &new)?;
            println!(
                "site {} ({}) registered, time zone {}",
                site.code, site.name, site.time_zone
            );
            Ok(ExitCode::SUCCESS)
        }
        SiteCommand::List { format, data } => {
            let mut conn = data.open_existing()?;
            let list = sites::list(&mut conn, &users::cli_actor())?;
            match format {
                ReportFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&list).map_err(std::io::Error::other)?
                ),
                ReportFormat::Text => {
                    for s in &list {
                        println!(
                            "{}\t{}\t{}\t{}",
                            s.code,
                            s.name,
                            s.time_zone,
                            s.email.as_deref().unwrap_or("-")
                        );
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        SiteCommand::Change {
            code,
            name,
            time_zone,
            email,
            no_email,
            data,
        } => {
            let mut conn = data.open_migrated()?;
            let change = sites::SiteChange {
                name,
                time_zone,
                email: if no_email {
                    Some(None)
                } else {
                    email.map(Some)
                },
            };
            let s = sites::change(&mut conn, &users::cli_actor(), &code, &change)?;
            println!(
                "site {} changed: {}, time zone {}",
                s.code, s.name, s.time_zone
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
