//! Live figures from the download logs, and the stored daily reports.

use async_trait::async_trait;
use time::{Date, OffsetDateTime};

use crate::{DailyReport, StoreError};

/// Redemption attempts of one status in a time range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusCount {
    /// `started`, `failed`, …
    pub status: String,
    /// How many attempts.
    pub attempts: u64,
    /// Bytes they sent (or were about to).
    pub bytes: u64,
}

/// A track and how often it was downloaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PopularTrack {
    /// The track.
    pub music_id: String,
    /// Its title (empty if the track is gone).
    pub title: String,
    /// Started downloads in the range.
    pub downloads: u64,
}

/// An address and user with many redemption attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbnormalActivity {
    /// The client address.
    pub ip_address: String,
    /// The user (empty for unknown tokens).
    pub user_id: String,
    /// Attempts in the range.
    pub attempts: u64,
}

/// Live figures from the download logs, and the stored daily reports.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MonitoringStore: Send + Sync {
    /// Attempts since `since`, by status.
    async fn attempts_by_status(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<StatusCount>, StoreError>;
    /// The `limit` most downloaded tracks since `since` (started downloads), most first.
    async fn popular(
        &self,
        since: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<PopularTrack>, StoreError>;
    /// Address and user pairs with more than `threshold` attempts since `since`.
    async fn abnormal(
        &self,
        since: OffsetDateTime,
        threshold: u64,
    ) -> Result<Vec<AbnormalActivity>, StoreError>;
    /// When the pair (`ip_address`, `user_id`) was last alerted, if it was.
    async fn last_alerted(
        &self,
        ip_address: &str,
        user_id: &str,
    ) -> Result<Option<OffsetDateTime>, StoreError>;
    /// Records that the pair was alerted at `at`.
    async fn record_alert(
        &self,
        ip_address: &str,
        user_id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError>;
    /// The stored report of `day`.
    async fn daily_report(&self, day: Date) -> Result<Option<DailyReport>, StoreError>;
    /// The `limit` latest stored reports, newest first.
    async fn recent_reports(&self, limit: u32) -> Result<Vec<DailyReport>, StoreError>;
}
