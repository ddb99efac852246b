use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = trialgate::cli::Cli::parse();
    match trialgate::cli::run(cli, trialgate::server::serve) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("trialgate: {error}");
            ExitCode::from(2)
        }
    }
}
