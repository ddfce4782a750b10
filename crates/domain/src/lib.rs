//! Pure rules of soundshelf: identifiers, validated values and the favorites rules.
//!
//! This crate does no I/O, knows no framework and depends on no other workspace crate:
//! every value that leaves one of its constructors is valid, so the layers above never
//! re-check it. Another Rust service can embed these rules as they are.
//!
//! The two rules a server holds under concurrency are decided here and only here, on
//! values a store reads under its lock: a download grant, and an offline sync.
//!
//! ```
//! use std::collections::HashMap;
//!
//! use serde_json::json;
//! use soundshelf_domain::downloads::{check_entitlement, decide_quota, Plans, Track, Usage, MB};
//! use soundshelf_domain::sync::{merge, Action, LocalChange, ServerState, Write};
//! use soundshelf_domain::{ItemId, Plan, Quality, Role, User, UserId, UserStatus};
//! use time::macros::datetime;
//!
//! // A grant: the rules that need no counts, then the quotas on what the user has used.
//! let user = User {
//!     id: UserId::parse("user_free").unwrap(),
//!     nickname: String::new(),
//!     status: UserStatus::Active,
//!     plan: Plan::Free,
//!     has_premium_access: false,
//!     role: Role::User,
//!     created_at: time::OffsetDateTime::UNIX_EPOCH,
//! };
//! let track = Track::new("music_001", "深度放松", false, [(Quality::Standard, 8 * MB)]).unwrap();
//! let size = check_entitlement(&user, Some(&track), Quality::Standard).unwrap();
//! let limits = Plans::default().limits(user.plan);
//! let used = Usage { granted_today: 4, repeat_today: false, storage_used: 50 * MB };
//! let grant = decide_quota(&limits, &used, size).unwrap();
//! assert!(grant.counts_toward_daily_limit); // the fifth of five today
//! let full = Usage { granted_today: 5, ..used };
//! assert!(decide_quota(&limits, &full, size).is_err());
//!
//! // A sync: a removal made offline after the server's add wins.
//! let item = ItemId::parse("music_001").unwrap();
//! let data = soundshelf_domain::ItemData::parse(json!({"title": "深度放松", "cover": "", "duration": 360})).unwrap();
//! let server = HashMap::from([(
//!     item.clone(),
//!     ServerState::Present { changed_at: datetime!(2026-06-01 08:00 UTC), item_data: data },
//! )]);
//! let change = LocalChange {
//!     item_id: item.clone(),
//!     action: Action::Remove,
//!     timestamp: datetime!(2026-06-01 09:00 UTC),
//!     item_type: None,
//!     item_data: None,
//! };
//! let plan = merge(&server, &[change], datetime!(2026-06-01 10:00 UTC));
//! assert!(matches!(&plan.writes[..], [Write::Remove { item_id, .. }] if *item_id == item));
//! assert!(plan.conflicts.is_empty() && plan.rejected.is_empty());
//! ```

pub mod alerts;
pub mod audit;
pub mod catalog;
pub mod codes;
pub mod downloads;
mod error;
pub mod favorites;
mod ids;
pub mod jobs;
#[cfg(feature = "openapi")]
mod openapi;
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
pub use ids::{
    AuditId, CatalogId, DownloadId, FavoriteId, ItemId, LogId, TokenId, UserId, parse_id_list,
};
pub use users::{Plan, Role, User, UserStatus};
