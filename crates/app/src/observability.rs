//! Metrics (Prometheus text through `metrics-exporter-prometheus`) and request ids.
//!
//! Every request gets an id — the client's `X-Request-Id` when it is a sane token, else a
//! new ULID — returned in `X-Request-Id` and carried by a span around the request, so every
//! log line of the request names it.

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::InternalError;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use soundshelf_domain::ErrorCode;
use tracing::Instrument;

use crate::error::ApiError;

/// The request timeout when none is configured (the default of `HTTP_REQUEST_TIMEOUT`).
pub const DEFAULT_REQUEST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// How often recorded histogram samples are folded into their buckets.
const METRICS_UPKEEP: std::time::Duration = std::time::Duration::from_secs(5);

/// Installs the process-wide recorder (once); later calls reuse it.
pub fn install() {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets(&[
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ])
            .ok()?;
        let handle = builder.install_recorder().ok()?;
        // Histogram samples pile up until they are drained into their buckets; without
        // this, a server nobody scrapes grows by every request it serves (found by the
        // soak). A thread of its own, not a task: the recorder is process-wide and
        // outlives any one runtime.
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".to_owned())
            .spawn(move || {
                loop {
                    std::thread::sleep(METRICS_UPKEEP);
                    upkeep.run_upkeep();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "metrics upkeep thread not started");
        }
        Some(handle)
    });
}

/// The Prometheus text exposition of every metric recorded so far.
pub fn render_metrics() -> String {
    HANDLE
        .get()
        .and_then(Option::as_ref)
        .map(PrometheusHandle::render)
        .unwrap_or_default()
}

/// The longest a request may take to be answered (`HTTP_REQUEST_TIMEOUT`), as app data.
#[derive(Debug, Clone, Copy)]
pub struct RequestTimeout(pub std::time::Duration);

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The client's request id if it is 1–64 characters of `A-Z a-z 0-9 - _ .`, else a new one.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .map(str::to_owned)
        .unwrap_or_else(|| ulid::Ulid::generate().to_string())
}

/// The id of the request being answered (what `X-Request-Id` carries), for the audit log.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl actix_web::FromRequest for RequestId {
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &actix_web::HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let id = req
            .extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(|| RequestId(ulid::Ulid::generate().to_string()));
        std::future::ready(Ok(id))
    }
}

/// Gives the request its id and span, logs it when answered, and counts it by route
/// pattern, method and status with its latency. A request that takes longer than
/// [`RequestTimeout`] (a client sending its body slowly, a dependency that hangs) is
/// answered 408 `REQUEST_TIMEOUT`, logged, counted and identified like any other. Store
/// operations run as their own tasks, so none is cut off half-way when the handler is
/// dropped here.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().to_string();
    let span = tracing::info_span!("request", request_id = %id, method = %method);
    let timeout = req
        .app_data::<web::Data<RequestTimeout>>()
        .map_or(DEFAULT_REQUEST_TIMEOUT, |t| t.0);
    // The route's pattern, matched once: it labels the answer, timed out or not.
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "(unmatched)".to_owned());
    let id_header = HeaderValue::from_str(&id).ok();
    req.extensions_mut().insert(RequestId(id.clone()));
    let answered = tokio::time::timeout(timeout, next.call(req).instrument(span.clone())).await;
    let outcome = match answered {
        Ok(Ok(mut res)) => {
            if let Some(value) = id_header {
                res.headers_mut().insert(REQUEST_ID, value);
            }
            Ok(res)
        }
        Ok(Err(e)) => Err(e),
        Err(_) => {
            let error = ApiError::Code(ErrorCode::RequestTimeout);
            let mut res = error.error_response();
            if let Some(value) = id_header {
                res.headers_mut().insert(REQUEST_ID, value);
            }
            Err(InternalError::from_response(error, res).into())
        }
    };
    let status = match &outcome {
        Ok(res) => res.status().as_u16(),
        Err(e) => e.as_response_error().status_code().as_u16(),
    };
    let elapsed = started.elapsed();
    let labels = [
        ("route", route.clone()),
        ("method", method),
        ("status", status.to_string()),
    ];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(elapsed.as_secs_f64());
    span.in_scope(|| {
        let latency_ms = elapsed.as_secs_f64() * 1000.0;
        if status == 408 {
            tracing::warn!(route = %route, status, latency_ms, "request timed out");
        } else {
            tracing::info!(route = %route, status, latency_ms, "request");
        }
    });
    outcome
}
