//! Readiness: whether the instance's dependencies answer.

use std::sync::Arc;

use soundshelf_ports::{Probe, RateLimiter};

/// How Redis answers, if it is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisState {
    /// No Redis: one instance, in-process limiter and cache.
    NotConfigured,
    /// It answers.
    Up,
    /// It does not: limits fall back to the instance, pages are not cached.
    Down,
}

/// What `/ready` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readiness {
    /// Whether the database answers (the instance is ready only if it does).
    pub database: bool,
    /// How Redis answers.
    pub redis: RedisState,
    /// Rate-limit checks made in-process because Redis did not answer, since start.
    pub rate_limit_fallbacks: u64,
}

impl Readiness {
    /// Ready to serve: the database answers (Redis being away only degrades).
    pub fn is_ready(&self) -> bool {
        self.database
    }

    /// Serving, but without what Redis shares.
    pub fn is_degraded(&self) -> bool {
        self.redis == RedisState::Down
    }
}

/// Asks each dependency whether it answers.
#[derive(Clone)]
pub struct HealthService {
    database: Arc<dyn Probe>,
    redis: Option<Arc<dyn Probe>>,
    limiter: Arc<dyn RateLimiter>,
}

impl std::fmt::Debug for HealthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthService").finish_non_exhaustive()
    }
}

impl HealthService {
    /// Readiness over the database, Redis when configured, and the rate limiter in use.
    pub fn new(
        database: Arc<dyn Probe>,
        redis: Option<Arc<dyn Probe>>,
        limiter: Arc<dyn RateLimiter>,
    ) -> Self {
        Self {
            database,
            redis,
            limiter,
        }
    }

    /// Asks the database and Redis (each within its own bound).
    pub async fn readiness(&self) -> Readiness {
        let database = self.database.ping().await.is_ok();
        let redis = match &self.redis {
            None => RedisState::NotConfigured,
            Some(r) if r.ping().await.is_ok() => RedisState::Up,
            Some(_) => RedisState::Down,
        };
        Readiness {
            database,
            redis,
            rate_limit_fallbacks: self.limiter.fallbacks(),
        }
    }
}
