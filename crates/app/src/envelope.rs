//! The JSON envelope of successful answers, and the resources that answer unknown
//! paths and methods in the error envelope.

use actix_web::{HttpResponse, Resource, web};
use serde::Serialize;
use soundshelf_domain::ErrorCode;

use crate::error::ApiError;

/// A resource that answers a method it has no route for with an enveloped 405.
pub(crate) fn resource(path: &str) -> Resource {
    web::resource(path).default_service(web::to(method_not_allowed))
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::Code(ErrorCode::MethodNotAllowed))
}

/// The answer for a path no route matches: an enveloped 404.
pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::Code(ErrorCode::NotFound))
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
