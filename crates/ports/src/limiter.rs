//! Rate limiting.

use async_trait::async_trait;

/// Whether a request may pass a rate limit now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// It may.
    Allowed,
    /// It may not; the next one may after `retry_after`.
    Limited {
        /// The time until the next request can pass.
        retry_after: std::time::Duration,
    },
}

/// A rate limiter keyed by a string (user and route).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts a request for `key` and says whether it may pass.
    async fn check(&self, key: &str) -> RateDecision;

    /// How many checks this limiter could not make as configured and made in-process
    /// instead (a shared limiter whose Redis is away); 0 for a limiter with no fallback.
    fn fallbacks(&self) -> u64 {
        0
    }
}
