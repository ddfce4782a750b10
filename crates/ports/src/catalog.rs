//! The catalogue of tracks.

use async_trait::async_trait;
use soundshelf_domain::audit::AuditEntry;
use soundshelf_domain::catalog::{CatalogTrack, ObjectKey};
use soundshelf_domain::downloads::Track;
use soundshelf_domain::{CatalogId, PageRequest};
use time::OffsetDateTime;

use crate::StoreError;

/// Builds the audit entry of a catalogue change from the track as it was (`None`: new);
/// runs inside the store's transaction.
pub type TrackRecorder = Box<dyn FnOnce(Option<&CatalogTrack>) -> AuditEntry + Send>;

/// Builds the audit entries of a batch: for each track put, the track as it was (`None`:
/// new) and as it is put.
pub type BatchRecorder =
    Box<dyn Fn(Option<&CatalogTrack>, &CatalogTrack) -> AuditEntry + Send + Sync>;

/// What a batch put did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutCounts {
    /// Tracks that did not exist.
    pub created: u64,
    /// Tracks that existed and changed (a retired one put back included).
    pub updated: u64,
    /// Tracks already exactly so: nothing written.
    pub unchanged: u64,
}

/// A page of the catalogue, newest first, each track with the time it was created.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogPage {
    /// The tracks, retired ones included.
    pub items: Vec<(CatalogTrack, OffsetDateTime)>,
    /// Whether more follow.
    pub has_more: bool,
}

/// The catalogue of tracks.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// The track `id` with the qualities it exists in (retired or not), or `None`.
    async fn track(&self, id: &CatalogId) -> Result<Option<Track>, StoreError>;

    /// Those of `ids` the catalogue holds (retired ones included), in any order.
    async fn entries(&self, ids: &[CatalogId]) -> Result<Vec<CatalogTrack>, StoreError>;

    /// A page of the catalogue (retired tracks included), newest first, optionally only
    /// the titles containing `search` (case-insensitive).
    async fn catalog_page(
        &self,
        search: Option<String>,
        page: &PageRequest,
    ) -> Result<CatalogPage, StoreError>;

    /// Creates or replaces `track` (its row, live again, and exactly its assets) with the
    /// entry `record` makes, in one transaction; when the stored track already is
    /// `track`, writes nothing and returns `false`.
    async fn put_track(
        &self,
        track: &CatalogTrack,
        record: TrackRecorder,
    ) -> Result<bool, StoreError>;

    /// Creates or replaces every track of `tracks` (distinct ids), as [`put_track`]
    /// does, in one transaction and a bounded number of statements; each change gets the
    /// entry `record` makes. Nothing is written for a track already exactly so.
    ///
    /// [`put_track`]: CatalogStore::put_track
    async fn put_tracks(
        &self,
        tracks: &[CatalogTrack],
        record: BatchRecorder,
    ) -> Result<PutCounts, StoreError>;

    /// Retires track `id` at `at` with the entry `record` makes, and expires its live
    /// download tokens at `at`, in one transaction.
    /// `None` when there is no such track; an already retired track is returned as it
    /// is and nothing is written.
    async fn retire_track(
        &self,
        id: &CatalogId,
        at: OffsetDateTime,
        record: TrackRecorder,
    ) -> Result<Option<CatalogTrack>, StoreError>;
}

/// What a storage backend holds under a key: its size, or nothing.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ObjectSizes: Send + Sync {
    /// The size of the object `key`, `None` when there is none. An error when the
    /// backend cannot tell (unreachable, refused, timed out).
    async fn size_of(&self, key: &ObjectKey) -> Result<Option<u64>, crate::BoxError>;
}
