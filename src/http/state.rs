//! What every handler shares.

use std::sync::Arc;

use super::metrics::Metrics;
use crate::service::Trials;
use crate::storage::Database;

pub struct AppState {
    pub db: Database,
    pub trials: Trials,
    pub metrics: Arc<Metrics>,
    /// Signs audit checkpoints; kept in the data directory, apart from the database.
    pub checkpoint_key: Arc<ed25519_dalek::SigningKey>,
    /// The Merkle log's origin (`--log-origin`): checkpoints' origin line prefix and key name.
    pub log_origin: Arc<str>,
    pub auth_limiter: super::auth_limit::AuthLimiter,
}
