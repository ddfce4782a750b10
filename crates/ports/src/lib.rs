//! The traits soundshelf's core needs from the world, each documented as a contract that
//! every adapter keeps (and that the store contract tests check).
//!
//! With the `mock` feature, every trait has a mockall mock (`MockFavoriteStore`, …) for
//! use-case tests.

use std::collections::HashMap;

use async_trait::async_trait;
use soundshelf_domain::downloads::{DownloadStatus, Track};
use soundshelf_domain::{
    CatalogId, DownloadId, Favorite, FavoriteFilter, FavoriteId, ItemId, LogId, PageRequest,
    Quality, TokenId, User, UserId,
};
use time::{Date, OffsetDateTime};

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

/// One page of a user's favorites.
#[derive(Debug, Clone, PartialEq)]
pub struct FavoritePage {
    /// The rows of the page, newest first (`created_at` desc, then id desc).
    pub items: Vec<Favorite>,
    /// How many rows match the filter in all.
    pub total: u64,
    /// Whether rows follow the last one of this page.
    pub has_more: bool,
}

/// What a sync sees, read under the user's favorites lock.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncSnapshot {
    /// The server's time, taken after the lock was acquired and before the reads: the
    /// `sync_time` of the response, and the time of the tombstones this sync writes.
    pub now: OffsetDateTime,
    /// All of the user's favorites, in no particular order.
    pub favorites: Vec<Favorite>,
    /// The removal time of each touched item that has a tombstone.
    pub tombstones: HashMap<ItemId, OffsetDateTime>,
    /// The items whose tombstones were recorded after `since` (empty without `since`).
    pub deleted_since: Vec<ItemId>,
}

/// An item to remove, with the time of its removal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// The item.
    pub item_id: ItemId,
    /// When it was removed (its tombstone's time).
    pub removed_at: OffsetDateTime,
}

/// What a sync writes: the items to make present (whole rows) and the items to remove.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SyncWrites {
    /// Favorites to store, replacing any row or tombstone of the same item.
    pub puts: Vec<Favorite>,
    /// Items to remove, replacing any row or tombstone of the same item.
    pub removals: Vec<Removal>,
}

impl SyncWrites {
    /// Whether there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.puts.is_empty() && self.removals.is_empty()
    }
}

/// Decides a sync's writes from what the store read; runs inside the store's transaction.
pub type SyncPlanner = Box<dyn FnOnce(SyncSnapshot) -> SyncWrites + Send>;

/// Where favorites are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait FavoriteStore: Send + Sync {
    /// Stores a new favorite, clearing any tombstone of its item.
    ///
    /// MUST return [`StoreError::Conflict`] when the user already has a favorite with the
    /// same `item_id` (or the same `id`), and then change nothing.
    async fn insert(&self, favorite: &Favorite) -> Result<(), StoreError>;

    /// Deletes the favorite `id` if, and only if, it belongs to `user`, leaving a tombstone
    /// of its item (so the removal syncs).
    ///
    /// MUST return `Ok(false)` and change nothing when no such favorite of that user exists
    /// (whether it does not exist at all or belongs to someone else).
    async fn delete(&self, user: &UserId, id: &FavoriteId) -> Result<bool, StoreError>;

    /// Deletes `user`'s favorite of `item`, leaving a tombstone; `Ok(false)` when there is
    /// none.
    async fn delete_by_item(&self, user: &UserId, item: &ItemId) -> Result<bool, StoreError>;

    /// Runs one sync of `user` as a single transaction: takes the user's favorites lock
    /// (every favorites write of that user takes it too), reads a [`SyncSnapshot`] for the
    /// touched `items` and `since`, asks `planner` what to write, writes it, commits.
    /// Returns the snapshot's `now`.
    ///
    /// MUST serialize with every other favorites write of the same user, so that no write
    /// is lost between the reads and the writes; MUST write all of the planner's writes or
    /// none; MUST NOT issue one statement per item.
    async fn sync(
        &self,
        user: &UserId,
        items: &[ItemId],
        since: Option<OffsetDateTime>,
        planner: SyncPlanner,
    ) -> Result<OffsetDateTime, StoreError>;

    /// One page of `user`'s favorites matching `filter`, newest first.
    ///
    /// Ordering MUST be total: `created_at` descending, then `id` descending, so that a
    /// keyset page after a cursor holds each row exactly once even while rows are added.
    /// Search MUST match `filter.search` as an exact substring of the stored search key
    /// of the title (see `soundshelf_domain::favorites::search_key`), with `%` and `_`
    /// literal. `total` counts every matching row, regardless of the page.
    async fn list(
        &self,
        user: &UserId,
        filter: &FavoriteFilter,
        page: &PageRequest,
    ) -> Result<FavoritePage, StoreError>;

    /// The user's favorites version: it changes in the same transaction as every change
    /// of the user's favorites, so a page cached under it is never stale.
    async fn version(&self, user: &UserId) -> Result<u64, StoreError>;

    /// Which of `items` `user` has favorited.
    async fn contains(&self, user: &UserId, items: &[ItemId]) -> Result<Vec<ItemId>, StoreError>;
}

/// Where users are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The user `id`, or `None` when there is none.
    async fn find_user(&self, id: &UserId) -> Result<Option<User>, StoreError>;
}

/// The catalogue of tracks.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// The track `id` with the qualities it exists in, or `None`.
    async fn track(&self, id: &CatalogId) -> Result<Option<Track>, StoreError>;
}

/// Everything a grant writes, decided up to the quotas.
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
    /// The plan's daily limit.
    pub daily_limit: u32,
    /// The plan's storage limit, in bytes.
    pub storage_limit: u64,
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

/// What became of a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantOutcome {
    /// Granted; `counted` is false for a same-day repeat.
    Granted {
        /// Whether it took one of today's grants.
        counted: bool,
    },
    /// The daily limit is reached.
    DailyLimitReached,
    /// The storage limit would be passed.
    StorageFull,
}

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
    /// Grants a download in one transaction under the user's lock: records the
    /// (track, quality) for `day` (a same-day repeat is not counted again), raises the
    /// day's counter by a conditional statement only while below `daily_limit`, checks
    /// that completed downloads (this file excluded) plus `file_size` stay within
    /// `storage_limit`, stores the token, and resets the user's record of the file to
    /// `downloading`.
    ///
    /// MUST write nothing when refused; MUST never let more than `daily_limit` distinct
    /// grants of one day through, however many run at once.
    async fn grant(&self, request: &GrantRequest) -> Result<GrantOutcome, StoreError>;

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

/// Whether a request may pass a rate limit now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// It may.
    Allowed,
    /// It may not; the next one may after `retry_after`.
    Limited {
        /// The time until the next request can pass.
        retry_after: std::time::Duration,
    },
}

/// A rate limiter keyed by a string (user and route).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts a request for `key` and says whether it may pass.
    async fn check(&self, key: &str) -> RateDecision;
}

/// A fresh download token and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token, for the client only (URL-safe, ≥ 43 characters).
    pub token: String,
    /// Its SHA-256 in hex, the only form stored.
    pub hash: String,
}

/// Makes and hashes download tokens.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// A new token of 256 random bits; an error when the system's random generator fails.
    fn issue(&self) -> Result<IssuedToken, BoxError>;
    /// The stored form of `token`.
    fn hash(&self, token: &str) -> String;
}

/// A short-lived cache of rendered pages (shared by every instance when backed by Redis).
/// A cache is an optimisation: a failing one answers `None` and stores nothing.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait PageCache: Send + Sync {
    /// The page stored under `key`, if any.
    async fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Stores `page` under `key` for `ttl`.
    async fn put(&self, key: &str, page: &[u8], ttl: std::time::Duration);
}

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
    /// Computes and stores (replacing any) the report of `day`, `[from, to)`.
    async fn write_daily_report(
        &self,
        day: Date,
        from: OffsetDateTime,
        to: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<DailyReport, StoreError>;
}

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
    /// The stored report of `day`.
    async fn daily_report(&self, day: Date) -> Result<Option<DailyReport>, StoreError>;
    /// The `limit` latest stored reports, newest first.
    async fn recent_reports(&self, limit: u32) -> Result<Vec<DailyReport>, StoreError>;
}

/// Signs CDN URLs of stored objects (Qiniu, OSS). Pure: the same inputs give the same URL.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait UrlSigner: Send + Sync {
    /// The signed URL of object `key`, for a `HEAD` or a `GET`, signed at `now` and valid
    /// until `expires_at`.
    fn sign(
        &self,
        key: &str,
        head: bool,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> String;
}

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
