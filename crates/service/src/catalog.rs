//! Operators' catalogue: pages of tracks, a track put (created or replaced, live again)
//! and a track retired (no new grants, live links expire), each change audited in its own
//! transaction.

use std::sync::Arc;

use soundshelf_domain::audit::{Action, Actor, AuditEntry, music_target, track_state};
use soundshelf_domain::catalog::CatalogTrack;
use soundshelf_domain::time::to_storage_precision;
use soundshelf_domain::{AuditId, CatalogId, Cursor, PageRequest};
use soundshelf_ports::{
    BatchRecorder, CatalogStore, Clock, IdGenerator, ObjectSizes, PutCounts, RandomIds,
};

use crate::InfraError;
use crate::accounts::Operator;

/// An asset the storage does not hold as the catalogue says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// The track.
    pub music_id: CatalogId,
    /// The quality.
    pub quality: soundshelf_domain::Quality,
    /// Its key.
    pub object_key: String,
    /// What is wrong.
    pub problem: Problem,
}

/// How an asset differs from the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No object under the key.
    Missing,
    /// An object of another size.
    WrongSize {
        /// The catalogue's size.
        expected: u64,
        /// The storage's.
        found: u64,
    },
    /// The storage could not tell.
    Unreachable(String),
}

/// What a verification found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Live assets checked.
    pub checked: u64,
    /// Those that differ, in catalogue order.
    pub mismatches: Vec<Mismatch>,
}

/// How many tracks an import writes per transaction.
pub const IMPORT_BATCH: usize = 1000;

/// Why a catalogue use case failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// No such track.
    #[error("track not found")]
    NotFound,
    /// The infrastructure failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<soundshelf_ports::StoreError> for CatalogError {
    fn from(e: soundshelf_ports::StoreError) -> Self {
        Self::Infra(InfraError::from_store(e))
    }
}

/// A page of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogList {
    /// Newest first, retired tracks included.
    pub items: Vec<CatalogTrack>,
    /// The cursor of the next page.
    pub next_cursor: Option<Cursor>,
}

/// The catalogue use cases.
#[derive(Clone)]
pub struct CatalogService {
    catalog: Arc<dyn CatalogStore>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for CatalogService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CatalogService").finish_non_exhaustive()
    }
}

impl CatalogService {
    /// The use cases over `catalog`.
    pub fn new(catalog: Arc<dyn CatalogStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            catalog,
            clock,
            ids: Arc::new(RandomIds),
        }
    }

    /// A page of the catalogue, optionally of the titles containing `search`.
    pub async fn page(
        &self,
        _by: &Operator,
        search: Option<String>,
        page: &PageRequest,
    ) -> Result<CatalogList, CatalogError> {
        let found = self.catalog.catalog_page(search, page).await?;
        let next_cursor = found
            .has_more
            .then(|| found.items.last())
            .flatten()
            .map(|(t, at)| Cursor::new(*at, t.id.as_str()));
        Ok(CatalogList {
            items: found.items.into_iter().map(|(t, _)| t).collect(),
            next_cursor,
        })
    }

    fn entry(
        &self,
        by: &Operator,
        action: Action,
        id: &CatalogId,
        after: Option<CatalogTrack>,
        request_id: Option<String>,
    ) -> impl FnOnce(Option<&CatalogTrack>) -> AuditEntry + Send + 'static {
        let now = to_storage_precision(self.clock.now());
        let (entry_id, actor, target) = (
            AuditId::from_ulid(self.ids.ulid(now)),
            by.actor().clone(),
            music_target(id),
        );
        // A put records the track put; a retirement, the track as it was, retired.
        move |before: Option<&CatalogTrack>| {
            let after = after.or_else(|| {
                before.map(|b| CatalogTrack {
                    retired: true,
                    ..b.clone()
                })
            });
            AuditEntry {
                id: entry_id,
                at: now,
                actor,
                action,
                target,
                before: before.map(track_state),
                after: after.as_ref().map(track_state),
                request_id,
            }
        }
    }

    /// Creates or replaces `track` (live again if it was retired). Putting the same track
    /// again writes nothing and records nothing.
    pub async fn put(
        &self,
        by: &Operator,
        track: CatalogTrack,
        request_id: Option<String>,
    ) -> Result<CatalogTrack, CatalogError> {
        let record = self.entry(
            by,
            Action::MusicPut,
            &track.id,
            Some(track.clone()),
            request_id,
        );
        self.catalog.put_track(&track, Box::new(record)).await?;
        Ok(track)
    }

    /// Creates or replaces every track of `tracks` (already checked, distinct ids), a
    /// transaction per [`IMPORT_BATCH`] tracks, each change audited with actor `system`.
    /// Returns the counts; a second import of the same file changes nothing.
    pub async fn import(&self, tracks: &[CatalogTrack]) -> Result<PutCounts, CatalogError> {
        let mut total = PutCounts::default();
        for batch in tracks.chunks(IMPORT_BATCH) {
            let now = to_storage_precision(self.clock.now());
            let ids = self.ids.clone();
            let record: BatchRecorder = Box::new(move |before, after| AuditEntry {
                id: AuditId::from_ulid(ids.ulid(now)),
                at: now,
                actor: Actor::System,
                action: Action::MusicPut,
                target: music_target(&after.id),
                before: before.map(track_state),
                after: Some(track_state(after)),
                request_id: None,
            });
            let counts = self.catalog.put_tracks(batch, record).await?;
            total.created += counts.created;
            total.updated += counts.updated;
            total.unchanged += counts.unchanged;
        }
        Ok(total)
    }

    /// Checks every asset of every live track against `storage`, `concurrency` at a
    /// time: the object exists with the catalogue's size.
    pub async fn verify(
        &self,
        storage: Arc<dyn ObjectSizes>,
        concurrency: usize,
    ) -> Result<Verification, CatalogError> {
        use futures_util::StreamExt;
        let mut assets = Vec::new();
        let mut page = PageRequest::parse(Some("100"), None, None)
            .map_err(|e| CatalogError::Infra(InfraError::Internal(e.to_string().into())))?;
        loop {
            let found = self.catalog.catalog_page(None, &page).await?;
            let last = found
                .items
                .last()
                .map(|(t, at)| Cursor::new(*at, t.id.as_str()));
            for (track, _) in found.items.into_iter().filter(|(t, _)| !t.retired) {
                for asset in track.assets {
                    assets.push((track.id.clone(), asset));
                }
            }
            match (found.has_more, last) {
                (true, Some(cursor)) => {
                    page.start = soundshelf_domain::favorites::PageStart::After(cursor);
                }
                _ => break,
            }
        }
        let checked = assets.len() as u64;
        let mut results: Vec<(usize, Option<Mismatch>)> =
            futures_util::stream::iter(assets.into_iter().enumerate())
                .map(|(i, (music_id, asset))| {
                    let storage = storage.clone();
                    async move {
                        let problem = match storage.size_of(&asset.object_key).await {
                            Ok(Some(n)) if n == asset.file_size => None,
                            Ok(Some(found)) => Some(Problem::WrongSize {
                                expected: asset.file_size,
                                found,
                            }),
                            Ok(None) => Some(Problem::Missing),
                            Err(e) => Some(Problem::Unreachable(e.to_string())),
                        };
                        let mismatch = problem.map(|problem| Mismatch {
                            music_id,
                            quality: asset.quality,
                            object_key: asset.object_key.as_str().to_owned(),
                            problem,
                        });
                        (i, mismatch)
                    }
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
        results.sort_by_key(|(i, _)| *i);
        Ok(Verification {
            checked,
            mismatches: results.into_iter().filter_map(|(_, m)| m).collect(),
        })
    }

    /// Retires track `id`: it is no longer shown or granted, and its live links expire.
    /// Retiring a retired track changes nothing.
    pub async fn retire(
        &self,
        by: &Operator,
        id: &CatalogId,
        request_id: Option<String>,
    ) -> Result<CatalogTrack, CatalogError> {
        let at = to_storage_precision(self.clock.now());
        let record = self.entry(by, Action::MusicRetire, id, None, request_id);
        self.catalog
            .retire_track(id, at, Box::new(record))
            .await?
            .ok_or(CatalogError::NotFound)
    }
}
