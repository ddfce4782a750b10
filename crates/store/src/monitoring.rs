//! The monitoring adapter: live figures from `download_logs`, and the stored reports.

use async_trait::async_trait;
use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_async::RunQueryDsl;
use soundshelf_domain::time::{from_primitive_utc, to_primitive_utc};
use soundshelf_ports::{
    AbnormalActivity, DailyReport, MonitoringStore, PopularTrack, StatusCount, StoreError,
};
use time::{Date, OffsetDateTime};

use crate::database::{Backend, Store, detached, with_conn};
use crate::error::{query_error, size};
use crate::schema::{alert_pairs as ap, daily_reports as dr, download_logs as dlog, music_files};

type ReportRow = (Date, i64, i64, i64, i64, i64, i64, i64);

fn report(r: ReportRow) -> Result<DailyReport, StoreError> {
    Ok(DailyReport {
        day: Some(r.0),
        downloads_total: size(r.1)?,
        downloading: size(r.2)?,
        completed: size(r.3)?,
        failed: size(r.4)?,
        expired: size(r.5)?,
        completed_bytes: size(r.6)?,
        new_favorites: size(r.7)?,
    })
}

macro_rules! report_columns {
    () => {
        (
            dr::day,
            dr::downloads_total,
            dr::downloads_downloading,
            dr::downloads_completed,
            dr::downloads_failed,
            dr::downloads_expired,
            dr::completed_bytes,
            dr::new_favorites,
        )
    };
}

#[async_trait]
impl MonitoringStore for Store {
    async fn attempts_by_status(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<StatusCount>, StoreError> {
        detached!(self as store, () => store.attempts_by_status_now(since))
    }

    async fn popular(
        &self,
        since: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<PopularTrack>, StoreError> {
        detached!(self as store, () => store.popular_now(since, limit))
    }

    async fn last_alerted(
        &self,
        ip_address: &str,
        user_id: &str,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        detached!(self as store, (ip_address, user_id) => store.last_alerted_now(ip_address, user_id))
    }

    async fn record_alert(
        &self,
        ip_address: &str,
        user_id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        detached!(self as store, (ip_address, user_id) => store.record_alert_now(ip_address, user_id, at))
    }

    async fn abnormal(
        &self,
        since: OffsetDateTime,
        threshold: u64,
    ) -> Result<Vec<AbnormalActivity>, StoreError> {
        detached!(self as store, () => store.abnormal_now(since, threshold))
    }

    async fn daily_report(&self, day: Date) -> Result<Option<DailyReport>, StoreError> {
        detached!(self as store, () => store.daily_report_now(day))
    }

    async fn recent_reports(&self, limit: u32) -> Result<Vec<DailyReport>, StoreError> {
        detached!(self as store, () => store.recent_reports_now(limit))
    }
}

impl Store {
    async fn attempts_by_status_now(
        &self,
        since: OffsetDateTime,
    ) -> Result<Vec<StatusCount>, StoreError> {
        let since = to_primitive_utc(since);
        let sum = match self.backend() {
            Backend::Mysql => "CAST(COALESCE(SUM(download_size), 0) AS SIGNED)",
            Backend::Sqlite => "COALESCE(SUM(download_size), 0)",
        };
        let rows: Vec<(String, i64, i64)> = with_conn!(self, conn => {
            dlog::table
                .filter(dlog::download_time.ge(since))
                .group_by(dlog::status)
                .select((dlog::status, count_star(), sql::<BigInt>(sum)))
                .order(dlog::status)
                .load(conn)
                .await
                .map_err(query_error)?
        });
        rows.into_iter()
            .map(|(status, attempts, bytes)| {
                Ok(StatusCount {
                    status,
                    attempts: size(attempts)?,
                    bytes: size(bytes)?,
                })
            })
            .collect()
    }

    async fn popular_now(
        &self,
        since: OffsetDateTime,
        limit: u32,
    ) -> Result<Vec<PopularTrack>, StoreError> {
        let since = to_primitive_utc(since);
        let rows: Vec<(String, i64)> = with_conn!(self, conn => {
            dlog::table
                .filter(dlog::download_time.ge(since))
                .filter(dlog::status.eq("started"))
                .filter(dlog::music_id.ne(""))
                .group_by(dlog::music_id)
                .select((dlog::music_id, count_star()))
                .order((count_star().desc(), dlog::music_id.asc()))
                .limit(i64::from(limit))
                .load(conn)
                .await
                .map_err(query_error)?
        });
        let ids: Vec<&str> = rows.iter().map(|(m, _)| m.as_str()).collect();
        let titles: Vec<(String, String)> = if ids.is_empty() {
            Vec::new()
        } else {
            with_conn!(self, conn => {
                music_files::table
                    .filter(music_files::id.eq_any(&ids))
                    .select((music_files::id, music_files::title))
                    .load(conn)
                    .await
                    .map_err(query_error)?
            })
        };
        rows.iter()
            .map(|(music_id, n)| {
                Ok(PopularTrack {
                    music_id: music_id.clone(),
                    title: titles
                        .iter()
                        .find(|(id, _)| id == music_id)
                        .map(|(_, t)| t.clone())
                        .unwrap_or_default(),
                    downloads: size(*n)?,
                })
            })
            .collect()
    }

    async fn last_alerted_now(
        &self,
        ip_address: &str,
        user_id: &str,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let at: Option<time::PrimitiveDateTime> = with_conn!(self, conn => {
            ap::table
                .find((ip_address, user_id))
                .select(ap::alerted_at)
                .first(conn)
                .await
                .optional()
                .map_err(query_error)?
        });
        Ok(at.map(from_primitive_utc))
    }

    async fn record_alert_now(
        &self,
        ip_address: &str,
        user_id: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let at = to_primitive_utc(at);
        with_conn!(self, conn => {
            let updated = diesel::update(ap::table.find((ip_address, user_id)))
                .set(ap::alerted_at.eq(at))
                .execute(conn)
                .await
                .map_err(query_error)?;
            if updated == 0 {
                diesel::insert_or_ignore_into(ap::table)
                    .values((
                        ap::ip_address.eq(ip_address),
                        ap::user_id.eq(user_id),
                        ap::alerted_at.eq(at),
                    ))
                    .execute(conn)
                    .await
                    .map_err(query_error)?;
            }
        });
        Ok(())
    }

    async fn abnormal_now(
        &self,
        since: OffsetDateTime,
        threshold: u64,
    ) -> Result<Vec<AbnormalActivity>, StoreError> {
        let since = to_primitive_utc(since);
        let threshold = i64::try_from(threshold).unwrap_or(i64::MAX);
        let rows: Vec<(String, String, i64)> = with_conn!(self, conn => {
            dlog::table
                .filter(dlog::download_time.ge(since))
                .group_by((dlog::ip_address, dlog::user_id))
                .having(count_star().gt(threshold))
                .select((dlog::ip_address, dlog::user_id, count_star()))
                .order((count_star().desc(), dlog::ip_address.asc()))
                .load(conn)
                .await
                .map_err(query_error)?
        });
        rows.into_iter()
            .map(|(ip_address, user_id, n)| {
                Ok(AbnormalActivity {
                    ip_address,
                    user_id,
                    attempts: size(n)?,
                })
            })
            .collect()
    }

    async fn daily_report_now(&self, day: Date) -> Result<Option<DailyReport>, StoreError> {
        let row: Option<ReportRow> = with_conn!(self, conn => {
            dr::table
                .find(day)
                .select(report_columns!())
                .first(conn)
                .await
                .optional()
                .map_err(query_error)?
        });
        row.map(report).transpose()
    }

    async fn recent_reports_now(&self, limit: u32) -> Result<Vec<DailyReport>, StoreError> {
        let rows: Vec<ReportRow> = with_conn!(self, conn => {
            dr::table
                .select(report_columns!())
                .order(dr::day.desc())
                .limit(i64::from(limit))
                .load(conn)
                .await
                .map_err(query_error)?
        });
        rows.into_iter().map(report).collect()
    }
}
