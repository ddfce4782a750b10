//! Translation of diesel and pool errors into port errors, at the adapter's boundary.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use soundshelf_ports::StoreError;

/// A query error as a port error: uniqueness → `Conflict`, a lost connection →
/// `Unavailable`, anything else → `Internal`.
pub(crate) fn query_error(e: DieselError) -> StoreError {
    match e {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, _) => StoreError::Conflict,
        DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)
        | DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _)
        | DieselError::BrokenTransactionManager => StoreError::Unavailable(Box::new(e)),
        // SQLite's busy timeout ran out, or MySQL's lock wait did: contention, worth a retry.
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, ref info)
            if is_lock_timeout(info.message()) =>
        {
            StoreError::Unavailable(Box::new(e))
        }
        other => StoreError::Internal(Box::new(other)),
    }
}

fn is_lock_timeout(message: &str) -> bool {
    message.contains("database is locked")
        || message.contains("database table is locked")
        || message.contains("Lock wait timeout exceeded")
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

/// A stored count or size as the unsigned number the domain uses. A negative value is
/// corrupt data (a bug or manual tampering) and is reported, never read as 0.
pub(crate) fn size(n: i64) -> Result<u64, StoreError> {
    u64::try_from(n).map_err(|_| corrupt("count or size", format!("{n} is negative")))
}

/// A failure inside a transaction: a query error (which rolls back), or a store error
/// found on the way (corrupt data).
#[derive(Debug)]
pub(crate) enum TxError {
    Db(DieselError),
    Store(StoreError),
}

impl From<DieselError> for TxError {
    fn from(e: DieselError) -> Self {
        Self::Db(e)
    }
}

impl From<TxError> for StoreError {
    fn from(e: TxError) -> Self {
        match e {
            TxError::Db(e) => query_error(e),
            TxError::Store(e) => e,
        }
    }
}
