//! The favorites adapter.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use soundshelf_domain::favorites::PageStart;
use soundshelf_domain::time::{from_primitive_utc, to_primitive_utc};
use soundshelf_domain::{
    Favorite, FavoriteFilter, FavoriteId, ItemData, ItemId, ItemType, PageRequest, UserId,
};
use soundshelf_ports::{FavoritePage, FavoriteStore, StoreError};
use time::PrimitiveDateTime;

use crate::database::{Store, detached, with_conn};
use crate::error::{corrupt, query_error};
use crate::schema::user_favorites as uf;

// `instr(haystack, needle)`: the 1-based position of `needle`, 0 when absent. Both
// SQLite and MySQL have it; on the `utf8mb4_bin` search column it is an exact,
// wildcard-free substring test.
define_sql_function!(fn instr(haystack: Text, needle: Text) -> Integer);

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = uf)]
struct FavoriteRow {
    id: String,
    user_id: String,
    item_id: String,
    item_type: String,
    item_data: String,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl FavoriteRow {
    fn into_domain(self) -> Result<Favorite, StoreError> {
        let bad = |e| corrupt("user_favorites", e);
        Ok(Favorite {
            id: FavoriteId::parse(&self.id).map_err(bad)?,
            user_id: UserId::parse(&self.user_id).map_err(bad)?,
            item_id: ItemId::parse(&self.item_id).map_err(bad)?,
            item_type: ItemType::parse(&self.item_type).map_err(bad)?,
            item_data: ItemData::from_json_str(&self.item_data).map_err(bad)?,
            created_at: from_primitive_utc(self.created_at),
            updated_at: from_primitive_utc(self.updated_at),
        })
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = uf)]
struct NewFavoriteRow<'a> {
    id: String,
    user_id: &'a str,
    item_id: &'a str,
    item_type: &'static str,
    item_data: &'a str,
    search_title: String,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

/// The boxed query of `$user`'s favorites narrowed by `$filter`; a macro so that it is
/// built for whichever backend the surrounding `with_conn!` arm uses.
macro_rules! filtered {
    ($user:expr, $filter:expr) => {{
        let mut q = uf::table
            .filter(uf::user_id.eq($user.as_str()))
            .into_boxed();
        if let Some(t) = $filter.item_type {
            q = q.filter(uf::item_type.eq(t.as_str()));
        }
        if let Some(term) = &$filter.search {
            q = q.filter(instr(uf::search_title, term.key()).gt(0));
        }
        q
    }};
}

#[async_trait]
impl FavoriteStore for Store {
    async fn insert(&self, favorite: &Favorite) -> Result<(), StoreError> {
        detached!(self as store, (favorite) => store.insert_favorite(favorite))
    }

    async fn delete(&self, user: &UserId, id: &FavoriteId) -> Result<bool, StoreError> {
        detached!(self as store, (user, id) => store.delete_favorite(user, id))
    }

    async fn delete_by_item(&self, user: &UserId, item: &ItemId) -> Result<bool, StoreError> {
        detached!(self as store, (user, item) => store.delete_favorite_by_item(user, item))
    }

    async fn list(
        &self,
        user: &UserId,
        filter: &FavoriteFilter,
        page: &PageRequest,
    ) -> Result<FavoritePage, StoreError> {
        detached!(self as store, (user, filter, page) => store.list_favorites(user, filter, page))
    }

    async fn contains(&self, user: &UserId, items: &[ItemId]) -> Result<Vec<ItemId>, StoreError> {
        detached!(self as store, (user, items) => store.favorites_among(user, items))
    }
}

impl Store {
    async fn insert_favorite(&self, f: &Favorite) -> Result<(), StoreError> {
        let row = NewFavoriteRow {
            id: f.id.to_string(),
            user_id: f.user_id.as_str(),
            item_id: f.item_id.as_str(),
            item_type: f.item_type.as_str(),
            item_data: f.item_data.to_json_string(),
            search_title: f.item_data.search_key(),
            created_at: to_primitive_utc(f.created_at),
            updated_at: to_primitive_utc(f.updated_at),
        };
        with_conn!(self, conn => {
            diesel::insert_into(uf::table)
                .values(&row)
                .execute(conn)
                .await
                .map_err(query_error)?;
        });
        Ok(())
    }

    async fn delete_favorite(&self, user: &UserId, id: &FavoriteId) -> Result<bool, StoreError> {
        let id = id.to_string();
        let n = with_conn!(self, conn => {
            diesel::delete(
                uf::table
                    .filter(uf::id.eq(&id))
                    .filter(uf::user_id.eq(user.as_str())),
            )
            .execute(conn)
            .await
            .map_err(query_error)?
        });
        Ok(n > 0)
    }

    async fn delete_favorite_by_item(
        &self,
        user: &UserId,
        item: &ItemId,
    ) -> Result<bool, StoreError> {
        let n = with_conn!(self, conn => {
            diesel::delete(
                uf::table
                    .filter(uf::user_id.eq(user.as_str()))
                    .filter(uf::item_id.eq(item.as_str())),
            )
            .execute(conn)
            .await
            .map_err(query_error)?
        });
        Ok(n > 0)
    }

    async fn list_favorites(
        &self,
        user: &UserId,
        filter: &FavoriteFilter,
        page: &PageRequest,
    ) -> Result<FavoritePage, StoreError> {
        let limit = i64::from(page.limit.get());
        let (total, rows): (i64, Vec<FavoriteRow>) = with_conn!(self, conn => {
            let total: i64 = filtered!(user, filter)
                .count()
                .get_result(conn)
                .await
                .map_err(query_error)?;
            let mut q = filtered!(user, filter)
                .select(FavoriteRow::as_select())
                .order((uf::created_at.desc(), uf::id.desc()))
                .limit(limit + 1);
            match &page.start {
                PageStart::Offset(offset) => {
                    q = q.offset(i64::try_from(*offset).unwrap_or(i64::MAX));
                }
                PageStart::After(cursor) => {
                    let at = to_primitive_utc(cursor.created_at());
                    let id = cursor.id.to_string();
                    q = q.filter(
                        uf::created_at
                            .lt(at)
                            .or(uf::created_at.eq(at).and(uf::id.lt(id))),
                    );
                }
            }
            let rows: Vec<FavoriteRow> = q.load(conn).await.map_err(query_error)?;
            (total, rows)
        });
        let has_more = rows.len() > page.limit.get() as usize;
        let items = rows
            .into_iter()
            .take(page.limit.get() as usize)
            .map(FavoriteRow::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FavoritePage {
            items,
            total: u64::try_from(total).unwrap_or_default(),
            has_more,
        })
    }

    async fn favorites_among(
        &self,
        user: &UserId,
        items: &[ItemId],
    ) -> Result<Vec<ItemId>, StoreError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let wanted: Vec<&str> = items.iter().map(ItemId::as_str).collect();
        let found: Vec<String> = with_conn!(self, conn => {
            uf::table
                .filter(uf::user_id.eq(user.as_str()))
                .filter(uf::item_id.eq_any(&wanted))
                .select(uf::item_id)
                .load(conn)
                .await
                .map_err(query_error)?
        });
        found
            .iter()
            .map(|id| ItemId::parse(id).map_err(|e| corrupt("user_favorites", e)))
            .collect()
    }
}
