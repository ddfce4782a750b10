//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations
//! and the types the handlers read and send (request bodies, response envelopes, the
//! domain values inside them, the code table); served at `/api/openapi.json`
//! and exported by `cargo xtask openapi` to `docs/openapi.json`.

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "soundshelf",
        description = "Favorites and downloads of a music-therapy mini-program. Every JSON answer is an envelope; failures carry `success: false`, `error` and a stable `code`."
    ),
    paths(
        routes::health::health,
        routes::health::ready,
        routes::health::metrics,
        openapi_json,
        routes::favorites::add,
        routes::favorites::list,
        routes::favorites::contains,
        routes::favorites::sync,
        routes::favorites::remove_item,
        routes::favorites::remove,
        routes::downloads::grant,
        routes::downloads::report,
        routes::downloads::list,
        routes::downloads::delete,
        routes::files::redeem,
        routes::files::redeem_head,
        routes::admin::stats,
        routes::admin::popular,
        routes::admin::abnormal,
        routes::admin::reports
    ),
    components(schemas(
        crate::error::ErrorBody,
        crate::error::ErrorCodeSchema,
        crate::envelope::MessageBody,
        crate::envelope::DataBody,
        crate::envelope::DataListBody,
        crate::envelope::DataOneOrListBody,
        soundshelf_domain::ItemType,
        soundshelf_domain::ItemData,
        soundshelf_domain::Favorite,
        crate::bodies::AddFavoriteBody,
        routes::favorites::FavoriteBody,
        routes::favorites::ListBody,
        routes::favorites::ContainsBody,
        soundshelf_domain::sync::Action,
        crate::bodies::ChangeBody,
        crate::bodies::SyncRequestBody,
        soundshelf_domain::sync::StateKind,
        soundshelf_domain::sync::Conflict,
        soundshelf_domain::sync::Rejected,
        routes::favorites::SyncData,
        routes::favorites::SyncBody,
        soundshelf_domain::Quality,
        routes::downloads::GrantData,
        routes::downloads::GrantBody,
        soundshelf_domain::downloads::DownloadStatus,
        crate::bodies::ReportBody,
        routes::downloads::MusicInfo,
        routes::downloads::RecordBody,
        routes::downloads::DownloadRecordBody,
        routes::downloads::Stats,
        routes::downloads::ListBody,
    )),
    modifiers(&BearerAuth)
)]
#[derive(Debug)]
pub struct ApiDoc;

/// The document as pretty JSON (what `docs/openapi.json` holds).
pub fn document() -> String {
    ApiDoc::openapi().to_pretty_json().unwrap_or_default() + "\n"
}

/// Registers `/api/openapi.json`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(crate::envelope::resource("/api/openapi.json").route(web::get().to(openapi_json)));
}

/// The OpenAPI 3.1 document of this API (not enveloped).
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta", responses((status = 200, description = "The OpenAPI document", body = Object)))]
pub(crate) async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
}
