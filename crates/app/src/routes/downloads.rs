//! `/api/music/download-url/{music_id}` (grants) and `/api/downloads` (records).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use soundshelf_domain::downloads::{DownloadStatus, MB};
use soundshelf_domain::{CatalogId, DownloadId, PageRequest, Quality};
use soundshelf_ports::DownloadRecord;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::bodies::{Object, ReportBody};
use crate::envelope::{MessageBody, envelope, resource};
use crate::error::ApiError;
use crate::state::AppState;

/// Registers the grant and record routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/music/download-url/{music_id:.*}").route(web::get().to(grant)))
        .service(
            resource("/api/downloads")
                .route(web::get().to(list))
                .route(web::post().to(report)),
        )
        .service(resource("/api/downloads/{download_id}").route(web::delete().to(delete)));
}

#[derive(Debug, Deserialize)]
pub(crate) struct GrantParams {
    quality: Option<String>,
    user_id: Option<String>,
}

/// A download link.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Grant)]
pub(crate) struct GrantData {
    /// `{PUBLIC_BASE_URL}/files/{token}`.
    download_url: String,
    #[serde(with = "soundshelf_domain::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    expires_at: OffsetDateTime,
    file_size: u64,
    /// 43 URL-safe characters; shown once.
    token: String,
    quality: Quality,
}

envelope!(
    /// A download link, enveloped.
    GrantBody(GrantData)
);

#[utoipa::path(get, path = "/api/music/download-url/{music_id}", tag = "downloads", params(("music_id" = String, Path, example = "music_001", pattern = "^[A-Za-z0-9_-]{1,36}$", description = "a catalogue id"), ("quality" = Option<String>, Query, pattern = "^(standard|high|lossless)$", description = "standard (default), high or lossless"), ("user_id" = Option<String>, Query, description = "if sent, must be the caller's")), security(("bearer" = [])), responses((status = 200, description = "A download link (docs/downloads.md)", body = GrantBody)))]
pub(crate) async fn grant(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    params: web::Query<GrantParams>,
) -> Result<HttpResponse, ApiError> {
    user.check_claimed(params.user_id.as_deref())?;
    let music_id = CatalogId::parse_field("music_id", &path)?;
    let quality = Quality::parse(params.quality.as_deref())?;
    let link = match state.downloads.grant(&user.0, &music_id, quality).await {
        Ok(link) => link,
        Err(e) => {
            let e = ApiError::from(e);
            metrics::counter!("download_denials_total", "code" => e.code()).increment(1);
            if matches!(e, ApiError::RateLimited { .. }) {
                metrics::counter!("rate_limited_total", "route" => "grant").increment(1);
            }
            return Err(e);
        }
    };
    metrics::counter!("download_grants_total", "quality" => quality.as_str()).increment(1);
    Ok(GrantBody::ok(GrantData {
        download_url: link.download_url,
        expires_at: link.expires_at,
        file_size: link.file_size,
        token: link.token,
        quality: link.quality,
    }))
}

/// The track's title and cover.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MusicInfo<'a> {
    title: &'a str,
    cover: &'a str,
}

/// A download record as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DownloadRecord)]
pub(crate) struct RecordBody<'a> {
    /// `dl_` and a ULID.
    #[schema(value_type = String)]
    id: DownloadId,
    user_id: &'a str,
    music_id: &'a str,
    quality: Quality,
    status: DownloadStatus,
    progress: u8,
    file_size: u64,
    #[serde(with = "soundshelf_domain::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    download_time: OffsetDateTime,
    #[serde(serialize_with = "optional_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    completed_time: Option<OffsetDateTime>,
    #[serde(serialize_with = "optional_time")]
    #[schema(value_type = Option<String>, format = DateTime)]
    expires_at: Option<OffsetDateTime>,
    error_message: Option<&'a str>,
    music_info: MusicInfo<'a>,
}

/// A download record, enveloped.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DownloadRecordBody<'a> {
    success: bool,
    data: RecordBody<'a>,
}

fn optional_time<S: serde::Serializer>(
    t: &Option<OffsetDateTime>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => soundshelf_domain::time::rfc3339::serialize(t, s),
        None => s.serialize_none(),
    }
}

impl<'a> From<&'a DownloadRecord> for RecordBody<'a> {
    fn from(r: &'a DownloadRecord) -> Self {
        Self {
            id: r.id,
            user_id: r.user_id.as_str(),
            music_id: r.music_id.as_str(),
            quality: r.quality,
            status: r.status,
            progress: r.progress,
            file_size: r.file_size,
            download_time: r.download_time,
            completed_time: r.completed_time,
            expires_at: r.expires_at,
            error_message: r.error_message.as_deref(),
            music_info: MusicInfo {
                title: &r.title,
                cover: &r.cover,
            },
        }
    }
}

#[utoipa::path(post, path = "/api/downloads", tag = "downloads", request_body = ReportBody, security(("bearer" = [])), responses((status = 200, description = "The user's record of this track and quality", body = DownloadRecordBody)))]
pub(crate) async fn report(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<Object<ReportBody>>,
) -> Result<HttpResponse, ApiError> {
    let Object(mut body) = body.into_inner();
    user.check_claimed(body.claimed_user()?.as_deref())?;
    let record = state.downloads.report(user.id(), body.try_into()?).await?;
    Ok(HttpResponse::Ok().json(DownloadRecordBody {
        success: true,
        data: RecordBody::from(&record),
    }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    status: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    cursor: Option<String>,
    user_id: Option<String>,
}

/// The user's records by status, and the completed size.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DownloadStats)]
pub(crate) struct Stats {
    total_downloads: u64,
    completed: u64,
    downloading: u64,
    failed: u64,
    expired: u64,
    /// Completed bytes / 2^20, two decimals.
    total_size_mb: f64,
}

/// A page of download records, with the user's stats.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = DownloadListBody)]
pub(crate) struct ListBody<'a> {
    success: bool,
    data: Vec<RecordBody<'a>>,
    total: u64,
    limit: u32,
    offset: u64,
    next_cursor: Option<String>,
    stats: Stats,
}

#[utoipa::path(get, path = "/api/downloads", operation_id = "list_downloads", tag = "downloads", params(("status" = Option<String>, Query, pattern = "^(downloading|completed|failed|expired)$", description = "downloading, completed, failed or expired"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100, default 50"), ("offset" = Option<u64>, Query), ("cursor" = Option<String>, Query), ("user_id" = Option<String>, Query)), security(("bearer" = [])), responses((status = 200, description = "Records newest first, with stats", body = ListBody)))]
pub(crate) async fn list(
    user: AuthUser,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    user.check_claimed(params.user_id.as_deref())?;
    let status = params
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(DownloadStatus::parse)
        .transpose()?;
    let page = PageRequest::parse(
        params.limit.as_deref(),
        params.offset.as_deref(),
        params.cursor.as_deref(),
    )?;
    let list = state.downloads.records(user.id(), status, &page).await?;
    let c = list.counts;
    // MB are 2^20 bytes; two decimals.
    let total_size_mb = (c.completed_bytes as f64 / MB as f64 * 100.0).round() / 100.0;
    Ok(HttpResponse::Ok().json(ListBody {
        success: true,
        data: list.items.iter().map(RecordBody::from).collect(),
        total: list.total,
        limit: page.limit.get(),
        offset: page.offset(),
        next_cursor: list.next_cursor.map(|c| c.encode()),
        stats: Stats {
            total_downloads: c.total,
            completed: c.completed,
            downloading: c.downloading,
            failed: c.failed,
            expired: c.expired,
            total_size_mb,
        },
    }))
}

#[utoipa::path(delete, path = "/api/downloads/{download_id}", tag = "downloads", params(("download_id" = String, Path, pattern = "^dl_[0-7][0-9A-HJKMNP-TV-Z]{25}$", description = "`dl_` and a ULID")), security(("bearer" = [])), responses((status = 200, description = "下载记录已删除", body = MessageBody)))]
pub(crate) async fn delete(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = DownloadId::parse(&path)?;
    state.downloads.delete(user.id(), &id).await?;
    Ok(MessageBody::ok("下载记录已删除"))
}
