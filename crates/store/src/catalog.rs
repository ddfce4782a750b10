//! The catalogue as operators manage it: pages of tracks with their assets, a track put
//! (created or replaced, live again) and a track retired, each change with its audit
//! entry in one transaction.

use std::collections::HashMap;

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};
use diesel_async::{AsyncConnection, AsyncMysqlConnection, RunQueryDsl};
use soundshelf_domain::catalog::{Asset, CatalogTrack, ObjectKey};
use soundshelf_domain::time::{from_primitive_utc, to_primitive_utc};
use soundshelf_domain::{CatalogId, PageRequest, Quality};
use soundshelf_ports::{BatchRecorder, CatalogPage, PutCounts, StoreError, TrackRecorder};
use time::{OffsetDateTime, PrimitiveDateTime};

use crate::audit::{AuditRow, insert_audit};
use crate::database::{SqliteConn, Store, page_start, split_page, with_conn};
use crate::error::{TxError, corrupt, query_error, size};
use crate::schema::{audit_log, download_tokens, music_assets, music_files};

/// id, title, cover, duration, category, premium flag, created, retired.
type TrackRow = (
    String,
    String,
    String,
    i32,
    Option<String>,
    bool,
    PrimitiveDateTime,
    Option<PrimitiveDateTime>,
);

/// music id, quality, key, size.
type AssetRow = (String, String, String, i64);

macro_rules! track_columns {
    () => {
        (
            music_files::id,
            music_files::title,
            music_files::cover,
            music_files::duration,
            music_files::category,
            music_files::premium_required,
            music_files::created_at,
            music_files::retired_at,
        )
    };
}

/// Loads the asset rows of the tracks `ids` on `$conn`.
macro_rules! load_assets {
    ($conn:expr, $ids:expr) => {
        music_assets::table
            .filter(music_assets::music_id.eq_any($ids))
            .select((
                music_assets::music_id,
                music_assets::quality,
                music_assets::object_key,
                music_assets::file_size,
            ))
            .load::<AssetRow>($conn)
            .await
    };
}

fn tracks(
    rows: Vec<TrackRow>,
    assets: Vec<AssetRow>,
) -> Result<Vec<(CatalogTrack, OffsetDateTime)>, StoreError> {
    let bad = |table: &'static str| move |e| corrupt(table, e);
    let mut by_track: HashMap<String, Vec<Asset>> = HashMap::new();
    for (music_id, q, key, n) in assets {
        by_track.entry(music_id).or_default().push(Asset {
            quality: Quality::parse(Some(&q)).map_err(bad("music_assets"))?,
            object_key: ObjectKey::parse(&key).map_err(bad("music_assets"))?,
            file_size: size(n)?,
        });
    }
    rows.into_iter()
        .map(
            |(id, title, cover, duration, category, premium_required, created_at, retired_at)| {
                let mut assets = by_track.remove(&id).unwrap_or_default();
                assets.sort_by_key(|a| Quality::ALL.iter().position(|q| *q == a.quality));
                let track = CatalogTrack {
                    id: CatalogId::parse_field("music_id", &id).map_err(bad("music_files"))?,
                    title,
                    cover,
                    duration: u32::try_from(duration).map_err(|e| corrupt("music_files", e))?,
                    category,
                    premium_required,
                    assets,
                    retired: retired_at.is_some(),
                };
                Ok((track, from_primitive_utc(created_at)))
            },
        )
        .collect()
}

/// A new track's row.
#[derive(Debug, Insertable)]
#[diesel(table_name = music_files)]
struct NewTrackRow {
    id: String,
    title: String,
    cover: String,
    duration: i32,
    category: Option<String>,
    premium_required: bool,
}

impl NewTrackRow {
    fn from_domain(t: &CatalogTrack) -> Self {
        Self {
            id: t.id.as_str().to_owned(),
            title: t.title.clone(),
            cover: t.cover.clone(),
            duration: i32::try_from(t.duration).unwrap_or(i32::MAX),
            category: t.category.clone(),
            premium_required: t.premium_required,
        }
    }
}

/// An asset's row.
#[derive(Debug, Insertable)]
#[diesel(table_name = music_assets)]
struct NewAssetRow {
    music_id: String,
    quality: &'static str,
    object_key: String,
    file_size: i64,
}

impl NewAssetRow {
    fn from_domain(id: &CatalogId, a: &Asset) -> Self {
        Self {
            music_id: id.as_str().to_owned(),
            quality: a.quality.as_str(),
            object_key: a.object_key.as_str().to_owned(),
            file_size: i64::try_from(a.file_size).unwrap_or(i64::MAX),
        }
    }
}

/// Multi-row inserts, which each backend does its own way: one statement on MySQL; on
/// SQLite (no network round trip, no `DEFAULT` in a multi-row insert) one blocking call
/// that inserts row by row.
trait CatalogBatch {
    async fn insert_tracks(&mut self, rows: Vec<NewTrackRow>) -> QueryResult<()>;
    async fn insert_assets(&mut self, rows: Vec<NewAssetRow>) -> QueryResult<()>;
    async fn insert_audit(&mut self, rows: Vec<AuditRow>) -> QueryResult<()>;
}

impl CatalogBatch for AsyncMysqlConnection {
    async fn insert_tracks(&mut self, rows: Vec<NewTrackRow>) -> QueryResult<()> {
        diesel::insert_into(music_files::table)
            .values(&rows)
            .execute(self)
            .await?;
        Ok(())
    }

    async fn insert_assets(&mut self, rows: Vec<NewAssetRow>) -> QueryResult<()> {
        diesel::insert_into(music_assets::table)
            .values(&rows)
            .execute(self)
            .await?;
        Ok(())
    }

    async fn insert_audit(&mut self, rows: Vec<AuditRow>) -> QueryResult<()> {
        diesel::insert_into(audit_log::table)
            .values(&rows)
            .execute(self)
            .await?;
        Ok(())
    }
}

impl CatalogBatch for SqliteConn {
    async fn insert_tracks(&mut self, rows: Vec<NewTrackRow>) -> QueryResult<()> {
        self.spawn_blocking(move |c| {
            diesel::RunQueryDsl::execute(diesel::insert_into(music_files::table).values(&rows), c)
        })
        .await?;
        Ok(())
    }

    async fn insert_assets(&mut self, rows: Vec<NewAssetRow>) -> QueryResult<()> {
        self.spawn_blocking(move |c| {
            diesel::RunQueryDsl::execute(diesel::insert_into(music_assets::table).values(&rows), c)
        })
        .await?;
        Ok(())
    }

    async fn insert_audit(&mut self, rows: Vec<AuditRow>) -> QueryResult<()> {
        self.spawn_blocking(move |c| {
            diesel::RunQueryDsl::execute(diesel::insert_into(audit_log::table).values(&rows), c)
        })
        .await?;
        Ok(())
    }
}

/// Locks track `$id`'s row (a no-op update; 0 when there is none) and reads it with its
/// assets: an async block giving `Option<CatalogTrack>`.
macro_rules! lock_and_read {
    ($conn:ident, $id:expr) => {
        async {
            let id: &str = $id;
            diesel::update(music_files::table.find(id))
                .set(music_files::premium_required.eq(music_files::premium_required))
                .execute($conn)
                .await?;
            let rows: Vec<TrackRow> = music_files::table
                .filter(music_files::id.eq(id))
                .select(track_columns!())
                .load($conn)
                .await?;
            if rows.is_empty() {
                return Ok::<_, TxError>(None);
            }
            let assets = load_assets!($conn, [id])?;
            Ok(tracks(rows, assets)
                .map_err(TxError::Store)?
                .pop()
                .map(|(t, _)| t))
        }
    };
}

impl Store {
    /// Those of `ids` the catalogue holds, with their assets (two statements).
    pub(crate) async fn tracks_by_id(
        &self,
        ids: &[CatalogId],
    ) -> Result<Vec<CatalogTrack>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<&str> = ids.iter().map(CatalogId::as_str).collect();
        let (rows, assets) = with_conn!(self, conn => {
            let rows: Vec<TrackRow> = music_files::table
                .filter(music_files::id.eq_any(&keys))
                .select(track_columns!())
                .load(conn)
                .await
                .map_err(query_error)?;
            let assets = load_assets!(conn, &keys).map_err(query_error)?;
            (rows, assets)
        });
        Ok(tracks(rows, assets)?.into_iter().map(|(t, _)| t).collect())
    }

    pub(crate) async fn catalog_page_now(
        &self,
        search: Option<String>,
        page: &PageRequest,
    ) -> Result<CatalogPage, StoreError> {
        let limit = i64::from(page.limit.get());
        let (rows, assets) = with_conn!(self, conn => {
            let mut q = music_files::table
                .select(track_columns!())
                .order((music_files::created_at.desc(), music_files::id.desc()))
                .limit(limit + 1)
                .into_boxed();
            if let Some(term) = &search {
                q = q.filter(
                    sql::<Bool>("instr(LOWER(title), LOWER(")
                        .bind::<Text, _>(term.clone())
                        .sql(")) > 0"),
                );
            }
            page_start!(q, page, music_files::created_at, music_files::id);
            let rows: Vec<TrackRow> = q.load(conn).await.map_err(query_error)?;
            let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
            let assets = load_assets!(conn, &ids).map_err(query_error)?;
            (rows, assets)
        });
        let (rows, has_more) = split_page(rows, page.limit.get());
        Ok(CatalogPage {
            items: tracks(rows, assets)?,
            has_more,
        })
    }

    pub(crate) async fn put_track_now(
        &self,
        track: &CatalogTrack,
        record: TrackRecorder,
    ) -> Result<bool, StoreError> {
        let changed = with_conn!(self, conn => {
            conn.transaction(async |conn| {
                let before = lock_and_read!(conn, track.id.as_str()).await?;
                if before.as_ref() == Some(track) {
                    return Ok::<_, TxError>(false);
                }
                let id = track.id.as_str();
                let duration = i32::try_from(track.duration).unwrap_or(i32::MAX);
                if before.is_some() {
                    diesel::update(music_files::table.find(id))
                        .set((
                            music_files::title.eq(&track.title),
                            music_files::cover.eq(&track.cover),
                            music_files::duration.eq(duration),
                            music_files::category.eq(&track.category),
                            music_files::premium_required.eq(track.premium_required),
                            music_files::retired_at.eq(None::<PrimitiveDateTime>),
                        ))
                        .execute(conn)
                        .await?;
                } else {
                    diesel::insert_into(music_files::table)
                        .values((
                            music_files::id.eq(id),
                            music_files::title.eq(&track.title),
                            music_files::cover.eq(&track.cover),
                            music_files::duration.eq(duration),
                            music_files::category.eq(&track.category),
                            music_files::premium_required.eq(track.premium_required),
                        ))
                        .execute(conn)
                        .await?;
                }
                diesel::delete(music_assets::table.filter(music_assets::music_id.eq(id)))
                    .execute(conn)
                    .await?;
                for a in &track.assets {
                    diesel::insert_into(music_assets::table)
                        .values((
                            music_assets::music_id.eq(id),
                            music_assets::quality.eq(a.quality.as_str()),
                            music_assets::object_key.eq(a.object_key.as_str()),
                            music_assets::file_size.eq(i64::try_from(a.file_size).unwrap_or(i64::MAX)),
                        ))
                        .execute(conn)
                        .await?;
                }
                insert_audit!(conn, &record(before.as_ref()))?;
                Ok(true)
            })
            .await?
        });
        Ok(changed)
    }

    pub(crate) async fn put_tracks_now(
        &self,
        batch: &[CatalogTrack],
        record: BatchRecorder,
    ) -> Result<PutCounts, StoreError> {
        let counts = with_conn!(self, conn => {
            conn.transaction(async |conn| {
                let ids: Vec<&str> = batch.iter().map(|t| t.id.as_str()).collect();
                let rows: Vec<TrackRow> = music_files::table
                    .filter(music_files::id.eq_any(&ids))
                    .select(track_columns!())
                    .load(conn)
                    .await?;
                let assets = load_assets!(conn, &ids)?;
                let stored: HashMap<CatalogId, CatalogTrack> = tracks(rows, assets)
                    .map_err(TxError::Store)?
                    .into_iter()
                    .map(|(t, _)| (t.id.clone(), t))
                    .collect();
                let mut counts = PutCounts::default();
                let mut changed: Vec<&CatalogTrack> = Vec::new();
                let mut entries = Vec::new();
                for track in batch {
                    let before = stored.get(&track.id);
                    match before {
                        Some(b) if b == track => counts.unchanged += 1,
                        Some(_) => counts.updated += 1,
                        None => counts.created += 1,
                    }
                    if before != Some(track) {
                        changed.push(track);
                        entries.push(AuditRow::from_domain(&record(before, track)));
                    }
                }
                if changed.is_empty() {
                    return Ok::<_, TxError>(counts);
                }
                let new_rows: Vec<NewTrackRow> = changed
                    .iter()
                    .filter(|t| !stored.contains_key(&t.id))
                    .map(|t| NewTrackRow::from_domain(t))
                    .collect();
                if !new_rows.is_empty() {
                    conn.insert_tracks(new_rows).await?;
                }
                for t in changed.iter().filter(|t| stored.contains_key(&t.id)) {
                    diesel::update(music_files::table.find(t.id.as_str()))
                        .set((
                            music_files::title.eq(&t.title),
                            music_files::cover.eq(&t.cover),
                            music_files::duration.eq(i32::try_from(t.duration).unwrap_or(i32::MAX)),
                            music_files::category.eq(&t.category),
                            music_files::premium_required.eq(t.premium_required),
                            music_files::retired_at.eq(None::<PrimitiveDateTime>),
                        ))
                        .execute(conn)
                        .await?;
                }
                let changed_ids: Vec<&str> = changed.iter().map(|t| t.id.as_str()).collect();
                diesel::delete(music_assets::table.filter(music_assets::music_id.eq_any(&changed_ids)))
                    .execute(conn)
                    .await?;
                let asset_rows: Vec<NewAssetRow> = changed
                    .iter()
                    .flat_map(|t| t.assets.iter().map(|a| NewAssetRow::from_domain(&t.id, a)))
                    .collect();
                if !asset_rows.is_empty() {
                    conn.insert_assets(asset_rows).await?;
                }
                conn.insert_audit(entries).await?;
                Ok(counts)
            })
            .await?
        });
        Ok(counts)
    }

    pub(crate) async fn retire_track_now(
        &self,
        id: &CatalogId,
        at: OffsetDateTime,
        record: TrackRecorder,
    ) -> Result<Option<CatalogTrack>, StoreError> {
        let retired = with_conn!(self, conn => {
            conn.transaction(async |conn| {
                let Some(before) = lock_and_read!(conn, id.as_str()).await? else {
                    return Ok::<_, TxError>(None);
                };
                if before.retired {
                    return Ok(Some(before));
                }
                let at = to_primitive_utc(at);
                diesel::update(music_files::table.find(id.as_str()))
                    .set(music_files::retired_at.eq(Some(at)))
                    .execute(conn)
                    .await?;
                // Its live links expire with it (putting the track again does not revive
                // them).
                diesel::update(
                    download_tokens::table
                        .filter(download_tokens::music_id.eq(id.as_str()))
                        .filter(download_tokens::expires_at.gt(at)),
                )
                .set(download_tokens::expires_at.eq(at))
                .execute(conn)
                .await?;
                insert_audit!(conn, &record(Some(&before)))?;
                Ok(Some(CatalogTrack {
                    retired: true,
                    ..before
                }))
            })
            .await?
        });
        Ok(retired)
    }
}
