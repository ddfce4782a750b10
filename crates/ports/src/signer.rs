//! Signed CDN URLs.

use time::OffsetDateTime;

/// Signs CDN URLs of stored objects (Qiniu, OSS). Pure: the same inputs give the same URL.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait UrlSigner: Send + Sync {
    /// The signed URL of object `key`, for a `HEAD` or a `GET`, signed at `now` and valid
    /// until `expires_at`.
    fn sign(
        &self,
        key: &str,
        head: bool,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> String;
}
