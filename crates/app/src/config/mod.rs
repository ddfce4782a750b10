//! Settings from the environment (SPEC §8). Every variable is read and checked here,
//! once, at start-up: a bad value stops the server with a message naming the variable.
//! By concern: `data` (database, storage, pool), `downloads` (quotas, tokens, storage
//! backend), `jobs` (retention windows, alerts), `values` (value forms and the error); the rest (HTTP, auth, logs, Redis)
//! here.
//!
//! Variables are looked up one by one rather than deserialized into a struct: which ones
//! are required depends on others (`STORAGE_BACKEND`, `DB_HOST`, the embedded default),
//! several rules span variables (`DB_QUERY_TIMEOUT` ≥ `DB_TIMEOUT`), and each refusal
//! names its variable in words of its own, never echoing the value (it may be a secret).

mod data;
mod downloads;
mod jobs;
mod values;

use std::net::SocketAddr;
use std::time::Duration;

use secrecy::SecretString;
use soundshelf_domain::settings::parse_utc_offset;
use time::UtcOffset;

pub use data::DataSettings;
pub use downloads::{DownloadSettings, OssVersion, StorageBackend};
pub use jobs::AlertSettings;
pub use values::ConfigError;
use values::{bad, boolean, duration, number, positive_duration};

/// The shortest JWT secret accepted, in bytes.
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// The longest the active-user cache may keep an answer.
pub const MAX_AUTH_CACHE_TTL: Duration = Duration::from_secs(30);

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines, for a terminal.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
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
    /// `INTERNAL_API_SECRET` (≥ 32 bytes): the key of `/internal/…` request signatures;
    /// `None` (unset) leaves those routes out (404).
    pub internal_api_secret: Option<SecretString>,
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
    /// How long the retention job keeps each kind of row (`RETENTION_*`).
    pub retention: soundshelf_domain::jobs::RetentionWindows,
    /// Where alerts go (`ALERT_*`, `SMTP_URL`).
    pub alerts: AlertSettings,
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
        let internal_api_secret = match get("INTERNAL_API_SECRET") {
            None => None,
            Some(s) if s.len() < MIN_JWT_SECRET_BYTES => {
                return Err(bad(
                    "INTERNAL_API_SECRET",
                    format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
                ));
            }
            Some(s) => Some(SecretString::from(s)),
        };

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
            retention: jobs::retention(&get)?,
            alerts: jobs::alerts(&get)?,
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
            internal_api_secret,
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

#[cfg(test)]
mod tests {
    use super::*;
    use soundshelf_domain::downloads::Plans;
    use soundshelf_store::DbConfig;
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
