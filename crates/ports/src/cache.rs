//! A cache of rendered favorites pages, kept under a per-user generation.

use std::time::Duration;

use async_trait::async_trait;
use soundshelf_domain::UserId;

/// A rendered page and its entity tag, kept together so a hit needs no hashing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedPage {
    /// The strong `ETag` value, quotes included.
    pub etag: String,
    /// The body.
    pub body: Vec<u8>,
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageLookup {
    /// The page of the user's current generation.
    Hit(CachedPage),
    /// No page: a page rendered now may be stored under this generation (`None`: the
    /// cache cannot take one now, e.g. it is unreachable).
    Miss(Option<u64>),
}

/// Rendered pages of each user's favorites, under a generation of the user's that moves
/// on with every committed write of the user's favorites ([`PageCache::invalidate`]), so
/// that a page cached before a write is never found after it. A generation lives `ttl`
/// from its creation; after that the next lookup starts a new one, which bounds how long
/// a missed invalidation can show an old page. A cache is an optimisation: a failing one
/// misses and stores nothing.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PageCache: Send + Sync {
    /// `user`'s page for `query` at the user's current generation, starting a generation
    /// (living `ttl`) when the user has none. One round trip.
    async fn lookup(&self, user: &UserId, query: &str, ttl: Duration) -> PageLookup;
    /// `user`'s page for `query` at `generation`, a generation the caller read elsewhere
    /// (the database's favorites version).
    async fn lookup_at(&self, user: &UserId, generation: u64, query: &str) -> Option<CachedPage>;
    /// Stores `page` as `user`'s page for `query` at `generation`, for `ttl` at most;
    /// nothing when the user's generation has moved on meanwhile.
    async fn store(
        &self,
        user: &UserId,
        generation: u64,
        query: &str,
        page: &CachedPage,
        ttl: Duration,
    );
    /// `user`'s favorites changed (a write committed): pages cached before are never
    /// found again.
    async fn invalidate(&self, user: &UserId);
}
