//! Isolated databases for tests: a fresh SQLite file in a temporary folder, or a fresh
//! `test_<random>` MySQL database that is dropped when the guard goes away. Tests using
//! them share nothing and may run in parallel.
//!
//! The MySQL server is `TEST_MYSQL_URL` (a URL without a database name), by default
//! `mysql://root@127.0.0.1:3306`.

use crate::migrations::{create_database_if_missing, drop_database, run_pending};
use crate::{Backend, DbConfig, PoolOptions, Store};

/// The MySQL server tests use.
pub fn mysql_server_url() -> String {
    std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// A database that exists only for one test.
#[derive(Debug)]
pub struct TestDb {
    /// How to reach it.
    pub config: DbConfig,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// A fresh, empty (unmigrated) database on `backend`.
    pub async fn empty(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
                let path = dir.path().join("test.db");
                Self {
                    config: DbConfig::Sqlite { path },
                    _dir: Some(dir),
                }
            }
            Backend::Mysql => {
                let name = format!("test_{}", ulid::Ulid::generate().to_string().to_lowercase());
                let url = format!("{}/{name}", mysql_server_url());
                create_database_if_missing(&url)
                    .await
                    .unwrap_or_else(|e| panic!("create test database: {e}"));
                Self {
                    config: DbConfig::Mysql { url },
                    _dir: None,
                }
            }
        }
    }

    /// A fresh, migrated database on `backend`, and a store on it.
    pub async fn migrated(backend: Backend) -> (Self, Store) {
        let db = Self::empty(backend).await;
        run_pending(&db.config)
            .await
            .unwrap_or_else(|e| panic!("migrate test database: {e}"));
        let store = Store::connect(&db.config, PoolOptions::default())
            .await
            .unwrap_or_else(|e| panic!("connect test database: {e}"));
        (db, store)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let DbConfig::Mysql { url } = &self.config {
            let url = url.clone();
            // Drop runs outside any async context we can await in: use a thread with its
            // own small runtime.
            let dropped = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?
                    .block_on(drop_database(&url))
                    .map_err(|e| e.to_string())
            })
            .join();
            if let Ok(Err(e)) = dropped {
                eprintln!("could not drop test database: {e}");
            }
        }
    }
}
