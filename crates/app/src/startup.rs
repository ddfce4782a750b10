//! Building and running the server: prepare the database, wire the use cases, bind.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpServer, web};
use anyhow::Context;
use secrecy::ExposeSecret;
use secrecy::SecretString;
use soundshelf_domain::alerts::WebhookFormat;
use soundshelf_memory::{CachedCatalog, GovernorLimiter, MemoryPageCache};
use soundshelf_outbound::alerts::{Mail, Retries, Webhook};
use soundshelf_outbound::{AlertDispatcher, LocalObjects, SignedObjects};
use soundshelf_ports::{
    CatalogStore, Clock, JobLock, ObjectSizes, Probe, RateLimiter, SystemClock, UrlSigner,
    UserEvents,
};
use soundshelf_redis::{Redis, RedisLimiter, RedisPageCache, RedisUserEvents};
use soundshelf_service::accounts::AccountsService;
use soundshelf_service::catalog::CatalogService;
use soundshelf_service::health::HealthService;
use soundshelf_service::jobs::{AlertJob, JobsService};
use soundshelf_service::monitoring::MonitoringService;
use soundshelf_service::{AuthService, DownloadPolicy, DownloadsService, FavoritesService};
use soundshelf_signers::cdn::{OssUrls, QiniuUrls};
use soundshelf_signers::internal::RequestSigner;
use soundshelf_signers::oss::{OssCredentials, OssTarget};
use soundshelf_signers::qiniu::QiniuSigner;
use soundshelf_signers::tokens::RingTokens;
use soundshelf_store::{DbConfig, Store, demo, migrations};

use crate::config::{DataSettings, Settings, StorageBackend};
use crate::embedded;
use crate::error::ApiError;
use crate::jwt::JwtKeys;
use crate::observability::{RequestTimeout, observe};
use crate::routes;
use crate::state::AppState;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// How long an idle client connection is kept open.
pub const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(75);

/// How long an instance keeps a catalogue entry it read: the longest a change made on
/// another instance (or by `catalog import`) goes unseen here (SPEC §11: 5 s).
pub const CATALOG_CACHE_TTL: Duration = Duration::from_secs(5);

/// A server bound to its port, ready to run.
pub struct Application {
    addr: SocketAddr,
    server: Server,
    state: web::Data<AppState>,
    jobs: Arc<JobsService>,
    timezone: time::UtcOffset,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Creates the MySQL database when missing, then applies pending migrations.
pub async fn migrate(data: &DataSettings) -> anyhow::Result<Vec<String>> {
    if let DbConfig::Mysql { url } = &data.database {
        migrations::create_database_if_missing(url)
            .await
            .context("creating the database")?;
    }
    let applied = migrations::run_pending(&data.database)
        .await
        .context("migrating the database")?;
    if !applied.is_empty() {
        tracing::info!(?applied, "migrations applied");
    }
    Ok(applied)
}

/// Opens the pool on the configured database.
pub async fn connect(data: &DataSettings) -> anyhow::Result<Store> {
    Store::connect(&data.database, data.pool)
        .await
        .with_context(|| format!("connecting to {:?}", data.database))
}

/// Seeds the demo data into an empty database and makes the demo objects exist in
/// local storage.
pub async fn seed_demo(data: &DataSettings, store: &Store) -> anyhow::Result<demo::SeedOutcome> {
    let outcome = demo::seed(store, time::OffsetDateTime::now_utc())
        .await
        .context("seeding the demo data")?;
    embedded::ensure_demo_objects(&data.local_storage_dir).context("creating the demo objects")?;
    Ok(outcome)
}

/// The Redis pool when Redis is configured: one per process, shared by the limiter,
/// the page cache, the job lock and readiness.
pub fn redis(settings: &Settings) -> anyhow::Result<Option<Redis>> {
    settings
        .redis
        .as_ref()
        .map(|r| {
            Redis::new(r.url.expose_secret(), &r.prefix)
                .map_err(|e| anyhow::anyhow!("REDIS_URL: {e}"))
        })
        .transpose()
}

/// The jobs over `store`, guarded by Redis' lock when Redis is configured, else by a
/// lease row in the database; alerts delivered to the `ALERT_*` receivers (from tasks
/// of the current runtime), and offending users disabled through `accounts` when
/// `ALERT_AUTO_DISABLE` is set.
pub fn jobs_service(
    settings: &Settings,
    store: &Store,
    redis: Option<&Redis>,
    accounts: AccountsService,
) -> anyhow::Result<JobsService> {
    let lock: Arc<dyn JobLock> = match redis {
        Some(r) => Arc::new(r.clone()),
        None => Arc::new(store.clone()),
    };
    let a = &settings.alerts;
    let webhooks = a
        .webhook_urls
        .iter()
        .map(|url| Webhook {
            url: url.clone(),
            format: a.webhook_format.unwrap_or(WebhookFormat::Json),
            secret: a.webhook_secret.clone(),
        })
        .collect();
    let mail = match (&a.smtp_url, a.email_to.is_empty()) {
        (Some(smtp_url), false) => Some(Mail {
            smtp_url: smtp_url.clone(),
            from: a.email_from.clone(),
            to: a.email_to.clone(),
        }),
        _ => None,
    };
    let sink = AlertDispatcher::start(
        webhooks,
        mail,
        Retries {
            attempts: a.attempts,
            backoff: a.backoff,
            timeout: a.timeout,
        },
    )
    .map_err(|e| anyhow::anyhow!("alerts: {e}"))?;
    Ok(JobsService::new(
        Arc::new(store.clone()),
        lock,
        Arc::new(SystemClock),
        settings.app_timezone,
    )
    .with_retention(settings.retention)
    .with_alerts(AlertJob {
        monitoring: Arc::new(store.clone()),
        sink: Arc::new(sink),
        threshold: settings.abnormal_attempts_per_hour,
        auto_disable: a.auto_disable.then_some(accounts),
    }))
}

/// The signer of a CDN backend; `None` for local storage, whose files this server sends.
pub fn url_signer(backend: &StorageBackend) -> Option<Arc<dyn UrlSigner>> {
    match backend {
        StorageBackend::Local => None,
        StorageBackend::Qiniu {
            access_key,
            secret_key,
            domain,
            ..
        } => Some(Arc::new(QiniuUrls(QiniuSigner::new(
            access_key,
            secret_key.expose_secret(),
            domain,
        )))),
        StorageBackend::Oss {
            access_key_id,
            access_key_secret,
            bucket,
            region,
            endpoint,
            version,
        } => Some(Arc::new(OssUrls {
            credentials: OssCredentials {
                access_key_id: access_key_id.clone(),
                access_key_secret: access_key_secret.expose_secret().to_owned(),
            },
            target: OssTarget::new(endpoint, bucket, region),
            version: *version,
        })),
    }
}

/// The storage backend as the catalogue's verification sees it: `stat` under
/// `LOCAL_STORAGE_DIR`, or a `HEAD` signed by the downloads' own signer that gives up after
/// `timeout`.
pub fn object_sizes(
    settings: &Settings,
    timeout: Duration,
) -> anyhow::Result<Arc<dyn ObjectSizes>> {
    Ok(match url_signer(&settings.downloads.backend) {
        None => Arc::new(LocalObjects {
            root: settings.data.local_storage_dir.clone(),
        }),
        Some(signer) => Arc::new(
            SignedObjects::new(signer, Arc::new(SystemClock), timeout)
                .map_err(|e| anyhow::anyhow!("the storage client: {e}"))?,
        ),
    })
}

/// Migrates (when `AUTO_MIGRATE`), connects, and seeds the demo data (when `SEED_DEMO`).
pub async fn prepare_store(settings: &Settings) -> anyhow::Result<Store> {
    if settings.auto_migrate {
        migrate(&settings.data).await?;
    }
    let store = connect(&settings.data).await?;
    if settings.seed_demo {
        seed_demo(&settings.data, &store).await?;
    }
    Ok(store)
}

impl Application {
    /// Prepares the database, then binds `settings.bind` (port 0: any free port).
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let store = prepare_store(settings).await?;
        let secret = embedded::jwt_secret(settings)?;
        Self::with_store(settings, store, &secret)
    }

    /// Binds a server over an already prepared store.
    pub fn with_store(
        settings: &Settings,
        store: Store,
        jwt_secret: &SecretString,
    ) -> anyhow::Result<Self> {
        crate::observability::install();
        // From the start, so `increase()` sees the first fallback.
        metrics::counter!("rate_limit_fallbacks_total").increment(0);
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let d = &settings.downloads;
        let redis = redis(settings)?;
        let limiter: Arc<dyn RateLimiter> = match &redis {
            Some(r) => Arc::new(RedisLimiter::new(r.clone(), d.rate_limit_per_minute)),
            None => Arc::new(GovernorLimiter::per_minute(d.rate_limit_per_minute)),
        };
        let shared = Arc::new(store.clone());
        let favorites = FavoritesService::new(shared.clone(), clock.clone());
        let ttl = settings.favorites_cache_ttl;
        // A warm page without a database round trip wherever every instance writes
        // through the cache: Redis, or SQLite (one instance per database file). MySQL
        // without Redis may have several instances, each with its own memory: the
        // database's favorites version keys their pages.
        let favorites = match (&redis, store.backend()) {
            (Some(r), _) => {
                favorites.with_page_cache(Arc::new(RedisPageCache::new(r.clone())), ttl)
            }
            (None, soundshelf_store::Backend::Sqlite) => {
                favorites.with_page_cache(Arc::new(MemoryPageCache::default()), ttl)
            }
            (None, soundshelf_store::Backend::Mysql) => {
                favorites.with_versioned_page_cache(Arc::new(MemoryPageCache::default()), ttl)
            }
        };
        // Grants read the catalogue on every request; it changes rarely. Changes through
        // this instance are seen here at once, others' within CATALOG_CACHE_TTL.
        let catalogue: Arc<dyn CatalogStore> =
            Arc::new(CachedCatalog::new(shared.clone(), CATALOG_CACHE_TTL));
        let downloads = DownloadsService::new(
            shared.clone(),
            catalogue.clone(),
            limiter.clone(),
            Arc::new(RingTokens::default()),
            clock.clone(),
            DownloadPolicy {
                plans: d.plans,
                token_ttl: d.token_ttl,
                max_uses: d.max_uses,
                public_base_url: settings.public_base_url.clone(),
                timezone: settings.app_timezone,
                redirect_ttl: d.redirect_ttl,
                rate_limit_per_minute: d.rate_limit_per_minute,
            },
        );
        let downloads = match url_signer(&d.backend) {
            Some(signer) => downloads.with_cdn(signer),
            None => downloads,
        };
        let redis_probe = redis.clone().map(|r| Arc::new(r) as Arc<dyn Probe>);
        let auth = Arc::new(AuthService::new(
            shared.clone(),
            clock.clone(),
            settings.auth_cache_ttl,
        ));
        let user_events = redis
            .clone()
            .map(|r| Arc::new(RedisUserEvents(r)) as Arc<dyn UserEvents>);
        let accounts = AccountsService::new(shared.clone(), clock.clone(), settings.app_timezone)
            .with_invalidation(Some(auth.clone()), user_events);
        let state = web::Data::new(AppState {
            jwt: JwtKeys::new(jwt_secret).context("JWT_SECRET")?,
            auth,
            favorites,
            downloads,
            accounts,
            catalog: CatalogService::new(catalogue, clock.clone()),
            monitoring: MonitoringService::new(
                shared.clone(),
                clock.clone(),
                settings.abnormal_attempts_per_hour,
            ),
            health: HealthService::new(shared.clone(), redis_probe, limiter),
            storage_dir: settings.data.local_storage_dir.clone(),
            trusted_proxies: d.trusted_proxies.clone(),
        });
        if let Some(r) = &redis {
            // Another instance changed a user: stop trusting what this one cached of it.
            let listener = state.clone();
            r.subscribe_user_changes(Arc::new(move |id| listener.auth.forget(id)));
        }
        let jobs = Arc::new(jobs_service(
            settings,
            &store,
            redis.as_ref(),
            state.accounts.clone(),
        )?);
        let request_timeout = settings.request_timeout;
        let internal = settings
            .internal_api_secret
            .as_ref()
            .map(|s| RequestSigner::new(s.expose_secret().as_bytes()));
        let listener = TcpListener::bind(settings.bind)
            .with_context(|| format!("binding {}", settings.bind))?;
        let addr = listener.local_addr()?;
        let app_state = state.clone();
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(app_state.clone())
                .app_data(json_config())
                .app_data(query_config())
                .app_data(path_config())
                .app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
                .app_data(web::Data::new(RequestTimeout(request_timeout)))
                .wrap(from_fn(observe))
                .configure(routes::configure)
                .configure(|cfg| {
                    if let Some(signer) = &internal {
                        routes::accounts::configure_internal(cfg, signer.clone());
                    }
                })
                .configure(crate::openapi::configure)
                .default_service(web::to(crate::envelope::not_found))
        })
        .client_request_timeout(settings.header_timeout)
        // Idle connections are kept longer than a proxy keeps its own idle upstream
        // connections (nginx: 60 s in deploy/nginx.conf), so the proxy is always the one
        // to close them and never sends a request on a connection being closed here.
        .keep_alive(KEEP_ALIVE)
        .listen(listener)?
        .disable_signals()
        .shutdown_timeout(10);
        if let Some(workers) = settings.workers {
            server = server.workers(workers);
        }
        Ok(Self {
            addr,
            server: server.run(),
            state,
            jobs,
            timezone: settings.app_timezone,
        })
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The scheduled jobs as this instance runs them (tests run one now).
    pub fn jobs(&self) -> Arc<JobsService> {
        self.jobs.clone()
    }

    /// The token keys (to print a demo token).
    pub fn jwt(&self) -> &JwtKeys {
        &self.state.jwt
    }

    /// Serves until SIGINT or SIGTERM, then stops gracefully: no new connections,
    /// requests in flight finish (up to 10 s).
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        // Every instance schedules the jobs; the job lock lets one of them run each.
        let mut scheduler = crate::scheduler::start(self.jobs.clone(), self.timezone).await?;
        let handle = self.server.handle();
        tokio::spawn(async move {
            shutdown_signal().await;
            tracing::info!("shutting down gracefully");
            handle.stop(true).await;
        });
        self.server.await?;
        let _ = scheduler.shutdown().await;
        Ok(())
    }

    /// Serves until the returned future is dropped or the process ends (tests).
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY_BYTES)
        .error_handler(|e, _req: &HttpRequest| {
            match e {
                JsonPayloadError::Overflow { .. }
                | JsonPayloadError::OverflowKnownLength { .. } => ApiError::PAYLOAD_TOO_LARGE,
                JsonPayloadError::ContentType => {
                    ApiError::InvalidRequest("Content-Type 必须是 application/json".into())
                }
                JsonPayloadError::Deserialize(e) => crate::error::json_body_error(&e),
                _ => ApiError::InvalidRequest("请求体无法读取".into()),
            }
            .into()
        })
}

fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|_e: QueryPayloadError, _req: &HttpRequest| {
        ApiError::InvalidRequest("查询参数无效".into()).into()
    })
}

fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_e: PathError, _req: &HttpRequest| {
        ApiError::InvalidRequest("路径参数无效".into()).into()
    })
}
