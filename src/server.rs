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
use crate::service::data_dir::DataDir;
use crate::service::setup::{self, Initialised};
use crate::service::Trials;
use crate::storage::{Database, PoolOptions};

/// Any route that matches nothing: the web pages' HTML 404 for a browser asking for a page
/// outside the API, the API's problem body otherwise. (Startup composes the two edges, so
/// neither needs the other for this.)
async fn not_found(req: actix_web::HttpRequest) -> actix_web::HttpResponse {
    let wants_html = req
        .headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    if wants_html && !req.path().starts_with("/api/") {
        return crate::web::not_found_page(&req);
    }
    match crate::http::not_found().await {
        Ok(response) => response,
        Err(error) => actix_web::ResponseError::error_response(&error),
    }
}

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
    /// The Merkle log's origin: `{origin}/{trial}` on checkpoints, and the signing key's name.
    pub log_origin: String,
    /// Also run a training copy of every trial (`{id}-TRAINING`). Without it, training copies
    /// in the database are not served.
    pub training: bool,
}

impl Settings {
    /// The data directory's layout.
    pub fn data_dir(&self) -> DataDir {
        DataDir::new(&self.data_dir)
    }

    /// The database URL in force: the one given, or SQLite in the data directory.
    pub fn url(&self) -> String {
        self.data_dir().database_url(self.database_url.as_deref())
    }

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
            log_origin: crate::audit::note::DEFAULT_ORIGIN.to_string(),
            training: false,
        }
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
    #[error("--log-origin {0:?}: {1}")]
    LogOrigin(String, #[source] crate::audit::note::NoteError),
    #[error("cannot listen on {bind}: {source}")]
    Bind {
        bind: String,
        #[source]
        source: std::io::Error,
    },
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    #[error(transparent)]
    Checkpoint(#[from] crate::audit::checkpoint::CheckpointError),
}

pub use crate::service::setup::database_url;

/// Creates the data directory (0700) if needed.
pub fn prepare_data_dir(dir: &Path) -> Result<(), StartError> {
    DataDir::from(dir)
        .prepare()
        .map_err(|source| StartError::DataDir {
            path: dir.display().to_string(),
            source,
        })
}

/// Opens the database, migrates it and initialises the given protocols' trials.
pub fn open_and_prepare(
    settings: &Settings,
) -> Result<(Database, Trials, Option<PathBuf>), StartError> {
    prepare_data_dir(&settings.data_dir)?;
    let data_dir = settings.data_dir();
    let url = settings.url();
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
    let source = if settings.protocols.is_empty() {
        setup::ProtocolSource::BuiltIn
    } else {
        setup::ProtocolSource::Operator
    };
    let protocols = if settings.protocols.is_empty() {
        defaults = vec![Protocol::default_trial().map_err(|e| {
            setup::SetupError::Internal(crate::service::error::Internal::caused(
                "the built-in protocol",
                e,
            ))
        })?];
        &defaults
    } else {
        &settings.protocols
    };
    for protocol in protocols {
        match setup::initialise_trial(&mut conn, protocol, source, &settings.data_dir)? {
            Initialised::New { generated_seed } => tracing::info!(
                trial = %protocol.id,
                seed_file = %data_dir.seed_file(&protocol.id).display(),
                generated_seed,
                "trial initialised; back up the seed file and keep it secret"
            ),
            Initialised::AlreadyInitialised => {}
        }
    }
    if settings.training {
        // Copies of the protocols in force (amended ones included); an existing copy keeps
        // the version it has.
        let real = setup::load_trials(&mut conn, &settings.data_dir)?;
        for trial in real.all().iter().filter(|t| !t.protocol.training) {
            let copy = trial.protocol.training_copy().map_err(|e| {
                setup::SetupError::Internal(crate::service::error::Internal::caused(
                    "the training copy",
                    e,
                ))
            })?;
            if let Initialised::New { .. } = setup::initialise_trial(
                &mut conn,
                &copy,
                setup::ProtocolSource::BuiltIn,
                &settings.data_dir,
            )? {
                tracing::info!(trial = %copy.id, "training trial initialised");
            }
        }
    }
    let admin_token = setup::bootstrap_admin(&mut conn, &settings.data_dir)?;
    let trials = setup::load_trials(&mut conn, &settings.data_dir)?;
    if !settings.training {
        let named: Vec<&str> = settings.protocols.iter().map(|p| p.id.as_str()).collect();
        trials.retain(|t| !t.protocol.training || named.contains(&t.protocol.id.as_str()));
    }
    Ok((db, trials, admin_token))
}

/// How often a server looks for protocol versions another server put in force.
const PROTOCOL_REFRESH: Duration = Duration::from_secs(5);

/// Keeps this server's cached protocols current when another server on the database amends a
/// trial: its read views (criteria, texts, cap) follow within [`PROTOCOL_REFRESH`]. (Writes
/// never wait for it: they read the version in force under the chain-head lock.)
fn spawn_protocol_refresh(db: Database, trials: Trials) {
    actix_web::rt::spawn(async move {
        let mut tick = actix_web::rt::time::interval(PROTOCOL_REFRESH);
        loop {
            tick.tick().await;
            let (db, trials) = (db.clone(), trials.clone());
            let refreshed = actix_web::rt::task::spawn_blocking(move || {
                let mut conn = db.get()?;
                setup::refresh_trials(&mut conn, &trials).map_err(|e| e.to_string().into())
            })
            .await;
            match refreshed {
                Ok(Ok(ids)) if !ids.is_empty() => {
                    tracing::info!(trials = ?ids, "protocol amended by another server: now in force here")
                }
                Ok(Ok(_)) => {}
                Ok(Err::<_, Box<dyn std::error::Error + Send + Sync>>(e)) => {
                    tracing::warn!(error = %e, "could not look for amended protocols")
                }
                Err(e) => tracing::warn!(error = %e, "protocol refresh task failed"),
            }
        }
    });
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
        let data_dir = settings.data_dir();
        let checkpoint_key = crate::audit::checkpoint::load_or_create_key_files(
            &data_dir.checkpoint_key_file(),
            &data_dir.checkpoint_public_key_file(),
        )?;
        tracing::info!(
            public_key = %crate::audit::checkpoint::public_key_base64(&checkpoint_key.verifying_key()),
            key_id = %crate::audit::checkpoint::key_id(&checkpoint_key.verifying_key()),
            file = %data_dir.checkpoint_public_key_file().display(),
            "audit checkpoints are signed with this Ed25519 key; monitors pin it"
        );
        {
            use crate::service::readiness::{register_signing_key, KeyRegistration};
            let mut conn = db.get()?;
            match register_signing_key(&mut conn, &checkpoint_key.verifying_key())? {
                KeyRegistration::Registered => {
                    tracing::info!("checkpoint key recorded as this database's signing key")
                }
                KeyRegistration::Known => {}
                // Served, but not ready (/readyz): monitors could not check its checkpoints.
                KeyRegistration::Foreign { registered } => tracing::error!(
                    database_keys = ?registered,
                    "this server's checkpoint key is not the database's: copy checkpoint.key and checkpoint.pub from the data directory of the first server"
                ),
            }
        }
        // The origin names the key in every signed note: refuse one a note cannot carry.
        let verifier_key =
            crate::audit::note::verifier_key(&settings.log_origin, &checkpoint_key.verifying_key())
                .map_err(|e| StartError::LogOrigin(settings.log_origin.clone(), e))?;
        tracing::info!(origin = %settings.log_origin, %verifier_key, "Merkle log checkpoints are signed notes of this origin");
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
        spawn_protocol_refresh(db.clone(), trials.clone());
        let state = web::Data::new(AppState {
            db,
            trials: trials.clone(),
            metrics: Arc::new(Metrics::new()?),
            checkpoint_key: Arc::new(checkpoint_key),
            log_origin: Arc::from(settings.log_origin.as_str()),
            auth_limiter: settings.auth_limiter(),
        });
        let pages = settings.web.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(crate::http::problem_bodies())
                .wrap(middleware::from_fn(crate::http::observe::observe_request))
                .wrap(middleware::DefaultHeaders::new().add(("X-Content-Type-Options", "nosniff")))
                .configure(crate::http::configure)
                .configure(crate::web::configure(&pages))
                .default_service(web::to(not_found))
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

/// `trialgate serve`: the command line to a running server, until it stops.
pub fn serve(args: crate::cli::ServeArgs) -> Result<std::process::ExitCode, crate::cli::CliError> {
    let mut protocols = Vec::new();
    for file in &args.protocols {
        protocols.push(crate::cli::load_protocol(Some(file))?);
    }
    let mut settings = Settings::new(args.bind, args.data.data_dir.clone());
    settings.database_url = args.data.database_url.clone();
    settings.protocols = protocols;
    settings.pool_size = args.pool_size;
    settings.workers = args.workers;
    settings.web.secure_cookies = args.secure_cookies;
    settings.log_origin = args.log_origin;
    settings.training = args.training;
    let runtime = actix_web::rt::System::new();
    runtime.block_on(async move {
        let app = Application::build(settings.clone())
            .map_err(|e| crate::cli::CliError::Serve(Box::new(e)))?;
        for t in app.trials.all() {
            match &t.seed {
                Some(seed) => tracing::info!(trial = %t.protocol.id, commitment = %seed.commitment(), "trial ready"),
                None => tracing::error!(trial = %t.protocol.id, "trial NOT randomizing: seed unavailable"),
            }
        }
        tracing::info!(
            data_dir = %settings.data_dir.display(),
            database = %crate::cli::redact_url(&settings.url()),
            "trialgate listening on http://{}:{}",
            settings.bind.rsplit_once(':').map_or(settings.bind.as_str(), |(h, _)| h),
            app.port()
        );
        tracing::info!(
            "web pages: open http://{}:{}/ in a browser and sign in with a user's token (the first admin's is in {})",
            settings.bind.rsplit_once(':').map_or(settings.bind.as_str(), |(h, _)| h),
            app.port(),
            settings.data_dir().admin_token_file().display()
        );
        app.run_until_stopped().await.map_err(crate::cli::CliError::from)
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}
