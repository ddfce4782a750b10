//! The page cache in Redis, shared by every instance: per user, a generation key and a
//! hash of pages in one hash slot; a lookup is one script (one round trip).

use std::time::Duration;

use async_trait::async_trait;
use soundshelf_domain::UserId;
use soundshelf_ports::{CachedPage, PageCache, PageLookup};

use crate::Redis;

/// Pages in Redis; a failure is a miss that stores nothing (logged at debug: it is
/// expected while Redis is away).
#[derive(Debug, Clone)]
pub struct RedisPageCache(pub Redis);

/// A page as stored: the entity tag, a newline, the body.
fn encode(page: &CachedPage) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(page.etag.len() + 1 + page.body.len());
    bytes.extend_from_slice(page.etag.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(&page.body);
    bytes
}

fn decode(mut bytes: Vec<u8>) -> Option<CachedPage> {
    let newline = bytes.iter().position(|b| *b == b'\n')?;
    let body = bytes.split_off(newline + 1);
    bytes.pop();
    Some(CachedPage {
        etag: String::from_utf8(bytes).ok()?,
        body,
    })
}

/// A generation to start at: the clock in microseconds, so that a new generation is
/// far from any an old reader may still hold.
fn fresh_generation() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX >> 2))
        .unwrap_or(1)
}

#[async_trait]
impl PageCache for RedisPageCache {
    async fn lookup(&self, user: &UserId, query: &str, ttl: Duration) -> PageLookup {
        match self
            .0
            .page_lookup(user.as_str(), query, ttl, fresh_generation())
            .await
        {
            Ok((generation, bytes)) => match bytes.and_then(decode) {
                Some(page) => PageLookup::Hit(page),
                None => PageLookup::Miss(Some(generation)),
            },
            Err(e) => {
                tracing::debug!(error = %e, "page cache bypassed");
                PageLookup::Miss(None)
            }
        }
    }

    async fn lookup_at(&self, user: &UserId, generation: u64, query: &str) -> Option<CachedPage> {
        self.0
            .page_at(user.as_str(), generation, query)
            .await
            .inspect_err(|e| tracing::debug!(error = %e, "page cache bypassed"))
            .ok()
            .flatten()
            .and_then(decode)
    }

    async fn store(
        &self,
        user: &UserId,
        generation: u64,
        query: &str,
        page: &CachedPage,
        ttl: Duration,
    ) {
        if let Err(e) = self
            .0
            .page_store(user.as_str(), generation, query, encode(page), ttl)
            .await
        {
            tracing::debug!(error = %e, "page not cached");
        }
    }

    async fn invalidate(&self, user: &UserId) {
        if let Err(e) = self.0.page_invalidate(user.as_str()).await {
            // The generation ends on its own within its ttl: that bounds what this costs.
            tracing::warn!(error = %e, "favorites pages not invalidated; they end with their generation");
        }
    }
}
