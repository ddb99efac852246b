//! [`CliError`]: why a command failed. `main` prints it as `trialgate: {error}` and exits 2.

use crate::audit::checkpoint::CheckpointError;
use crate::audit::receipt::ReceiptError;
use crate::protocol::ProtocolError;
use crate::randomization::SeedError;
use crate::service::maintenance::OpenError;
use crate::service::queries::QueryError;
use crate::service::users::UserError;
use crate::storage::StorageError;

/// A failed command; its Display is exactly what the user sees after `trialgate: `.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The database could not be opened (data directory, URL, connection, migrations, or a
    /// schema missing where the command never migrates).
    #[error(transparent)]
    Open(#[from] OpenError),
    #[error("{0}")]
    Storage(#[from] StorageError),
    /// A user could not be created or revoked.
    #[error(transparent)]
    User(#[from] UserError),
    /// A site could not be registered or changed.
    #[error(transparent)]
    Site(#[from] crate::service::sites::SiteError),
    /// The audit trail or the trial could not be read.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A trial could not be amended or closed.
    #[error(transparent)]
    Trial(#[from] crate::service::trials::TrialError),
    /// The trials could not be loaded.
    #[error(transparent)]
    Setup(#[from] crate::service::setup::SetupError),
    #[error("{0}")]
    Protocol(#[from] ProtocolError),
    /// A seed file could not be read or parsed.
    #[error("{0}")]
    Seed(#[from] SeedError),
    /// `simulate --seed` is not a seed.
    #[error("--seed: {0}")]
    SimulationSeed(#[source] SeedError),
    #[error("--trials must be at least 1")]
    NoTrials,
    #[error("{0}")]
    Checkpoint(#[from] CheckpointError),
    /// `receipt verify`: the receipt file could not be read.
    #[error("receipt {path}: {source}")]
    ReceiptRead {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// `receipt verify`: the receipt is malformed or one of its checks failed.
    #[error("receipt {path}: {source}")]
    Receipt {
        path: String,
        #[source]
        source: ReceiptError,
    },
    /// `receipt verify --public-key` is not a key.
    #[error("--public-key: not standard base64 of a 32-byte Ed25519 public key")]
    ReceiptPublicKey,
    /// Writing the output (other than a closed pipe) or serving failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The server could not start (its error comes from the start-up code above this edge).
    #[error("{0}")]
    Serve(#[source] Box<dyn std::error::Error + Send + Sync>),
}
