//! Settings from the environment (SPEC §8). Every variable is read and checked here,
//! once, at start-up: a bad value stops the server with a message naming the variable.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use soundshelf_domain::Plan;
use soundshelf_domain::downloads::Plans;
use soundshelf_domain::settings::{parse_duration, parse_utc_offset};
use soundshelf_store::{DbConfig, PoolOptions};
use time::UtcOffset;

/// The shortest JWT secret accepted, in bytes.
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// The longest the active-user cache may keep an answer.
pub const MAX_AUTH_CACHE_TTL: Duration = Duration::from_secs(30);

/// A variable with a bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration variable {var}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub var: &'static str,
    /// What is wrong with it (never its value, which may be a secret).
    pub reason: String,
}

fn bad(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The part of the settings that says where data lives: all that `migrate` and `seed`
/// need (they need no JWT secret).
#[derive(Debug, Clone)]
pub struct DataSettings {
    /// The database.
    pub database: DbConfig,
    /// True when no database was configured: the embedded default.
    pub embedded: bool,
    /// Where the embedded default keeps its files.
    pub data_dir: PathBuf,
    /// Where the local storage backend keeps objects.
    pub local_storage_dir: PathBuf,
    /// Database pool size and wait bound.
    pub pool: PoolOptions,
}

impl DataSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads `DATABASE_URL` (or `DB_HOST` …), `DATA_DIR`, `LOCAL_STORAGE_DIR`,
    /// `DB_POOL_SIZE`, `DB_TIMEOUT` and `DB_QUERY_TIMEOUT` through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let data_dir = PathBuf::from(get("DATA_DIR").unwrap_or_else(|| "./data".to_owned()));
        let (database, embedded) = database(&get, &data_dir)?;
        let local_storage_dir = get("LOCAL_STORAGE_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("storage"));
        let defaults = PoolOptions::default();
        let pool = PoolOptions {
            max_size: match get("DB_POOL_SIZE") {
                Some(v) => v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=1000).contains(n))
                    .ok_or_else(|| bad("DB_POOL_SIZE", "must be an integer from 1 to 1000"))?,
                None => defaults.max_size,
            },
            timeout: positive_duration(&get, "DB_TIMEOUT", defaults.timeout)?,
            query_timeout: duration(&get, "DB_QUERY_TIMEOUT", defaults.query_timeout)?,
        };
        if pool.query_timeout < pool.timeout {
            return Err(bad("DB_QUERY_TIMEOUT", "must be at least DB_TIMEOUT"));
        }
        Ok(Self {
            database,
            embedded,
            data_dir,
            local_storage_dir,
            pool,
        })
    }
}

/// What downloads follow (SPEC §4, §8).
#[derive(Debug, Clone)]
pub struct DownloadSettings {
    /// Quotas per plan (`PLAN_<PLAN>_DAILY_DOWNLOADS`, `PLAN_<PLAN>_STORAGE_MB`).
    pub plans: Plans,
    /// How long a token is valid (`DOWNLOAD_TOKEN_EXPIRES`, default `6h`).
    pub token_ttl: Duration,
    /// Redemptions per token (`DOWNLOAD_MAX_USES`, default 3).
    pub max_uses: u32,
    /// Grants per minute per user (`RATE_LIMIT_DOWNLOADS_PER_MINUTE`, default 5).
    pub rate_limit_per_minute: u32,
    /// Peers whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`, CIDRs or addresses).
    pub trusted_proxies: Vec<IpNet>,
    /// Where files are served from (`STORAGE_BACKEND`, default `local`).
    pub backend: StorageBackend,
    /// How long a CDN redirect is valid (`DOWNLOAD_REDIRECT_TTL`, default `300s`).
    pub redirect_ttl: Duration,
}

pub use soundshelf_signers::cdn::OssVersion;

/// Where download files live.
#[derive(Debug, Clone)]
pub enum StorageBackend {
    /// Files under `LOCAL_STORAGE_DIR`, streamed by the server.
    Local,
    /// A private Qiniu bucket behind its domain; redemptions redirect to signed URLs.
    Qiniu {
        /// `QINIU_ACCESS_KEY`.
        access_key: String,
        /// `QINIU_SECRET_KEY`.
        secret_key: SecretString,
        /// `QINIU_BUCKET`.
        bucket: String,
        /// `QINIU_DOMAIN`, with its scheme.
        domain: String,
    },
    /// A private Aliyun OSS bucket; redemptions redirect to presigned URLs.
    Oss {
        /// `OSS_ACCESS_KEY_ID`.
        access_key_id: String,
        /// `OSS_ACCESS_KEY_SECRET`.
        access_key_secret: SecretString,
        /// `OSS_BUCKET`.
        bucket: String,
        /// `OSS_REGION`, like `oss-cn-hangzhou`.
        region: String,
        /// `OSS_ENDPOINT`, default `https://{bucket}.{region}.aliyuncs.com`.
        endpoint: String,
        /// `OSS_SIGNATURE_VERSION`, default `v4`.
        version: OssVersion,
    },
}

fn storage_backend(get: &impl Fn(&str) -> Option<String>) -> Result<StorageBackend, ConfigError> {
    let required = |var: &'static str, backend: &str| {
        get(var).ok_or_else(|| bad(var, format!("is required with STORAGE_BACKEND={backend}")))
    };
    let url = |var: &'static str, value: String| {
        if value.starts_with("http://") || value.starts_with("https://") {
            Ok(value.trim_end_matches('/').to_owned())
        } else {
            Err(bad(var, "must start with http:// or https://"))
        }
    };
    match get("STORAGE_BACKEND").as_deref() {
        None | Some("local") => Ok(StorageBackend::Local),
        Some("qiniu") => Ok(StorageBackend::Qiniu {
            access_key: required("QINIU_ACCESS_KEY", "qiniu")?,
            secret_key: SecretString::from(required("QINIU_SECRET_KEY", "qiniu")?),
            bucket: required("QINIU_BUCKET", "qiniu")?,
            domain: url("QINIU_DOMAIN", required("QINIU_DOMAIN", "qiniu")?)?,
        }),
        Some("oss") => {
            let access_key_id = required("OSS_ACCESS_KEY_ID", "oss")?;
            let access_key_secret = SecretString::from(required("OSS_ACCESS_KEY_SECRET", "oss")?);
            let bucket = required("OSS_BUCKET", "oss")?;
            let valid_bucket = (3..=63).contains(&bucket.len())
                && bucket
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid_bucket {
                return Err(bad(
                    "OSS_BUCKET",
                    "must be 3-63 characters of a-z, 0-9 and -",
                ));
            }
            let region = required("OSS_REGION", "oss")?;
            if !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            {
                return Err(bad("OSS_REGION", "must be a region like oss-cn-hangzhou"));
            }
            let host_region = if region.starts_with("oss-") {
                region.clone()
            } else {
                format!("oss-{region}")
            };
            let endpoint = match get("OSS_ENDPOINT") {
                Some(e) => url("OSS_ENDPOINT", e)?,
                None => format!("https://{bucket}.{host_region}.aliyuncs.com"),
            };
            let version = match get("OSS_SIGNATURE_VERSION").as_deref() {
                None | Some("v4") => OssVersion::V4,
                Some("v1") => OssVersion::V1,
                Some(_) => return Err(bad("OSS_SIGNATURE_VERSION", "must be v1 or v4")),
            };
            Ok(StorageBackend::Oss {
                access_key_id,
                access_key_secret,
                bucket,
                region,
                endpoint,
                version,
            })
        }
        Some(_) => Err(bad("STORAGE_BACKEND", "must be local, qiniu or oss")),
    }
}

impl DownloadSettings {
    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut plans = Plans::default();
        for (plan, daily_var, storage_var) in [
            (
                Plan::Free,
                "PLAN_FREE_DAILY_DOWNLOADS",
                "PLAN_FREE_STORAGE_MB",
            ),
            (
                Plan::Trial,
                "PLAN_TRIAL_DAILY_DOWNLOADS",
                "PLAN_TRIAL_STORAGE_MB",
            ),
            (
                Plan::Premium,
                "PLAN_PREMIUM_DAILY_DOWNLOADS",
                "PLAN_PREMIUM_STORAGE_MB",
            ),
            (Plan::Vip, "PLAN_VIP_DAILY_DOWNLOADS", "PLAN_VIP_STORAGE_MB"),
        ] {
            let limits = plans.slot_mut(plan);
            limits.daily_downloads = number(get, daily_var, limits.daily_downloads, 0, 1_000_000)?;
            limits.storage_mb = number(get, storage_var, limits.storage_mb, 0, 1 << 30)?;
        }
        let token_ttl =
            positive_duration(get, "DOWNLOAD_TOKEN_EXPIRES", Duration::from_secs(6 * 3600))?;
        let trusted_proxies = match get("TRUSTED_PROXIES") {
            None => Vec::new(),
            Some(list) => list
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| {
                    s.parse::<IpNet>()
                        .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                        .map_err(|_| {
                            bad(
                                "TRUSTED_PROXIES",
                                "must be a comma-separated list of addresses or CIDRs",
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
        };
        let redirect_ttl = duration(get, "DOWNLOAD_REDIRECT_TTL", Duration::from_secs(300))?;
        if redirect_ttl.is_zero() || redirect_ttl > Duration::from_secs(7 * 86_400) {
            return Err(bad("DOWNLOAD_REDIRECT_TTL", "must be between 1s and 7d"));
        }
        Ok(Self {
            plans,
            token_ttl,
            max_uses: number(get, "DOWNLOAD_MAX_USES", 3, 1, 1000)?,
            rate_limit_per_minute: number(get, "RATE_LIMIT_DOWNLOADS_PER_MINUTE", 5, 1, 1_000_000)?,
            trusted_proxies,
            backend: storage_backend(get)?,
            redirect_ttl,
        })
    }
}

fn number<T>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    match get(var) {
        None => Ok(default),
        Some(v) => v
            .parse::<T>()
            .ok()
            .filter(|n| *n >= min && *n <= max)
            .ok_or_else(|| bad(var, format!("must be an integer from {min} to {max}"))),
    }
}

/// Everything the server is configured with.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen (`BIND`, default `127.0.0.1:3000`).
    pub bind: SocketAddr,
    /// Where data lives: the database (`DATABASE_URL`, or `DB_HOST` …; none: SQLite in
    /// `DATA_DIR`, default `./data`), local storage (`LOCAL_STORAGE_DIR`, default
    /// `{DATA_DIR}/storage`) and the pool (`DB_POOL_SIZE`, `DB_TIMEOUT`).
    pub data: DataSettings,
    /// `JWT_SECRET`; `None` only on the embedded default, which keeps one in `data_dir`.
    pub jwt_secret: Option<SecretString>,
    /// The URL clients reach the server at (`PUBLIC_BASE_URL`, default `http://{BIND}`).
    pub public_base_url: String,
    /// The offset that defines "today" (`APP_TIMEZONE`, default `+08:00`).
    pub app_timezone: UtcOffset,
    /// The tracing filter (`LOG_LEVEL`, default `info`).
    pub log_level: String,
    /// `LOG_FORMAT`, default pretty.
    pub log_format: LogFormat,
    /// Run pending migrations at start (`AUTO_MIGRATE`; default true on the embedded default).
    pub auto_migrate: bool,
    /// Seed the demo data into an empty database (`SEED_DEMO`; default true on the embedded default).
    pub seed_demo: bool,
    /// How long a user's status is cached (`AUTH_CACHE_TTL`, default and maximum `30s`).
    pub auth_cache_ttl: Duration,
    /// HTTP worker threads (`WORKERS`, default: one per core).
    pub workers: Option<usize>,
    /// How long a client may take to send a request's head (`HTTP_HEADER_TIMEOUT`,
    /// default `10s`); then 408 and the connection is closed.
    pub header_timeout: Duration,
    /// How long a request may take from its head to its answer, reading the body
    /// included (`HTTP_REQUEST_TIMEOUT`, default `60s`); then 408 `REQUEST_TIMEOUT`.
    /// A file being streamed is not cut off: the answer has begun.
    pub request_timeout: Duration,
    /// Downloads: quotas, tokens, rate limit, trusted proxies.
    pub downloads: DownloadSettings,
    /// How long a favorites page stays cached (`FAVORITES_CACHE_TTL`, default `30s`;
    /// `0s` turns the cache off).
    pub favorites_cache_ttl: Duration,
    /// More redemption attempts than this from one address and user in an hour is
    /// abnormal (`ABNORMAL_ATTEMPTS_PER_HOUR`, default 50).
    pub abnormal_attempts_per_hour: u64,
    /// Redis, shared by every instance (`REDIS_URL`, `REDIS_KEY_PREFIX`); `None`: limits
    /// and caches stay in-process.
    pub redis: Option<RedisSettings>,
}

/// Where Redis is, and the prefix of every key written there.
#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `REDIS_URL` (`redis://[:password@]host:port[/db]`); may hold a password.
    pub url: SecretString,
    /// `REDIS_KEY_PREFIX`, default `soundshelf:`.
    pub prefix: String,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Reads settings through `get` (a variable's value, or `None` when unset). Empty
    /// values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());

        let bind: SocketAddr = match get("BIND") {
            Some(v) => v
                .parse()
                .map_err(|_| bad("BIND", "must be an address and port, like 127.0.0.1:3000"))?,
            None => SocketAddr::from(([127, 0, 0, 1], 3000)),
        };
        let data = DataSettings::from_lookup(get)?;
        let embedded = data.embedded;

        let jwt_secret = match get("JWT_SECRET") {
            Some(s) if s.len() < MIN_JWT_SECRET_BYTES => {
                return Err(bad(
                    "JWT_SECRET",
                    format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
                ));
            }
            Some(s) => Some(SecretString::from(s)),
            None if embedded => None,
            None => {
                return Err(bad(
                    "JWT_SECRET",
                    "is required when a database is configured",
                ));
            }
        };

        let public_base_url = match get("PUBLIC_BASE_URL") {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                u.trim_end_matches('/').to_owned()
            }
            Some(_) => {
                return Err(bad(
                    "PUBLIC_BASE_URL",
                    "must start with http:// or https://",
                ));
            }
            None => format!("http://{bind}"),
        };
        let app_timezone = match get("APP_TIMEZONE") {
            Some(v) => parse_utc_offset(&v)
                .ok_or_else(|| bad("APP_TIMEZONE", "must be a fixed offset like +08:00"))?,
            None => UtcOffset::from_hms(8, 0, 0).unwrap_or(UtcOffset::UTC),
        };
        let log_level = get("LOG_LEVEL").unwrap_or_else(|| "info".to_owned());
        tracing_subscriber::EnvFilter::try_new(&log_level).map_err(|_| {
            bad(
                "LOG_LEVEL",
                "must be a level (error, warn, info, debug, trace) or a filter",
            )
        })?;
        let log_format = match get("LOG_FORMAT").as_deref() {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(bad("LOG_FORMAT", "must be json or pretty")),
        };
        let auto_migrate = boolean(&get, "AUTO_MIGRATE", embedded)?;
        let seed_demo = boolean(&get, "SEED_DEMO", embedded)?;
        let auth_cache_ttl = duration(&get, "AUTH_CACHE_TTL", MAX_AUTH_CACHE_TTL)?;
        if auth_cache_ttl > MAX_AUTH_CACHE_TTL {
            return Err(bad("AUTH_CACHE_TTL", "must be at most 30s"));
        }
        let workers = match get("WORKERS") {
            Some(v) => Some(
                v.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=256).contains(n))
                    .ok_or_else(|| bad("WORKERS", "must be an integer from 1 to 256"))?,
            ),
            None => None,
        };

        let header_timeout =
            positive_duration(&get, "HTTP_HEADER_TIMEOUT", Duration::from_secs(10))?;
        let request_timeout = positive_duration(
            &get,
            "HTTP_REQUEST_TIMEOUT",
            crate::observability::DEFAULT_REQUEST_TIMEOUT,
        )?;

        let downloads = DownloadSettings::from_lookup(&get)?;
        let redis = match get("REDIS_URL") {
            None => None,
            Some(url) if url.starts_with("redis://") => Some(RedisSettings {
                url: SecretString::from(url),
                prefix: get("REDIS_KEY_PREFIX").unwrap_or_else(|| "soundshelf:".to_owned()),
            }),
            Some(_) => {
                return Err(bad(
                    "REDIS_URL",
                    "must be redis://[:password@]host:port[/db]",
                ));
            }
        };
        let favorites_cache_ttl = duration(&get, "FAVORITES_CACHE_TTL", Duration::from_secs(30))?;
        if favorites_cache_ttl > Duration::from_secs(3600) {
            return Err(bad("FAVORITES_CACHE_TTL", "must be at most 1h"));
        }
        Ok(Self {
            favorites_cache_ttl,
            abnormal_attempts_per_hour: number(
                &get,
                "ABNORMAL_ATTEMPTS_PER_HOUR",
                50,
                1,
                1_000_000,
            )?,
            downloads,
            redis,
            bind,
            data,
            jwt_secret,
            public_base_url,
            app_timezone,
            log_level,
            log_format,
            auto_migrate,
            seed_demo,
            auth_cache_ttl,
            workers,
            header_timeout,
            request_timeout,
        })
    }
}

fn boolean(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(var).as_deref() {
        None => Ok(default),
        Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(_) => Err(bad(var, "must be true or false")),
    }
}

/// A duration setting that must be longer than zero.
fn positive_duration(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let d = duration(get, var, default)?;
    if d.is_zero() {
        return Err(bad(var, "must be longer than zero"));
    }
    Ok(d)
}

fn duration(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(v) => {
            parse_duration(&v).ok_or_else(|| bad(var, "must be a duration like 90s, 30m, 6h or 7d"))
        }
    }
}

/// The database from `DATABASE_URL`, else from `DB_HOST` and friends, else SQLite in
/// `data_dir` (the embedded default).
fn database(
    get: &impl Fn(&str) -> Option<String>,
    data_dir: &std::path::Path,
) -> Result<(DbConfig, bool), ConfigError> {
    if let Some(url) = get("DATABASE_URL") {
        if url.starts_with("mysql://") {
            return Ok((DbConfig::Mysql { url }, false));
        }
        if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .filter(|p| !p.is_empty())
        {
            return Ok((
                DbConfig::Sqlite {
                    path: PathBuf::from(path),
                },
                false,
            ));
        }
        return Err(bad(
            "DATABASE_URL",
            "must be mysql://user:password@host:port/database or sqlite://path",
        ));
    }
    if let Some(host) = get("DB_HOST") {
        let port: u16 = match get("DB_PORT") {
            Some(p) => p
                .parse()
                .map_err(|_| bad("DB_PORT", "must be a port number"))?,
            None => 3306,
        };
        let name = get("DB_NAME").ok_or_else(|| bad("DB_NAME", "is required with DB_HOST"))?;
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
        {
            return Err(bad("DB_NAME", "may hold only A-Z, a-z, 0-9, _ and $"));
        }
        if host.contains(['/', '@', '?', '#']) {
            return Err(bad("DB_HOST", "must be a host name or address"));
        }
        let user = get("DB_USER").unwrap_or_else(|| "root".to_owned());
        let password = SecretString::from(get("DB_PASSWORD").unwrap_or_default());
        let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
        let userinfo = if password.expose_secret().is_empty() {
            enc(&user)
        } else {
            format!("{}:{}", enc(&user), enc(password.expose_secret()))
        };
        return Ok((
            DbConfig::Mysql {
                url: format!("mysql://{userinfo}@{host}:{port}/{name}"),
            },
            false,
        ));
    }
    Ok((
        DbConfig::Sqlite {
            path: data_dir.join("soundshelf.db"),
        },
        true,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn nothing_set_is_the_embedded_default() {
        let s = settings(&[]).unwrap();
        assert!(s.data.embedded);
        assert!(s.auto_migrate && s.seed_demo);
        assert!(s.jwt_secret.is_none());
        assert_eq!(s.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(s.public_base_url, "http://127.0.0.1:3000");
        assert_eq!(s.app_timezone.whole_hours(), 8);
        assert!(matches!(s.data.database, DbConfig::Sqlite { .. }));
        assert_eq!(s.auth_cache_ttl, Duration::from_secs(30));
    }

    #[test]
    fn download_settings() {
        let s = settings(&[]).unwrap().downloads;
        assert_eq!(s.plans, Plans::default());
        assert_eq!((s.max_uses, s.rate_limit_per_minute), (3, 5));
        assert_eq!(s.token_ttl, Duration::from_secs(6 * 3600));
        let s = settings(&[
            ("PLAN_FREE_DAILY_DOWNLOADS", "7"),
            ("PLAN_PREMIUM_STORAGE_MB", "1"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1,::1"),
        ])
        .unwrap()
        .downloads;
        assert_eq!(s.plans.free.daily_downloads, 7);
        assert_eq!(s.plans.premium.storage_mb, 1);
        assert_eq!(s.trusted_proxies.len(), 3);
    }

    #[test]
    fn storage_backends_need_their_credentials() {
        assert!(matches!(
            settings(&[]).unwrap().downloads.backend,
            StorageBackend::Local
        ));
        let oss = [
            ("STORAGE_BACKEND", "oss"),
            ("OSS_REGION", "oss-cn-hangzhou"),
            ("OSS_ACCESS_KEY_ID", "id"),
            ("OSS_ACCESS_KEY_SECRET", "very-secret-value"),
            ("OSS_BUCKET", "audio-bucket"),
        ];
        let s = settings(&oss).unwrap();
        let StorageBackend::Oss {
            endpoint, version, ..
        } = &s.downloads.backend
        else {
            panic!("oss expected")
        };
        assert_eq!(
            endpoint,
            "https://audio-bucket.oss-cn-hangzhou.aliyuncs.com"
        );
        assert_eq!(*version, OssVersion::V4);
        assert!(!format!("{s:?}").contains("very-secret-value"));
        for missing in [
            "OSS_REGION",
            "OSS_ACCESS_KEY_ID",
            "OSS_ACCESS_KEY_SECRET",
            "OSS_BUCKET",
        ] {
            let mut vars: Vec<_> = oss.iter().filter(|(k, _)| *k != missing).copied().collect();
            assert_eq!(settings(&vars).unwrap_err().var, missing);
            vars.push((missing, ""));
            assert_eq!(
                settings(&vars).unwrap_err().var,
                missing,
                "empty counts as missing"
            );
        }
        let qiniu = [
            ("STORAGE_BACKEND", "qiniu"),
            ("QINIU_ACCESS_KEY", "ak"),
            ("QINIU_SECRET_KEY", "sk"),
            ("QINIU_BUCKET", "b"),
            ("QINIU_DOMAIN", "cdn.example.com"),
        ];
        assert_eq!(settings(&qiniu).unwrap_err().var, "QINIU_DOMAIN");
        assert_eq!(
            settings(&[("STORAGE_BACKEND", "s3")]).unwrap_err().var,
            "STORAGE_BACKEND"
        );
    }

    #[test]
    fn mysql_needs_a_secret_and_defaults_to_no_migrate_no_seed() {
        let url = ("DATABASE_URL", "mysql://root@127.0.0.1:3306/app");
        assert_eq!(settings(&[url]).unwrap_err().var, "JWT_SECRET");
        let s = settings(&[url, ("JWT_SECRET", SECRET)]).unwrap();
        assert!(!s.data.embedded && !s.auto_migrate && !s.seed_demo);
    }

    #[test]
    fn db_host_builds_an_escaped_url() {
        let s = settings(&[
            ("DB_HOST", "db"),
            ("DB_NAME", "app"),
            ("DB_USER", "app user"),
            ("DB_PASSWORD", "p@ss:w/rd"),
            ("JWT_SECRET", SECRET),
        ])
        .unwrap();
        let DbConfig::Mysql { url } = &s.data.database else {
            panic!("mysql expected")
        };
        assert_eq!(url, "mysql://app%20user:p%40ss%3Aw%2Frd@db:3306/app");
        assert!(!format!("{s:?}").contains("p%40ss"), "no password in Debug");
        assert!(!format!("{s:?}").contains(SECRET), "no secret in Debug");
    }

    #[test]
    fn bad_values_name_their_variable() {
        let cases: &[(&str, &str)] = &[
            ("BIND", "localhost"),
            ("DATABASE_URL", "postgres://x"),
            ("JWT_SECRET", "short"),
            ("PUBLIC_BASE_URL", "example.com"),
            ("APP_TIMEZONE", "Asia/Shanghai"),
            ("LOG_LEVEL", "loud[["),
            ("LOG_FORMAT", "xml"),
            ("AUTO_MIGRATE", "yes"),
            ("SEED_DEMO", "2"),
            ("DB_POOL_SIZE", "0"),
            ("DB_TIMEOUT", "5"),
            ("DB_QUERY_TIMEOUT", "1s"),
            ("AUTH_CACHE_TTL", "31s"),
            ("WORKERS", "many"),
            ("HTTP_HEADER_TIMEOUT", "0s"),
            ("HTTP_REQUEST_TIMEOUT", "1"),
            ("DB_PORT", "x"),
            ("PLAN_FREE_DAILY_DOWNLOADS", "-1"),
            ("PLAN_VIP_STORAGE_MB", "lots"),
            ("DOWNLOAD_TOKEN_EXPIRES", "0s"),
            ("DOWNLOAD_MAX_USES", "0"),
            ("RATE_LIMIT_DOWNLOADS_PER_MINUTE", "0"),
            ("TRUSTED_PROXIES", "10.0.0.0/33"),
            ("STORAGE_BACKEND", "ftp"),
            ("DOWNLOAD_REDIRECT_TTL", "0s"),
            ("REDIS_URL", "localhost:6379"),
        ];
        for (var, value) in cases {
            let mut vars = vec![(*var, *value)];
            if *var == "DB_PORT" {
                vars.extend([("DB_HOST", "h"), ("DB_NAME", "d"), ("JWT_SECRET", SECRET)]);
            }
            let err = settings(&vars).unwrap_err();
            assert_eq!(err.var, *var, "{var}={value}");
            assert!(!err.to_string().contains(value) || value.len() < 3, "{err}");
        }
    }
}
