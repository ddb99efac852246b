//! The connection type, the pool, and the two transaction kinds.

use std::path::Path;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, CustomizeConnection, HandleError, ManageConnection, R2D2Connection};
use diesel::result::Error as DieselError;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;

use super::url::{Backend, DatabaseUrl};
use super::StorageError;

/// One connection to either backend. Shared queries take `&mut DbConnection`; where the backends
/// must differ, match on the variant and use the concrete connection:
///
/// ```ignore
/// match conn {
///     DbConnection::Postgres(pg) => query.for_update().first(pg),
///     DbConnection::Sqlite(sqlite) => query.first(sqlite),
/// }
/// ```
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl DbConnection {
    pub fn backend(&self) -> Backend {
        match self {
            DbConnection::Sqlite(_) => Backend::Sqlite,
            DbConnection::Postgres(_) => Backend::Postgres,
        }
    }
}

/// SQLite lock wait before a writer gives up with "database is locked" (→ `Unavailable`).
pub const SQLITE_BUSY_TIMEOUT_MS: u32 = 10_000;

/// Per-connection SQLite settings. `busy_timeout` comes first so that switching the journal
/// mode waits for other connections instead of failing.
fn sqlite_pragmas() -> String {
    format!(
        "PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS};
         PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;"
    )
}

fn configure(conn: &mut DbConnection) -> Result<(), StorageError> {
    let DbConnection::Sqlite(sqlite) = conn else {
        return Ok(());
    };
    // Switching a fresh file to WAL needs an exclusive lock, and SQLite answers BUSY at once,
    // without its busy handler, when another connection is taking it too: retry until the
    // busy timeout.
    let deadline =
        std::time::Instant::now() + Duration::from_millis(u64::from(SQLITE_BUSY_TIMEOUT_MS));
    loop {
        match sqlite.batch_execute(&sqlite_pragmas()) {
            Ok(()) => return Ok(()),
            Err(e) => {
                let e = StorageError::from(e);
                if !e.is_unavailable() || std::time::Instant::now() >= deadline {
                    return Err(e);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Makes a SQLite database file private (0600) before SQLite opens it. SQLite would create
/// a new file 0644 (less the umask), so it is created here first, empty (which SQLite takes
/// as a new database), with mode 0600; a file left readable by others is tightened. SQLite
/// gives its `-wal` and `-shm` files the database file's mode, so they are private too (any
/// already there are tightened as well). `:memory:` and `file:` URIs are left to SQLite.
pub(super) fn make_private(path: &Path) -> Result<(), StorageError> {
    let text = path.to_string_lossy();
    if text == ":memory:" || text.starts_with("file:") {
        return Ok(());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e.into()),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for suffix in ["", "-wal", "-shm"] {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            let file = Path::new(&name);
            let Ok(meta) = std::fs::metadata(file) else {
                continue;
            };
            let mode = meta.permissions().mode();
            if meta.is_file() && mode & 0o077 != 0 {
                let private = std::fs::Permissions::from_mode(mode & 0o700);
                if let Err(error) = std::fs::set_permissions(file, private) {
                    tracing::warn!(file = %file.display(), %error, "cannot make the SQLite file private (0600)");
                }
            }
        }
    }
    Ok(())
}

fn establish_raw(url: &DatabaseUrl) -> Result<DbConnection, StorageError> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)?;
            }
            make_private(path)?;
            let path = path
                .to_str()
                .ok_or_else(|| StorageError::InvalidUrl("SQLite path is not valid UTF-8".into()))?;
            Ok(DbConnection::Sqlite(SqliteConnection::establish(path)?))
        }
        DatabaseUrl::Postgres(url) => Ok(DbConnection::Postgres(PgConnection::establish(url)?)),
    }
}

/// One configured connection outside any pool (CLI commands, tests). Creates a SQLite file's
/// parent directory if missing.
pub fn establish(url: &str) -> Result<DbConnection, StorageError> {
    let mut conn = establish_raw(&DatabaseUrl::parse(url)?)?;
    configure(&mut conn)?;
    Ok(conn)
}

/// r2d2 manager that opens connections of the backend the URL names.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = StorageError;

    fn connect(&self) -> Result<DbConnection, StorageError> {
        establish_raw(&self.url)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), StorageError> {
        Ok(conn.ping()?)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Applies the SQLite pragmas to every connection the pool opens.
#[derive(Debug, Clone, Copy)]
struct ConnectionSetup;

impl CustomizeConnection<DbConnection, StorageError> for ConnectionSetup {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), StorageError> {
        configure(conn)
    }
}

#[derive(Debug, Clone, Copy)]
struct TracingErrorHandler;

impl HandleError<StorageError> for TracingErrorHandler {
    fn handle_error(&self, error: StorageError) {
        tracing::warn!(%error, "database pool could not open a connection");
    }
}

/// Pool sizing. `connection_timeout` bounds how long [`Database::get`] waits for a free
/// connection before answering [`StorageError::Unavailable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    pub max_size: u32,
    pub connection_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        PoolOptions {
            max_size: 8,
            connection_timeout: Duration::from_secs(5),
        }
    }
}

pub type Pool = r2d2::Pool<ConnectionManager>;
pub type PooledConnection = r2d2::PooledConnection<ConnectionManager>;

/// A connection pool over one database. Cheap to clone (shared pool).
#[derive(Debug, Clone)]
pub struct Database {
    pool: Pool,
    backend: Backend,
}

impl Database {
    /// Parses `url`, opens one connection right away (so a wrong or unreachable database fails
    /// here, with the real cause, as `InvalidUrl`/`Unavailable`), and builds the pool. Creates a
    /// SQLite file's parent directory if missing.
    pub fn connect(url: &str, options: PoolOptions) -> Result<Self, StorageError> {
        let url = DatabaseUrl::parse(url)?;
        let backend = url.backend();
        let manager = ConnectionManager { url };
        let mut probe = manager.connect()?;
        configure(&mut probe)?;
        drop(probe);
        let pool = r2d2::Pool::builder()
            .max_size(options.max_size)
            .min_idle(Some(1))
            .connection_timeout(options.connection_timeout)
            .connection_customizer(Box::new(ConnectionSetup))
            .error_handler(Box::new(TracingErrorHandler))
            .build(manager)
            .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        Ok(Database { pool, backend })
    }

    /// A pooled connection; `Unavailable` when none is free within the connection timeout or
    /// the database cannot be reached. Blocking: call it inside `web::block`.
    pub fn get(&self) -> Result<PooledConnection, StorageError> {
        self.pool
            .get()
            .map_err(|e| StorageError::Unavailable(e.to_string()))
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

/// Runs `f` in a transaction that serialises writers, commits if it returns `Ok`, rolls back
/// otherwise.
///
/// * SQLite: `BEGIN IMMEDIATE` — the database write lock is taken up front, so the whole
///   transaction runs alone (other writers wait up to the busy timeout).
/// * PostgreSQL: `BEGIN ISOLATION LEVEL READ COMMITTED` — callers serialise on rows they lock
///   (e.g. [`lock_chain_head`](super::lock_chain_head), `SELECT … FOR UPDATE` on the trial).
///
/// Not nestable: inside another transaction it fails with `AlreadyInTransaction`.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    let begin = match conn {
        DbConnection::Sqlite(_) => "BEGIN IMMEDIATE",
        DbConnection::Postgres(_) => "BEGIN ISOLATION LEVEL READ COMMITTED",
    };
    run_in_transaction(conn, begin, f)
}

/// Runs `f` in a read-only snapshot: every query sees the same committed state.
///
/// * SQLite: `BEGIN DEFERRED` (WAL readers see the snapshot of their first read and never
///   block writers).
/// * PostgreSQL: `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`.
///
/// Not nestable, like [`write_transaction`].
pub fn read_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    let begin = match conn {
        DbConnection::Sqlite(_) => "BEGIN DEFERRED",
        DbConnection::Postgres(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    };
    run_in_transaction(conn, begin, f)
}

fn run_in_transaction<T, E, F>(conn: &mut DbConnection, begin: &str, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    match conn {
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, begin)?,
        DbConnection::Postgres(c) => AnsiTransactionManager::begin_transaction_sql(c, begin)?,
    }
    match f(conn) {
        Ok(value) => {
            <DbConnection as TransactionManager<DbConnection>>::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => {
            match <DbConnection as TransactionManager<DbConnection>>::rollback_transaction(conn) {
                Ok(()) | Err(DieselError::BrokenTransactionManager) => Err(error),
                Err(rollback_error) => Err(rollback_error.into()),
            }
        }
    }
}
