//! The maintenance adapter (the scheduled jobs' clean-ups and aggregates) and the job
//! lock without Redis: a lease row per job.

use std::time::Duration;

use async_trait::async_trait;
use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use soundshelf_domain::downloads::DownloadStatus;
use soundshelf_domain::jobs::Purge;
use soundshelf_domain::time::to_primitive_utc;
use soundshelf_ports::{DailyReport, JobLock, LockToken, MaintenanceStore, StoreError};
use time::{Date, OffsetDateTime};

use crate::database::{Store, detached, with_conn};
use crate::error::{query_error, size};
use crate::schema::{
    daily_reports as dr, download_logs as dlog, download_tokens as tok, favorite_tombstones as ft,
    job_leases as lease, music_download_stats as mds, user_downloads as ud, user_favorites as uf,
};

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// Runs a batched statement until a batch touches fewer than `batch` rows: `$select`
/// picks at most `batch` ids, `$apply` changes the rows with those ids.
macro_rules! in_batches {
    ($store:expr, $batch:expr, |$conn:ident| $select:expr, |$conn2:ident, $ids:ident| $apply:expr) => {{
        let batch = i64::from($batch.max(1));
        let mut total: u64 = 0;
        loop {
            let done = with_conn!($store, $conn => {
                let $ids: Vec<String> = $select
                    .limit(batch)
                    .load($conn)
                    .await
                    .map_err(query_error)?;
                if $ids.is_empty() {
                    0
                } else {
                    let $conn2 = $conn;
                    $apply.execute($conn2).await.map_err(query_error)?
                }
            });
            total += count(done);
            if i64::try_from(done).unwrap_or(i64::MAX) < batch {
                break;
            }
        }
        total
    }};
}

#[async_trait]
impl MaintenanceStore for Store {
    async fn delete_expired_tokens(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        detached!(self as store, () => store.delete_expired_tokens_now(now, batch))
    }

    async fn expire_stale_downloads(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        detached!(self as store, () => store.expire_stale_downloads_now(now, batch))
    }

    async fn delete_failed_downloads(
        &self,
        before: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        detached!(self as store, () => store.delete_failed_downloads_now(before, batch))
    }

    async fn purge_tombstones(
        &self,
        before: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        detached!(self as store, () => store.purge_tombstones_now(before, batch))
    }

    async fn purge_batch(&self, purge: Purge, limit: u32) -> Result<u64, StoreError> {
        detached!(self as store, () => store.purge_batch_now(purge, limit))
    }

    async fn refresh_download_stats(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        detached!(self as store, () => store.refresh_download_stats_now(now))
    }

    async fn write_daily_report(
        &self,
        day: Date,
        from: OffsetDateTime,
        to: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<DailyReport, StoreError> {
        detached!(self as store, () => store.write_daily_report_now(day, from, to, now))
    }
}

impl Store {
    async fn delete_expired_tokens_now(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let now = to_primitive_utc(now);
        Ok(in_batches!(
            self,
            batch,
            |conn| tok::table.filter(tok::expires_at.lt(now)).select(tok::id),
            |c, ids| diesel::delete(tok::table.filter(tok::id.eq_any(&ids)))
        ))
    }

    async fn expire_stale_downloads_now(
        &self,
        now: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let now = to_primitive_utc(now);
        let downloading = DownloadStatus::Downloading.as_str();
        Ok(in_batches!(
            self,
            batch,
            |conn| ud::table
                .filter(ud::status.eq(downloading))
                .filter(ud::expires_at.lt(now))
                .select(ud::id),
            |c, ids| diesel::update(ud::table.filter(ud::id.eq_any(&ids)))
                .set(ud::status.eq(DownloadStatus::Expired.as_str()))
        ))
    }

    async fn delete_failed_downloads_now(
        &self,
        before: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let before = to_primitive_utc(before);
        let failed = DownloadStatus::Failed.as_str();
        Ok(in_batches!(
            self,
            batch,
            |conn| ud::table
                .filter(ud::status.eq(failed))
                .filter(ud::download_time.lt(before))
                .select(ud::id),
            |c, ids| diesel::delete(ud::table.filter(ud::id.eq_any(&ids)))
        ))
    }

    async fn purge_batch_now(&self, purge: Purge, limit: u32) -> Result<u64, StoreError> {
        // The table and the test on its cutoff are constants; the cutoff and the limit
        // are bound. Each table has an index that starts with the column tested.
        let (table, condition) = match purge {
            Purge::DownloadLogs(_) => ("download_logs", "download_time < ?"),
            Purge::GrantDays(_) => ("download_grant_days", "day < ?"),
            Purge::GrantCounters(_) => ("daily_grant_counters", "day < ?"),
            Purge::DailyReports(_) => ("daily_reports", "day < ?"),
            Purge::AuditLog(_) => ("audit_log", "at < ?"),
            Purge::ExpiredRecords(_) => {
                ("user_downloads", "status = 'expired' AND download_time < ?")
            }
            Purge::AlertPairs(_) => ("alert_pairs", "alerted_at < ?"),
        };
        // MySQL deletes with a LIMIT; SQLite (without that compile option) by rowid.
        let sql = match self.backend() {
            crate::Backend::Mysql => format!("DELETE FROM {table} WHERE {condition} LIMIT ?"),
            crate::Backend::Sqlite => format!(
                "DELETE FROM {table} WHERE rowid IN \
                 (SELECT rowid FROM {table} WHERE {condition} LIMIT ?)"
            ),
        };
        let limit = i64::from(limit.max(1));
        let done = with_conn!(self, conn => {
            let query = diesel::sql_query(sql.as_str());
            match purge {
                Purge::DownloadLogs(t)
                | Purge::AuditLog(t)
                | Purge::ExpiredRecords(t)
                | Purge::AlertPairs(t) => {
                    query
                        .bind::<diesel::sql_types::Timestamp, _>(to_primitive_utc(t))
                        .bind::<BigInt, _>(limit)
                        .execute(conn)
                        .await
                }
                Purge::GrantDays(d) | Purge::GrantCounters(d) | Purge::DailyReports(d) => {
                    query
                        .bind::<diesel::sql_types::Date, _>(d)
                        .bind::<BigInt, _>(limit)
                        .execute(conn)
                        .await
                }
            }
            .map_err(query_error)?
        });
        Ok(count(done))
    }

    async fn purge_tombstones_now(
        &self,
        before: OffsetDateTime,
        batch: u32,
    ) -> Result<u64, StoreError> {
        let before = to_primitive_utc(before);
        let batch_size = i64::from(batch.max(1));
        let mut total = 0;
        // Tombstones have a composite key: delete by (user, item) pairs.
        loop {
            let done = with_conn!(self, conn => {
                let pairs: Vec<(String, String)> = ft::table
                    .filter(ft::recorded_at.lt(before))
                    .select((ft::user_id, ft::item_id))
                    .limit(batch_size)
                    .load(conn)
                    .await
                    .map_err(query_error)?;
                let mut n = 0;
                for (user, items) in group_by_user(pairs) {
                    n += diesel::delete(
                        ft::table
                            .filter(ft::user_id.eq(&user))
                            .filter(ft::item_id.eq_any(&items))
                            .filter(ft::recorded_at.lt(before)),
                    )
                    .execute(conn)
                    .await
                    .map_err(query_error)?;
                }
                n
            });
            total += count(done);
            if i64::try_from(done).unwrap_or(i64::MAX) < batch_size {
                break;
            }
        }
        Ok(total)
    }

    async fn refresh_download_stats_now(&self, now: OffsetDateTime) -> Result<u64, StoreError> {
        let since_30 = to_primitive_utc(now - time::Duration::days(30));
        let since_7 = to_primitive_utc(now - time::Duration::days(7));
        let refreshed_at = to_primitive_utc(now);
        let written = with_conn!(self, conn => {
            let month: Vec<(String, i64)> = dlog::table
                .filter(dlog::status.eq("started"))
                .filter(dlog::download_time.ge(since_30))
                .filter(dlog::music_id.ne(""))
                .group_by(dlog::music_id)
                .select((dlog::music_id, count_star()))
                .load(conn)
                .await
                .map_err(query_error)?;
            let week: Vec<(String, i64)> = dlog::table
                .filter(dlog::status.eq("started"))
                .filter(dlog::download_time.ge(since_7))
                .filter(dlog::music_id.ne(""))
                .group_by(dlog::music_id)
                .select((dlog::music_id, count_star()))
                .load(conn)
                .await
                .map_err(query_error)?;
            use diesel_async::AsyncConnection;
            conn.transaction(async |conn| {
                diesel::delete(mds::table).execute(conn).await?;
                for (music, n30) in &month {
                    let n7 = week.iter().find(|(m, _)| m == music).map_or(0, |(_, n)| *n);
                    diesel::insert_into(mds::table)
                        .values((
                            mds::music_id.eq(music),
                            mds::downloads_7d.eq(n7),
                            mds::downloads_30d.eq(n30),
                            mds::refreshed_at.eq(refreshed_at),
                        ))
                        .execute(conn)
                        .await?;
                }
                Ok::<_, diesel::result::Error>(month.len())
            })
            .await
            .map_err(query_error)?
        });
        Ok(count(written))
    }

    async fn write_daily_report_now(
        &self,
        day: Date,
        from: OffsetDateTime,
        to: OffsetDateTime,
        now: OffsetDateTime,
    ) -> Result<DailyReport, StoreError> {
        let (from, to, now) = (
            to_primitive_utc(from),
            to_primitive_utc(to),
            to_primitive_utc(now),
        );
        let sum = match self.backend() {
            crate::Backend::Mysql => "CAST(COALESCE(SUM(file_size), 0) AS SIGNED)",
            crate::Backend::Sqlite => "COALESCE(SUM(file_size), 0)",
        };
        let report = with_conn!(self, conn => {
            let by_status: Vec<(String, i64)> = ud::table
                .filter(ud::download_time.ge(from))
                .filter(ud::download_time.lt(to))
                .group_by(ud::status)
                .select((ud::status, count_star()))
                .load(conn)
                .await
                .map_err(query_error)?;
            let bytes: i64 = ud::table
                .filter(ud::download_time.ge(from))
                .filter(ud::download_time.lt(to))
                .filter(ud::status.eq(DownloadStatus::Completed.as_str()))
                .select(sql::<BigInt>(sum))
                .first(conn)
                .await
                .map_err(query_error)?;
            let favorites: i64 = uf::table
                .filter(uf::created_at.ge(from))
                .filter(uf::created_at.lt(to))
                .count()
                .get_result(conn)
                .await
                .map_err(query_error)?;
            let mut report = DailyReport {
                day: Some(day),
                completed_bytes: size(bytes)?,
                new_favorites: size(favorites)?,
                ..DailyReport::default()
            };
            for (status, n) in by_status {
                let n = size(n)?;
                report.downloads_total += n;
                match DownloadStatus::parse(&status) {
                    Ok(DownloadStatus::Downloading) => report.downloading += n,
                    Ok(DownloadStatus::Completed) => report.completed += n,
                    Ok(DownloadStatus::Failed) => report.failed += n,
                    Ok(DownloadStatus::Expired) => report.expired += n,
                    Err(_) => {}
                }
            }
            let db = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            use diesel_async::AsyncConnection;
            conn.transaction(async |conn| {
                diesel::delete(dr::table.filter(dr::day.eq(day))).execute(conn).await?;
                diesel::insert_into(dr::table)
                    .values((
                        dr::day.eq(day),
                        dr::downloads_total.eq(db(report.downloads_total)),
                        dr::downloads_downloading.eq(db(report.downloading)),
                        dr::downloads_completed.eq(db(report.completed)),
                        dr::downloads_failed.eq(db(report.failed)),
                        dr::downloads_expired.eq(db(report.expired)),
                        dr::completed_bytes.eq(db(report.completed_bytes)),
                        dr::new_favorites.eq(db(report.new_favorites)),
                        dr::created_at.eq(now),
                    ))
                    .execute(conn)
                    .await?;
                Ok::<_, diesel::result::Error>(())
            })
            .await
            .map_err(query_error)?;
            report
        });
        Ok(report)
    }
}

fn group_by_user(pairs: Vec<(String, String)>) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (user, item) in pairs {
        match groups.iter_mut().find(|(u, _)| *u == user) {
            Some((_, items)) => items.push(item),
            None => groups.push((user, vec![item])),
        }
    }
    groups
}

#[async_trait]
impl JobLock for Store {
    async fn try_acquire(
        &self,
        name: &str,
        ttl: Duration,
    ) -> Result<Option<LockToken>, StoreError> {
        detached!(self as store, (name) => store.take_lease(name, ttl))
    }

    async fn release(&self, name: &str, token: &LockToken) -> Result<bool, StoreError> {
        detached!(self as store, (name, token) => store.end_lease(name, token))
    }
}

impl Store {
    /// Takes the lease of `name` if it is free or expired: one conditional UPDATE, or an
    /// INSERT that only one of several racing instances can win.
    async fn take_lease(&self, name: &str, ttl: Duration) -> Result<Option<LockToken>, StoreError> {
        let holder = ulid::Ulid::generate().to_string();
        let now = OffsetDateTime::now_utc();
        let until = to_primitive_utc(now + ttl);
        let now = to_primitive_utc(now);
        let taken = with_conn!(self, conn => {
            let renewed = diesel::update(
                lease::table
                    .filter(lease::name.eq(name))
                    .filter(lease::expires_at.le(now)),
            )
            .set((lease::holder.eq(&holder), lease::expires_at.eq(until)))
            .execute(conn)
            .await
            .map_err(query_error)?;
            if renewed == 1 {
                true
            } else {
                diesel::insert_or_ignore_into(lease::table)
                    .values((
                        lease::name.eq(name),
                        lease::holder.eq(&holder),
                        lease::expires_at.eq(until),
                    ))
                    .execute(conn)
                    .await
                    .map_err(query_error)?
                    == 1
            }
        });
        Ok(taken.then_some(LockToken(holder)))
    }

    async fn end_lease(&self, name: &str, token: &LockToken) -> Result<bool, StoreError> {
        let n = with_conn!(self, conn => {
            diesel::delete(
                lease::table
                    .filter(lease::name.eq(name))
                    .filter(lease::holder.eq(&token.0)),
            )
            .execute(conn)
            .await
            .map_err(query_error)?
        });
        Ok(n == 1)
    }
}
