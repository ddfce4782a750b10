//! The catalogue of tracks.

use async_trait::async_trait;
use soundshelf_domain::CatalogId;
use soundshelf_domain::downloads::Track;

use crate::StoreError;

/// A track with what the catalogue shows of it besides the grant rules' view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MusicEntry {
    /// The track: id, title, premium flag, files and whether it is retired.
    pub track: Track,
    /// Its cover image.
    pub cover: String,
    /// Its length in seconds.
    pub duration: u32,
    /// Its category, if it has one.
    pub category: Option<String>,
}

/// The catalogue of tracks.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// The track `id` with the qualities it exists in (retired or not), or `None`.
    async fn track(&self, id: &CatalogId) -> Result<Option<Track>, StoreError>;

    /// The entries of those of `ids` the catalogue holds (retired ones included), in any
    /// order.
    async fn entries(&self, ids: &[CatalogId]) -> Result<Vec<MusicEntry>, StoreError>;
}
