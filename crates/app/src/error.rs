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
use soundshelf_domain::downloads::GrantDenied;
use soundshelf_domain::{ErrorCode, ValidationError};
use soundshelf_ports::BoxError;
use soundshelf_service::accounts::AccountsError;
use soundshelf_service::catalog::CatalogError;
use soundshelf_service::monitoring::MonitoringError;
use soundshelf_service::{AuthError, DownloadsError, FavoritesError, InfraError};

/// Seconds a client is asked to wait when the database is unavailable.
pub const UNAVAILABLE_RETRY_AFTER_SECS: u32 = 5;

/// Everything a request can fail with: a code of the table in
/// [`soundshelf_domain::codes`], which gives its status and message, and what a few codes
/// carry besides.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A refusal fully said by its code (status and message from the table).
    #[error("{0}")]
    Code(ErrorCode),
    /// 400 `INVALID_REQUEST`, with a message naming the bad field.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// 403 `DAILY_LIMIT_REACHED`, naming the plan's limit.
    #[error("daily limit reached")]
    DailyLimitReached {
        /// The plan's daily limit.
        limit: u32,
    },
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
    /// 503 `UNAVAILABLE`, with `Retry-After`.
    #[error("service unavailable")]
    Unavailable(#[source] BoxError),
    /// 503 `UNAVAILABLE` from `/ready`, with `Retry-After` and the state of each
    /// dependency in `checks`.
    #[error("not ready")]
    NotReady(serde_json::Value),
    /// 500 `INTERNAL`.
    #[error("internal error")]
    Internal(#[source] BoxError),
}

/// The failure envelope.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody<'a> {
    /// Always false.
    success: bool,
    /// A message for people (Chinese).
    error: &'a str,
    /// The stable code to branch on.
    #[schema(value_type = ErrorCodeSchema)]
    code: &'a str,
    /// `/ready` only: the state of each dependency.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    checks: Option<&'a serde_json::Value>,
}

/// Every code an error envelope may carry: the codes of the one table in
/// `soundshelf_domain::codes`, described from it.
pub(crate) struct ErrorCodeSchema;

impl utoipa::PartialSchema for ErrorCodeSchema {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some("Every code an error envelope may carry."))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCodeSchema {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ErrorCode")
    }
}

impl ApiError {
    /// 401 `MISSING_TOKEN`.
    pub const MISSING_TOKEN: Self = Self::Code(ErrorCode::MissingToken);
    /// 401 `TOKEN_INVALID`.
    pub const TOKEN_INVALID: Self = Self::Code(ErrorCode::TokenInvalid);
    /// 401 `TOKEN_EXPIRED`.
    pub const TOKEN_EXPIRED: Self = Self::Code(ErrorCode::TokenExpired);
    /// 403 `FORBIDDEN`.
    pub const FORBIDDEN: Self = Self::Code(ErrorCode::Forbidden);
    /// 413 `PAYLOAD_TOO_LARGE`.
    pub const PAYLOAD_TOO_LARGE: Self = Self::Code(ErrorCode::PayloadTooLarge);

    /// A 400 for a refused value.
    pub fn invalid(e: &ValidationError) -> Self {
        Self::InvalidRequest(format!("参数 {} 无效：{}", e.field, e.reason))
    }

    /// A 400 for a missing field.
    pub fn missing(field: &str) -> Self {
        Self::InvalidRequest(format!("缺少必要参数：{field}"))
    }

    /// The code of the table.
    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::Code(code) => *code,
            Self::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Self::DailyLimitReached { .. } => ErrorCode::DailyLimitReached,
            Self::RangeNotSatisfiable { .. } => ErrorCode::RangeNotSatisfiable,
            Self::RateLimited { .. } => ErrorCode::RateLimited,
            Self::Unavailable(_) | Self::NotReady(_) => ErrorCode::Unavailable,
            Self::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// The message for people.
    pub fn message(&self) -> Cow<'_, str> {
        match self {
            Self::InvalidRequest(m) => Cow::Borrowed(m),
            Self::DailyLimitReached { limit } => Cow::Owned(
                self.error_code()
                    .message()
                    .replace("{limit}", &limit.to_string()),
            ),
            other => Cow::Borrowed(other.error_code().message()),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.error_code().status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
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
        match self {
            Self::Unavailable(_) | Self::NotReady(_) => {
                res.insert_header((
                    header::RETRY_AFTER,
                    HeaderValue::from(UNAVAILABLE_RETRY_AFTER_SECS),
                ));
            }
            Self::RateLimited { retry_after_secs } => {
                res.insert_header((header::RETRY_AFTER, HeaderValue::from(*retry_after_secs)));
            }
            Self::RangeNotSatisfiable { len } => {
                if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                    res.insert_header((header::CONTENT_RANGE, v));
                }
            }
            Self::Code(
                ErrorCode::MissingToken | ErrorCode::TokenInvalid | ErrorCode::TokenExpired,
            ) => {
                res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            _ => {}
        }
        res.json(ErrorBody {
            success: false,
            error: &self.message(),
            code: self.code(),
            checks: match self {
                Self::NotReady(checks) => Some(checks),
                _ => None,
            },
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
            FavoritesError::AlreadyFavorited => Self::Code(ErrorCode::AlreadyFavorited),
            FavoritesError::NotFound => Self::Code(ErrorCode::FavoriteNotFound),
            FavoritesError::TooManyChanges => Self::PAYLOAD_TOO_LARGE,
            FavoritesError::Infra(e) => e.into(),
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::UnknownUser => Self::TOKEN_INVALID,
            AuthError::Inactive => Self::Code(ErrorCode::UserInactive),
            AuthError::Infra(e) => e.into(),
        }
    }
}

impl From<AccountsError> for ApiError {
    fn from(e: AccountsError) -> Self {
        match e {
            AccountsError::Forbidden => Self::FORBIDDEN,
            AccountsError::NotFound => Self::Code(ErrorCode::UserNotFound),
            AccountsError::SelfLockout(field) => Self::InvalidRequest(format!(
                "参数 {field} 无效：管理员不能停用自己或撤销自己的管理员角色"
            )),
            AccountsError::Infra(e) => e.into(),
        }
    }
}

impl From<CatalogError> for ApiError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::NotFound => Self::Code(ErrorCode::MusicNotFound),
            CatalogError::Infra(e) => e.into(),
        }
    }
}

impl From<MonitoringError> for ApiError {
    fn from(e: MonitoringError) -> Self {
        match e {
            MonitoringError::Forbidden => Self::FORBIDDEN,
            MonitoringError::Infra(e) => e.into(),
        }
    }
}

/// What the JSON error handler answers for a body that is not an object.
pub const NOT_AN_OBJECT: &str = "请求体必须是 JSON 对象";

/// The 400 for a JSON body that does not deserialize. The bodies are typed leniently
/// (see `bodies`): the only data errors left are a body that is not an object and a field
/// sent twice; anything else is bad JSON.
pub(crate) fn json_body_error(e: &serde_json::Error) -> ApiError {
    if e.is_data() {
        if e.to_string().starts_with("duplicate field") {
            ApiError::InvalidRequest("请求体中有重复的字段".into())
        } else {
            ApiError::InvalidRequest(NOT_AN_OBJECT.into())
        }
    } else {
        ApiError::InvalidRequest(format!(
            "请求体不是有效的 JSON（第 {} 行第 {} 列）",
            e.line(),
            e.column()
        ))
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
                retry_after_secs: retry_after_secs(retry_after),
            },
            DownloadsError::Denied(GrantDenied::DailyLimitReached { limit }) => {
                Self::DailyLimitReached { limit }
            }
            DownloadsError::RangeNotSatisfiable { len } => Self::RangeNotSatisfiable { len },
            DownloadsError::Infra(e) => e.into(),
            other => Self::Code(other.code()),
        }
    }
}

/// Whole seconds for `Retry-After`: rounded up, at least 1.
pub fn retry_after_secs(wait: std::time::Duration) -> u64 {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_rounds_up() {
        use std::time::Duration;
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(11_001)), 12);
        assert_eq!(retry_after_secs(Duration::from_secs(12)), 12);
        assert_eq!(retry_after_secs(Duration::ZERO), 1);
    }
}
