//! A cache of rendered pages.

use async_trait::async_trait;

/// A short-lived cache of rendered pages (shared by every instance when backed by Redis).
/// A cache is an optimisation: a failing one answers `None` and stores nothing.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PageCache: Send + Sync {
    /// The page stored under `key`, if any.
    async fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Stores `page` under `key` for `ttl`.
    async fn put(&self, key: &str, page: &[u8], ttl: std::time::Duration);
}
