//! The favorites adapter.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::RunQueryDsl;
use diesel_async::{AsyncConnection, AsyncMysqlConnection};
use soundshelf_domain::time::{from_primitive_utc, to_primitive_utc};
use soundshelf_domain::{
    Favorite, FavoriteFilter, FavoriteId, ItemData, ItemId, ItemType, PageRequest, UserId,
};
use soundshelf_ports::{
    FavoritePage, FavoriteStore, Removal, StoreError, SyncPlanner, SyncSnapshot, SyncWrites,
};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::database::{SqliteConn, Store, detached, lock_user, page_start, split_page, with_conn};
use crate::error::{TxError, corrupt, query_error};
use crate::schema::favorite_tombstones as ft;
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
struct NewFavoriteRow {
    id: String,
    user_id: String,
    item_id: String,
    item_type: &'static str,
    item_data: String,
    search_title: String,
    created_at: PrimitiveDateTime,
    updated_at: PrimitiveDateTime,
}

impl NewFavoriteRow {
    fn from_domain(f: &Favorite) -> Self {
        Self {
            id: f.id.to_string(),
            user_id: f.user_id.as_str().to_owned(),
            item_id: f.item_id.as_str().to_owned(),
            item_type: f.item_type.as_str(),
            item_data: f.item_data.to_json_string().to_owned(),
            search_title: f.item_data.search_key(),
            created_at: to_primitive_utc(f.created_at),
            updated_at: to_primitive_utc(f.updated_at),
        }
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = ft)]
struct TombstoneRow {
    user_id: String,
    item_id: String,
    removed_at: PrimitiveDateTime,
    recorded_at: PrimitiveDateTime,
}

/// Multi-row inserts, which each backend does its own way: one statement on MySQL; on
/// SQLite (which has no network round trip) one blocking call that inserts row by row.
trait BatchInsert {
    async fn insert_favorites(&mut self, rows: Vec<NewFavoriteRow>) -> QueryResult<()>;
    async fn insert_tombstones(&mut self, rows: Vec<TombstoneRow>) -> QueryResult<()>;
}

impl BatchInsert for AsyncMysqlConnection {
    async fn insert_favorites(&mut self, rows: Vec<NewFavoriteRow>) -> QueryResult<()> {
        diesel::insert_into(uf::table)
            .values(&rows)
            .execute(self)
            .await?;
        Ok(())
    }

    async fn insert_tombstones(&mut self, rows: Vec<TombstoneRow>) -> QueryResult<()> {
        diesel::insert_into(ft::table)
            .values(&rows)
            .execute(self)
            .await?;
        Ok(())
    }
}

impl BatchInsert for SqliteConn {
    async fn insert_favorites(&mut self, rows: Vec<NewFavoriteRow>) -> QueryResult<()> {
        self.spawn_blocking(move |c| {
            diesel::RunQueryDsl::execute(diesel::insert_into(uf::table).values(&rows), c)
        })
        .await?;
        Ok(())
    }

    async fn insert_tombstones(&mut self, rows: Vec<TombstoneRow>) -> QueryResult<()> {
        self.spawn_blocking(move |c| {
            diesel::RunQueryDsl::execute(diesel::insert_into(ft::table).values(&rows), c)
        })
        .await?;
        Ok(())
    }
}

/// Writes a sync's puts and removals in a bounded number of statements, whatever their
/// count: the touched items' rows and tombstones are deleted, then the new ones inserted.
macro_rules! write_sync {
    ($conn:expr, $user:expr, $writes:expr, $now:expr) => {{
        let writes: SyncWrites = $writes;
        let touched: Vec<String> = writes
            .puts
            .iter()
            .map(|f| f.item_id.as_str().to_owned())
            .chain(
                writes
                    .removals
                    .iter()
                    .map(|r| r.item_id.as_str().to_owned()),
            )
            .collect();
        diesel::delete(
            uf::table
                .filter(uf::user_id.eq($user.as_str()))
                .filter(uf::item_id.eq_any(&touched)),
        )
        .execute($conn)
        .await?;
        diesel::delete(
            ft::table
                .filter(ft::user_id.eq($user.as_str()))
                .filter(ft::item_id.eq_any(&touched)),
        )
        .execute($conn)
        .await?;
        if !writes.puts.is_empty() {
            let rows = writes
                .puts
                .iter()
                .map(NewFavoriteRow::from_domain)
                .collect();
            $conn.insert_favorites(rows).await?;
        }
        if !writes.removals.is_empty() {
            let recorded_at = to_primitive_utc($now);
            let rows = writes
                .removals
                .into_iter()
                .map(|r: Removal| TombstoneRow {
                    user_id: $user.as_str().to_owned(),
                    item_id: r.item_id.as_str().to_owned(),
                    removed_at: to_primitive_utc(r.removed_at),
                    recorded_at,
                })
                .collect();
            $conn.insert_tombstones(rows).await?;
        }
    }};
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

    async fn version(&self, user: &UserId) -> Result<u64, StoreError> {
        detached!(self as store, (user) => store.favorites_version(user))
    }

    async fn sync(
        &self,
        user: &UserId,
        items: &[ItemId],
        since: Option<OffsetDateTime>,
        planner: SyncPlanner,
    ) -> Result<OffsetDateTime, StoreError> {
        // As `detached!`, with the planner moved rather than cloned.
        let (store, user, items) = (self.clone(), user.clone(), items.to_vec());
        let runtime = self.runtime.clone();
        runtime
            .spawn(async move { store.sync_favorites(&user, &items, since, planner).await })
            .await
            .map_err(|e| StoreError::Internal(Box::new(e)))?
    }
}

/// The snapshot a sync planner sees.
fn snapshot(
    now: OffsetDateTime,
    favorites: Vec<Favorite>,
    tombstones: Vec<(String, PrimitiveDateTime, PrimitiveDateTime)>,
    touched: &[&str],
    since: Option<OffsetDateTime>,
) -> Result<SyncSnapshot, StoreError> {
    let since = since.map(to_primitive_utc);
    let mut snapshot = SyncSnapshot {
        now,
        favorites,
        tombstones: Default::default(),
        deleted_since: Vec::new(),
    };
    for (item, removed_at, recorded_at) in tombstones {
        let id = ItemId::parse(&item).map_err(|e| corrupt("favorite_tombstones", e))?;
        if since.is_some_and(|since| recorded_at > since) {
            snapshot.deleted_since.push(id.clone());
        }
        if touched.contains(&item.as_str()) {
            snapshot
                .tombstones
                .insert(id, from_primitive_utc(removed_at));
        }
    }
    Ok(snapshot)
}

impl Store {
    async fn insert_favorite(&self, f: &Favorite) -> Result<(), StoreError> {
        let row = NewFavoriteRow::from_domain(f);
        with_conn!(self, conn => {
            conn.transaction(async |conn| {
                lock_user!(conn, f.user_id, 1i64)?;
                diesel::delete(
                    ft::table
                        .filter(ft::user_id.eq(f.user_id.as_str()))
                        .filter(ft::item_id.eq(f.item_id.as_str())),
                )
                .execute(conn)
                .await?;
                diesel::insert_into(uf::table).values(&row).execute(conn).await?;
                Ok::<_, diesel::result::Error>(())
            })
            .await
            .map_err(query_error)?;
        });
        Ok(())
    }

    async fn delete_favorite(&self, user: &UserId, id: &FavoriteId) -> Result<bool, StoreError> {
        let id = id.to_string();
        self.remove_where(user, Some(&id), None).await
    }

    async fn delete_favorite_by_item(
        &self,
        user: &UserId,
        item: &ItemId,
    ) -> Result<bool, StoreError> {
        self.remove_where(user, None, Some(item)).await
    }

    /// Removes `user`'s favorite with `id` or of `item`, leaving a tombstone of its item,
    /// under the user's lock; `false` when there is no such favorite.
    async fn remove_where(
        &self,
        user: &UserId,
        id: Option<&str>,
        item: Option<&ItemId>,
    ) -> Result<bool, StoreError> {
        let clock = self.clock.clone();
        let removed = with_conn!(self, conn => {
            conn.transaction(async |conn| {
                lock_user!(conn, user, 1i64)?;
                let mut q = uf::table.filter(uf::user_id.eq(user.as_str())).into_boxed();
                if let Some(id) = id {
                    q = q.filter(uf::id.eq(id));
                }
                if let Some(item) = item {
                    q = q.filter(uf::item_id.eq(item.as_str()));
                }
                let Some(item_id) = q
                    .select(uf::item_id)
                    .first::<String>(conn)
                    .await
                    .optional()?
                else {
                    return Ok::<_, diesel::result::Error>(false);
                };
                let now = to_primitive_utc(clock.now());
                diesel::delete(
                    uf::table
                        .filter(uf::user_id.eq(user.as_str()))
                        .filter(uf::item_id.eq(&item_id)),
                )
                .execute(conn)
                .await?;
                diesel::delete(
                    ft::table
                        .filter(ft::user_id.eq(user.as_str()))
                        .filter(ft::item_id.eq(&item_id)),
                )
                .execute(conn)
                .await?;
                diesel::insert_into(ft::table)
                    .values(TombstoneRow {
                        user_id: user.as_str().to_owned(),
                        item_id,
                        removed_at: now,
                        recorded_at: now,
                    })
                    .execute(conn)
                    .await?;
                Ok(true)
            })
            .await
            .map_err(query_error)?
        });
        Ok(removed)
    }

    async fn sync_favorites(
        &self,
        user: &UserId,
        items: &[ItemId],
        since: Option<OffsetDateTime>,
        planner: SyncPlanner,
    ) -> Result<OffsetDateTime, StoreError> {
        let clock = self.clock.clone();
        let touched: Vec<&str> = items.iter().map(ItemId::as_str).collect();
        let now = with_conn!(self, conn => {
            conn.transaction(async |conn| {
                // The lock first, then the time: every write of this user that this sync
                // does not see commits after it, with a later time.
                lock_user!(conn, user, 0i64)?;
                let now = soundshelf_domain::time::to_storage_precision(clock.now());
                let favorites = uf::table
                    .filter(uf::user_id.eq(user.as_str()))
                    .select(FavoriteRow::as_select())
                    .load::<FavoriteRow>(conn)
                    .await?
                    .into_iter()
                    .map(FavoriteRow::into_domain)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(TxError::Store)?;
                let tombstones: Vec<(String, PrimitiveDateTime, PrimitiveDateTime)> =
                    if touched.is_empty() && since.is_none() {
                        Vec::new()
                    } else {
                        let mut q = ft::table.filter(ft::user_id.eq(user.as_str())).into_boxed();
                        q = match since {
                            Some(since) => q.filter(
                                ft::item_id
                                    .eq_any(&touched)
                                    .or(ft::recorded_at.gt(to_primitive_utc(since))),
                            ),
                            None => q.filter(ft::item_id.eq_any(&touched)),
                        };
                        q.select((ft::item_id, ft::removed_at, ft::recorded_at))
                            .load(conn)
                            .await?
                    };
                let snapshot = snapshot(now, favorites, tombstones, &touched, since)
                    .map_err(TxError::Store)?;
                let writes = planner(snapshot);
                if !writes.is_empty() {
                    write_sync!(conn, user, writes, now);
                    lock_user!(conn, user, 1i64)?;
                }
                Ok::<_, TxError>(now)
            })
            .await
            .map_err(StoreError::from)?
        });
        Ok(now)
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
            page_start!(q, page, uf::created_at, uf::id);
            let rows: Vec<FavoriteRow> = q.load(conn).await.map_err(query_error)?;
            (total, rows)
        });
        let (rows, has_more) = split_page(rows, page.limit.get());
        let items = rows
            .into_iter()
            .map(FavoriteRow::into_domain)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(FavoritePage {
            items,
            total: crate::error::size(total)?,
            has_more,
        })
    }

    async fn favorites_version(&self, user: &UserId) -> Result<u64, StoreError> {
        let v: Option<i64> = with_conn!(self, conn => {
            crate::schema::users::table
                .find(user.as_str())
                .select(crate::schema::users::favorites_version)
                .first(conn)
                .await
                .optional()
                .map_err(query_error)?
        });
        // No row: an unknown user, whose favorites are empty at version 0.
        v.map_or(Ok(0), crate::error::size)
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
