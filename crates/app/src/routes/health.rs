//! Liveness (`/health`: no I/O), readiness (`/ready`: the database and Redis answer) and
//! the metrics (`/metrics`, which probes the same dependencies into `dependency_up`).

use actix_web::{HttpResponse, web};
use serde_json::json;

use soundshelf_service::health::RedisState;

use crate::envelope::{DataBody, resource};
use crate::error::ApiError;
use crate::state::AppState;

/// Registers `/health`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/health").route(web::get().to(health)))
        .service(resource("/ready").route(web::get().to(ready)))
        .service(resource("/metrics").route(web::get().to(metrics)));
}

/// 200 while the database answers (Redis down only degrades: it is reported, and the
/// instance keeps serving); 503 `UNAVAILABLE` with `Retry-After` when the database does
/// not answer. The body says which dependency is up.
#[utoipa::path(get, path = "/ready", tag = "meta", responses((status = 200, description = "The database answers; `data.checks` says whether Redis does (`status: degraded` when not)", body = DataBody)))]
pub(crate) async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let r = state.health.readiness().await;
    let checks = json!({
        "database": if r.database { "up" } else { "down" },
        "redis": match r.redis {
            RedisState::NotConfigured => "not_configured",
            RedisState::Up => "up",
            RedisState::Down => "down",
        },
        "rate_limit_fallbacks": r.rate_limit_fallbacks,
    });
    if !r.is_ready() {
        return Err(ApiError::NotReady(checks));
    }
    let status = if r.is_degraded() { "degraded" } else { "ready" };
    Ok(DataBody::ok(json!({"status": status, "checks": checks})))
}

#[utoipa::path(get, path = "/health", tag = "meta", responses((status = 200, description = "Alive: no dependency is touched", body = DataBody)))]
pub(crate) async fn health() -> HttpResponse {
    DataBody::ok(json!({"status": "ok"}))
}

#[utoipa::path(get, path = "/metrics", operation_id = "render", tag = "meta", responses((status = 200, description = "Prometheus text exposition", content_type = "text/plain", body = String)))]
pub(crate) async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    // Probed at each scrape (bounded by DB_TIMEOUT and Redis' 250 ms), so an alert rule
    // sees a dependency go down within one scrape interval.
    let r = state.health.readiness().await;
    metrics::gauge!("dependency_up", "dependency" => "database")
        .set(f64::from(u8::from(r.database)));
    match r.redis {
        RedisState::NotConfigured => {}
        RedisState::Up => metrics::gauge!("dependency_up", "dependency" => "redis").set(1.0),
        RedisState::Down => metrics::gauge!("dependency_up", "dependency" => "redis").set(0.0),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(crate::observability::render_metrics())
}
