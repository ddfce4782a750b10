//! `GET|HEAD /files/{token}`: redeems a download token and streams the file from local
//! storage, with ranges, validators and a download file name.

use std::net::IpAddr;

use actix_files::NamedFile;
use actix_web::dev::Service as _;
use actix_web::http::Method;
use actix_web::http::header::{
    self, Charset, ContentDisposition, DispositionParam, DispositionType, ExtendedValue,
};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use ipnet::IpNet;
use soundshelf_domain::downloads::{ByteRange, parse_range};
use soundshelf_service::ClientInfo;

use crate::envelope::resource;
use crate::error::ApiError;
use crate::state::AppState;

/// Registers `/files/{token}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/files/{token}")
            // A Range header this server does not honour (several ranges, another unit,
            // bad syntax) is dropped, so the whole file is served, as RFC 9110 allows and
            // as the redemption counted it, instead of reaching the file server, which
            // would answer an empty 416 or 400 outside the envelope.
            // The range read here is handed to the handler, which does not parse again.
            .wrap_fn(|mut req, srv| {
                let asked = req
                    .headers()
                    .get(header::RANGE)
                    .map(|v| v.to_str().ok().and_then(parse_range));
                match asked {
                    Some(None) => {
                        req.headers_mut().remove(header::RANGE);
                    }
                    Some(Some(range)) => {
                        req.extensions_mut().insert(range);
                    }
                    None => {}
                }
                srv.call(req)
            })
            .route(web::get().to(redeem))
            .route(web::head().to(redeem_head)),
    );
}

/// The client's address. When the socket peer is a trusted proxy, `X-Forwarded-For` is
/// read from the right (the hop nearest to us) and trusted proxies are skipped: the first
/// address not in `TRUSTED_PROXIES` is the client. Reading from the left would believe
/// whatever a client wrote into its own `X-Forwarded-For`, since proxies append to it.
pub fn client_ip(req: &HttpRequest, trusted: &[IpNet]) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else {
        return "unknown".to_owned();
    };
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    resolve_client(peer, &forwarded, trusted).to_string()
}

fn resolve_client(peer: IpAddr, forwarded: &str, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    let mut client = peer;
    for hop in forwarded.rsplit(',') {
        if !is_trusted(&client) {
            break;
        }
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => client = ip,
            // A hop we cannot read: stop at the last address we could vouch for.
            Err(_) => break,
        }
    }
    client
}

#[utoipa::path(get, path = "/files/{token}", tag = "downloads", params(("token" = String, Path, description = "the grant's token"), ("Range" = Option<String>, Header, description = "one byte range; a resume does not use a use")), responses((status = 200, description = "The file (local storage), typed by its extension", content((Vec<u8> = "audio/*"), (Vec<u8> = "application/octet-stream"))), (status = 206, description = "The range asked for", content((Vec<u8> = "audio/*"), (Vec<u8> = "application/octet-stream"))), (status = 302, description = "Redirect to the signed CDN URL (qiniu, oss)")))]
pub(crate) async fn redeem(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let head = req.method() == Method::HEAD;
    // Parsed once, by the resource's guard.
    let range = req.extensions().get::<ByteRange>().copied();
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
    // A checked key (no `..`, not absolute), so the path stays under the storage root.
    let key = redemption.object_key.as_str();
    let file = NamedFile::open_async(state.storage_dir.join(key))
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
#[utoipa::path(head, path = "/files/{token}", tag = "downloads", params(("token" = String, Path)), responses((status = 200, description = "The headers of the file"), (status = 302, description = "Redirect to the signed CDN URL")))]
pub(crate) async fn redeem_head(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    redeem(req, state, path).await
}

#[cfg(test)]
mod client_ip_tests {
    use super::resolve_client;
    use ipnet::IpNet;
    use std::net::IpAddr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|n| n.parse().unwrap()).collect()
    }

    #[test]
    fn untrusted_peer_is_the_client_whatever_it_forwards() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve_client(ip("203.0.113.9"), "1.2.3.4", &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn trusted_proxy_forwards_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve_client(ip("10.0.0.2"), "198.51.100.7", &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn a_spoofed_leftmost_hop_is_not_believed() {
        let trusted = nets(&["10.0.0.0/8"]);
        // The client wrote "1.2.3.4" itself; nginx appended the real address.
        assert_eq!(
            resolve_client(ip("10.0.0.2"), "1.2.3.4, 198.51.100.7", &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn chains_of_trusted_proxies_are_walked() {
        let trusted = nets(&["10.0.0.0/8", "::1/128"]);
        assert_eq!(
            resolve_client(ip("::1"), "198.51.100.7, 10.1.1.1, 10.2.2.2", &trusted),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn garbage_hops_stop_the_walk() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            resolve_client(ip("10.0.0.2"), "198.51.100.7, junk", &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(resolve_client(ip("10.0.0.2"), "", &trusted), ip("10.0.0.2"));
    }
}
