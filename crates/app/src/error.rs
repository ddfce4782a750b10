//! The one error type of the HTTP layer, and the JSON envelope every failure is sent in.
//!
//! Policy: a 4xx tells the client what to fix, in the SPEC's words and code. A 5xx is
//! logged here with its whole cause chain and answered with a fixed message: no SQL, no
//! driver text, no stack ever reaches a client.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use soundshelf_domain::ValidationError;
use soundshelf_ports::BoxError;
use soundshelf_service::{AuthError, FavoritesError, InfraError};

/// Seconds a client is asked to wait when the database is unavailable.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u32 = 5;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `INVALID_REQUEST`, with a message naming the bad field.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// 401 `MISSING_TOKEN`.
    #[error("missing token")]
    MissingToken,
    /// 401 `TOKEN_INVALID`.
    #[error("invalid token")]
    TokenInvalid,
    /// 401 `TOKEN_EXPIRED`.
    #[error("expired token")]
    TokenExpired,
    /// 403 `USER_INACTIVE`.
    #[error("user inactive")]
    UserInactive,
    /// 403 `FORBIDDEN`.
    #[error("forbidden")]
    Forbidden,
    /// 404 `FAVORITE_NOT_FOUND`.
    #[error("favorite not found")]
    FavoriteNotFound,
    /// 404 `NOT_FOUND`: no such route.
    #[error("no such route")]
    RouteNotFound,
    /// 405 `METHOD_NOT_ALLOWED`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 `ALREADY_FAVORITED`.
    #[error("already favorited")]
    AlreadyFavorited,
    /// 413 `PAYLOAD_TOO_LARGE`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 503 `UNAVAILABLE`, with `Retry-After`.
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    /// 500 `INTERNAL`.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    success: bool,
    error: &'a str,
    code: &'a str,
}

impl ApiError {
    /// A 400 for a refused value.
    pub fn invalid(e: &ValidationError) -> Self {
        Self::InvalidRequest(format!("参数 {} 无效：{}", e.field, e.reason))
    }

    /// A 400 for a missing field.
    pub fn missing(field: &str) -> Self {
        Self::InvalidRequest(format!("缺少必要参数：{field}"))
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "INVALID_REQUEST",
            Self::MissingToken => "MISSING_TOKEN",
            Self::TokenInvalid => "TOKEN_INVALID",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::UserInactive => "USER_INACTIVE",
            Self::Forbidden => "FORBIDDEN",
            Self::FavoriteNotFound => "FAVORITE_NOT_FOUND",
            Self::RouteNotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::AlreadyFavorited => "ALREADY_FAVORITED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// The message for people.
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidRequest(m) => m,
            Self::MissingToken => "缺少访问令牌",
            Self::TokenInvalid => "令牌无效",
            Self::TokenExpired => "令牌已过期",
            Self::UserInactive => "用户状态异常",
            Self::Forbidden => "无权访问",
            Self::FavoriteNotFound => "收藏记录不存在",
            Self::RouteNotFound => "接口不存在",
            Self::MethodNotAllowed => "请求方法不被允许",
            Self::AlreadyFavorited => "已经收藏过了",
            Self::PayloadTooLarge => "请求体过大",
            Self::Unavailable(_) => "服务暂不可用",
            Self::Internal(_) => "服务器内部错误",
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::MissingToken | Self::TokenInvalid | Self::TokenExpired => {
                StatusCode::UNAUTHORIZED
            }
            Self::UserInactive | Self::Forbidden => StatusCode::FORBIDDEN,
            Self::FavoriteNotFound | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::AlreadyFavorited => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            Self::Internal(cause) => {
                tracing::error!(error = %chain(cause.as_ref()), "request failed");
            }
            Self::Unavailable(cause) => {
                tracing::warn!(error = %chain(cause.as_ref()), "dependency unavailable");
            }
            _ => {}
        }
        let mut res = HttpResponse::build(self.status_code());
        if matches!(self, Self::Unavailable(_)) {
            res.insert_header((
                header::RETRY_AFTER,
                HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECS),
            ));
        }
        if matches!(
            self,
            Self::MissingToken | Self::TokenInvalid | Self::TokenExpired
        ) {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        res.json(ErrorBody {
            success: false,
            error: self.message(),
            code: self.code(),
        })
    }
}

/// `e` and its sources, joined, for a log line.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl From<InfraError> for ApiError {
    fn from(e: InfraError) -> Self {
        match e {
            InfraError::Unavailable(src) => Self::Unavailable(src),
            InfraError::Internal(src) => Self::Internal(src),
        }
    }
}

impl From<FavoritesError> for ApiError {
    fn from(e: FavoritesError) -> Self {
        match e {
            FavoritesError::AlreadyFavorited => Self::AlreadyFavorited,
            FavoritesError::NotFound => Self::FavoriteNotFound,
            FavoritesError::TooManyChanges => Self::PayloadTooLarge,
            FavoritesError::Infra(e) => e.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::UnknownUser => Self::TokenInvalid,
            AuthError::Inactive => Self::UserInactive,
            AuthError::Infra(e) => e.into(),
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::invalid(&e)
    }
}
