//! The catalogue of tracks.

use async_trait::async_trait;
use soundshelf_domain::CatalogId;
use soundshelf_domain::downloads::Track;

use crate::StoreError;

/// The catalogue of tracks.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait CatalogStore: Send + Sync {
    /// The track `id` with the qualities it exists in, or `None`.
    async fn track(&self, id: &CatalogId) -> Result<Option<Track>, StoreError>;
}
