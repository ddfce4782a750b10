//! Liveness (`/health`: no I/O) and readiness (`/ready`: the database and Redis answer).

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{ok, resource};
use crate::state::AppState;

/// Registers `/health`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/health").route(web::get().to(health)))
        .service(resource("/ready").route(web::get().to(ready)));
}

/// 200 while the database answers (Redis down only degrades: it is reported, and the
/// instance keeps serving); 503 `UNAVAILABLE` with `Retry-After` when the database does
/// not answer. The body says which dependency is up.
#[utoipa::path(get, path = "/ready", tag = "meta", responses((status = 200, description = "The database answers; `data.checks` says whether Redis does (`status: degraded` when not)", body = crate::openapi::DataBody), (status = 503, description = "UNAVAILABLE: the database does not answer", body = crate::openapi::ErrorBody)))]
pub(crate) async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let database = state.store.ping().await.is_ok();
    let redis = match &state.redis {
        None => "not_configured",
        Some(r) if r.ping().await.is_ok() => "up",
        Some(_) => "down",
    };
    let checks = json!({
        "database": if database { "up" } else { "down" },
        "redis": redis,
        "rate_limit_fallbacks": state.shared_limiter.as_ref().map_or(0, |l| l.fallbacks()),
    });
    if database {
        ok(json!({"status": if redis == "down" { "degraded" } else { "ready" }, "checks": checks}))
    } else {
        HttpResponse::ServiceUnavailable()
            .insert_header((actix_web::http::header::RETRY_AFTER, crate::error::UNAVAILABLE_RETRY_AFTER_SECS))
            .json(json!({"success": false, "error": "服务暂不可用", "code": "UNAVAILABLE", "checks": checks}))
    }
}

#[utoipa::path(get, path = "/health", tag = "meta", responses((status = 200, description = "Alive: no dependency is touched", body = crate::openapi::DataBody)))]
pub(crate) async fn health() -> HttpResponse {
    ok(json!({"status": "ok"}))
}
