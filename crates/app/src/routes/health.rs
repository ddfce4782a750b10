//! Liveness: answers without touching any dependency.

use actix_web::{HttpResponse, web};
use serde_json::json;

use super::{ok, resource};

/// Registers `/health`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/health").route(web::get().to(health)));
}

async fn health() -> HttpResponse {
    ok(json!({"status": "ok"}))
}
