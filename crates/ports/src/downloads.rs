//! Where grants, tokens, redemption logs and download records are kept.

use async_trait::async_trait;
use soundshelf_domain::downloads::{DownloadStatus, Grant, GrantDenied, Usage, UsageSnapshot};
use soundshelf_domain::{
    CatalogId, DownloadId, LogId, PageRequest, Quality, TokenId, User, UserId,
};
use time::{Date, OffsetDateTime};

use crate::StoreError;

/// Everything a grant writes once the quota decision allows it.
#[derive(Debug, Clone, PartialEq)]
pub struct GrantRequest {
    /// The user.
    pub user_id: UserId,
    /// The track.
    pub music_id: CatalogId,
    /// The quality.
    pub quality: Quality,
    /// The catalogue's size of the file.
    pub file_size: u64,
    /// The user's "today" (in `APP_TIMEZONE`).
    pub day: Date,
    /// Now.
    pub now: OffsetDateTime,
    /// The new token's row id.
    pub token_id: TokenId,
    /// The SHA-256 (hex) of the new token; the token itself is never stored.
    pub token_hash: String,
    /// When the token expires.
    pub expires_at: OffsetDateTime,
    /// How many redemptions it allows.
    pub max_uses: u32,
    /// The link, with `{token}` where the token goes.
    pub download_url: String,
    /// The id of the user's download record, if one has to be created.
    pub download_id: DownloadId,
}

/// Decides a grant from the user as stored and the usage the store read, both under the
/// user's lock; runs inside the store's transaction. The server passes the domain's
/// grant decision ([`soundshelf_domain::downloads::decide_grant`]), so a grant is judged
/// by the user's status and plan at that moment, whatever a cache said before.
pub type GrantDecider = Box<dyn FnOnce(&User, &Usage) -> Result<Grant, GrantDenied> + Send>;

/// A download token's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Its id.
    pub id: TokenId,
    /// Whose it is.
    pub user_id: UserId,
    /// The track.
    pub music_id: CatalogId,
    /// The quality.
    pub quality: Quality,
    /// When it expires.
    pub expires_at: OffsetDateTime,
    /// How many redemptions it allows.
    pub max_uses: u32,
    /// How many it has had.
    pub uses: u32,
}

/// One redemption attempt, for `download_logs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadLogEntry {
    /// `log_…`.
    pub id: LogId,
    /// The token's user (empty for an unknown token).
    pub user_id: String,
    /// The token's track (empty for an unknown token).
    pub music_id: String,
    /// The hash of the token presented.
    pub token_hash: String,
    /// The client's address.
    pub ip: String,
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// Bytes about to be sent.
    pub download_size: u64,
    /// When.
    pub at: OffsetDateTime,
    /// `started` or `failed`.
    pub status: &'static str,
    /// The error code of a refusal.
    pub error_code: Option<&'static str>,
}

/// A user's download record, with the track's title and cover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadRecord {
    /// `dl_…`.
    pub id: DownloadId,
    /// The owner.
    pub user_id: UserId,
    /// The track.
    pub music_id: CatalogId,
    /// The quality.
    pub quality: Quality,
    /// The status.
    pub status: DownloadStatus,
    /// 0–100.
    pub progress: u8,
    /// The catalogue's size of the file.
    pub file_size: u64,
    /// When the download (last grant or report) started.
    pub download_time: OffsetDateTime,
    /// When it completed.
    pub completed_time: Option<OffsetDateTime>,
    /// When its link expires.
    pub expires_at: Option<OffsetDateTime>,
    /// The device's error message of a failure.
    pub error_message: Option<String>,
    /// The track's title.
    pub title: String,
    /// The track's cover.
    pub cover: String,
}

/// A device's report on a download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordReport {
    /// The user.
    pub user_id: UserId,
    /// The track.
    pub music_id: CatalogId,
    /// The quality.
    pub quality: Quality,
    /// `downloading`, `completed` or `failed`.
    pub status: DownloadStatus,
    /// 0–100 (100 when completed).
    pub progress: u8,
    /// The device's error message (failures only).
    pub error_message: Option<String>,
    /// The catalogue's size of the file.
    pub file_size: u64,
    /// Now.
    pub now: OffsetDateTime,
    /// The id to use if the record is new.
    pub new_id: DownloadId,
}

/// A page of download records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordPage {
    /// Newest first (`download_time` desc, then id desc).
    pub items: Vec<DownloadRecord>,
    /// How many match in all.
    pub total: u64,
    /// Whether more follow.
    pub has_more: bool,
}

/// Counts of a user's records by status, and the bytes of the completed ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DownloadCounts {
    /// All records.
    pub total: u64,
    /// `completed`.
    pub completed: u64,
    /// `downloading`.
    pub downloading: u64,
    /// `failed`.
    pub failed: u64,
    /// `expired`.
    pub expired: u64,
    /// Sum of the catalogue sizes of the completed ones.
    pub completed_bytes: u64,
}

/// Where grants, tokens, logs and download records are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait DownloadStore: Send + Sync {
    /// Grants a download in one transaction under the user's lock: reads the user's row
    /// and [`Usage`] for `request.day` (distinct (track, quality) pairs counted that day,
    /// whether this pair is one of them, and the bytes of completed downloads other than
    /// this file; the reads of [`DownloadStore::usage`]), asks `decide`, and writes only what the decision says: when it allows
    /// and counts, the pair and the day's counter; when it allows, the token and the
    /// user's record of the file, reset to `downloading`. Returns the decision.
    ///
    /// MUST decide nothing itself (no quota comparison of its own); MUST write nothing
    /// when the decision refuses; MUST serialize grants of one user, so the usage a
    /// decision sees is still true when its writes commit, however many run at once.
    async fn grant(
        &self,
        request: &GrantRequest,
        decide: GrantDecider,
    ) -> Result<Result<Grant, GrantDenied>, StoreError>;

    /// What `user` has used of the quotas on `day`, with the files among `files` (every
    /// quality of each) granted that day or completed: a plain read, without the lock,
    /// by the very reads [`DownloadStore::grant`] makes under it.
    async fn usage(
        &self,
        user: &UserId,
        day: Date,
        files: &[CatalogId],
    ) -> Result<UsageSnapshot, StoreError>;

    /// The token whose SHA-256 (hex) is `hash`.
    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Counts one use of token `id`, if it has uses left and has not expired at `now`.
    ///
    /// MUST be one conditional statement, so parallel redemptions never exceed the limit.
    async fn use_token(&self, id: &TokenId, now: OffsetDateTime) -> Result<bool, StoreError>;

    /// Appends a redemption attempt to `download_logs`.
    async fn log_download(&self, entry: &DownloadLogEntry) -> Result<(), StoreError>;

    /// Creates or updates the user's record of (track, quality) from a device's report.
    async fn report(&self, report: &RecordReport) -> Result<DownloadRecord, StoreError>;

    /// A page of the user's records, optionally of one status.
    async fn records(
        &self,
        user: &UserId,
        status: Option<DownloadStatus>,
        page: &PageRequest,
    ) -> Result<RecordPage, StoreError>;

    /// The user's counts by status.
    async fn counts(&self, user: &UserId) -> Result<DownloadCounts, StoreError>;

    /// Deletes the user's record `id`; `false` when the user has no such record.
    async fn delete_record(&self, user: &UserId, id: &DownloadId) -> Result<bool, StoreError>;
}
