//! The catalogue read through an in-process cache: grants, redemptions and the client's
//! view of tracks read the catalogue on every request, and it changes rarely.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use soundshelf_domain::catalog::CatalogTrack;
use soundshelf_domain::downloads::Track;
use soundshelf_domain::{CatalogId, PageRequest};
use soundshelf_ports::{
    BatchRecorder, CatalogPage, CatalogStore, PutCounts, StoreError, TrackRecorder,
};
use time::OffsetDateTime;

/// The most tracks (known or unknown ids) held before the expired ones are dropped, and
/// then all.
const MAX_TRACKS: usize = 50_000;

/// A [`CatalogStore`] that keeps each track it reads (and each id it found absent) for
/// `ttl`. Changes made through it drop the changed tracks at once, so this instance sees
/// its own changes immediately; a change made elsewhere (another instance, `catalog
/// import`) is seen within `ttl`.
pub struct CachedCatalog {
    inner: Arc<dyn CatalogStore>,
    ttl: Duration,
    tracks: Mutex<HashMap<CatalogId, (Instant, Option<CatalogTrack>)>>,
}

impl std::fmt::Debug for CachedCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedCatalog")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl CachedCatalog {
    /// `inner`, read through a cache of `ttl`.
    pub fn new(inner: Arc<dyn CatalogStore>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            tracks: Mutex::default(),
        }
    }

    fn tracks(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<CatalogId, (Instant, Option<CatalogTrack>)>> {
        self.tracks.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn forget(&self, ids: impl IntoIterator<Item = CatalogId>) {
        let mut tracks = self.tracks();
        for id in ids {
            tracks.remove(&id);
        }
    }
}

#[async_trait]
impl CatalogStore for CachedCatalog {
    async fn track(&self, id: &CatalogId) -> Result<Option<Track>, StoreError> {
        let found = self.entries(std::slice::from_ref(id)).await?;
        Ok(found.first().map(Track::from))
    }

    async fn entries(&self, ids: &[CatalogId]) -> Result<Vec<CatalogTrack>, StoreError> {
        let now = Instant::now();
        let mut found = Vec::with_capacity(ids.len());
        let mut missing = Vec::new();
        {
            let tracks = self.tracks();
            for id in ids {
                match tracks.get(id).filter(|(until, _)| *until > now) {
                    Some((_, Some(track))) => found.push(track.clone()),
                    Some((_, None)) => {}
                    None => missing.push(id.clone()),
                }
            }
        }
        if missing.is_empty() {
            return Ok(found);
        }
        let read = self.inner.entries(&missing).await?;
        let mut tracks = self.tracks();
        if tracks.len() + missing.len() > MAX_TRACKS {
            tracks.retain(|_, (until, _)| *until > now);
            if tracks.len() + missing.len() > MAX_TRACKS {
                tracks.clear();
            }
        }
        let until = now + self.ttl;
        for id in missing {
            let track = read.iter().find(|t| t.id == id).cloned();
            tracks.insert(id, (until, track));
        }
        found.extend(read);
        Ok(found)
    }

    async fn catalog_page(
        &self,
        search: Option<String>,
        page: &PageRequest,
    ) -> Result<CatalogPage, StoreError> {
        self.inner.catalog_page(search, page).await
    }

    async fn put_track(
        &self,
        track: &CatalogTrack,
        record: TrackRecorder,
    ) -> Result<bool, StoreError> {
        let result = self.inner.put_track(track, record).await;
        // Whatever the outcome: an error may hide a commit.
        self.forget([track.id.clone()]);
        result
    }

    async fn put_tracks(
        &self,
        tracks: &[CatalogTrack],
        record: BatchRecorder,
    ) -> Result<PutCounts, StoreError> {
        let result = self.inner.put_tracks(tracks, record).await;
        self.forget(tracks.iter().map(|t| t.id.clone()));
        result
    }

    async fn retire_track(
        &self,
        id: &CatalogId,
        at: OffsetDateTime,
        record: TrackRecorder,
    ) -> Result<Option<CatalogTrack>, StoreError> {
        let result = self.inner.retire_track(id, at, record).await;
        self.forget([id.clone()]);
        result
    }
}
