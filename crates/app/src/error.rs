//! The one error type of the HTTP layer, and the JSON envelope every failure is sent in.
//!
//! Policy: a 4xx tells the client what to fix, in the SPEC's words and code. A 5xx is
//! logged here with its whole cause chain and answered with a fixed message: no SQL, no
//! driver text, no stack ever reaches a client.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use std::borrow::Cow;

use serde::Serialize;
use soundshelf_domain::ValidationError;
use soundshelf_domain::downloads::GrantDenied;
use soundshelf_ports::BoxError;
use soundshelf_service::{AuthError, DownloadsError, FavoritesError, InfraError};

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
    /// 403 `PREMIUM_REQUIRED`.
    #[error("premium required")]
    PremiumRequired,
    /// 403 `VIP_REQUIRED`.
    #[error("vip required")]
    VipRequired,
    /// 403 `DAILY_LIMIT_REACHED`, naming the plan's limit.
    #[error("daily limit reached")]
    DailyLimitReached {
        /// The plan's daily limit.
        limit: u32,
    },
    /// 403 `STORAGE_FULL`.
    #[error("storage full")]
    StorageFull,
    /// 404 `MUSIC_NOT_FOUND`.
    #[error("music not found")]
    MusicNotFound,
    /// 404 `QUALITY_NOT_AVAILABLE`.
    #[error("quality not available")]
    QualityNotAvailable,
    /// 404 `DOWNLOAD_NOT_FOUND`.
    #[error("download record not found")]
    DownloadNotFound,
    /// 404 `REPORT_NOT_FOUND`.
    #[error("report not found")]
    ReportNotFound,
    /// 404 `TOKEN_NOT_FOUND`.
    #[error("token not found")]
    TokenNotFound,
    /// 410 `DOWNLOAD_LINK_EXPIRED`.
    #[error("link expired")]
    LinkExpired,
    /// 410 `DOWNLOAD_USES_EXCEEDED`.
    #[error("uses exceeded")]
    UsesExceeded,
    /// 416 `RANGE_NOT_SATISFIABLE`, with the file's length for `Content-Range`.
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// The file's length.
        len: u64,
    },
    /// 429 `RATE_LIMITED`, with `Retry-After`.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until the next request can pass.
        retry_after_secs: u64,
    },
    /// 409 `ALREADY_FAVORITED`.
    #[error("already favorited")]
    AlreadyFavorited,
    /// 413 `PAYLOAD_TOO_LARGE`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 408 `REQUEST_TIMEOUT`: the request took longer than `HTTP_REQUEST_TIMEOUT`.
    #[error("request timeout")]
    RequestTimeout,
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
            Self::PremiumRequired => "PREMIUM_REQUIRED",
            Self::VipRequired => "VIP_REQUIRED",
            Self::DailyLimitReached { .. } => "DAILY_LIMIT_REACHED",
            Self::StorageFull => "STORAGE_FULL",
            Self::MusicNotFound => "MUSIC_NOT_FOUND",
            Self::QualityNotAvailable => "QUALITY_NOT_AVAILABLE",
            Self::DownloadNotFound => "DOWNLOAD_NOT_FOUND",
            Self::TokenNotFound => "TOKEN_NOT_FOUND",
            Self::ReportNotFound => "REPORT_NOT_FOUND",
            Self::LinkExpired => "DOWNLOAD_LINK_EXPIRED",
            Self::UsesExceeded => "DOWNLOAD_USES_EXCEEDED",
            Self::RangeNotSatisfiable { .. } => "RANGE_NOT_SATISFIABLE",
            Self::RateLimited { .. } => "RATE_LIMITED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::RequestTimeout => "REQUEST_TIMEOUT",
            Self::Unavailable(_) => "UNAVAILABLE",
            Self::Internal(_) => "INTERNAL",
        }
    }

    /// The message for people.
    pub fn message(&self) -> Cow<'_, str> {
        Cow::Borrowed(match self {
            Self::InvalidRequest(m) => m,
            Self::DailyLimitReached { limit } => {
                return Cow::Owned(format!("每日下载限制{limit}次，已达上限"));
            }
            Self::PremiumRequired => "需要会员权限",
            Self::VipRequired => "无损音质需要VIP会员",
            Self::StorageFull => "存储空间已满，请清理后重试",
            Self::MusicNotFound => "音乐不存在",
            Self::QualityNotAvailable => "该音质不可用",
            Self::DownloadNotFound => "下载记录不存在",
            Self::TokenNotFound => "令牌不存在",
            Self::ReportNotFound => "报告不存在",
            Self::LinkExpired => "令牌已过期",
            Self::UsesExceeded => "下载次数超限",
            Self::RangeNotSatisfiable { .. } => "请求的范围无效",
            Self::RateLimited { .. } => "下载请求过于频繁，请稍后再试",
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
            Self::RequestTimeout => "请求超时",
            Self::Unavailable(_) => "服务暂不可用",
            Self::Internal(_) => "服务器内部错误",
        })
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::MissingToken | Self::TokenInvalid | Self::TokenExpired => {
                StatusCode::UNAUTHORIZED
            }
            Self::UserInactive
            | Self::Forbidden
            | Self::PremiumRequired
            | Self::VipRequired
            | Self::DailyLimitReached { .. }
            | Self::StorageFull => StatusCode::FORBIDDEN,
            Self::FavoriteNotFound
            | Self::RouteNotFound
            | Self::MusicNotFound
            | Self::QualityNotAvailable
            | Self::DownloadNotFound
            | Self::TokenNotFound
            | Self::ReportNotFound => StatusCode::NOT_FOUND,
            Self::LinkExpired | Self::UsesExceeded => StatusCode::GONE,
            Self::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::AlreadyFavorited => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
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
        if let Self::RateLimited { retry_after_secs } = self {
            res.insert_header((header::RETRY_AFTER, HeaderValue::from(*retry_after_secs)));
        }
        if let Self::RangeNotSatisfiable { len } = self
            && let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}"))
        {
            res.insert_header((header::CONTENT_RANGE, v));
        }
        if matches!(
            self,
            Self::MissingToken | Self::TokenInvalid | Self::TokenExpired
        ) {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        res.json(ErrorBody {
            success: false,
            error: &self.message(),
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

impl From<DownloadsError> for ApiError {
    fn from(e: DownloadsError) -> Self {
        match e {
            DownloadsError::RateLimited { retry_after } => Self::RateLimited {
                retry_after_secs: crate::limiter::retry_after_secs(retry_after),
            },
            DownloadsError::Denied(denied) => match denied {
                GrantDenied::UserInactive => Self::UserInactive,
                GrantDenied::MusicNotFound => Self::MusicNotFound,
                GrantDenied::QualityNotAvailable => Self::QualityNotAvailable,
                GrantDenied::PremiumRequired => Self::PremiumRequired,
                GrantDenied::VipRequired => Self::VipRequired,
                GrantDenied::DailyLimitReached { limit } => Self::DailyLimitReached { limit },
                GrantDenied::StorageFull => Self::StorageFull,
            },
            DownloadsError::RecordNotFound => Self::DownloadNotFound,
            DownloadsError::TokenNotFound => Self::TokenNotFound,
            DownloadsError::TokenExpired => Self::LinkExpired,
            DownloadsError::UsesExceeded => Self::UsesExceeded,
            DownloadsError::RangeNotSatisfiable { len } => Self::RangeNotSatisfiable { len },
            DownloadsError::Infra(e) => e.into(),
        }
    }
}
