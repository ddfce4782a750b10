//! The rate limiter shared by every instance through Redis, falling back to the
//! in-process limiter (with a warning and a count) while Redis does not answer.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use soundshelf_memory::GovernorLimiter;
use soundshelf_ports::{RateDecision, RateLimiter};

use crate::Redis;

/// The Redis GCRA limiter, falling back to the in-process one when Redis fails.
#[derive(Debug)]
pub struct RedisLimiter {
    redis: Redis,
    local: GovernorLimiter,
    per_minute: u32,
    fallbacks: AtomicU64,
}

impl RedisLimiter {
    /// `per_minute` a minute per key, shared through `redis`.
    pub fn new(redis: Redis, per_minute: u32) -> Self {
        Self {
            redis,
            local: GovernorLimiter::per_minute(per_minute),
            per_minute,
            fallbacks: AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl RateLimiter for RedisLimiter {
    async fn check(&self, key: &str) -> RateDecision {
        match self.redis.rate_check(key, self.per_minute).await {
            Ok(decision) => decision,
            Err(e) => {
                let n = self.fallbacks.fetch_add(1, Ordering::Relaxed) + 1;
                metrics::counter!("rate_limit_fallbacks_total").increment(1);
                tracing::warn!(error = %e, fallbacks = n, "rate limit falls back to the in-process limiter");
                self.local.check(key).await
            }
        }
    }

    fn fallbacks(&self) -> u64 {
        self.fallbacks.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_redis_the_limit_still_holds_in_process() {
        let limiter = RedisLimiter::new(Redis::new("redis://127.0.0.1:1", "x:").unwrap(), 5);
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
