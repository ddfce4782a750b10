//! `GET|HEAD /files/{token}`: redeems a download token and streams the file from local
//! storage, with ranges, validators and a download file name.

use std::net::IpAddr;

use actix_files::NamedFile;
use actix_web::http::Method;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::{HttpRequest, HttpResponse, web};
use ipnet::IpNet;
use soundshelf_domain::catalog::object_key;
use soundshelf_domain::downloads::parse_range;
use soundshelf_service::ClientInfo;

use super::resource;
use crate::error::ApiError;
use crate::state::AppState;

/// Registers `/files/{token}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/files/{token}")
            .route(web::get().to(redeem))
            .route(web::head().to(redeem_head)),
    );
}

/// The client's address: the socket peer, or the first `X-Forwarded-For` hop when the
/// peer is a trusted proxy.
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".to_owned();
    };
    if trusted.iter().any(|net| net.contains(&peer))
        && let Some(first) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|hop| hop.trim().parse::<IpAddr>().ok())
    {
        return first.to_string();
    }
    peer.to_string()
}

#[utoipa::path(get, path = "/files/{token}", tag = "downloads", params(("token" = String, Path, description = "the grant's token"), ("Range" = Option<String>, Header, description = "one byte range; a resume does not use a use")), responses((status = 200, description = "The file (local storage)", content_type = "application/octet-stream", body = Vec<u8>), (status = 206, description = "The range asked for", content_type = "application/octet-stream", body = Vec<u8>), (status = 302, description = "Redirect to the signed CDN URL (qiniu, oss)"), (status = 404, description = "TOKEN_NOT_FOUND", body = crate::openapi::ErrorBody), (status = 410, description = "DOWNLOAD_LINK_EXPIRED or DOWNLOAD_USES_EXCEEDED", body = crate::openapi::ErrorBody), (status = 416, description = "RANGE_NOT_SATISFIABLE", body = crate::openapi::ErrorBody), (status = 500, description = "INTERNAL", body = crate::openapi::ErrorBody), (status = 503, description = "UNAVAILABLE (with Retry-After)", body = crate::openapi::ErrorBody)))]
pub(crate) async fn redeem(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let head = req.method() == Method::HEAD;
    let range = req
        .headers()
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_range);
    let client = ClientInfo {
        ip: client_ip(&req, &state.trusted_proxies),
        user_agent: req.headers().get(header::USER_AGENT).map(|ua| {
            String::from_utf8_lossy(ua.as_bytes())
                .chars()
                .take(512)
                .collect()
        }),
    };
    let redemption = match state.downloads.redeem(&path, head, range, &client).await {
        Ok(r) => r,
        Err(e) => {
            let e = ApiError::from(e);
            metrics::counter!("download_redemptions_total", "outcome" => e.code()).increment(1);
            return Err(e);
        }
    };
    let outcome = if redemption.redirect.is_some() {
        "redirected"
    } else {
        "served"
    };
    metrics::counter!("download_redemptions_total", "outcome" => outcome).increment(1);
    if let Some(url) = redemption.redirect {
        // Checked and counted: the CDN serves the bytes (and the range).
        return Ok(HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish());
    }
    let token = &redemption.token;
    // The key is built from checked ids, so the path stays under the storage root.
    let key = object_key(
        &soundshelf_domain::CatalogId::parse_field("music_id", token.music_id.as_str())?,
        token.quality,
    );
    let file = NamedFile::open_async(state.storage_dir.join(&key))
        .await
        .map_err(|e| ApiError::Internal(format!("object {key}: {e}").into()))?;
    let extension = key.rsplit('.').next().unwrap_or("bin");
    let fallback = key.rsplit('/').next().unwrap_or("download").to_owned();
    let file = file.set_content_disposition(ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![
            DispositionParam::Filename(fallback),
            DispositionParam::FilenameExt(ExtendedValue {
                charset: Charset::Ext("UTF-8".to_owned()),
                language_tag: None,
                value: format!("{}.{extension}", redemption.title).into_bytes(),
            }),
        ],
    });
    Ok(file.into_response(&req))
}

/// `HEAD /files/{token}`: the headers of a redemption; never uses a use.
#[utoipa::path(head, path = "/files/{token}", tag = "downloads", params(("token" = String, Path)), responses((status = 200, description = "The headers of the file"), (status = 302, description = "Redirect to the signed CDN URL"), (status = 404, description = "TOKEN_NOT_FOUND", body = crate::openapi::ErrorBody), (status = 410, description = "DOWNLOAD_LINK_EXPIRED", body = crate::openapi::ErrorBody)))]
pub(crate) async fn redeem_head(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    redeem(req, state, path).await
}
