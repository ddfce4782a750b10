//! Readiness: whether a dependency answers now.

use async_trait::async_trait;

use crate::BoxError;

/// A dependency that can tell whether it answers now (the database, Redis), for `/ready`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Probe: Send + Sync {
    /// `Ok` when the dependency answered a trivial request within its usual bound.
    async fn ping(&self) -> Result<(), BoxError>;
}
