//! The trial seed: 32 secret bytes, its public SHA-256 commitment, and the seed file.

use std::fmt;
use std::io::Write;
use std::path::Path;

use sha2::{Digest, Sha256};

/// 32 bytes from which every schedule of a trial derives. Deliberately not `Debug`-printable
/// in clear, so it cannot leak into logs by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Seed([u8; 32]);

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("seed must be 64 hexadecimal characters (32 bytes), got {0} characters")]
    Length(usize),
    #[error("seed contains a character that is not hexadecimal")]
    NotHex,
    #[error("seed file {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("seed file {path}: {source}")]
    Format {
        path: String,
        #[source]
        source: Box<SeedError>,
    },
    #[error("could not obtain randomness from the operating system: {0}")]
    Entropy(String),
}

impl Seed {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Seed(bytes)
    }

    /// A fresh seed from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, SeedError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| SeedError::Entropy(e.to_string()))?;
        Ok(Seed(bytes))
    }

    /// Parses 64 hex characters (either case); one trailing newline (LF or CRLF) is allowed.
    pub fn from_hex(text: &str) -> Result<Self, SeedError> {
        let text = text
            .strip_suffix("\r\n")
            .or_else(|| text.strip_suffix('\n'))
            .unwrap_or(text);
        if text.len() != 64 {
            return Err(SeedError::Length(text.chars().count()));
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| SeedError::NotHex)?;
        Ok(Seed(bytes))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lowercase hex, as written to seed files and revealed at close.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Lowercase hex SHA-256 of the 32 raw bytes: public, recorded before the first allocation.
    pub fn commitment(&self) -> String {
        hex::encode(Sha256::digest(self.0))
    }

    pub fn read_file(path: &Path) -> Result<Self, SeedError> {
        let io = |source| SeedError::Io {
            path: path.display().to_string(),
            source,
        };
        let text = std::fs::read_to_string(path).map_err(io)?;
        Seed::from_hex(&text).map_err(|e| SeedError::Format {
            path: path.display().to_string(),
            source: Box::new(e),
        })
    }

    /// Writes the seed file with mode 0600, refusing to overwrite an existing file: a seed is
    /// never replaced silently. The content is written to a temporary file first and then
    /// hard-linked into place, so a concurrent reader never sees a half-written seed.
    pub fn write_new_file(&self, path: &Path) -> Result<(), SeedError> {
        let io = |source| SeedError::Io {
            path: path.display().to_string(),
            source,
        };
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(dir) = dir {
            let mut builder = std::fs::DirBuilder::new();
            builder.recursive(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::DirBuilderExt;
                builder.mode(0o700);
            }
            builder.create(dir).map_err(io)?;
        }
        let tmp = path.with_extension(format!("tmp-{}", uuid::Uuid::new_v4().simple()));
        let result = (|| {
            let mut file = private_file_options().open(&tmp)?;
            file.write_all(format!("{}\n", self.to_hex()).as_bytes())?;
            file.sync_all()?;
            std::fs::hard_link(&tmp, path)
        })();
        let _ = std::fs::remove_file(&tmp);
        result.map_err(io)?;
        if let Some(dir) = dir {
            // Make the new directory entry durable too.
            if let Ok(d) = std::fs::File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

/// Options that create a new file readable and writable by its owner only.
pub fn private_file_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

impl fmt::Debug for Seed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seed(commitment {})", self.commitment())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vector_seed() -> Seed {
        let mut b = [0u8; 32];
        for (i, x) in b.iter_mut().enumerate() {
            *x = i as u8;
        }
        Seed::from_bytes(b)
    }

    #[test]
    fn commitment_matches_the_spec_vector() {
        assert_eq!(
            vector_seed().commitment(),
            "630dcd2966c4336691125448bbb25b4ff412a49c732db2c8abc1b8581bd710dd"
        );
    }

    #[test]
    fn hex_round_trip_and_trailing_newline() {
        let s = vector_seed();
        assert_eq!(Seed::from_hex(&s.to_hex()).unwrap(), s);
        assert_eq!(Seed::from_hex(&format!("{}\n", s.to_hex())).unwrap(), s);
        assert_eq!(Seed::from_hex(&format!("{}\r\n", s.to_hex())).unwrap(), s);
        assert_eq!(
            Seed::from_hex(&s.to_hex().to_uppercase()).unwrap(),
            s,
            "uppercase hex is accepted"
        );
    }

    #[test]
    fn bad_seed_text_is_refused() {
        assert!(matches!(Seed::from_hex(""), Err(SeedError::Length(0))));
        assert!(matches!(
            Seed::from_hex(&"0".repeat(63)),
            Err(SeedError::Length(63))
        ));
        assert!(matches!(
            Seed::from_hex(&format!("{}\n\n", "0".repeat(64))),
            Err(SeedError::Length(_))
        ));
        assert!(matches!(
            Seed::from_hex(&"g".repeat(64)),
            Err(SeedError::NotHex)
        ));
        assert!(matches!(
            Seed::from_hex(&format!(" {}", "0".repeat(63))),
            Err(SeedError::NotHex)
        ));
    }

    #[test]
    fn debug_does_not_print_the_seed() {
        let s = vector_seed();
        assert!(!format!("{s:?}").contains(&s.to_hex()));
    }

    #[test]
    fn seed_file_is_private_and_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seeds").join("T.seed");
        let s = vector_seed();
        s.write_new_file(&path).unwrap();
        assert_eq!(Seed::read_file(&path).unwrap(), s);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let other = Seed::from_bytes([7; 32]);
        assert!(other.write_new_file(&path).is_err());
        assert_eq!(Seed::read_file(&path).unwrap(), s, "first seed kept");
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
    }

    #[test]
    fn generated_seeds_differ() {
        assert_ne!(Seed::generate().unwrap(), Seed::generate().unwrap());
    }
}
