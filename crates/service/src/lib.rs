//! soundshelf's use cases: the domain's rules applied through the ports.
//!
//! Each use case returns its own error enum, whose variants the HTTP layer maps to the
//! SPEC's status codes; store failures are carried as `Unavailable` / `Internal` with
//! their source so they can be logged, never shown.

pub mod accounts;
pub mod auth;
pub mod catalog;
pub mod downloads;
pub mod favorites;
pub mod health;
pub mod jobs;
pub mod monitoring;

pub use auth::{AuthError, AuthService};
pub use downloads::{
    ClientInfo, DownloadPolicy, DownloadsError, DownloadsService, GrantedLink, MusicOffer,
    RecordList, Redemption, Report,
};
pub use favorites::{
    AddFavorite, FavoriteList, FavoritesError, FavoritesService, SyncRequest, SyncResult,
};

use soundshelf_domain::ErrorCode;
use soundshelf_ports::{BoxError, StoreError};

/// A failure of the infrastructure under a use case.
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    /// The store cannot be reached now; the client may retry.
    #[error("store unavailable")]
    Unavailable(#[source] BoxError),
    /// A bug or corrupt data.
    #[error("internal failure")]
    Internal(#[source] BoxError),
}

impl InfraError {
    /// `UNAVAILABLE` or `INTERNAL`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::Unavailable(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// Translates a store error that the use case has no rule for.
    pub fn from_store(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(src) => Self::Unavailable(src),
            StoreError::Internal(src) => Self::Internal(src),
            StoreError::Conflict => Self::Internal("unexpected conflict".into()),
        }
    }
}
