//! Favorites: add, remove, list and check.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use soundshelf_domain::sync::{
    self, Conflict, LocalChange, Malformed, Rejected, ServerState, Write,
};
use std::time::Duration;

use soundshelf_domain::{
    Cursor, Favorite, FavoriteFilter, FavoriteId, ItemData, ItemId, ItemIdList, ItemType,
    PageRequest, PageStart, UserId, time::to_storage_precision,
};
use soundshelf_ports::{
    BoxError, CachedPage, Clock, FavoriteStore, IdGenerator, PageCache, PageLookup, RandomIds,
    Removal, StoreError, SyncPlanner, SyncSnapshot, SyncWrites,
};
use time::OffsetDateTime;

use crate::InfraError;

/// What a client asks to favorite (already validated).
#[derive(Debug, Clone, PartialEq)]
pub struct AddFavorite {
    /// The item.
    pub item_id: ItemId,
    /// Its kind.
    pub item_type: ItemType,
    /// Its description.
    pub item_data: ItemData,
}

/// A page of favorites as the API returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct FavoriteList {
    /// The rows, newest first.
    pub items: Vec<Favorite>,
    /// How many rows match in all.
    pub total: u64,
    /// The cursor for the next page, when more rows exist.
    pub next_cursor: Option<Cursor>,
}

/// An offline sync request: `last_sync_time` parsed, each entry of `local_changes` read
/// by [`sync::read_change`] (a malformed one is rejected by the merge, not the request).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncRequest {
    /// When the device last synced; `None` on its first sync.
    pub last_sync_time: Option<OffsetDateTime>,
    /// What the device changed since, in the order sent.
    pub changes: Vec<Result<LocalChange, Malformed>>,
}

/// What a sync answers.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncResult {
    /// The user's whole list after the sync, newest first.
    pub server_favorites: Vec<Favorite>,
    /// Items removed since `last_sync_time` and not present now (empty on a first sync).
    pub deleted_item_ids: Vec<ItemId>,
    /// Changes the server's newer state overrode.
    pub conflicts: Vec<Conflict>,
    /// Invalid changes, not applied.
    pub rejected: Vec<Rejected>,
    /// The server's time, taken under the lock before the reads: the next `last_sync_time`.
    pub sync_time: OffsetDateTime,
}

/// Why a favorites use case failed.
#[derive(Debug, thiserror::Error)]
pub enum FavoritesError {
    /// The user already favorited this item.
    #[error("already favorited")]
    AlreadyFavorited,
    /// No such favorite of this user.
    #[error("favorite not found")]
    NotFound,
    /// A sync carried more than [`sync::MAX_CHANGES`] changes.
    #[error("too many changes")]
    TooManyChanges,
    /// The infrastructure failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for FavoritesError {
    fn from(e: StoreError) -> Self {
        Self::Infra(InfraError::from_store(e))
    }
}

/// How rendered pages are cached.
#[derive(Clone)]
struct Pages {
    cache: Arc<dyn PageCache>,
    ttl: Duration,
    /// Whose generation a page is kept under: the cache's own, moved on after each write
    /// here (every instance writes through this cache: Redis, or the only instance), or
    /// the database's favorites version read before each lookup (instances that share no
    /// cache).
    by: Generation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Generation {
    Cache,
    Database,
}

/// The favorites use cases.
#[derive(Clone)]
pub struct FavoritesService {
    store: Arc<dyn FavoriteStore>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    pages: Option<Pages>,
}

impl std::fmt::Debug for FavoritesService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FavoritesService").finish_non_exhaustive()
    }
}

impl FavoritesService {
    /// The use cases over `store`, telling time by `clock`.
    pub fn new(store: Arc<dyn FavoriteStore>, clock: Arc<dyn Clock>) -> Self {
        Self {
            store,
            clock,
            ids: Arc::new(RandomIds),
            pages: None,
        }
    }

    /// The use cases making ids with `ids` (the default draws from the system).
    pub fn with_ids(mut self, ids: Arc<dyn IdGenerator>) -> Self {
        self.ids = ids;
        self
    }

    /// The use cases keeping rendered pages in `cache`, a cache every instance writes
    /// through (Redis, or the only instance's memory): a warm page is one lookup, with no
    /// database round trip. Each committed write of a user's favorites moves the user's
    /// generation on before it is answered; a generation lives `ttl` (zero: no cache),
    /// which bounds how long a missed move (the cache unreachable just then) shows an old
    /// page.
    pub fn with_page_cache(mut self, cache: Arc<dyn PageCache>, ttl: Duration) -> Self {
        self.pages = (!ttl.is_zero()).then_some(Pages {
            cache,
            ttl,
            by: Generation::Cache,
        });
        self
    }

    /// The use cases keeping rendered pages in `cache`, a cache of this instance alone
    /// among several: each lookup first reads the user's favorites version from the
    /// database (which every write moves in its own transaction), so no page is ever
    /// older than the data.
    pub fn with_versioned_page_cache(mut self, cache: Arc<dyn PageCache>, ttl: Duration) -> Self {
        self.pages = (!ttl.is_zero()).then_some(Pages {
            cache,
            ttl,
            by: Generation::Database,
        });
        self
    }

    /// After a write of `user`'s favorites, whatever its outcome (an error may hide a
    /// commit): pages cached under the cache's generation are not found again.
    async fn written(&self, user: &UserId) {
        if let Some(pages) = self.pages.as_ref().filter(|p| p.by == Generation::Cache) {
            pages.cache.invalidate(user).await;
        }
    }

    /// Favorites an item for `user`; a second favorite of the same item is refused.
    #[tracing::instrument(skip(self, add), fields(item_id = %add.item_id))]
    pub async fn add(&self, user: &UserId, add: AddFavorite) -> Result<Favorite, FavoritesError> {
        let now = to_storage_precision(self.clock.now());
        let favorite = Favorite {
            id: FavoriteId::from_ulid(self.ids.ulid(now)),
            user_id: user.clone(),
            item_id: add.item_id,
            item_type: add.item_type,
            item_data: add.item_data,
            created_at: now,
            updated_at: now,
        };
        let inserted = self.store.insert(&favorite).await;
        self.written(user).await;
        match inserted {
            Ok(()) => Ok(favorite),
            Err(StoreError::Conflict) => Err(FavoritesError::AlreadyFavorited),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `user`'s favorite `id`; someone else's favorite is reported as not found.
    #[tracing::instrument(skip(self))]
    pub async fn remove(&self, user: &UserId, id: &FavoriteId) -> Result<(), FavoritesError> {
        let deleted = self.store.delete(user, id).await;
        self.written(user).await;
        if deleted? {
            Ok(())
        } else {
            Err(FavoritesError::NotFound)
        }
    }

    /// Removes `user`'s favorite of `item`.
    #[tracing::instrument(skip(self))]
    pub async fn remove_item(&self, user: &UserId, item: &ItemId) -> Result<(), FavoritesError> {
        let deleted = self.store.delete_by_item(user, item).await;
        self.written(user).await;
        if deleted? {
            Ok(())
        } else {
            Err(FavoritesError::NotFound)
        }
    }

    /// One page of `user`'s favorites, with the cursor of the next page when there is one.
    #[tracing::instrument(skip(self))]
    pub async fn list(
        &self,
        user: &UserId,
        filter: &FavoriteFilter,
        page: &PageRequest,
    ) -> Result<FavoriteList, FavoritesError> {
        let page = self.store.list(user, filter, page).await?;
        let next_cursor = if page.has_more {
            page.items.last().map(Cursor::after)
        } else {
            None
        };
        Ok(FavoriteList {
            items: page.items,
            total: page.total,
            next_cursor,
        })
    }

    /// One page of `user`'s favorites as `render` writes it (body and entity tag), from
    /// the page cache when this query was rendered at the user's current generation
    /// (see [`FavoritesService::with_page_cache`]).
    #[tracing::instrument(skip(self, render))]
    pub async fn rendered_page<E>(
        &self,
        user: &UserId,
        filter: &FavoriteFilter,
        page: &PageRequest,
        render: impl FnOnce(&FavoriteList) -> Result<CachedPage, E>,
    ) -> Result<CachedPage, FavoritesError>
    where
        E: Into<BoxError>,
    {
        let rendered = |list: &FavoriteList| {
            render(list).map_err(|e| FavoritesError::Infra(InfraError::Internal(e.into())))
        };
        let Some(pages) = &self.pages else {
            return rendered(&self.list(user, filter, page).await?);
        };
        let query = page_query(filter, page);
        let generation = match pages.by {
            Generation::Cache => match pages.cache.lookup(user, &query, pages.ttl).await {
                PageLookup::Hit(cached) => return Ok(cached),
                PageLookup::Miss(generation) => generation,
            },
            Generation::Database => {
                let version = self.store.version(user).await?;
                if let Some(cached) = pages.cache.lookup_at(user, version, &query).await {
                    return Ok(cached);
                }
                Some(version)
            }
        };
        let fresh = rendered(&self.list(user, filter, page).await?)?;
        if let Some(generation) = generation {
            pages
                .cache
                .store(user, generation, &query, &fresh, pages.ttl)
                .await;
        }
        Ok(fresh)
    }

    /// For each asked id, in the order asked, whether `user` has favorited it.
    #[tracing::instrument(skip(self, items))]
    pub async fn contains(
        &self,
        user: &UserId,
        items: &ItemIdList,
    ) -> Result<Vec<(ItemId, bool)>, FavoritesError> {
        let present = self.store.contains(user, items.ids()).await?;
        Ok(items
            .ids()
            .iter()
            .map(|id| (id.clone(), present.contains(id)))
            .collect())
    }
}

/// A page's query as the cache keys it: every part, in a fixed order, the search term
/// last (it is the only part that may hold any character).
fn page_query(filter: &FavoriteFilter, page: &PageRequest) -> String {
    let item_type = filter.item_type.map_or("", |t| t.as_str());
    let start = match &page.start {
        PageStart::Offset(offset) => format!("o{offset}"),
        PageStart::After(cursor) => format!("c{}", cursor.encode()),
    };
    let search = filter.search.as_ref().map_or("", |s| s.key());
    format!("{item_type}:{}:{start}:{search}", page.limit.get())
}

impl FavoritesService {
    /// Merges a device's offline changes into `user`'s favorites, in one transaction under
    /// the user's lock, and answers the whole resulting list.
    #[tracing::instrument(skip(self, request), fields(changes = request.changes.len()))]
    pub async fn sync(
        &self,
        user: &UserId,
        request: SyncRequest,
    ) -> Result<SyncResult, FavoritesError> {
        if request.changes.len() > sync::MAX_CHANGES {
            return Err(FavoritesError::TooManyChanges);
        }
        let mut items: Vec<ItemId> = Vec::new();
        for change in request.changes.iter().flatten() {
            if !items.contains(&change.item_id) {
                items.push(change.item_id.clone());
            }
        }
        let since = request.last_sync_time;
        let slot: Arc<Mutex<Option<SyncResult>>> = Arc::default();
        let planner: SyncPlanner = {
            let (slot, user, ids) = (slot.clone(), user.clone(), self.ids.clone());
            Box::new(move |snapshot| {
                let (writes, result) =
                    plan_sync(&user, &request.changes, since, snapshot, ids.as_ref());
                *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(result);
                writes
            })
        };
        let synced = self.store.sync(user, &items, since, planner).await;
        self.written(user).await;
        synced?;
        let result = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        result.ok_or_else(|| {
            FavoritesError::Infra(InfraError::Internal("the sync planner did not run".into()))
        })
    }
}

/// The writes and the answer of a sync, from what the store read under the lock.
fn plan_sync(
    user: &UserId,
    changes: &[Result<LocalChange, Malformed>],
    since: Option<OffsetDateTime>,
    snapshot: SyncSnapshot,
    ids: &dyn IdGenerator,
) -> (SyncWrites, SyncResult) {
    let SyncSnapshot {
        now,
        favorites,
        tombstones,
        deleted_since,
    } = snapshot;
    let present: HashMap<&ItemId, &Favorite> = favorites.iter().map(|f| (&f.item_id, f)).collect();
    let states: HashMap<ItemId, ServerState> = changes
        .iter()
        .flatten()
        .filter_map(|c| {
            let state = match (present.get(&c.item_id), tombstones.get(&c.item_id)) {
                (Some(f), _) => ServerState::Present {
                    changed_at: f.updated_at,
                    item_data: f.item_data.clone(),
                },
                (None, Some(removed_at)) => ServerState::Removed {
                    removed_at: *removed_at,
                },
                (None, None) => return None,
            };
            Some((c.item_id.clone(), state))
        })
        .collect();
    let plan = sync::merge_entries(&states, changes, now);

    let mut writes = SyncWrites::default();
    for write in plan.writes {
        match write {
            Write::Put {
                item_id,
                item_type,
                item_data,
                changed_at,
            } => {
                // An item already present keeps its id and creation time.
                let existing = present.get(&item_id);
                writes.puts.push(Favorite {
                    id: existing
                        .map_or_else(|| FavoriteId::from_ulid(ids.ulid(changed_at)), |f| f.id),
                    user_id: user.clone(),
                    created_at: existing.map_or(changed_at, |f| f.created_at),
                    updated_at: changed_at,
                    item_id,
                    item_type,
                    item_data,
                });
            }
            Write::Remove {
                item_id,
                removed_at,
            } => writes.removals.push(Removal {
                item_id,
                removed_at,
            }),
        }
    }
    drop(present);

    let touched: HashSet<&ItemId> = writes
        .puts
        .iter()
        .map(|f| &f.item_id)
        .chain(writes.removals.iter().map(|r| &r.item_id))
        .collect();
    let mut server_favorites: Vec<Favorite> = favorites
        .into_iter()
        .filter(|f| !touched.contains(&f.item_id))
        .chain(writes.puts.iter().cloned())
        .collect();
    server_favorites.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.id.cmp(&a.id))
    });
    let deleted_item_ids = if since.is_some() {
        let now_present: HashSet<&ItemId> = server_favorites.iter().map(|f| &f.item_id).collect();
        let mut deleted: Vec<ItemId> = deleted_since
            .into_iter()
            .chain(writes.removals.iter().map(|r| r.item_id.clone()))
            .filter(|id| !now_present.contains(id))
            .collect();
        deleted.sort();
        deleted.dedup();
        deleted
    } else {
        Vec::new()
    };
    let result = SyncResult {
        server_favorites,
        deleted_item_ids,
        conflicts: plan.conflicts,
        rejected: plan.rejected,
        sync_time: now,
    };
    (writes, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mockall::predicate::eq;
    use soundshelf_ports::{FavoritePage, MockClock, MockFavoriteStore, MockIdGenerator};
    use time::macros::datetime;
    use ulid::Ulid;

    fn clock() -> Arc<dyn Clock> {
        let mut c = MockClock::new();
        c.expect_now()
            .return_const(datetime!(2026-01-02 03:04:05.123456789 UTC));
        Arc::new(c)
    }

    fn user() -> UserId {
        UserId::parse("user_free").unwrap()
    }

    fn add_request() -> AddFavorite {
        AddFavorite {
            item_id: ItemId::parse("music_001").unwrap(),
            item_type: ItemType::Music,
            item_data: ItemData::parse(
                serde_json::json!({"title": "t", "cover": "c", "duration": 1}),
            )
            .unwrap(),
        }
    }

    #[tokio::test]
    async fn add_stores_a_favorite_owned_by_the_caller() {
        let mut store = MockFavoriteStore::new();
        store
            .expect_insert()
            .withf(|f| {
                f.user_id.as_str() == "user_free"
                    && f.item_id.as_str() == "music_001"
                    && f.created_at == f.updated_at
                    && f.created_at.nanosecond() == 123_456_000
            })
            .times(1)
            .returning(|_| Ok(()));
        // The id is made at the clock's time (stored precision), by the id port.
        let mut ids = MockIdGenerator::new();
        ids.expect_ulid()
            .withf(|at| *at == datetime!(2026-01-02 03:04:05.123456 UTC))
            .times(1)
            .returning(|_| Ulid::from_parts(1_767_323_045_123, 42));
        let svc = FavoritesService::new(Arc::new(store), clock()).with_ids(Arc::new(ids));
        let fav = svc.add(&user(), add_request()).await.unwrap();
        assert_eq!(fav.user_id, user());
        assert_eq!(
            fav.id,
            FavoriteId::from_ulid(Ulid::from_parts(1_767_323_045_123, 42))
        );
    }

    #[tokio::test]
    async fn add_twice_is_already_favorited() {
        let mut store = MockFavoriteStore::new();
        store
            .expect_insert()
            .returning(|_| Err(StoreError::Conflict));
        let svc = FavoritesService::new(Arc::new(store), clock());
        let err = svc.add(&user(), add_request()).await.unwrap_err();
        assert!(matches!(err, FavoritesError::AlreadyFavorited));
    }

    #[tokio::test]
    async fn store_outage_is_unavailable_not_a_conflict() {
        let mut store = MockFavoriteStore::new();
        store
            .expect_insert()
            .returning(|_| Err(StoreError::Unavailable("down".into())));
        let svc = FavoritesService::new(Arc::new(store), clock());
        let err = svc.add(&user(), add_request()).await.unwrap_err();
        assert!(matches!(
            err,
            FavoritesError::Infra(InfraError::Unavailable(_))
        ));
    }

    #[tokio::test]
    async fn remove_of_missing_or_foreign_favorite_is_not_found() {
        let id = FavoriteId::from_ulid(Ulid::from_parts(1, 1));
        let mut store = MockFavoriteStore::new();
        store
            .expect_delete()
            .with(eq(user()), eq(id))
            .times(1)
            .returning(|_, _| Ok(false));
        store
            .expect_delete_by_item()
            .times(1)
            .returning(|_, _| Ok(true));
        let svc = FavoritesService::new(Arc::new(store), clock());
        assert!(matches!(
            svc.remove(&user(), &id).await,
            Err(FavoritesError::NotFound)
        ));
        svc.remove_item(&user(), &ItemId::parse("music_001").unwrap())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn list_gives_a_cursor_only_when_more_rows_exist() {
        let fav = Favorite {
            id: FavoriteId::from_ulid(Ulid::from_parts(5, 5)),
            user_id: user(),
            item_id: ItemId::parse("music_001").unwrap(),
            item_type: ItemType::Music,
            item_data: add_request().item_data,
            created_at: datetime!(2026-01-01 00:00:00.5 UTC),
            updated_at: datetime!(2026-01-01 00:00:00.5 UTC),
        };
        for has_more in [true, false] {
            let mut store = MockFavoriteStore::new();
            let page = FavoritePage {
                items: vec![fav.clone()],
                total: 7,
                has_more,
            };
            store
                .expect_list()
                .returning(move |_, _, _| Ok(page.clone()));
            let svc = FavoritesService::new(Arc::new(store), clock());
            let list = svc
                .list(
                    &user(),
                    &FavoriteFilter::default(),
                    &PageRequest::parse(None, None, None).unwrap(),
                )
                .await
                .unwrap();
            assert_eq!(list.total, 7);
            assert_eq!(list.next_cursor.is_some(), has_more);
            if let Some(c) = list.next_cursor {
                assert_eq!(c.id, fav.id.to_string());
                assert_eq!(c.created_at(), fav.created_at);
            }
        }
    }

    #[tokio::test]
    async fn contains_answers_in_the_order_asked() {
        let mut store = MockFavoriteStore::new();
        store
            .expect_contains()
            .returning(|_, _| Ok(vec![ItemId::parse("b").unwrap()]));
        let svc = FavoritesService::new(Arc::new(store), clock());
        let got = svc
            .contains(&user(), &ItemIdList::parse(Some("c,b,a")).unwrap())
            .await
            .unwrap();
        let got: Vec<(&str, bool)> = got.iter().map(|(i, b)| (i.as_str(), *b)).collect();
        assert_eq!(got, vec![("c", false), ("b", true), ("a", false)]);
    }

    mod sync_tests {
        use super::*;
        use soundshelf_domain::sync::{Action, StateKind};
        use time::Duration;

        const NOW: OffsetDateTime = datetime!(2026-06-01 12:00 UTC);

        fn item(s: &str) -> ItemId {
            ItemId::parse(s).unwrap()
        }

        fn change(
            id: &str,
            action: Action,
            minutes_ago: i64,
            title: &str,
        ) -> Result<LocalChange, Malformed> {
            Ok(LocalChange {
                item_id: item(id),
                action,
                timestamp: NOW - Duration::minutes(minutes_ago),
                item_type: None,
                item_data: (action == Action::Add)
                    .then(|| serde_json::json!({"title": title, "cover": "c", "duration": 1})),
            })
        }

        fn existing() -> Favorite {
            Favorite {
                id: FavoriteId::from_ulid(Ulid::from_parts(7, 7)),
                user_id: user(),
                item_id: item("music_001"),
                item_type: ItemType::Music,
                item_data: ItemData::parse(
                    serde_json::json!({"title": "old", "cover": "c", "duration": 1}),
                )
                .unwrap(),
                created_at: NOW - Duration::hours(2),
                updated_at: NOW - Duration::hours(2),
            }
        }

        #[tokio::test]
        async fn sync_plans_writes_under_the_lock_and_answers_the_whole_list() {
            let mut store = MockFavoriteStore::new();
            store
                .expect_sync()
                .times(1)
                .returning(|_, items, since, planner| {
                    let ids: Vec<&str> = items.iter().map(ItemId::as_str).collect();
                    assert_eq!(ids, ["music_001", "music_002", "music_003", "music_004"]);
                    assert!(since.is_some());
                    let writes = planner(SyncSnapshot {
                        now: NOW,
                        favorites: vec![existing()],
                        tombstones: HashMap::from([(
                            item("music_004"),
                            NOW - Duration::minutes(1),
                        )]),
                        deleted_since: vec![item("music_009")],
                    });
                    // music_001 is updated in place, music_002 is new, music_003 gets a
                    // tombstone, music_004's older add loses to its newer tombstone.
                    assert_eq!(writes.puts.len(), 2);
                    let updated = writes
                        .puts
                        .iter()
                        .find(|f| f.item_id.as_str() == "music_001")
                        .unwrap();
                    assert_eq!(updated.id, existing().id);
                    assert_eq!(updated.created_at, existing().created_at);
                    assert_eq!(updated.updated_at, NOW - Duration::minutes(10));
                    assert_eq!(updated.item_data.title(), "new");
                    assert_eq!(writes.removals.len(), 1);
                    Ok(NOW)
                });
            let svc = FavoritesService::new(Arc::new(store), clock());
            let request = SyncRequest {
                last_sync_time: Some(NOW - Duration::days(1)),
                changes: vec![
                    change("music_001", Action::Add, 10, "new"),
                    change("music_002", Action::Add, 10, "t"),
                    change("music_003", Action::Remove, 10, ""),
                    change("music_004", Action::Add, 5, "t"),
                ],
            };
            let result = svc.sync(&user(), request).await.unwrap();
            let ids: Vec<&str> = result
                .server_favorites
                .iter()
                .map(|f| f.item_id.as_str())
                .collect();
            assert_eq!(ids, ["music_002", "music_001"], "newest first");
            let deleted: Vec<&str> = result.deleted_item_ids.iter().map(ItemId::as_str).collect();
            assert_eq!(deleted, ["music_003", "music_009"]);
            assert_eq!(result.conflicts.len(), 1);
            assert_eq!(result.conflicts[0].item_id.as_str(), "music_004");
            assert_eq!(result.conflicts[0].server_state, StateKind::Removed);
            assert_eq!(result.sync_time, NOW);
        }

        #[tokio::test]
        async fn a_first_sync_lists_no_deletions() {
            let mut store = MockFavoriteStore::new();
            store.expect_sync().returning(|_, _, _, planner| {
                planner(SyncSnapshot {
                    now: NOW,
                    favorites: vec![],
                    tombstones: HashMap::new(),
                    deleted_since: vec![],
                });
                Ok(NOW)
            });
            let svc = FavoritesService::new(Arc::new(store), clock());
            let request = SyncRequest {
                last_sync_time: None,
                changes: vec![change("music_003", Action::Remove, 10, "")],
            };
            let result = svc.sync(&user(), request).await.unwrap();
            assert!(result.deleted_item_ids.is_empty());
        }

        #[tokio::test]
        async fn more_than_500_changes_are_refused_before_any_io() {
            let svc = FavoritesService::new(Arc::new(MockFavoriteStore::new()), clock());
            let changes = (0..501)
                .map(|i| change(&format!("m{i}"), Action::Remove, 1, ""))
                .collect();
            let request = SyncRequest {
                last_sync_time: None,
                changes,
            };
            assert!(matches!(
                svc.sync(&user(), request).await,
                Err(FavoritesError::TooManyChanges)
            ));
        }
    }
}
