//! The time, and new ids made at a time.

use time::OffsetDateTime;
use ulid::Ulid;

/// The time, so that use cases can be tested at a chosen instant.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> OffsetDateTime;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// New row ids: ULIDs whose time part is the time the use case took from its [`Clock`]
/// (so ids sort with the times stored beside them, also under a test clock) and whose
/// random part comes from here.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A new ULID for `at`.
    fn ulid(&self, at: OffsetDateTime) -> Ulid;
}

/// ULIDs with 80 random bits from the operating system's generator.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl IdGenerator for RandomIds {
    fn ulid(&self, at: OffsetDateTime) -> Ulid {
        Ulid::from_datetime(at.into())
    }
}
