//! `trialgate receipt verify FILE --public-key B64`: a subject's randomization receipt, checked
//! offline against the pinned checkpoint key. No database, no network.

use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use super::{ignore_broken_pipe, CliError, ReceiptCommand};
use crate::audit::receipt::{self, printable, Receipt, Verified, MAX_RECEIPT_BYTES};

pub(super) fn run(command: ReceiptCommand) -> Result<ExitCode, CliError> {
    match command {
        ReceiptCommand::Verify {
            file,
            public_key,
            origin,
        } => verify(&file, &public_key, &origin),
    }
}

fn verify(file: &Path, public_key: &str, origin: &str) -> Result<ExitCode, CliError> {
    let key = receipt::decode_public_key(public_key).ok_or(CliError::ReceiptPublicKey)?;
    let path = file.display().to_string();
    let bytes = read_limited(file).map_err(|source| CliError::ReceiptRead {
        path: path.clone(),
        source,
    })?;
    let verified = Receipt::from_json(&bytes)
        .and_then(|r| receipt::verify(&r, origin, &key))
        .map_err(|source| CliError::Receipt { path, source })?;
    writeln!(io::stdout().lock(), "{}", sentence(&verified)).or_else(ignore_broken_pipe)?;
    Ok(ExitCode::SUCCESS)
}

/// The file's first `MAX_RECEIPT_BYTES + 1` bytes: enough for [`Receipt::from_json`] to tell
/// a receipt that is too large, without reading all of a huge (or endless) file.
fn read_limited(file: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(file)?
        .take(MAX_RECEIPT_BYTES as u64 + 1)
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn sentence(v: &Verified) -> String {
    format!(
        "Receipt valid: subject {} was randomized to {} at {} on {} as entry {} of trial {}'s \
         audit log, and the log's tree of {} entries is signed by key {}.",
        printable(&v.subject_id),
        printable(&v.arm),
        printable(&v.site),
        printable(&v.at),
        v.seq,
        printable(&v.trial),
        v.tree_size,
        hex::encode(v.key_id)
    )
}
