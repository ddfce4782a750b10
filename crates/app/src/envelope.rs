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

/// Declares a success envelope `{"success": true, "data": …}` around one data type,
/// named for the OpenAPI document; `Name::ok(data)` answers it with a 200. Each response
/// body of the API is such a type, so its schema is derived from what is sent.
macro_rules! envelope {
    ($(#[doc = $doc:literal])* $name:ident($(#[$field:meta])* $data:ty)) => {
        $(#[doc = $doc])*
        #[derive(Debug, serde::Serialize, utoipa::ToSchema)]
        pub(crate) struct $name {
            success: bool,
            $(#[$field])*
            data: $data,
        }

        impl $name {
            /// A 200 with `data` in this envelope.
            pub(crate) fn ok(data: $data) -> actix_web::HttpResponse {
                actix_web::HttpResponse::Ok().json(Self {
                    success: true,
                    data,
                })
            }
        }
    };
}
pub(crate) use envelope;

envelope!(
    /// A success envelope whose `data` is described in the route's text.
    DataBody(#[schema(value_type = Object)] serde_json::Value)
);

envelope!(
    /// A success envelope whose `data` is a list of objects described in the route's text.
    DataListBody(#[schema(value_type = Vec<Object>)] Vec<serde_json::Value>)
);

envelope!(
    /// A success envelope whose `data` is one object or a list of them, as the route's text
    /// says.
    DataOneOrListBody(#[schema(value_type = Value)] serde_json::Value)
);

/// `{success, message}`, as delete routes answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct MessageBody {
    success: bool,
    message: &'static str,
}

impl MessageBody {
    /// A 200 with `message`.
    pub(crate) fn ok(message: &'static str) -> HttpResponse {
        HttpResponse::Ok().json(Self {
            success: true,
            message,
        })
    }
}
