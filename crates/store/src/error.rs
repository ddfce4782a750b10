//! Translation of diesel and pool errors into port errors, at the adapter's boundary.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use soundshelf_ports::StoreError;

/// A query error as a port error: uniqueness → `Conflict`, a lost connection →
/// `Unavailable`, anything else → `Internal`.
pub(crate) fn query_error(e: DieselError) -> StoreError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => StoreError::Conflict,
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
        | DieselError::BrokenTransactionManager => StoreError::Unavailable(Box::new(e)),
        other => StoreError::Internal(Box::new(other)),
    }
}

/// A failure to get a pooled connection: the database is unreachable or saturated.
pub(crate) fn pool_error<E>(e: E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    StoreError::Unavailable(Box::new(e))
}

/// Stored data that does not pass the domain's checks (a bug or manual tampering).
pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(format!("corrupt {what} row: {e}").into())
}
