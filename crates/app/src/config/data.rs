//! Where data lives: the database (`DATABASE_URL`, or `DB_HOST` and friends, or the
//! embedded SQLite default), local storage and the pool's bounds.

use std::path::PathBuf;

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::{ExposeSecret, SecretString};
use soundshelf_store::{DbConfig, PoolOptions};

use super::values::{ConfigError, bad, duration, positive_duration};

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
