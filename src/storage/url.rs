//! Choosing the backend from the database URL — by our own rules, never by "try each".

use std::fmt;
use std::path::{Path, PathBuf};

use super::StorageError;

/// The database products trialgate runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        })
    }
}

/// A parsed database URL.
///
/// * `sqlite://PATH` or `sqlite:PATH` (PATH as written: `sqlite:///var/lib/tg.db` is absolute,
///   `sqlite://data/tg.db` relative), or a plain path ending in `.db` → SQLite;
/// * `postgres://…` / `postgresql://…` → PostgreSQL (handed to libpq unchanged);
/// * anything else → [`StorageError::InvalidUrl`] naming the scheme.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl fmt::Debug for DatabaseUrl {
    /// Never prints a PostgreSQL URL (it may carry a password).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            DatabaseUrl::Postgres(_) => f.write_str("Postgres(<url>)"),
        }
    }
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, StorageError> {
        let url = url.trim();
        if url.is_empty() {
            return Err(StorageError::InvalidUrl(
                "empty database URL; use sqlite://PATH or postgres://…".into(),
            ));
        }
        let scheme = scheme_of(url);
        match scheme.map(|s| s.to_ascii_lowercase()).as_deref() {
            Some("sqlite") => {
                let rest = &url[scheme.map_or(0, str::len) + 1..];
                let path = rest.strip_prefix("//").unwrap_or(rest);
                if path.is_empty() {
                    return Err(StorageError::InvalidUrl(
                        "sqlite URL has no file path (expected sqlite://PATH)".into(),
                    ));
                }
                Ok(DatabaseUrl::Sqlite(PathBuf::from(path)))
            }
            Some(s @ ("postgres" | "postgresql")) => {
                if url[s.len() + 1..].starts_with("//") {
                    Ok(DatabaseUrl::Postgres(url.to_owned()))
                } else {
                    Err(StorageError::InvalidUrl(format!(
                        "a `{s}:` URL must start with `{s}://` (e.g. postgres://user@host/db)"
                    )))
                }
            }
            Some(other) => Err(StorageError::InvalidUrl(format!(
                "unsupported database URL scheme `{other}:` (supported: sqlite://PATH, postgres://…, postgresql://…)"
            ))),
            None if url.ends_with(".db") => Ok(DatabaseUrl::Sqlite(PathBuf::from(url))),
            None => Err(StorageError::InvalidUrl(
                "database URL has no scheme (expected sqlite://PATH, a file path ending in .db, or postgres://…)"
                    .into(),
            )),
        }
    }

    pub fn backend(&self) -> Backend {
        match self {
            DatabaseUrl::Sqlite(_) => Backend::Sqlite,
            DatabaseUrl::Postgres(_) => Backend::Postgres,
        }
    }

    /// The SQLite file, if this is a SQLite URL.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            DatabaseUrl::Sqlite(path) => Some(path),
            DatabaseUrl::Postgres(_) => None,
        }
    }
}

/// `scheme` of `scheme:rest` per RFC 3986 (letter, then letters, digits, `+-.`); a single letter
/// is a Windows drive, not a scheme.
fn scheme_of(url: &str) -> Option<&str> {
    let (candidate, _) = url.split_once(':')?;
    let mut chars = candidate.chars();
    let first = chars.next()?;
    let valid = first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    (valid && candidate.len() > 1).then_some(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(url: &str) -> String {
        match DatabaseUrl::parse(url) {
            Err(StorageError::InvalidUrl(m)) => m,
            other => panic!("{url}: expected InvalidUrl, got {other:?}"),
        }
    }

    #[test]
    fn sqlite_forms() {
        let p = |u: &str| DatabaseUrl::parse(u).unwrap();
        assert_eq!(
            p("sqlite:///var/lib/tg.db"),
            DatabaseUrl::Sqlite("/var/lib/tg.db".into())
        );
        assert_eq!(
            p("sqlite://data/tg.db"),
            DatabaseUrl::Sqlite("data/tg.db".into())
        );
        assert_eq!(p("sqlite:data/tg"), DatabaseUrl::Sqlite("data/tg".into()));
        assert_eq!(p("SQLITE:x.sqlite"), DatabaseUrl::Sqlite("x.sqlite".into()));
        assert_eq!(
            p("./trialgate-data/trialgate.db"),
            DatabaseUrl::Sqlite("./trialgate-data/trialgate.db".into())
        );
        assert_eq!(p("/tmp/a.db\n"), DatabaseUrl::Sqlite("/tmp/a.db".into()));
        assert_eq!(p("sqlite::memory:").backend(), Backend::Sqlite);
    }

    #[test]
    fn postgres_forms() {
        for url in [
            "postgres://u:pw@h/db",
            "postgresql://h:5432/db?sslmode=disable",
        ] {
            let parsed = DatabaseUrl::parse(url).unwrap();
            assert_eq!(parsed, DatabaseUrl::Postgres(url.into()));
            assert_eq!(parsed.backend(), Backend::Postgres);
            assert!(!format!("{parsed:?}").contains("pw"));
        }
    }

    #[test]
    fn bad_urls_name_the_scheme() {
        assert!(err("mysql://u:secret@h/db").contains("`mysql:`"));
        assert!(!err("mysql://u:secret@h/db").contains("secret"));
        assert!(err("postgres:trial.db").contains("postgres://"));
        assert!(err("sqlite://").contains("no file path"));
        assert!(err("trial.sqlite3").contains("no scheme"));
        assert!(err("").contains("empty"));
        assert!(err("http://example.org/x.db").contains("`http:`"));
    }
}
