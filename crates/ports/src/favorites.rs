//! Where favorites are kept, and how a sync is planned inside the store's transaction.

use std::collections::HashMap;

use async_trait::async_trait;
use soundshelf_domain::{Favorite, FavoriteFilter, FavoriteId, ItemId, PageRequest, UserId};
use time::OffsetDateTime;

use crate::StoreError;

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
