//! What a port can answer instead of a result.

/// A boxed error from an adapter's own world, kept as the source of a port error.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a store can answer instead of a result. Adapters translate their own errors into
/// these at the boundary; no driver error type leaves an adapter crate.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was broken (the row already exists).
    #[error("conflict with an existing row")]
    Conflict,
    /// The store cannot be reached now (pool timeout, lost connection); worth retrying.
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// Anything else: a bug or corrupt data. Never shown to clients.
    #[error("store failure")]
    Internal(#[source] BoxError),
}
