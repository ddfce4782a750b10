//! The OpenAPI 3.1 document, generated from the handlers' `#[utoipa::path]` annotations
//! and the types the handlers read and send (request bodies, response envelopes, the
//! domain values inside them, the code table); served at `/api/openapi.json`
//! and exported by `cargo xtask openapi` to `docs/openapi.json`.

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use soundshelf_domain::ErrorCode;

use crate::routes;

/// The refusals an operation documents: each code with a note (or `""`). Their statuses
/// and spellings come from the table in `soundshelf_domain::codes`, so the document
/// cannot give a code another status than the server answers with.
type Refusals = &'static [(ErrorCode, &'static str)];

/// What every authenticated operation may answer: the token's refusals, an inactive user.
const AUTHENTICATED: Refusals = &[
    (ErrorCode::MissingToken, ""),
    (ErrorCode::TokenInvalid, ""),
    (ErrorCode::TokenExpired, ""),
    (ErrorCode::UserInactive, ""),
];

/// What every operation that reaches the database may answer.
const DEPENDENCIES: Refusals = &[(ErrorCode::Internal, ""), (ErrorCode::Unavailable, "")];

/// The refusals of each operation beyond [`AUTHENTICATED`] and [`DEPENDENCIES`], by
/// operation id, and whether those two apply.
fn refusals(operation: &str) -> Option<(bool, Refusals, bool)> {
    use ErrorCode::*;
    Some(match operation {
        "health" | "render" | "openapi_json" => (false, &[], false),
        "ready" => (
            false,
            &[(Unavailable, "the database does not answer")],
            false,
        ),
        "list_favorites" => (
            true,
            &[
                (InvalidRequest, "limit, offset, cursor, type or search"),
                (Forbidden, "another user_id"),
            ],
            true,
        ),
        "add" => (
            true,
            &[
                (InvalidRequest, "a missing or invalid field, bad JSON"),
                (Forbidden, "another user_id"),
                (AlreadyFavorited, ""),
                (PayloadTooLarge, "body over 64 KiB"),
            ],
            true,
        ),
        "contains" | "list_downloads" => (
            true,
            &[(InvalidRequest, ""), (Forbidden, "another user_id")],
            true,
        ),
        "sync" => (
            true,
            &[
                (
                    InvalidRequest,
                    "the body is not an object, local_changes is not an array or last_sync_time is invalid; nothing applied (a bad change is only listed in rejected)",
                ),
                (Forbidden, "another user_id"),
                (PayloadTooLarge, "over 500 changes or 64 KiB"),
            ],
            true,
        ),
        "remove_item" => (
            true,
            &[(InvalidRequest, "not an item id"), (FavoriteNotFound, "")],
            true,
        ),
        "remove" => (
            true,
            &[
                (InvalidRequest, "not a favorite id"),
                (FavoriteNotFound, "also for another user's favorite"),
            ],
            true,
        ),
        "grant" => (
            true,
            &[
                (InvalidRequest, ""),
                (PremiumRequired, ""),
                (VipRequired, ""),
                (DailyLimitReached, ""),
                (StorageFull, ""),
                (Forbidden, "another user_id"),
                (MusicNotFound, ""),
                (QualityNotAvailable, ""),
                (RateLimited, ""),
            ],
            true,
        ),
        "me" => (true, &[], true),
        "music" => (
            true,
            &[
                (InvalidRequest, "not a catalogue id"),
                (MusicNotFound, "unknown or retired"),
            ],
            true,
        ),
        "music_list" => (
            true,
            &[(InvalidRequest, "ids missing, invalid or more than 50")],
            true,
        ),
        "user" | "reset_today" => (
            true,
            &[
                (InvalidRequest, "not a user id"),
                (Forbidden, "not an admin"),
                (UserNotFound, ""),
            ],
            true,
        ),
        "patch_user" => (
            true,
            &[
                (
                    InvalidRequest,
                    "no field, a field invalid, or an admin disabling or demoting themselves",
                ),
                (Forbidden, "not an admin"),
                (UserNotFound, ""),
                (PayloadTooLarge, ""),
            ],
            true,
        ),
        "list_music" => (
            true,
            &[
                (InvalidRequest, "search, limit or cursor"),
                (Forbidden, "not an admin"),
            ],
            true,
        ),
        "put_music" => (
            true,
            &[
                (InvalidRequest, "an id, field or asset invalid"),
                (Forbidden, "not an admin"),
                (PayloadTooLarge, ""),
            ],
            true,
        ),
        "retire_music" => (
            true,
            &[
                (InvalidRequest, "not a catalogue id"),
                (Forbidden, "not an admin"),
                (MusicNotFound, ""),
            ],
            true,
        ),
        "audit" => (
            true,
            &[
                (InvalidRequest, "user_id, limit or cursor"),
                (Forbidden, "not an admin"),
            ],
            true,
        ),
        "put_internal_user" => (
            false,
            &[
                (
                    SignatureInvalid,
                    "X-Signature missing, malformed, wrong, or t more than 300 s away",
                ),
                (InvalidRequest, "a field missing or invalid"),
                (PayloadTooLarge, ""),
                (NotFound, "INTERNAL_API_SECRET is not set"),
            ],
            true,
        ),
        "report" => (
            true,
            &[
                (InvalidRequest, ""),
                (Forbidden, "another user_id"),
                (MusicNotFound, ""),
                (QualityNotAvailable, ""),
                (PayloadTooLarge, ""),
            ],
            true,
        ),
        "delete" => (
            true,
            &[
                (InvalidRequest, ""),
                (DownloadNotFound, "also for another user's record"),
            ],
            true,
        ),
        "stats" | "popular" => (
            true,
            &[(InvalidRequest, ""), (Forbidden, "not an admin")],
            true,
        ),
        "abnormal" => (true, &[(Forbidden, "not an admin")], true),
        "reports" => (
            true,
            &[
                (InvalidRequest, ""),
                (Forbidden, "not an admin"),
                (ReportNotFound, ""),
            ],
            true,
        ),
        "redeem" => (
            false,
            &[
                (TokenNotFound, ""),
                (DownloadLinkExpired, ""),
                (DownloadUsesExceeded, ""),
                (RangeNotSatisfiable, ""),
            ],
            true,
        ),
        "redeem_head" => (
            false,
            &[(TokenNotFound, ""), (DownloadLinkExpired, "")],
            true,
        ),
        _ => return None,
    })
}

/// `A`, `A or B`, `A, B or C`, each code with its note in parentheses (and the
/// `Retry-After` of the codes that carry it).
fn describe(codes: &[(ErrorCode, &str)]) -> String {
    let parts: Vec<String> = codes
        .iter()
        .map(|(code, note)| {
            let retry = matches!(code, ErrorCode::Unavailable | ErrorCode::RateLimited);
            match (note.is_empty(), retry) {
                (true, false) => code.as_str().to_owned(),
                (true, true) => format!("{code} (with Retry-After)"),
                (false, false) => format!("{code} ({note})"),
                (false, true) => format!("{code} ({note}; with Retry-After)"),
            }
        })
        .collect();
    match parts.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Writes each operation's error responses from [`refusals`]: one response per status,
/// naming its codes, in the error envelope. The handlers' annotations name only what
/// succeeds.
struct ErrorResponses;

impl Modify for ErrorResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
                &mut item.head,
            ];
            for operation in operations.into_iter().flatten() {
                let id = operation.operation_id.clone().unwrap_or_default();
                let Some((authenticated, own, dependencies)) = refusals(&id) else {
                    continue;
                };
                let mut by_status: std::collections::BTreeMap<u16, Vec<(ErrorCode, &str)>> =
                    std::collections::BTreeMap::new();
                let all = authenticated
                    .then_some(AUTHENTICATED)
                    .into_iter()
                    .chain([own])
                    .chain(dependencies.then_some(DEPENDENCIES))
                    .flatten();
                for (code, note) in all {
                    let group = by_status.entry(code.status()).or_default();
                    if !group.iter().any(|(c, _)| c == code) {
                        group.push((*code, note));
                    }
                }
                for (status, codes) in by_status {
                    let response = ResponseBuilder::new()
                        .description(describe(&codes))
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build(),
                        )
                        .build();
                    operation
                        .responses
                        .responses
                        .insert(status.to_string(), response.into());
                }
            }
        }
    }
}

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
        routes::client::me,
        routes::client::music,
        routes::client::music_list,
        routes::files::redeem,
        routes::files::redeem_head,
        routes::admin::stats,
        routes::admin::popular,
        routes::admin::abnormal,
        routes::admin::reports,
        routes::accounts::user,
        routes::accounts::patch_user,
        routes::accounts::reset_today,
        routes::accounts::audit,
        routes::accounts::put_internal_user,
        routes::catalog::list_music,
        routes::catalog::put_music,
        routes::catalog::retire_music
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
        soundshelf_domain::Plan,
        soundshelf_domain::UserStatus,
        routes::client::DailyDownloads,
        routes::client::Storage,
        routes::client::RateLimit,
        routes::client::Me,
        routes::client::MeBody,
        routes::client::QualityOffer,
        routes::client::Music,
        routes::client::MusicBody,
        routes::client::MusicListBody,
        soundshelf_domain::Role,
        soundshelf_domain::User,
        routes::accounts::UserBody,
        routes::accounts::UserView,
        routes::accounts::UserViewBody,
        routes::accounts::QuotaReset,
        routes::accounts::QuotaResetBody,
        routes::accounts::AuditItem,
        routes::accounts::AuditListBody,
        crate::bodies::PatchUserBody,
        crate::bodies::InternalUserBody,
        soundshelf_domain::catalog::Asset,
        soundshelf_domain::catalog::CatalogTrack,
        routes::catalog::CatalogTrackBody,
        routes::catalog::CatalogListBody,
        crate::bodies::AssetBody,
        crate::bodies::PutMusicBody,
    )),
    modifiers(&BearerAuth, &ErrorResponses)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_its_refusals_and_they_come_from_the_table() {
        let doc = ApiDoc::openapi();
        for (path, item) in &doc.paths.paths {
            for operation in [
                &item.get,
                &item.post,
                &item.put,
                &item.patch,
                &item.delete,
                &item.head,
            ]
            .into_iter()
            .flatten()
            {
                let id = operation.operation_id.clone().unwrap_or_default();
                assert!(refusals(&id).is_some(), "{path}: {id} has no refusals");
                for (status, response) in &operation.responses.responses {
                    let utoipa::openapi::RefOr::T(response) = response else {
                        continue;
                    };
                    if status.as_str() >= "400" {
                        let codes = ErrorCode::ALL
                            .iter()
                            .filter(|c| response.description.contains(c.as_str()))
                            .filter(|c| c.status().to_string() == *status);
                        assert!(
                            codes.count() > 0,
                            "{path} {id} {status}: {}",
                            response.description
                        );
                    }
                }
            }
        }
        assert_eq!(
            describe(&[
                (ErrorCode::MissingToken, ""),
                (ErrorCode::TokenInvalid, ""),
                (ErrorCode::TokenExpired, "")
            ]),
            "MISSING_TOKEN, TOKEN_INVALID or TOKEN_EXPIRED"
        );
        assert_eq!(
            describe(&[(ErrorCode::Unavailable, "")]),
            "UNAVAILABLE (with Retry-After)"
        );
    }
}
