//! The error codes of the API contract: one table giving each code its HTTP status and
//! its message. Every layer names a failure by an [`ErrorCode`]; the spelling, status
//! and message live here and nowhere else.
//!
//! ```
//! use soundshelf_domain::ErrorCode;
//!
//! assert_eq!(ErrorCode::DailyLimitReached.as_str(), "DAILY_LIMIT_REACHED");
//! assert_eq!(ErrorCode::DailyLimitReached.status(), 403);
//! ```

/// Every code an error envelope may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// A missing or invalid parameter or body.
    InvalidRequest,
    /// No bearer token.
    MissingToken,
    /// A token that does not verify, or names no user.
    TokenInvalid,
    /// A token past its `exp`.
    TokenExpired,
    /// A machine-to-machine request whose signature is missing, wrong or stale.
    SignatureInvalid,
    /// The user is disabled or banned.
    UserInactive,
    /// Not the caller's to ask (another `user_id`, an admin route).
    Forbidden,
    /// A premium track for a user without premium access.
    PremiumRequired,
    /// Lossless for a plan other than `vip`.
    VipRequired,
    /// The plan's daily downloads are used up.
    DailyLimitReached,
    /// Completed downloads plus this file would pass the plan's storage.
    StorageFull,
    /// No such favorite of the caller.
    FavoriteNotFound,
    /// No such download record of the caller.
    DownloadNotFound,
    /// No such track.
    MusicNotFound,
    /// The track does not exist in that quality.
    QualityNotAvailable,
    /// No such download token.
    TokenNotFound,
    /// No report of that day.
    ReportNotFound,
    /// No such user (operators' routes).
    UserNotFound,
    /// No such route.
    NotFound,
    /// The route does not take that method.
    MethodNotAllowed,
    /// The item is already a favorite.
    AlreadyFavorited,
    /// The download token has expired.
    DownloadLinkExpired,
    /// The download token has no uses left.
    DownloadUsesExceeded,
    /// The body is too large, or carries too many changes.
    PayloadTooLarge,
    /// The range asked for lies outside the file.
    RangeNotSatisfiable,
    /// The request took longer than the server allows.
    RequestTimeout,
    /// Too many grants; wait `Retry-After`.
    RateLimited,
    /// A bug or corrupt data; never explained.
    Internal,
    /// A dependency does not answer now; retry after `Retry-After`.
    Unavailable,
}

impl ErrorCode {
    /// Every code, in the order of the table.
    pub const ALL: [ErrorCode; 29] = [
        ErrorCode::InvalidRequest,
        ErrorCode::MissingToken,
        ErrorCode::TokenInvalid,
        ErrorCode::TokenExpired,
        ErrorCode::SignatureInvalid,
        ErrorCode::UserInactive,
        ErrorCode::Forbidden,
        ErrorCode::PremiumRequired,
        ErrorCode::VipRequired,
        ErrorCode::DailyLimitReached,
        ErrorCode::StorageFull,
        ErrorCode::FavoriteNotFound,
        ErrorCode::DownloadNotFound,
        ErrorCode::MusicNotFound,
        ErrorCode::QualityNotAvailable,
        ErrorCode::TokenNotFound,
        ErrorCode::ReportNotFound,
        ErrorCode::UserNotFound,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::AlreadyFavorited,
        ErrorCode::DownloadLinkExpired,
        ErrorCode::DownloadUsesExceeded,
        ErrorCode::PayloadTooLarge,
        ErrorCode::RangeNotSatisfiable,
        ErrorCode::RequestTimeout,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
    ];

    /// The table: status, code, message. `{limit}` in a message stands for the plan's
    /// limit, which the caller fills in.
    fn row(self) -> (u16, &'static str, &'static str) {
        match self {
            Self::InvalidRequest => (400, "INVALID_REQUEST", "请求参数无效"),
            Self::MissingToken => (401, "MISSING_TOKEN", "缺少访问令牌"),
            Self::TokenInvalid => (401, "TOKEN_INVALID", "令牌无效"),
            Self::TokenExpired => (401, "TOKEN_EXPIRED", "令牌已过期"),
            Self::SignatureInvalid => (401, "SIGNATURE_INVALID", "签名无效"),
            Self::UserInactive => (403, "USER_INACTIVE", "用户状态异常"),
            Self::Forbidden => (403, "FORBIDDEN", "无权访问"),
            Self::PremiumRequired => (403, "PREMIUM_REQUIRED", "需要会员权限"),
            Self::VipRequired => (403, "VIP_REQUIRED", "无损音质需要VIP会员"),
            Self::DailyLimitReached => (
                403,
                "DAILY_LIMIT_REACHED",
                "每日下载限制{limit}次，已达上限",
            ),
            Self::StorageFull => (403, "STORAGE_FULL", "存储空间已满，请清理后重试"),
            Self::FavoriteNotFound => (404, "FAVORITE_NOT_FOUND", "收藏记录不存在"),
            Self::DownloadNotFound => (404, "DOWNLOAD_NOT_FOUND", "下载记录不存在"),
            Self::MusicNotFound => (404, "MUSIC_NOT_FOUND", "音乐不存在"),
            Self::QualityNotAvailable => (404, "QUALITY_NOT_AVAILABLE", "该音质不可用"),
            Self::TokenNotFound => (404, "TOKEN_NOT_FOUND", "令牌不存在"),
            Self::ReportNotFound => (404, "REPORT_NOT_FOUND", "报告不存在"),
            Self::UserNotFound => (404, "USER_NOT_FOUND", "用户不存在"),
            Self::NotFound => (404, "NOT_FOUND", "接口不存在"),
            Self::MethodNotAllowed => (405, "METHOD_NOT_ALLOWED", "请求方法不被允许"),
            Self::AlreadyFavorited => (409, "ALREADY_FAVORITED", "已经收藏过了"),
            Self::DownloadLinkExpired => (410, "DOWNLOAD_LINK_EXPIRED", "令牌已过期"),
            Self::DownloadUsesExceeded => (410, "DOWNLOAD_USES_EXCEEDED", "下载次数超限"),
            Self::PayloadTooLarge => (413, "PAYLOAD_TOO_LARGE", "请求体过大"),
            Self::RangeNotSatisfiable => (416, "RANGE_NOT_SATISFIABLE", "请求的范围无效"),
            Self::RequestTimeout => (408, "REQUEST_TIMEOUT", "请求超时"),
            Self::RateLimited => (429, "RATE_LIMITED", "下载请求过于频繁，请稍后再试"),
            Self::Internal => (500, "INTERNAL", "服务器内部错误"),
            Self::Unavailable => (503, "UNAVAILABLE", "服务暂不可用"),
        }
    }

    /// The stable code clients branch on, like `DAILY_LIMIT_REACHED`.
    pub fn as_str(self) -> &'static str {
        self.row().1
    }

    /// The HTTP status it is answered with.
    pub fn status(self) -> u16 {
        self.row().0
    }

    /// The message for people (Chinese); `{limit}` stands for a plan's limit.
    pub fn message(self) -> &'static str {
        self.row().2
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_spelled_once() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.as_str()), "{code} twice");
            assert!(
                code.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'_')
            );
            assert!((400..600).contains(&code.status()));
            assert!(!code.message().is_empty());
        }
    }
}
