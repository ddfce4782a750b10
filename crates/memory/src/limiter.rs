//! The in-process rate limiter: GCRA through `governor`, one bucket per key. It serves
//! one instance; the Redis limiter replaces it when instances must share limits.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use soundshelf_ports::{RateDecision, RateLimiter};

/// How many checks pass between two sweeps of idle keys.
const SWEEP_EVERY: u64 = 10_000;

/// `per_minute` requests a minute per key, as a burst of that size refilled evenly.
pub struct GovernorLimiter {
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
    checks: AtomicU64,
}

impl std::fmt::Debug for GovernorLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GovernorLimiter").finish_non_exhaustive()
    }
}

impl GovernorLimiter {
    /// A limiter of `per_minute` a minute per key (at least 1).
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_minute(n)),
            clock: DefaultClock::default(),
            checks: AtomicU64::new(0),
        }
    }
}

#[async_trait]
impl RateLimiter for GovernorLimiter {
    async fn check(&self, key: &str) -> RateDecision {
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            // Forget keys whose buckets are full again, so memory follows active users.
            self.limiter.retain_recent();
        }
        match self.limiter.check_key(&key.to_owned()) {
            Ok(()) => RateDecision::Allowed,
            Err(not_until) => RateDecision::Limited {
                retry_after: not_until.wait_time_from(self.clock.now()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn five_a_minute_per_key() {
        let limiter = GovernorLimiter::per_minute(5);
        for _ in 0..5 {
            assert_eq!(limiter.check("a").await, RateDecision::Allowed);
        }
        let RateDecision::Limited { retry_after } = limiter.check("a").await else {
            panic!("the sixth is limited");
        };
        // One cell refills every 12 s.
        assert!(
            retry_after <= std::time::Duration::from_secs(12)
                && retry_after > std::time::Duration::from_secs(10)
        );
        assert_eq!(
            limiter.check("b").await,
            RateDecision::Allowed,
            "keys are separate"
        );
    }
}
