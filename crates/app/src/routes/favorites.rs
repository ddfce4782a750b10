//! `/api/favorites`: add, remove (by id or by item), list with search and paging, check.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use soundshelf_domain::{
    Favorite, FavoriteFilter, FavoriteId, ItemData, ItemId, ItemIdList, ItemType, PageRequest,
    SearchTerm,
};
use soundshelf_service::AddFavorite;

use super::{ok, ok_message, resource};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::state::AppState;

/// Registers the favorites routes (the literal paths before the `{favorite_id}` one).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/favorites")
            .route(web::get().to(list))
            .route(web::post().to(add)),
    )
    .service(resource("/api/favorites/contains").route(web::get().to(contains)))
    // `.*` so that an id with a `/` reaches validation and is refused with a 400.
    .service(resource("/api/favorites/items/{item_id:.*}").route(web::delete().to(remove_item)))
    .service(resource("/api/favorites/{favorite_id}").route(web::delete().to(remove)));
}

fn field<'a>(body: &'a Map<String, Value>, name: &'static str) -> Result<&'a Value, ApiError> {
    body.get(name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| ApiError::missing(name))
}

fn text_field<'a>(body: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, ApiError> {
    field(body, name)?
        .as_str()
        .ok_or_else(|| ApiError::InvalidRequest(format!("参数 {name} 无效：必须是字符串")))
}

async fn add(
    user: AuthUser,
    state: web::Data<AppState>,
    body: web::Json<Value>,
) -> Result<HttpResponse, ApiError> {
    let Value::Object(body) = body.into_inner() else {
        return Err(ApiError::InvalidRequest("请求体必须是 JSON 对象".into()));
    };
    user.check_claimed(body.get("user_id").and_then(Value::as_str))?;
    if body
        .get("user_id")
        .is_some_and(|v| !v.is_string() && !v.is_null())
    {
        return Err(ApiError::Forbidden);
    }
    let add = AddFavorite {
        item_id: ItemId::parse(text_field(&body, "item_id")?)?,
        item_type: ItemType::parse(text_field(&body, "item_type")?)?,
        item_data: ItemData::parse(field(&body, "item_data")?.clone())?,
    };
    let favorite = state.favorites.add(user.id(), add).await?;
    Ok(ok(favorite))
}

async fn remove(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = FavoriteId::parse(&path)?;
    state.favorites.remove(user.id(), &id).await?;
    Ok(ok_message("收藏已取消"))
}

async fn remove_item(
    user: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let item = ItemId::parse(&path)?;
    state.favorites.remove_item(user.id(), &item).await?;
    Ok(ok_message("收藏已取消"))
}

#[derive(Debug, Deserialize)]
struct ListParams {
    #[serde(rename = "type")]
    item_type: Option<String>,
    search: Option<String>,
    limit: Option<String>,
    offset: Option<String>,
    cursor: Option<String>,
    user_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct ListBody<'a> {
    success: bool,
    data: &'a [Favorite],
    total: u64,
    limit: u32,
    offset: u64,
    next_cursor: Option<String>,
}

async fn list(
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
    let list = state.favorites.list(user.id(), &filter, &page).await?;
    let body = serde_json::to_vec(&ListBody {
        success: true,
        data: &list.items,
        total: list.total,
        limit: page.limit.get(),
        offset: page.offset(),
        next_cursor: list.next_cursor.map(|c| c.encode()),
    })
    .map_err(|e| ApiError::Internal(Box::new(e)))?;
    Ok(with_etag(&req, body))
}

/// Answers `body` with a strong `ETag` of its bytes, or 304 when the client already has it.
fn with_etag(req: &HttpRequest, body: Vec<u8>) -> HttpResponse {
    let digest = ring::digest::digest(&ring::digest::SHA256, &body);
    let hex: String = digest.as_ref()[..16]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let etag = format!("\"{hex}\"");
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
struct ContainsParams {
    item_ids: Option<String>,
    user_id: Option<String>,
}

async fn contains(
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
    Ok(ok(map))
}
