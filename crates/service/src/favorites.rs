//! Favorites: add, remove, list and check.

use std::sync::Arc;

use soundshelf_domain::{
    Cursor, Favorite, FavoriteFilter, FavoriteId, ItemData, ItemId, ItemIdList, ItemType,
    PageRequest, UserId, time::to_storage_precision,
};
use soundshelf_ports::{Clock, FavoriteStore, StoreError};
use ulid::Ulid;

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

/// Why a favorites use case failed.
#[derive(Debug, thiserror::Error)]
pub enum FavoritesError {
    /// The user already favorited this item.
    #[error("already favorited")]
    AlreadyFavorited,
    /// No such favorite of this user.
    #[error("favorite not found")]
    NotFound,
    /// The infrastructure failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for FavoritesError {
    fn from(e: StoreError) -> Self {
        Self::Infra(InfraError::from_store(e))
    }
}

/// The favorites use cases.
#[derive(Clone)]
pub struct FavoritesService {
    store: Arc<dyn FavoriteStore>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for FavoritesService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FavoritesService").finish_non_exhaustive()
    }
}

impl FavoritesService {
    /// The use cases over `store`, telling time by `clock`.
    pub fn new(store: Arc<dyn FavoriteStore>, clock: Arc<dyn Clock>) -> Self {
        Self { store, clock }
    }

    /// Favorites an item for `user`; a second favorite of the same item is refused.
    #[tracing::instrument(skip(self, add), fields(item_id = %add.item_id))]
    pub async fn add(&self, user: &UserId, add: AddFavorite) -> Result<Favorite, FavoritesError> {
        let now = to_storage_precision(self.clock.now());
        let favorite = Favorite {
            id: FavoriteId::from_ulid(Ulid::generate()),
            user_id: user.clone(),
            item_id: add.item_id,
            item_type: add.item_type,
            item_data: add.item_data,
            created_at: now,
            updated_at: now,
        };
        match self.store.insert(&favorite).await {
            Ok(()) => Ok(favorite),
            Err(StoreError::Conflict) => Err(FavoritesError::AlreadyFavorited),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes `user`'s favorite `id`; someone else's favorite is reported as not found.
    #[tracing::instrument(skip(self))]
    pub async fn remove(&self, user: &UserId, id: &FavoriteId) -> Result<(), FavoritesError> {
        if self.store.delete(user, id).await? {
            Ok(())
        } else {
            Err(FavoritesError::NotFound)
        }
    }

    /// Removes `user`'s favorite of `item`.
    #[tracing::instrument(skip(self))]
    pub async fn remove_item(&self, user: &UserId, item: &ItemId) -> Result<(), FavoritesError> {
        if self.store.delete_by_item(user, item).await? {
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

#[cfg(test)]
mod tests {
    use super::*;
    use mockall::predicate::eq;
    use soundshelf_ports::{FavoritePage, MockClock, MockFavoriteStore};
    use time::macros::datetime;

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
        let svc = FavoritesService::new(Arc::new(store), clock());
        let fav = svc.add(&user(), add_request()).await.unwrap();
        assert_eq!(fav.user_id, user());
        assert!(fav.id.to_string().starts_with("fav_"));
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
                assert_eq!(c.id, fav.id);
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
}
