//! `/api/admin/…`: download statistics, popular tracks, abnormal activity and daily
//! reports, for users whose role (from the database) is `admin`; anyone else gets 403.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use soundshelf_domain::jobs::StatsRange;
use soundshelf_ports::DailyReport;
use time::Date;
use time::format_description::well_known::Rfc3339;

use crate::auth::AuthUser;
use crate::envelope::{DataBody, DataListBody, DataOneOrListBody, resource};
use crate::error::ApiError;
use crate::state::AppState;
use soundshelf_domain::ErrorCode;

/// Registers the admin routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/admin/stats/downloads").route(web::get().to(stats)))
        .service(resource("/api/admin/downloads/popular").route(web::get().to(popular)))
        .service(resource("/api/admin/downloads/abnormal").route(web::get().to(abnormal)))
        .service(resource("/api/admin/reports/daily").route(web::get().to(reports)));
}

#[derive(Debug, Deserialize)]
pub(crate) struct StatsParams {
    range: Option<String>,
}

#[utoipa::path(get, path = "/api/admin/stats/downloads", tag = "admin", params(("range" = Option<String>, Query, pattern = "^(1h|24h|7d|30d)$", description = "1h, 24h (default), 7d or 30d")), security(("bearer" = [])), responses((status = 200, description = "Redemption attempts by status since the range's start: `range`, `since`, `total_attempts`, `total_bytes`, `by_status`", body = DataBody)))]
pub(crate) async fn stats(
    user: AuthUser,
    state: web::Data<AppState>,
    params: web::Query<StatsParams>,
) -> Result<HttpResponse, ApiError> {
    let admin = state.monitoring.admin(&user.0)?;
    let range = StatsRange::parse(params.range.as_deref())?;
    let (since, counts) = state.monitoring.stats(&admin, range).await?;
    let total: u64 = counts.iter().map(|c| c.attempts).sum();
    let bytes: u64 = counts.iter().map(|c| c.bytes).sum();
    let by_status: serde_json::Map<String, serde_json::Value> = counts
        .iter()
        .map(|c| {
            (
                c.status.clone(),
                json!({"attempts": c.attempts, "bytes": c.bytes}),
            )
        })
        .collect();
    Ok(DataBody::ok(json!({
        "range": range.as_str(),
        "since": since.format(&Rfc3339).unwrap_or_default(),
        "total_attempts": total,
        "total_bytes": bytes,
        "by_status": by_status,
    })))
}

#[derive(Debug, Deserialize)]
pub(crate) struct PopularParams {
    limit: Option<String>,
}

#[utoipa::path(get, path = "/api/admin/downloads/popular", tag = "admin", params(("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100, default 10")), security(("bearer" = [])), responses((status = 200, description = "The most downloaded tracks of the last 7 days: `[{music_id, title, downloads}]`", body = DataListBody)))]
pub(crate) async fn popular(
    user: AuthUser,
    state: web::Data<AppState>,
    params: web::Query<PopularParams>,
) -> Result<HttpResponse, ApiError> {
    let admin = state.monitoring.admin(&user.0)?;
    let limit = match params.limit.as_deref() {
        None => 10,
        Some(raw) => raw
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ApiError::InvalidRequest("参数 limit 无效：必须是 1 到 100 之间的整数".into())
            })?,
    };
    let tracks = state.monitoring.popular(&admin, limit).await?;
    let data: Vec<_> = tracks
        .iter()
        .map(|t| json!({"music_id": t.music_id, "title": t.title, "downloads": t.downloads}))
        .collect();
    Ok(DataListBody::ok(data))
}

#[utoipa::path(get, path = "/api/admin/downloads/abnormal", tag = "admin", security(("bearer" = [])), responses((status = 200, description = "Address and user pairs over the threshold in the last hour: `window`, `threshold`, `pairs`", body = DataBody)))]
pub(crate) async fn abnormal(
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let admin = state.monitoring.admin(&user.0)?;
    let (threshold, found) = state.monitoring.abnormal(&admin).await?;
    let pairs: Vec<_> = found
        .iter()
        .map(|a| json!({"ip_address": a.ip_address, "user_id": a.user_id, "attempts": a.attempts}))
        .collect();
    Ok(DataBody::ok(
        json!({"window": "1h", "threshold": threshold, "pairs": pairs}),
    ))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ReportParams {
    date: Option<String>,
}

fn report_json(r: &DailyReport) -> serde_json::Value {
    json!({
        "date": r.day.map(|d| d.to_string()),
        "downloads": {
            "total": r.downloads_total,
            "downloading": r.downloading,
            "completed": r.completed,
            "failed": r.failed,
            "expired": r.expired,
        },
        "completed_bytes": r.completed_bytes,
        "new_favorites": r.new_favorites,
    })
}

#[utoipa::path(get, path = "/api/admin/reports/daily", tag = "admin", params(("date" = Option<String>, Query, example = "2026-11-27", pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$", description = "YYYY-MM-DD; without it, the 30 latest")), security(("bearer" = [])), responses((status = 200, description = "The day's report (with `date`), or a list of the latest (without)", body = DataOneOrListBody)))]
pub(crate) async fn reports(
    user: AuthUser,
    state: web::Data<AppState>,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, ApiError> {
    let admin = state.monitoring.admin(&user.0)?;
    let day = match params.date.as_deref() {
        None | Some("") => None,
        Some(raw) => Some(
            Date::parse(
                raw,
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .map_err(|_| ApiError::InvalidRequest("参数 date 无效：必须是 YYYY-MM-DD".into()))?,
        ),
    };
    let found = state.monitoring.reports(&admin, day).await?;
    match (day, found.first()) {
        (Some(_), None) => Err(ApiError::Code(ErrorCode::ReportNotFound)),
        (Some(_), Some(r)) => Ok(DataOneOrListBody::ok(report_json(r))),
        (None, _) => Ok(DataOneOrListBody::ok(serde_json::Value::Array(
            found.iter().map(report_json).collect(),
        ))),
    }
}
