//! Embedded migrations for both backends, and creating the MySQL database itself.
//!
//! Migrations run on a blocking thread through diesel's synchronous harness
//! (`AsyncConnectionWrapper` for MySQL, a plain `SqliteConnection` for SQLite), so they
//! work from any runtime flavour.

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};
use diesel_async::AsyncMysqlConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::database::{DbConfig, MYSQL_SESSION_SETUP, sqlite_pragmas};

const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/mysql");
const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");

type MysqlSyncConn = AsyncConnectionWrapper<AsyncMysqlConnection>;

/// Why migrating failed.
#[derive(Debug, thiserror::Error)]
pub enum MigrationError {
    /// The database could not be reached.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// A migration failed to apply or revert.
    #[error("migration failed: {0}")]
    Run(String),
    /// The MySQL URL names no usable database.
    #[error("invalid database URL: {0}")]
    Url(&'static str),
}

fn run_err(e: impl std::fmt::Display) -> MigrationError {
    MigrationError::Run(e.to_string())
}

/// Which way to move.
#[derive(Debug, Clone, Copy)]
enum Direction {
    Up,
    DownAll,
}

/// Applies every pending migration; returns the versions applied.
pub async fn run_pending(config: &DbConfig) -> Result<Vec<String>, MigrationError> {
    migrate(config, Direction::Up).await
}

/// Reverts every applied migration, newest first; returns the versions reverted.
pub async fn revert_all(config: &DbConfig) -> Result<Vec<String>, MigrationError> {
    migrate(config, Direction::DownAll).await
}

async fn migrate(config: &DbConfig, dir: Direction) -> Result<Vec<String>, MigrationError> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || match config {
        DbConfig::Mysql { url } => {
            let mut conn = MysqlSyncConn::establish(&url)
                .map_err(|e| MigrationError::Connect(e.to_string()))?;
            conn.batch_execute(MYSQL_SESSION_SETUP).map_err(run_err)?;
            apply(&mut conn, MYSQL_MIGRATIONS, dir)
        }
        DbConfig::Sqlite { path } => {
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| MigrationError::Connect(e.to_string()))?;
            }
            let mut conn = SqliteConnection::establish(&path.to_string_lossy())
                .map_err(|e| MigrationError::Connect(e.to_string()))?;
            conn.batch_execute(&sqlite_pragmas(std::time::Duration::from_secs(30)))
                .map_err(run_err)?;
            apply(&mut conn, SQLITE_MIGRATIONS, dir)
        }
    })
    .await
    .map_err(run_err)?
}

fn apply<DB: diesel::backend::Backend>(
    conn: &mut impl MigrationHarness<DB>,
    migrations: EmbeddedMigrations,
    dir: Direction,
) -> Result<Vec<String>, MigrationError> {
    let versions = match dir {
        Direction::Up => conn.run_pending_migrations(migrations).map_err(run_err)?,
        Direction::DownAll => conn.revert_all_migrations(migrations).map_err(run_err)?,
    };
    Ok(versions.into_iter().map(|v| v.to_string()).collect())
}

/// A MySQL URL split into the server part and the database name.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MysqlTarget {
    server_url: String,
    database: String,
}

fn split_mysql_url(url: &str) -> Result<MysqlTarget, MigrationError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or(MigrationError::Url("missing scheme"))?;
    let (authority, path) = rest
        .split_once('/')
        .ok_or(MigrationError::Url("missing database name"))?;
    let (database, query) = match path.split_once('?') {
        Some((db, q)) => (db, Some(q)),
        None => (path, None),
    };
    let valid = !database.is_empty()
        && database.len() <= 64
        && database
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$');
    if !valid {
        return Err(MigrationError::Url(
            "the database name must be 1-64 characters of A-Z, a-z, 0-9, _ and $",
        ));
    }
    let server_url = match query {
        Some(q) => format!("{scheme}://{authority}/?{q}"),
        None => format!("{scheme}://{authority}/"),
    };
    Ok(MysqlTarget {
        server_url,
        database: database.to_owned(),
    })
}

async fn on_server(url: &str, sql: impl FnOnce(&str) -> String) -> Result<(), MigrationError> {
    use diesel_async::{AsyncConnection, SimpleAsyncConnection};
    let target = split_mysql_url(url)?;
    let mut conn = AsyncMysqlConnection::establish(&target.server_url)
        .await
        .map_err(|e| MigrationError::Connect(e.to_string()))?;
    conn.batch_execute(&sql(&target.database))
        .await
        .map_err(run_err)
}

/// Creates the database named in a MySQL URL when it does not exist yet (utf8mb4).
pub async fn create_database_if_missing(url: &str) -> Result<(), MigrationError> {
    on_server(url, |db| {
        format!(
            "CREATE DATABASE IF NOT EXISTS `{db}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )
    })
    .await
}

/// Drops the database named in a MySQL URL, if it exists (test clean-up).
pub async fn drop_database(url: &str) -> Result<(), MigrationError> {
    on_server(url, |db| format!("DROP DATABASE IF EXISTS `{db}`")).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_server_and_database() {
        let t = split_mysql_url("mysql://root:pw@127.0.0.1:3306/app_1?ssl-mode=disabled").unwrap();
        assert_eq!(t.database, "app_1");
        assert_eq!(
            t.server_url,
            "mysql://root:pw@127.0.0.1:3306/?ssl-mode=disabled"
        );
        for bad in [
            "127.0.0.1/x",
            "mysql://h",
            "mysql://h/",
            "mysql://h/a`b",
            "mysql://h/a;drop",
            "mysql://h/a b",
        ] {
            assert!(split_mysql_url(bad).is_err(), "{bad}");
        }
    }
}
