//! The CDN signers as the `UrlSigner` port: Qiniu private URLs and OSS presigned URLs
//! (V1 or V4) for a redemption's redirect.

use soundshelf_ports::UrlSigner;
use time::OffsetDateTime;

use crate::Method;
use crate::oss::{OssCredentials, OssTarget, V4Extras, presign_v1, presign_v4};
use crate::qiniu::QiniuSigner;

/// OSS signature versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OssVersion {
    /// `OSSAccessKeyId` / `Expires` / `Signature`.
    V1,
    /// `OSS4-HMAC-SHA256`.
    V4,
}

/// Qiniu private download URLs (Qiniu signs no method; its URLs serve `HEAD` too).
#[derive(Debug)]
pub struct QiniuUrls(pub QiniuSigner);

impl UrlSigner for QiniuUrls {
    fn sign(
        &self,
        key: &str,
        _head: bool,
        _now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> String {
        self.0.object_url(key, None, expires_at.unix_timestamp())
    }
}

/// OSS presigned URLs of one bucket, for the method asked.
#[derive(Debug)]
pub struct OssUrls {
    /// The access key.
    pub credentials: OssCredentials,
    /// The bucket and its endpoint.
    pub target: OssTarget,
    /// Which signature.
    pub version: OssVersion,
}

impl UrlSigner for OssUrls {
    fn sign(
        &self,
        key: &str,
        head: bool,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> String {
        let method = if head { Method::Head } else { Method::Get };
        match self.version {
            OssVersion::V1 => presign_v1(
                &self.credentials,
                &self.target,
                method,
                key,
                expires_at.unix_timestamp(),
                &[],
            ),
            OssVersion::V4 => presign_v4(
                &self.credentials,
                &self.target,
                method,
                key,
                now,
                (expires_at - now).whole_seconds().max(1),
                &V4Extras::default(),
            ),
        }
    }
}
