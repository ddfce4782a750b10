//! The catalogue and downloads adapters: tracks, grants under quotas, tokens, logs and
//! download records.

use async_trait::async_trait;
use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, RunQueryDsl};
use soundshelf_domain::catalog::CatalogTrack;
use soundshelf_domain::downloads::{DownloadStatus, Grant, GrantDenied, Track, UsageSnapshot};
use soundshelf_domain::time::{from_primitive_utc, to_primitive_utc};
use soundshelf_domain::{CatalogId, DownloadId, PageRequest, Quality, TokenId, UserId};
use soundshelf_ports::{
    BatchRecorder, CatalogPage, CatalogStore, DownloadCounts, DownloadLogEntry, DownloadRecord,
    DownloadStore, GrantDecider, GrantRequest, PutCounts, RecordPage, RecordReport, StoreError,
    TokenRecord, TrackRecorder,
};

use time::{Date, OffsetDateTime, PrimitiveDateTime};

use crate::database::{Backend, Store, detached, lock_user, page_start, split_page, with_conn};
use crate::error::{corrupt, query_error, size};
use crate::schema::{
    daily_grant_counters as dgc, download_grant_days as dgd, download_logs as dlog,
    download_tokens as tok, music_files, user_downloads as ud, users,
};
use crate::users::UserRow;

fn quality(raw: &str, table: &str) -> Result<Quality, StoreError> {
    Quality::parse(Some(raw)).map_err(|e| corrupt(table, e))
}

fn db_size(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store {
    /// `SUM(file_size)` of rows as a BIGINT on either backend (MySQL sums to DECIMAL).
    fn sum_file_size(&self) -> &'static str {
        match self.backend() {
            Backend::Mysql => "CAST(COALESCE(SUM(file_size), 0) AS SIGNED)",
            Backend::Sqlite => "COALESCE(SUM(file_size), 0)",
        }
    }
}

#[async_trait]
impl CatalogStore for Store {
    async fn track(&self, id: &CatalogId) -> Result<Option<Track>, StoreError> {
        let found = detached!(self as store, (id) => store.tracks_by_id(std::slice::from_ref(id)));
        Ok(<[CatalogTrack]>::first(&found?).map(Track::from))
    }

    async fn entries(&self, ids: &[CatalogId]) -> Result<Vec<CatalogTrack>, StoreError> {
        detached!(self as store, (ids) => store.tracks_by_id(ids))
    }

    async fn catalog_page(
        &self,
        search: Option<String>,
        page: &PageRequest,
    ) -> Result<CatalogPage, StoreError> {
        detached!(self as store, (page) => store.catalog_page_now(search, page))
    }

    async fn put_track(
        &self,
        track: &CatalogTrack,
        record: TrackRecorder,
    ) -> Result<bool, StoreError> {
        detached!(self as store, (track) => store.put_track_now(track, record))
    }

    async fn put_tracks(
        &self,
        tracks: &[CatalogTrack],
        record: BatchRecorder,
    ) -> Result<PutCounts, StoreError> {
        detached!(self as store, (tracks) => store.put_tracks_now(tracks, record))
    }

    async fn retire_track(
        &self,
        id: &CatalogId,
        at: OffsetDateTime,
        record: TrackRecorder,
    ) -> Result<Option<CatalogTrack>, StoreError> {
        detached!(self as store, (id) => store.retire_track_now(id, at, record))
    }
}

#[derive(Debug, Insertable)]
#[diesel(table_name = tok)]
struct NewTokenRow<'a> {
    id: String,
    user_id: &'a str,
    music_id: &'a str,
    token: &'a str,
    download_url: &'a str,
    quality: &'static str,
    expires_at: PrimitiveDateTime,
    max_downloads: i32,
    download_count: i32,
    created_at: PrimitiveDateTime,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = ud)]
struct NewRecordRow<'a> {
    id: String,
    user_id: &'a str,
    music_id: &'a str,
    download_token: Option<&'a str>,
    file_size: i64,
    quality: &'static str,
    status: &'static str,
    progress: i32,
    download_time: PrimitiveDateTime,
    completed_time: Option<PrimitiveDateTime>,
    expires_at: Option<PrimitiveDateTime>,
    error_message: Option<&'a str>,
}

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = tok)]
struct TokenRow {
    id: String,
    user_id: String,
    music_id: String,
    quality: String,
    expires_at: PrimitiveDateTime,
    max_downloads: i32,
    download_count: i32,
}

impl TokenRow {
    fn into_domain(self) -> Result<TokenRecord, StoreError> {
        let bad = |e| corrupt("download_tokens", e);
        Ok(TokenRecord {
            id: TokenId::parse(&self.id).map_err(bad)?,
            user_id: UserId::parse(&self.user_id).map_err(bad)?,
            music_id: CatalogId::parse_field("music_id", &self.music_id).map_err(bad)?,
            quality: quality(&self.quality, "download_tokens")?,
            expires_at: from_primitive_utc(self.expires_at),
            max_uses: u32::try_from(self.max_downloads)
                .map_err(|e| corrupt("download_tokens", e))?,
            uses: u32::try_from(self.download_count).map_err(|e| corrupt("download_tokens", e))?,
        })
    }
}

type RecordTuple = (
    (
        String,
        String,
        String,
        i64,
        String,
        String,
        i32,
        PrimitiveDateTime,
        Option<PrimitiveDateTime>,
        Option<PrimitiveDateTime>,
        Option<String>,
    ),
    (String, String),
);

/// The columns of a record and its track, in the order of [`RecordTuple`].
macro_rules! record_columns {
    () => {
        (
            (
                ud::id,
                ud::user_id,
                ud::music_id,
                ud::file_size,
                ud::quality,
                ud::status,
                ud::progress,
                ud::download_time,
                ud::completed_time,
                ud::expires_at,
                ud::error_message,
            ),
            (music_files::title, music_files::cover),
        )
    };
}

fn record(row: RecordTuple) -> Result<DownloadRecord, StoreError> {
    let bad = |e| corrupt("user_downloads", e);
    let (
        (
            id,
            user_id,
            music_id,
            file_size,
            q,
            status,
            progress,
            download_time,
            completed_time,
            expires_at,
            error_message,
        ),
        (title, cover),
    ) = row;
    Ok(DownloadRecord {
        id: DownloadId::parse(&id).map_err(bad)?,
        user_id: UserId::parse(&user_id).map_err(bad)?,
        music_id: CatalogId::parse_field("music_id", &music_id).map_err(bad)?,
        quality: quality(&q, "user_downloads")?,
        status: DownloadStatus::parse(&status).map_err(bad)?,
        progress: u8::try_from(progress)
            .ok()
            .filter(|p| *p <= 100)
            .ok_or_else(|| corrupt("user_downloads", format!("progress {progress}")))?,
        file_size: size(file_size)?,
        download_time: from_primitive_utc(download_time),
        completed_time: completed_time.map(from_primitive_utc),
        expires_at: expires_at.map(from_primitive_utc),
        error_message,
        title,
        cover,
    })
}

/// What the quota rules read of a user on a day, as stored.
struct UsageRows {
    /// Today's counter, if the user has one.
    counted: Option<i32>,
    /// Today's granted (music, quality) pairs among the files asked about.
    granted: Vec<(String, String)>,
    /// Bytes of all completed downloads.
    storage: i64,
    /// The completed downloads among the files asked about.
    completed: Vec<(String, String, i64)>,
}

impl UsageRows {
    fn into_snapshot(self) -> Result<UsageSnapshot, StoreError> {
        let id = |raw: &str, table| {
            CatalogId::parse_field("music_id", raw).map_err(|e| corrupt(table, e))
        };
        Ok(UsageSnapshot {
            granted_today: u32::try_from(self.counted.unwrap_or(0))
                .map_err(|e| corrupt("daily_grant_counters", e))?,
            granted_files: self
                .granted
                .iter()
                .map(|(m, q)| {
                    Ok((
                        id(m, "download_grant_days")?,
                        quality(q, "download_grant_days")?,
                    ))
                })
                .collect::<Result<_, StoreError>>()?,
            storage_used: size(self.storage)?,
            completed_files: self
                .completed
                .iter()
                .map(|(m, q, n)| {
                    Ok((
                        id(m, "user_downloads")?,
                        quality(q, "user_downloads")?,
                        size(*n)?,
                    ))
                })
                .collect::<Result<_, StoreError>>()?,
        })
    }
}

/// The reads of the quota rules, the same for a grant (under the user's lock) and for
/// the user's own view: an async block giving `UsageRows`. `$sum` is
/// `Store::sum_file_size`, `$files` the music ids asked about (`&[&str]`).
macro_rules! read_usage {
    ($conn:ident, $sum:expr, $user:expr, $day:expr, $files:expr) => {
        async {
            let (user, day, files): (&str, Date, &[&str]) = ($user, $day, $files);
            let counted: Option<i32> = dgc::table
                .find((user, day))
                .select(dgc::grants)
                .first($conn)
                .await
                .optional()?;
            let storage: i64 = ud::table
                .filter(ud::user_id.eq(user))
                .filter(ud::status.eq(DownloadStatus::Completed.as_str()))
                .select(sql::<BigInt>($sum))
                .first($conn)
                .await?;
            let (granted, completed) = if files.is_empty() {
                (Vec::new(), Vec::new())
            } else {
                let granted: Vec<(String, String)> = dgd::table
                    .filter(dgd::user_id.eq(user))
                    .filter(dgd::day.eq(day))
                    .filter(dgd::music_id.eq_any(files))
                    .select((dgd::music_id, dgd::quality))
                    .load($conn)
                    .await?;
                let completed: Vec<(String, String, i64)> = ud::table
                    .filter(ud::user_id.eq(user))
                    .filter(ud::status.eq(DownloadStatus::Completed.as_str()))
                    .filter(ud::music_id.eq_any(files))
                    .select((ud::music_id, ud::quality, ud::file_size))
                    .load($conn)
                    .await?;
                (granted, completed)
            };
            Ok::<_, diesel::result::Error>(UsageRows {
                counted,
                granted,
                storage,
                completed,
            })
        }
    };
}

/// Why the grant transaction rolls back: the database failed, the decision refused, or
/// a stored value is out of its range.
#[derive(Debug)]
enum GrantError {
    Db(diesel::result::Error),
    Refused(GrantDenied),
    Corrupt(StoreError),
}

impl From<diesel::result::Error> for GrantError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Db(e)
    }
}

#[async_trait]
impl DownloadStore for Store {
    async fn grant(
        &self,
        request: &GrantRequest,
        decide: GrantDecider,
    ) -> Result<Result<Grant, GrantDenied>, StoreError> {
        detached!(self as store, (request) => store.grant_now(request, decide))
    }

    async fn usage(
        &self,
        user: &UserId,
        day: Date,
        files: &[CatalogId],
    ) -> Result<UsageSnapshot, StoreError> {
        detached!(self as store, (user, files) => store.usage_now(user, day, files))
    }

    async fn find_token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        detached!(self as store, (hash) => store.token_by_hash(hash))
    }

    async fn use_token(&self, id: &TokenId, now: OffsetDateTime) -> Result<bool, StoreError> {
        detached!(self as store, (id) => store.count_use(id, now))
    }

    async fn log_download(&self, entry: &DownloadLogEntry) -> Result<(), StoreError> {
        detached!(self as store, (entry) => store.append_log(entry))
    }

    async fn report(&self, report: &RecordReport) -> Result<DownloadRecord, StoreError> {
        detached!(self as store, (report) => store.upsert_report(report))
    }

    async fn records(
        &self,
        user: &UserId,
        status: Option<DownloadStatus>,
        page: &PageRequest,
    ) -> Result<RecordPage, StoreError> {
        detached!(self as store, (user, page) => store.record_page(user, status, page))
    }

    async fn counts(&self, user: &UserId) -> Result<DownloadCounts, StoreError> {
        detached!(self as store, (user) => store.record_counts(user))
    }

    async fn delete_record(&self, user: &UserId, id: &DownloadId) -> Result<bool, StoreError> {
        detached!(self as store, (user, id) => store.delete_record_now(user, id))
    }
}

impl Store {
    async fn usage_now(
        &self,
        user: &UserId,
        day: Date,
        files: &[CatalogId],
    ) -> Result<UsageSnapshot, StoreError> {
        let sum = self.sum_file_size();
        let files: Vec<&str> = files.iter().map(CatalogId::as_str).collect();
        let rows = with_conn!(self, conn => {
            read_usage!(conn, sum, user.as_str(), day, &files)
                .await
                .map_err(query_error)?
        });
        rows.into_snapshot()
    }

    async fn grant_now(
        &self,
        r: &GrantRequest,
        decide: GrantDecider,
    ) -> Result<Result<Grant, GrantDenied>, StoreError> {
        let sum = self.sum_file_size();
        let now = to_primitive_utc(r.now);
        let outcome = with_conn!(self, conn => {
            let result = conn
                .transaction(async |conn| {
                    lock_user!(conn, r.user_id, 0i64)?;
                    // The user as it is now (an operator may have changed its plan or
                    // status since a cache read it), under its lock.
                    let user = users::table
                        .find(r.user_id.as_str())
                        .select(UserRow::as_select())
                        .first(conn)
                        .await
                        .optional()?
                        .ok_or(GrantError::Refused(GrantDenied::UserInactive))?
                        .into_domain()
                        .map_err(GrantError::Corrupt)?;
                    // What the quota rule needs, read under the user's lock: no other
                    // grant of this user can change it before this transaction ends.
                    let rows = read_usage!(conn, sum, r.user_id.as_str(), r.day, &[r.music_id.as_str()])
                        .await?;
                    let counted = rows.counted;
                    let usage = rows
                        .into_snapshot()
                        .map_err(GrantError::Corrupt)?
                        .usage_for(&r.music_id, r.quality);
                    // The domain decides; this only writes what it decided.
                    let grant = decide(&user, &usage).map_err(GrantError::Refused)?;
                    if grant.counts_toward_daily_limit {
                        diesel::insert_or_ignore_into(dgd::table)
                            .values((
                                dgd::user_id.eq(r.user_id.as_str()),
                                dgd::day.eq(r.day),
                                dgd::music_id.eq(r.music_id.as_str()),
                                dgd::quality.eq(r.quality.as_str()),
                                dgd::granted_at.eq(now),
                            ))
                            .execute(conn)
                            .await?;
                        if counted.is_some() {
                            diesel::update(dgc::table.find((r.user_id.as_str(), r.day)))
                                .set(dgc::grants.eq(dgc::grants + 1))
                                .execute(conn)
                                .await?;
                        } else {
                            diesel::insert_into(dgc::table)
                                .values((
                                    dgc::user_id.eq(r.user_id.as_str()),
                                    dgc::day.eq(r.day),
                                    dgc::grants.eq(1),
                                ))
                                .execute(conn)
                                .await?;
                        }
                    }
                    diesel::insert_into(tok::table)
                        .values(NewTokenRow {
                            id: r.token_id.to_string(),
                            user_id: r.user_id.as_str(),
                            music_id: r.music_id.as_str(),
                            token: &r.token_hash,
                            download_url: &r.download_url,
                            quality: r.quality.as_str(),
                            expires_at: to_primitive_utc(r.expires_at),
                            max_downloads: i32::try_from(r.max_uses).unwrap_or(i32::MAX),
                            download_count: 0,
                            created_at: now,
                        })
                        .execute(conn)
                        .await?;
                    // The grant resets the user's record of this file to `downloading`.
                    let updated = diesel::update(
                        ud::table
                            .filter(ud::user_id.eq(r.user_id.as_str()))
                            .filter(ud::music_id.eq(r.music_id.as_str()))
                            .filter(ud::quality.eq(r.quality.as_str())),
                    )
                    .set((
                        ud::download_token.eq(Some(r.token_hash.as_str())),
                        ud::file_size.eq(db_size(r.file_size)),
                        ud::status.eq(DownloadStatus::Downloading.as_str()),
                        ud::progress.eq(0),
                        ud::download_time.eq(now),
                        ud::completed_time.eq(None::<PrimitiveDateTime>),
                        ud::expires_at.eq(Some(to_primitive_utc(r.expires_at))),
                        ud::error_message.eq(None::<String>),
                    ))
                    .execute(conn)
                    .await?;
                    if updated == 0 {
                        diesel::insert_into(ud::table)
                            .values(NewRecordRow {
                                id: r.download_id.to_string(),
                                user_id: r.user_id.as_str(),
                                music_id: r.music_id.as_str(),
                                download_token: Some(&r.token_hash),
                                file_size: db_size(r.file_size),
                                quality: r.quality.as_str(),
                                status: DownloadStatus::Downloading.as_str(),
                                progress: 0,
                                download_time: now,
                                completed_time: None,
                                expires_at: Some(to_primitive_utc(r.expires_at)),
                                error_message: None,
                            })
                            .execute(conn)
                            .await?;
                    }
                    Ok(grant)
                })
                .await;
            match result {
                Ok(grant) => Ok(grant),
                Err(GrantError::Refused(denied)) => Err(denied),
                Err(GrantError::Db(e)) => return Err(query_error(e)),
                Err(GrantError::Corrupt(e)) => return Err(e),
            }
        });
        Ok(outcome)
    }

    async fn token_by_hash(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row: Option<TokenRow> = with_conn!(self, conn => {
            tok::table
                .filter(tok::token.eq(hash))
                .select(TokenRow::as_select())
                .first(conn)
                .await
                .optional()
                .map_err(query_error)?
        });
        row.map(TokenRow::into_domain).transpose()
    }

    async fn count_use(&self, id: &TokenId, now: OffsetDateTime) -> Result<bool, StoreError> {
        let id = id.to_string();
        let now = to_primitive_utc(now);
        let n = with_conn!(self, conn => {
            diesel::update(
                tok::table
                    .filter(tok::id.eq(&id))
                    .filter(tok::download_count.lt(tok::max_downloads))
                    .filter(tok::expires_at.gt(now)),
            )
            .set((
                tok::download_count.eq(tok::download_count + 1),
                tok::last_accessed_at.eq(Some(now)),
            ))
            .execute(conn)
            .await
            .map_err(query_error)?
        });
        Ok(n == 1)
    }

    async fn append_log(&self, e: &DownloadLogEntry) -> Result<(), StoreError> {
        with_conn!(self, conn => {
            diesel::insert_into(dlog::table)
                .values((
                    dlog::id.eq(e.id.to_string()),
                    dlog::user_id.eq(&e.user_id),
                    dlog::music_id.eq(&e.music_id),
                    dlog::download_token.eq(Some(&e.token_hash)),
                    dlog::ip_address.eq(&e.ip),
                    dlog::user_agent.eq(e.user_agent.as_deref()),
                    dlog::download_size.eq(db_size(e.download_size)),
                    dlog::download_time.eq(to_primitive_utc(e.at)),
                    dlog::status.eq(e.status),
                    dlog::error_code.eq(e.error_code),
                ))
                .execute(conn)
                .await
                .map_err(query_error)?;
        });
        Ok(())
    }

    async fn upsert_report(&self, r: &RecordReport) -> Result<DownloadRecord, StoreError> {
        let now = to_primitive_utc(r.now);
        let completed_time = (r.status == DownloadStatus::Completed).then_some(now);
        let row: RecordTuple = with_conn!(self, conn => {
            conn.transaction(async |conn| {
                lock_user!(conn, r.user_id, 0i64)?;
                let mine = ud::table
                    .filter(ud::user_id.eq(r.user_id.as_str()))
                    .filter(ud::music_id.eq(r.music_id.as_str()))
                    .filter(ud::quality.eq(r.quality.as_str()));
                let updated = diesel::update(mine)
                    .set((
                        ud::file_size.eq(db_size(r.file_size)),
                        ud::status.eq(r.status.as_str()),
                        ud::progress.eq(i32::from(r.progress)),
                        ud::completed_time.eq(completed_time),
                        ud::error_message.eq(r.error_message.as_deref()),
                    ))
                    .execute(conn)
                    .await?;
                if updated == 0 {
                    diesel::insert_into(ud::table)
                        .values(NewRecordRow {
                            id: r.new_id.to_string(),
                            user_id: r.user_id.as_str(),
                            music_id: r.music_id.as_str(),
                            download_token: None,
                            file_size: db_size(r.file_size),
                            quality: r.quality.as_str(),
                            status: r.status.as_str(),
                            progress: i32::from(r.progress),
                            download_time: now,
                            completed_time,
                            expires_at: None,
                            error_message: r.error_message.as_deref(),
                        })
                        .execute(conn)
                        .await?;
                }
                mine.inner_join(music_files::table)
                    .select(record_columns!())
                    .first::<RecordTuple>(conn)
                    .await
            })
            .await
            .map_err(query_error)?
        });
        record(row)
    }

    async fn record_page(
        &self,
        user: &UserId,
        status: Option<DownloadStatus>,
        page: &PageRequest,
    ) -> Result<RecordPage, StoreError> {
        let limit = i64::from(page.limit.get());
        let (total, rows): (i64, Vec<RecordTuple>) = with_conn!(self, conn => {
            let mut count = ud::table.filter(ud::user_id.eq(user.as_str())).into_boxed();
            let mut q = ud::table
                .inner_join(music_files::table)
                .filter(ud::user_id.eq(user.as_str()))
                .into_boxed();
            if let Some(status) = status {
                count = count.filter(ud::status.eq(status.as_str()));
                q = q.filter(ud::status.eq(status.as_str()));
            }
            let total: i64 = count.count().get_result(conn).await.map_err(query_error)?;
            let mut q = q
                .select(record_columns!())
                .order((ud::download_time.desc(), ud::id.desc()))
                .limit(limit + 1);
            page_start!(q, page, ud::download_time, ud::id);
            let rows: Vec<RecordTuple> = q.load(conn).await.map_err(query_error)?;
            (total, rows)
        });
        let (rows, has_more) = split_page(rows, page.limit.get());
        let items = rows
            .into_iter()
            .map(record)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(RecordPage {
            items,
            total: size(total)?,
            has_more,
        })
    }

    async fn record_counts(&self, user: &UserId) -> Result<DownloadCounts, StoreError> {
        let sum = self.sum_file_size();
        let (by_status, completed_bytes): (Vec<(String, i64)>, i64) = with_conn!(self, conn => {
            let by_status = ud::table
                .filter(ud::user_id.eq(user.as_str()))
                .group_by(ud::status)
                .select((ud::status, count_star()))
                .load(conn)
                .await
                .map_err(query_error)?;
            let bytes = ud::table
                .filter(ud::user_id.eq(user.as_str()))
                .filter(ud::status.eq(DownloadStatus::Completed.as_str()))
                .select(sql::<BigInt>(sum))
                .first(conn)
                .await
                .map_err(query_error)?;
            (by_status, bytes)
        });
        let mut counts = DownloadCounts {
            completed_bytes: size(completed_bytes)?,
            ..DownloadCounts::default()
        };
        for (status, n) in by_status {
            let n = size(n)?;
            counts.total += n;
            match DownloadStatus::parse(&status).map_err(|e| corrupt("user_downloads", e))? {
                DownloadStatus::Completed => counts.completed += n,
                DownloadStatus::Downloading => counts.downloading += n,
                DownloadStatus::Failed => counts.failed += n,
                DownloadStatus::Expired => counts.expired += n,
            }
        }
        Ok(counts)
    }

    async fn delete_record_now(&self, user: &UserId, id: &DownloadId) -> Result<bool, StoreError> {
        let id = id.to_string();
        let n = with_conn!(self, conn => {
            diesel::delete(
                ud::table
                    .filter(ud::id.eq(&id))
                    .filter(ud::user_id.eq(user.as_str())),
            )
            .execute(conn)
            .await
            .map_err(query_error)?
        });
        Ok(n > 0)
    }
}
