//! `/api/admin/…`: download statistics, popular tracks, abnormal activity and daily
//! reports, for users whose role (from the database) is `admin`; anyone else gets 403.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::json;
use soundshelf_domain::Role;
use soundshelf_domain::jobs::StatsRange;
use soundshelf_ports::DailyReport;
use time::Date;
use time::format_description::well_known::Rfc3339;

use super::{ok, resource};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

/// Registers the admin routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/admin/stats/downloads").route(web::get().to(stats)))
        .service(resource("/api/admin/downloads/popular").route(web::get().to(popular)))
        .service(resource("/api/admin/downloads/abnormal").route(web::get().to(abnormal)))
        .service(resource("/api/admin/reports/daily").route(web::get().to(reports)));
}

fn admin(user: &AuthUser) -> Result<(), ApiError> {
    if user.0.role == Role::Admin {
        Ok(())
    } else {
        Err(ApiError::Forbidden)
    }
}

#[derive(Debug, Deserialize)]
struct StatsParams {
    range: Option<String>,
}

async fn stats(
    user: AuthUser,
    state: web::Data<AppState>,
    params: web::Query<StatsParams>,
) -> Result<HttpResponse, ApiError> {
    admin(&user)?;
    let range = StatsRange::parse(params.range.as_deref())?;
    let (since, counts) = state.monitoring.stats(range).await?;
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
    Ok(ok(json!({
        "range": range.as_str(),
        "since": since.format(&Rfc3339).unwrap_or_default(),
        "total_attempts": total,
        "total_bytes": bytes,
        "by_status": by_status,
    })))
}

#[derive(Debug, Deserialize)]
struct PopularParams {
    limit: Option<String>,
}

async fn popular(
    user: AuthUser,
    state: web::Data<AppState>,
    params: web::Query<PopularParams>,
) -> Result<HttpResponse, ApiError> {
    admin(&user)?;
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
    let tracks = state.monitoring.popular(limit).await?;
    let data: Vec<_> = tracks
        .iter()
        .map(|t| json!({"music_id": t.music_id, "title": t.title, "downloads": t.downloads}))
        .collect();
    Ok(ok(data))
}

async fn abnormal(user: AuthUser, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    admin(&user)?;
    let (threshold, found) = state.monitoring.abnormal().await?;
    let pairs: Vec<_> = found
        .iter()
        .map(|a| json!({"ip_address": a.ip_address, "user_id": a.user_id, "attempts": a.attempts}))
        .collect();
    Ok(ok(
        json!({"window": "1h", "threshold": threshold, "pairs": pairs}),
    ))
}

#[derive(Debug, Deserialize)]
struct ReportParams {
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

async fn reports(
    user: AuthUser,
    state: web::Data<AppState>,
    params: web::Query<ReportParams>,
) -> Result<HttpResponse, ApiError> {
    admin(&user)?;
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
    let found = state.monitoring.reports(day).await?;
    match (day, found.first()) {
        (Some(_), None) => Err(ApiError::ReportNotFound),
        (Some(_), Some(r)) => Ok(ok(report_json(r))),
        (None, _) => Ok(ok(found.iter().map(report_json).collect::<Vec<_>>())),
    }
}
