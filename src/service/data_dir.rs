//! [`DataDir`]: the layout of the data directory, in one place.
//!
//! ```text
//! DIR/                     0700
//!   trialgate.db           SQLite database (when no DATABASE_URL is given), -wal, -shm
//!   seeds/TRIAL.seed       each trial's secret seed (0600)
//!   admin.token            the first admin's token (0600)
//!   checkpoint.key         the Ed25519 key signing audit checkpoints (0600)
//!   checkpoint.pub         its public key, for monitors to pin
//! ```

use std::path::{Path, PathBuf};

/// A data directory: every file trialgate keeps outside the database is named here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir(PathBuf);

impl DataDir {
    pub const DATABASE_FILE: &'static str = "trialgate.db";
    pub const SEEDS_DIR: &'static str = "seeds";
    pub const SEED_EXTENSION: &'static str = "seed";
    pub const ADMIN_TOKEN_FILE: &'static str = "admin.token";
    pub const CHECKPOINT_KEY_FILE: &'static str = "checkpoint.key";
    pub const CHECKPOINT_PUBLIC_KEY_FILE: &'static str = "checkpoint.pub";

    pub fn new(path: impl Into<PathBuf>) -> Self {
        DataDir(path.into())
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Creates the directory if needed, readable by its owner only (0700).
    pub fn prepare(&self) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.0)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(&self.0)?;
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o700))?;
            }
        }
        Ok(())
    }

    /// The SQLite database file used when no database URL is given.
    pub fn database_file(&self) -> PathBuf {
        self.0.join(Self::DATABASE_FILE)
    }

    /// The database URL in force: the one given, or SQLite in the data directory.
    pub fn database_url(&self, given: Option<&str>) -> String {
        match given {
            Some(url) => url.to_string(),
            None => format!("sqlite://{}", self.database_file().display()),
        }
    }

    /// The directory of the seed files (not in the database: back it up separately).
    pub fn seeds_dir(&self) -> PathBuf {
        self.0.join(Self::SEEDS_DIR)
    }

    /// Where a trial's seed file lives.
    pub fn seed_file(&self, trial_id: &str) -> PathBuf {
        self.seeds_dir()
            .join(format!("{trial_id}.{}", Self::SEED_EXTENSION))
    }

    /// The first admin's token, written once at bootstrap.
    pub fn admin_token_file(&self) -> PathBuf {
        self.0.join(Self::ADMIN_TOKEN_FILE)
    }

    /// The server's checkpoint signing key.
    pub fn checkpoint_key_file(&self) -> PathBuf {
        self.0.join(Self::CHECKPOINT_KEY_FILE)
    }

    /// The checkpoint public key monitors pin.
    pub fn checkpoint_public_key_file(&self) -> PathBuf {
        self.0.join(Self::CHECKPOINT_PUBLIC_KEY_FILE)
    }
}

impl From<PathBuf> for DataDir {
    fn from(path: PathBuf) -> Self {
        DataDir(path)
    }
}

impl From<&Path> for DataDir {
    fn from(path: &Path) -> Self {
        DataDir(path.to_path_buf())
    }
}

impl AsRef<Path> for DataDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_every_file_of_the_layout() {
        let d = DataDir::new("/d");
        assert_eq!(d.database_url(None), "sqlite:///d/trialgate.db");
        assert_eq!(d.database_url(Some("postgres://x/y")), "postgres://x/y");
        assert_eq!(d.seed_file("T1"), Path::new("/d/seeds/T1.seed"));
        assert_eq!(d.admin_token_file(), Path::new("/d/admin.token"));
        // The domain's checkpoint module keeps its own names for its path-less callers.
        assert_eq!(
            d.checkpoint_key_file(),
            crate::audit::checkpoint::key_path(d.path())
        );
        assert_eq!(
            d.checkpoint_public_key_file(),
            crate::audit::checkpoint::public_key_path(d.path())
        );
    }
}
