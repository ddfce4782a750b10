//! diesel / diesel_async adapters of soundshelf's ports, for MySQL/MariaDB (pure-Rust
//! `mysql_async`, no libmysqlclient) and SQLite (bundled, through `SyncConnectionWrapper`).
//!
//! Both backends share one schema and one set of queries: each adapter method is written
//! once and compiled for each connection type by [`with_conn!`]. Driver errors never leave
//! this crate: they become [`soundshelf_ports::StoreError`]s in `error`.

mod audit;
mod catalog;
mod database;
pub mod demo;
mod downloads;
mod error;
mod favorites;
mod jobs;
pub mod migrations;
mod monitoring;
mod schema;
#[cfg(feature = "test-support")]
pub mod testing;
mod users;

pub use database::{Backend, DbConfig, PoolOptions, Store};
