//! Pure rules of soundshelf: identifiers, validated values and the favorites rules.
//!
//! This crate does no I/O, knows no framework and depends on no other workspace crate:
//! every value that leaves one of its constructors is valid, so the layers above never
//! re-check it. Another Rust service can embed these rules as they are.
//!
//! ```
//! use soundshelf_domain::{ItemId, ItemType};
//!
//! let id = ItemId::parse("music_001").unwrap();
//! assert_eq!(id.as_str(), "music_001");
//! assert!(ItemId::parse("../etc/passwd").is_err());
//! assert_eq!(ItemType::parse("music").unwrap(), ItemType::Music);
//! ```

pub mod catalog;
pub mod codes;
pub mod downloads;
mod error;
pub mod favorites;
mod ids;
pub mod jobs;
pub mod settings;
pub mod sync;
pub mod time;
pub mod users;

pub use catalog::Quality;
pub use codes::ErrorCode;
pub use error::ValidationError;
pub use favorites::{
    Cursor, Favorite, FavoriteFilter, ItemData, ItemIdList, ItemType, Limit, PageRequest,
    PageStart, SearchTerm,
};
pub use ids::{CatalogId, DownloadId, FavoriteId, ItemId, LogId, TokenId, UserId};
pub use users::{Plan, Role, User, UserStatus};
