//! The clean-ups and aggregates of the scheduled jobs.

use async_trait::async_trait;
use soundshelf_domain::jobs::Purge;
use time::{Date, OffsetDateTime};

use crate::StoreError;

/// One day's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DailyReport {
    /// The day (in `APP_TIMEZONE`).
    pub day: Option<Date>,
    /// Download records started that day, by status now.
    pub downloads_total: u64,
    /// … still `downloading`.
    pub downloading: u64,
    /// … `completed`.
    pub completed: u64,
    /// … `failed`.
    pub failed: u64,
    /// … `expired`.
    pub expired: u64,
    /// Catalogue bytes of those completed.
    pub completed_bytes: u64,
    /// Favorites created that day.
    pub new_favorites: u64,
}

/// The clean-ups and aggregates the scheduled jobs run. Every delete and update goes in
/// batches of at most `batch` rows, so none holds long locks.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MaintenanceStore: Send + Sync {
    /// Deletes tokens that expired before `now`; returns how many.
    async fn delete_expired_tokens(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError>;
    /// Marks `expired` the `downloading` records whose link expired before `now`.
    async fn expire_stale_downloads(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError>;
    /// Deletes `failed` records started before `before`.
    async fn delete_failed_downloads(
        &self,
        before: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError>;
    /// Deletes tombstones recorded before `before`.
    async fn purge_tombstones(&self, before: OffsetDateTime, batch: u32)
    -> Result<u64, StoreError>;
    /// Recomputes each track's downloads of the last 7 and 30 days from the logs; returns
    /// the rows written.
    async fn refresh_download_stats(&self, now: OffsetDateTime) -> Result<u64, StoreError>;
    /// Deletes at most `limit` rows of the kind `purge` names that are older than its
    /// cutoff, in one statement; returns how many. The caller repeats it (pausing between
    /// batches) until fewer than `limit` come back.
    async fn purge_batch(&self, purge: Purge, limit: u32) -> Result<u64, StoreError>;
    /// Computes and stores (replacing any) the report of `day`, `[from, to)`.
    async fn write_daily_report(
        &self,
        day: Date,
        from: OffsetDateTime,
        to: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<DailyReport, StoreError>;
}
