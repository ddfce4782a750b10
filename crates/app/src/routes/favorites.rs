//! `/api/favorites`: add, remove (by id or by item), list with search and paging, check.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use soundshelf_domain::sync::{Conflict, Rejected};
use soundshelf_domain::{
    Favorite, FavoriteFilter, FavoriteId, ItemId, ItemIdList, ItemType, PageRequest, SearchTerm,
};
use soundshelf_ports::CachedPage;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::bodies::{AddFavoriteBody, Object, SyncRequestBody};
use crate::envelope::{MessageBody, envelope, resource};
use crate::error::ApiError;
use crate::state::AppState;

envelope!(
    /// A favorite.
    FavoriteBody(Favorite)
);

envelope!(
    /// `{ "<item_id>": true|false, … }`.
    ContainsBody(#[schema(value_type = Object, additional_properties)] Map<String, Value>)
);

envelope!(
    /// What a sync answers, enveloped.
    SyncBody(SyncData)
);

/// Registers the favorites routes (the literal paths before the `{favorite_id}` one).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/favorites")
            .route(web::get().to(list))
            .route(web::post().to(add)),
    )
    .service(resource("/api/favorites/contains").route(web::get().to(contains)))
    .service(resource("/api/favorites/sync").route(web::put().to(sync)))
    // `.*` so that an id with a `/` reaches validation and is refused with a 400.
    .service(resource("/api/favorites/items/{item_id:.*}").route(web::delete().to(remove_item)))
    .service(resource("/api/favorites/{favorite_id}").route(web::delete().to(remove)));
}

#[utoipa::path(post, path = "/api/favorites", tag = "favorites", request_body = AddFavoriteBody, security(("bearer" = [])), responses((status = 200, description = "The new favorite", body = FavoriteBody)))]
pub(crate) async fn add(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<Object<AddFavoriteBody>>,
) -> Result<HttpResponse, ApiError> {
    let Object(body) = body.into_inner();
    user.check_claimed(body.claimed_user()?)?;
    let favorite = state.favorites.add(user.id(), body.try_into()?).await?;
    Ok(FavoriteBody::ok(favorite))
}

#[utoipa::path(delete, path = "/api/favorites/{favorite_id}", tag = "favorites", params(("favorite_id" = String, Path, pattern = "^fav_[0-7][0-9A-HJKMNP-TV-Z]{25}$", description = "`fav_` and a ULID")), security(("bearer" = [])), responses((status = 200, description = "收藏已取消", body = MessageBody)))]
pub(crate) async fn remove(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = FavoriteId::parse(&path)?;
    state.favorites.remove(user.id(), &id).await?;
    Ok(MessageBody::ok("收藏已取消"))
}

#[utoipa::path(delete, path = "/api/favorites/items/{item_id}", tag = "favorites", params(("item_id" = String, Path, example = "music_001", pattern = "^[A-Za-z0-9_-]{1,36}$", description = "the favorite's item id")), security(("bearer" = [])), responses((status = 200, description = "收藏已取消", body = MessageBody)))]
pub(crate) async fn remove_item(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let item = ItemId::parse(&path)?;
    state.favorites.remove_item(user.id(), &item).await?;
    Ok(MessageBody::ok("收藏已取消"))
}

#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    #[serde(rename = "type")]
    item_type: Option<String>,
    search: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    cursor: Option<String>,
    user_id: Option<String>,
}

/// A page of favorites.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = FavoriteListBody)]
pub(crate) struct ListBody<'a> {
    success: bool,
    #[schema(value_type = Vec<Favorite>)]
    data: &'a [Favorite],
    total: u64,
    limit: u32,
    offset: u64,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/favorites", operation_id = "list_favorites", tag = "favorites", params(("type" = Option<String>, Query, pattern = "^(music|assessment|sequence)?$", description = "music, assessment or sequence"), ("search" = Option<String>, Query, description = "case-insensitive substring of the title, ≤ 100 characters"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100, default 50"), ("offset" = Option<u64>, Query, description = "≥ 0, default 0"), ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page, instead of offset"), ("user_id" = Option<String>, Query, description = "if sent, must be the caller's")), security(("bearer" = [])), responses((status = 200, description = "A page, newest first; sends ETag", body = ListBody), (status = 304, description = "If-None-Match matched the ETag")))]
pub(crate) async fn list(
    user: AuthUser,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    user.check_claimed(params.user_id.as_deref())?;
    let filter = FavoriteFilter {
        item_type: params
            .item_type
            .as_deref()
            .filter(|t| !t.is_empty())
            .map(ItemType::parse)
            .transpose()?,
        search: SearchTerm::parse(params.search.as_deref())?,
    };
    let page = PageRequest::parse(
        params.limit.as_deref(),
        params.offset.as_deref(),
        params.cursor.as_deref(),
    )?;
    let page = state
        .favorites
        .rendered_page(user.id(), &filter, &page, |list| {
            let body = serde_json::to_vec(&ListBody {
                success: true,
                data: &list.items,
                total: list.total,
                limit: page.limit.get(),
                offset: page.offset(),
                next_cursor: list.next_cursor.as_ref().map(|c| c.encode()),
            })?;
            // Hashed once, when rendered: a cached page keeps its tag.
            Ok::<_, serde_json::Error>(CachedPage {
                etag: format!("\"{}\"", digest_hex(&body)),
                body,
            })
        })
        .await?;
    Ok(with_etag(&req, page))
}

/// The first 128 bits of SHA-256 of `bytes`, in hex.
fn digest_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Answers `page` with its strong `ETag`, or 304 when the client already has it.
fn with_etag(req: &HttpRequest, page: CachedPage) -> HttpResponse {
    let CachedPage { etag, body } = page;
    let matches = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag);
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    let mut res = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag_value))
        .insert_header((header::CACHE_CONTROL, "private, no-cache"));
    if matches {
        res.finish()
    } else {
        res.content_type(mime_json()).body(body)
    }
}

fn mime_json() -> HeaderValue {
    HeaderValue::from_static("application/json")
}

#[derive(Debug, Deserialize)]
pub(crate) struct ContainsParams {
    item_ids: Option<String>,
    user_id: Option<String>,
}

#[utoipa::path(get, path = "/api/favorites/contains", tag = "favorites", params(("item_ids" = String, Query, example = "music_001,music_002", pattern = "^[A-Za-z0-9_-]{1,36}(,[A-Za-z0-9_-]{1,36}){0,49}$", description = "1–50 comma-separated item ids"), ("user_id" = Option<String>, Query, description = "if sent, must be the caller's")), security(("bearer" = [])), responses((status = 200, description = "Whether each id is favorited", body = ContainsBody)))]
pub(crate) async fn contains(
    user: AuthUser,
    state: web::Data<AppState>,
    params: web::Query<ContainsParams>,
) -> Result<HttpResponse, ApiError> {
    user.check_claimed(params.user_id.as_deref())?;
    let ids = ItemIdList::parse(params.item_ids.as_deref())?;
    let answers = state.favorites.contains(user.id(), &ids).await?;
    let map: Map<String, Value> = answers
        .into_iter()
        .map(|(id, present)| (id.as_str().to_owned(), Value::Bool(present)))
        .collect();
    Ok(ContainsBody::ok(map))
}

/// What a sync answers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SyncData {
    server_favorites: Vec<Favorite>,
    #[schema(value_type = Vec<String>)]
    deleted_item_ids: Vec<ItemId>,
    conflicts: Vec<Conflict>,
    rejected: Vec<Rejected>,
    #[serde(with = "soundshelf_domain::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    sync_time: OffsetDateTime,
}

#[utoipa::path(put, path = "/api/favorites/sync", tag = "favorites", request_body = SyncRequestBody, security(("bearer" = [])), responses((status = 200, description = "The merged list, deletions, conflicts and rejections (docs/sync.md)", body = SyncBody)))]
pub(crate) async fn sync(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<Object<SyncRequestBody>>,
) -> Result<HttpResponse, ApiError> {
    let Object(body) = body.into_inner();
    user.check_claimed(body.claimed_user())?;
    let result = state.favorites.sync(user.id(), body.try_into()?).await?;
    Ok(SyncBody::ok(SyncData {
        server_favorites: result.server_favorites,
        deleted_item_ids: result.deleted_item_ids,
        conflicts: result.conflicts,
        rejected: result.rejected,
        sync_time: result.sync_time,
    }))
}
