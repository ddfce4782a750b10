//! The HTTP routes. Each module exposes `configure`, wired in `startup`.

pub mod admin;
pub mod downloads;
pub mod favorites;
pub mod files;
pub mod health;

use actix_web::{HttpResponse, Resource, web};
use serde::Serialize;

use crate::error::ApiError;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    favorites::configure(cfg);
    downloads::configure(cfg);
    files::configure(cfg);
    admin::configure(cfg);
    crate::observability::configure(cfg);
    crate::openapi::configure(cfg);
}

/// A resource that answers a method it has no route for with an enveloped 405.
pub(crate) fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

/// The answer for a path no route matches: an enveloped 404.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

/// `{"success": true, "data": …}`.
#[derive(Debug, Serialize)]
pub(crate) struct Data<T> {
    success: bool,
    data: T,
}

/// A 200 with `data` in the success envelope.
pub(crate) fn ok<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Ok().json(Data {
        success: true,
        data,
    })
}

/// A 200 `{"success": true, "message": …}`, as delete routes answer.
pub(crate) fn ok_message(message: &'static str) -> HttpResponse {
    #[derive(Serialize)]
    struct Message {
        success: bool,
        message: &'static str,
    }
    HttpResponse::Ok().json(Message {
        success: true,
        message,
    })
}
