use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = trialgate::cli::Cli::parse();
    match trialgate::cli::run(cli, trialgate::server::serve) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("trialgate: {message}");
            ExitCode::from(2)
        }
    }
}
