//! Start-up: configuration to a running server. `Application::build` opens the database,
//! migrates, initialises trials, binds (port 0 in tests) and reports the port.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{middleware, web, App, HttpServer};

use crate::http::metrics::Metrics;
use crate::http::state::AppState;
use crate::protocol::Protocol;
use crate::service::setup::{self, Initialised};
use crate::service::Trials;
use crate::storage::{Database, PoolOptions};

/// Everything `serve` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: String,
    pub data_dir: PathBuf,
    /// `sqlite://PATH` or `postgres://…`; `None`: SQLite in the data directory.
    pub database_url: Option<String>,
    /// Protocols to initialise; empty: the built-in default trial.
    pub protocols: Vec<Protocol>,
    pub pool_size: u32,
    pub pool_timeout: Duration,
    pub workers: Option<usize>,
    /// Failed authentications allowed per client address and minute before it is blocked.
    pub auth_failures_per_minute: u32,
    /// The web pages' cookies and sessions.
    pub web: crate::web::WebSettings,
}

impl Settings {
    fn auth_limiter(&self) -> crate::http::auth_limit::AuthLimiter {
        match std::num::NonZeroU32::new(self.auth_failures_per_minute) {
            Some(n) => crate::http::auth_limit::AuthLimiter::new(n, Duration::from_secs(60)),
            None => crate::http::auth_limit::AuthLimiter::default(),
        }
    }
}

impl Settings {
    pub fn new(bind: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        Settings {
            bind: bind.into(),
            data_dir: data_dir.into(),
            database_url: None,
            protocols: Vec::new(),
            pool_size: 16,
            pool_timeout: Duration::from_secs(5),
            workers: None,
            auth_failures_per_minute: 20,
            web: crate::web::WebSettings::default(),
        }
    }
}

/// The database URL in force: the one given, or SQLite in the data directory.
pub fn database_url(data_dir: &Path, given: Option<&str>) -> String {
    match given {
        Some(url) => url.to_string(),
        None => format!("sqlite://{}", data_dir.join("trialgate.db").display()),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("data directory {path}: {source}")]
    DataDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Database(#[from] crate::storage::StorageError),
    #[error(transparent)]
    Setup(#[from] setup::SetupError),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        #[source]
        source: std::io::Error,
    },
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error(transparent)]
    Checkpoint(#[from] crate::checkpoint::CheckpointError),
}

/// Creates the data directory, readable by its owner only.
pub fn prepare_data_dir(dir: &Path) -> Result<(), StartError> {
    let err = |source| StartError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(dir).map_err(err)?;
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(err)?;
        }
    }
    Ok(())
}

/// Opens the database, migrates it and initialises the given protocols' trials.
pub fn open_and_prepare(
    settings: &Settings,
) -> Result<(Database, Trials, Option<PathBuf>), StartError> {
    prepare_data_dir(&settings.data_dir)?;
    let url = database_url(&settings.data_dir, settings.database_url.as_deref());
    let db = Database::connect(
        &url,
        PoolOptions {
            max_size: settings.pool_size,
            connection_timeout: settings.pool_timeout,
        },
    )?;
    let mut conn = db.get()?;
    crate::storage::run_migrations(&mut conn)?;
    let defaults;
    let protocols = if settings.protocols.is_empty() {
        defaults = vec![Protocol::default_trial().map_err(|e| {
            setup::SetupError::App(crate::error::AppError::Internal(e.to_string()))
        })?];
        &defaults
    } else {
        &settings.protocols
    };
    for protocol in protocols {
        match setup::initialise_trial(&mut conn, protocol, &settings.data_dir)? {
            Initialised::New { generated_seed } => tracing::info!(
                trial = %protocol.id,
                seed_file = %setup::seed_path(&settings.data_dir, &protocol.id).display(),
                generated_seed,
                "trial initialised; back up the seed file and keep it secret"
            ),
            Initialised::AlreadyInitialised => {}
        }
    }
    let admin_token = setup::bootstrap_admin(&mut conn, &settings.data_dir)?;
    let trials = setup::load_trials(&mut conn, &settings.data_dir)?;
    Ok((db, trials, admin_token))
}

pub struct Application {
    server: actix_web::dev::Server,
    port: u16,
    pub trials: Trials,
}

impl Application {
    pub fn build(settings: Settings) -> Result<Self, StartError> {
        let (db, trials, admin_token) = open_and_prepare(&settings)?;
        if let Some(path) = &admin_token {
            tracing::info!(token_file = %path.display(), "first admin created; its token is in this file (mode 0600)");
        }
        let checkpoint_key = crate::checkpoint::load_or_create_key(&settings.data_dir)?;
        tracing::info!(
            public_key = %crate::checkpoint::public_key_base64(&checkpoint_key.verifying_key()),
            key_id = %crate::checkpoint::key_id(&checkpoint_key.verifying_key()),
            file = %crate::checkpoint::public_key_path(&settings.data_dir).display(),
            "audit checkpoints are signed with this Ed25519 key; monitors pin it"
        );
        let listener = TcpListener::bind(&settings.bind).map_err(|source| StartError::Bind {
            bind: settings.bind.clone(),
            source,
        })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartError::Bind {
                bind: settings.bind.clone(),
                source,
            })?
            .port();
        let state = web::Data::new(AppState {
            db,
            trials: trials.clone(),
            metrics: Arc::new(Metrics::new()?),
            checkpoint_key: Arc::new(checkpoint_key),
            auth_limiter: settings.auth_limiter(),
        });
        let pages = settings.web.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(crate::http::problem_bodies())
                .wrap_fn(|req, srv| {
                    use actix_web::dev::Service;
                    let (start, method, route) = crate::http::observe(&req);
                    let metrics = req
                        .app_data::<web::Data<AppState>>()
                        .map(|s| s.metrics.clone());
                    let fut = srv.call(req);
                    async move {
                        let res = fut.await?;
                        let status = res.status().as_u16();
                        let elapsed = start.elapsed();
                        if let Some(m) = metrics {
                            m.requests
                                .with_label_values(&[&method, &route, &status.to_string()])
                                .inc();
                            m.latency
                                .with_label_values(&[&method, &route])
                                .observe(elapsed.as_secs_f64());
                            if status >= 400 {
                                if let Some(code) = res.response().extensions().get::<ProblemCode>() {
                                    m.refusals.with_label_values(&[code.0]).inc();
                                }
                            }
                        }
                        tracing::info!(%method, %route, status, micros = elapsed.as_micros() as u64, "request");
                        Ok(res)
                    }
                })
                .wrap(middleware::DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
                .configure(crate::http::configure)
                .configure(crate::web::configure(&pages))
                .default_service(web::to(crate::http::not_found))
        })
        .listen(listener)
        .map_err(|source| StartError::Bind {
            bind: settings.bind.clone(),
            source,
        })?;
        if let Some(w) = settings.workers {
            server = server.workers(w);
        }
        let server = server.shutdown_timeout(10).run();
        Ok(Application {
            server,
            port,
            trials,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server gracefully from elsewhere.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// The problem code of an error response, for the refusal metric.
#[derive(Clone, Copy)]
pub struct ProblemCode(pub &'static str);
