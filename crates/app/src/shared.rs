//! What instances share through Redis, and how each falls back when Redis is away:
//! the rate limiter (to the in-process limiter, with a warning and a count) and the
//! page cache (bypassed). See `docs/redis.md`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use soundshelf_ports::{PageCache, RateDecision, RateLimiter};
use soundshelf_redis::Redis;

use crate::limiter::GovernorLimiter;

/// The Redis GCRA limiter, falling back to the in-process one when Redis fails.
#[derive(Debug)]
pub struct SharedLimiter {
    redis: Redis,
    local: GovernorLimiter,
    per_minute: u32,
    fallbacks: AtomicU64,
}

impl SharedLimiter {
    /// `per_minute` a minute per key, shared through `redis`.
    pub fn new(redis: Redis, per_minute: u32) -> Self {
        Self {
            redis,
            local: GovernorLimiter::per_minute(per_minute),
            per_minute,
            fallbacks: AtomicU64::new(0),
        }
    }

    /// How many checks fell back to the in-process limiter so far.
    pub fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }
}

#[async_trait]
impl RateLimiter for SharedLimiter {
    async fn check(&self, key: &str) -> RateDecision {
        match self.redis.rate_check(key, self.per_minute).await {
            Ok(decision) => decision,
            Err(e) => {
                let n = self.fallbacks.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::warn!(error = %e, fallbacks = n, "rate limit falls back to the in-process limiter");
                self.local.check(key).await
            }
        }
    }
}

/// Pages in Redis; a failure is a miss (logged at debug, it is expected while Redis is away).
#[derive(Debug)]
pub struct RedisPageCache(pub Redis);

#[async_trait]
impl PageCache for RedisPageCache {
    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0
            .page_get(key)
            .await
            .inspect_err(|e| tracing::debug!(error = %e, "page cache bypassed"))
            .ok()
            .flatten()
    }

    async fn put(&self, key: &str, page: &[u8], ttl: Duration) {
        if let Err(e) = self.0.page_put(key, page, ttl).await {
            tracing::debug!(error = %e, "page not cached");
        }
    }
}

/// The most pages the in-process cache holds before it drops the expired ones, and then
/// everything.
const MAX_MEMORY_PAGES: usize = 10_000;

/// Pages in this process, for a single instance (the embedded default).
#[derive(Debug, Default)]
pub struct MemoryPageCache {
    pages: Mutex<HashMap<String, (Instant, Vec<u8>)>>,
}

#[async_trait]
impl PageCache for MemoryPageCache {
    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        pages
            .get(key)
            .filter(|(until, _)| *until > Instant::now())
            .map(|(_, page)| page.clone())
    }

    async fn put(&self, key: &str, page: &[u8], ttl: Duration) {
        let now = Instant::now();
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        if pages.len() >= MAX_MEMORY_PAGES {
            pages.retain(|_, (until, _)| *until > now);
            if pages.len() >= MAX_MEMORY_PAGES {
                pages.clear();
            }
        }
        pages.insert(key.to_owned(), (now + ttl, page.to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_pages_expire() {
        let cache = MemoryPageCache::default();
        cache.put("k", b"v", Duration::from_millis(50)).await;
        assert_eq!(cache.get("k").await.as_deref(), Some(&b"v"[..]));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(cache.get("k").await, None);
    }

    #[tokio::test]
    async fn without_redis_the_limit_still_holds_in_process() {
        let limiter = SharedLimiter::new(Redis::new("redis://127.0.0.1:1", "x:").unwrap(), 5);
        for _ in 0..5 {
            assert_eq!(limiter.check("a").await, RateDecision::Allowed);
        }
        assert!(matches!(
            limiter.check("a").await,
            RateDecision::Limited { .. }
        ));
        assert_eq!(limiter.fallbacks(), 6);
    }
}
