//! `/api/admin/music`: the catalogue for operators — list with search and paging, put a
//! track with its assets, retire it.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use soundshelf_domain::catalog::CatalogTrack;
use soundshelf_domain::{CatalogId, PageRequest, SearchTerm};
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::bodies::{Object, PutMusicBody};
use crate::envelope::{envelope, resource};
use crate::error::ApiError;
use crate::observability::RequestId;
use crate::state::AppState;

/// Registers the catalogue admin routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/api/admin/music").route(web::get().to(list_music)))
        // `.*` so that an id with a `/` reaches validation and is refused with a 400.
        .service(
            resource("/api/admin/music/{music_id:.*}")
                .route(web::put().to(put_music))
                .route(web::delete().to(retire_music)),
        );
}

envelope!(
    /// A track as the catalogue keeps it, enveloped.
    CatalogTrackBody(CatalogTrack)
);

#[derive(Debug, Deserialize)]
pub(crate) struct ListParams {
    search: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// A page of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CatalogListBody {
    success: bool,
    data: Vec<CatalogTrack>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/admin/music", tag = "admin", params(("search" = Option<String>, Query, description = "case-insensitive substring of the title, ≤ 100 characters"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100, default 50"), ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page")), security(("bearer" = [])), responses((status = 200, description = "The catalogue, newest first, retired tracks included (`retired`)", body = CatalogListBody)))]
pub(crate) async fn list_music(
    caller: AuthUser,
    state: web::Data<AppState>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let by = state.accounts.operator(&caller.0)?;
    let search = SearchTerm::parse(params.search.as_deref())?.map(|t| t.key().to_owned());
    let page = PageRequest::parse(params.limit.as_deref(), None, params.cursor.as_deref())?;
    let list = state.catalog.page(&by, search, &page).await?;
    Ok(HttpResponse::Ok().json(CatalogListBody {
        success: true,
        data: list.items,
        next_cursor: list.next_cursor.map(|c| c.encode()),
    }))
}

#[utoipa::path(put, path = "/api/admin/music/{music_id}", tag = "admin", request_body = PutMusicBody, params(("music_id" = String, Path, pattern = "^[A-Za-z0-9_-]{1,36}$")), security(("bearer" = [])), responses((status = 200, description = "The track as the catalogue now keeps it (created, replaced or made live again)", body = CatalogTrackBody)))]
pub(crate) async fn put_music(
    caller: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    request_id: RequestId,
    body: web::Json<Object<PutMusicBody>>,
) -> Result<HttpResponse, ApiError> {
    let by = state.accounts.operator(&caller.0)?;
    let id = CatalogId::parse_field("music_id", &path)?;
    let Object(body) = body.into_inner();
    let track = body.into_track(id)?;
    let track = state.catalog.put(&by, track, Some(request_id.0)).await?;
    Ok(CatalogTrackBody::ok(track))
}

#[utoipa::path(delete, path = "/api/admin/music/{music_id}", tag = "admin", params(("music_id" = String, Path, pattern = "^[A-Za-z0-9_-]{1,36}$")), security(("bearer" = [])), responses((status = 200, description = "The track, retired: new grants 404, live links 410", body = CatalogTrackBody)))]
pub(crate) async fn retire_music(
    caller: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let by = state.accounts.operator(&caller.0)?;
    let id = CatalogId::parse_field("music_id", &path)?;
    let track = state.catalog.retire(&by, &id, Some(request_id.0)).await?;
    Ok(CatalogTrackBody::ok(track))
}
