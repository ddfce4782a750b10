//! What a client shows before it acts: `/api/me` (the user's plan and quotas) and
//! `/api/music` (catalogue entries with whether each quality may be had now). Neither
//! consumes the grant rate limit nor writes anything.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use soundshelf_domain::downloads::{Allowance, Offer, plan_qualities};
use soundshelf_domain::parse_id_list;
use soundshelf_domain::{CatalogId, ErrorCode, Plan, Quality, UserStatus};
use soundshelf_service::MusicOffer;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::envelope::{envelope, resource};
use crate::error::ApiError;
use crate::state::AppState;

/// The most ids one `GET /api/music?ids=` may name.
pub const MAX_MUSIC_IDS: usize = 50;

/// Registers `/api/me` and `/api/music` (after the grant route, which shares the prefix).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/me").route(web::get().to(me)))
        .service(resource("/api/music").route(web::get().to(music_list)))
        // `.*` so that an id with a `/` reaches validation and is refused with a 400.
        .service(resource("/api/music/{music_id:.*}").route(web::get().to(music)));
}

/// Today's downloads.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DailyDownloads {
    /// The plan's daily limit of distinct (track, quality) grants.
    daily_limit: u32,
    /// Counted today, exactly as the daily rule counts them.
    used_today: u32,
    /// New files that may still be granted today (a repeat of today's is always served).
    remaining_today: u32,
    /// The next midnight of `APP_TIMEZONE`, in that offset.
    #[serde(with = "soundshelf_domain::time::rfc3339_offset")]
    #[schema(value_type = String, format = DateTime, example = "2026-03-02T00:00:00+08:00")]
    resets_at: OffsetDateTime,
}

impl From<&Allowance> for DailyDownloads {
    fn from(a: &Allowance) -> Self {
        Self {
            daily_limit: a.daily_limit,
            used_today: a.used_today,
            remaining_today: a.remaining_today,
            resets_at: a.resets_at,
        }
    }
}

impl From<&Allowance> for Storage {
    fn from(a: &Allowance) -> Self {
        Self {
            limit_bytes: a.storage_limit,
            used_bytes: a.storage_used,
            remaining_bytes: a.storage_remaining,
        }
    }
}

/// Storage of completed downloads, as the storage rule counts it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Storage {
    limit_bytes: u64,
    used_bytes: u64,
    remaining_bytes: u64,
}

/// The grant rate limit.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct RateLimit {
    /// Grants per minute (refused ones count too).
    per_minute: u32,
}

/// The caller's plan and quotas.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Me {
    user_id: String,
    nickname: String,
    plan: Plan,
    status: UserStatus,
    has_premium_access: bool,
    /// The qualities this plan may ever download, lowest first.
    qualities: Vec<Quality>,
    downloads: DailyDownloads,
    storage: Storage,
    rate_limit: RateLimit,
}

envelope!(
    /// The caller's plan and quotas, enveloped.
    MeBody(Me)
);

#[utoipa::path(get, path = "/api/me", tag = "client", security(("bearer" = [])), responses((status = 200, description = "The caller's plan and quotas, as a grant would count them now", body = MeBody)))]
pub(crate) async fn me(
    user: AuthUser,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let a = state.downloads.allowance(&user.0).await?;
    let user = user.0;
    Ok(MeBody::ok(Me {
        user_id: user.id.as_str().to_owned(),
        nickname: user.nickname,
        plan: user.plan,
        status: user.status,
        has_premium_access: user.has_premium_access,
        qualities: plan_qualities(user.plan),
        downloads: DailyDownloads::from(&a),
        storage: Storage::from(&a),
        rate_limit: RateLimit {
            per_minute: state.downloads.rate_limit_per_minute(),
        },
    }))
}

/// One quality of a track, and whether the caller may have it now.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QualityOffer {
    quality: Quality,
    file_size: u64,
    /// Whether a grant would pass every rule now, the rate limit aside.
    allowed: bool,
    /// The code that grant would get, or null.
    #[schema(value_type = Option<String>, pattern = "^(PREMIUM_REQUIRED|VIP_REQUIRED|DAILY_LIMIT_REACHED|STORAGE_FULL)$")]
    denied_code: Option<&'static str>,
}

impl From<&Offer> for QualityOffer {
    fn from(o: &Offer) -> Self {
        Self {
            quality: o.quality,
            file_size: o.file_size,
            allowed: o.decision.is_ok(),
            denied_code: o.decision.err().map(|d| d.code().as_str()),
        }
    }
}

/// A catalogue entry with its qualities.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Music {
    id: String,
    title: String,
    cover: String,
    /// Seconds.
    duration: u32,
    category: Option<String>,
    premium_required: bool,
    /// Lowest first.
    qualities: Vec<QualityOffer>,
}

impl From<MusicOffer> for Music {
    fn from(m: MusicOffer) -> Self {
        let MusicOffer { entry, offers } = m;
        Self {
            id: entry.id.as_str().to_owned(),
            title: entry.title,
            cover: entry.cover,
            duration: entry.duration,
            category: entry.category,
            premium_required: entry.premium_required,
            qualities: offers.iter().map(QualityOffer::from).collect(),
        }
    }
}

envelope!(
    /// A catalogue entry, enveloped.
    MusicBody(Music)
);

envelope!(
    /// Catalogue entries, enveloped.
    MusicListBody(Vec<Music>)
);

#[utoipa::path(get, path = "/api/music/{music_id}", tag = "client", params(("music_id" = String, Path, example = "music_001", pattern = "^[A-Za-z0-9_-]{1,36}$", description = "a catalogue id")), security(("bearer" = [])), responses((status = 200, description = "The track, and per quality whether a grant would pass now", body = MusicBody)))]
pub(crate) async fn music(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = CatalogId::parse_field("music_id", &path)?;
    let found = state
        .downloads
        .offers(&user.0, std::slice::from_ref(&id))
        .await?;
    let entry = found
        .into_iter()
        .next()
        .ok_or(ApiError::Code(ErrorCode::MusicNotFound))?;
    Ok(MusicBody::ok(Music::from(entry)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    ids: Option<String>,
}

#[utoipa::path(get, path = "/api/music", operation_id = "music_list", tag = "client", params(("ids" = String, Query, example = "music_001,music_009", pattern = "^[A-Za-z0-9_-]{1,36}(,[A-Za-z0-9_-]{1,36}){0,49}$", description = "1–50 comma-separated catalogue ids")), security(("bearer" = [])), responses((status = 200, description = "The known tracks in the order asked; unknown and retired ids are left out", body = MusicListBody)))]
pub(crate) async fn music_list(
    user: AuthUser,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let ids = parse_id_list("ids", params.ids.as_deref(), MAX_MUSIC_IDS)?;
    let found = state.downloads.offers(&user.0, &ids).await?;
    Ok(MusicListBody::ok(
        found.into_iter().map(Music::from).collect(),
    ))
}
