//! A lock that lets one instance at a time run a job.

use async_trait::async_trait;

use crate::StoreError;

/// Proof of holding a job lock, needed to release it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockToken(pub String);

/// A lock that lets one instance at a time run a job.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait JobLock: Send + Sync {
    /// Takes the lock `name` for at most `ttl`, or `None` when another holder has it.
    async fn try_acquire(
        &self,
        name: &str,
        ttl: std::time::Duration,
    ) -> Result<Option<LockToken>, StoreError>;

    /// Releases the lock if, and only if, `token` still holds it; `false` otherwise (it
    /// expired and someone else may hold it now).
    async fn release(&self, name: &str, token: &LockToken) -> Result<bool, StoreError>;
}
