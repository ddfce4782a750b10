//! The CDN backends' URL signers (Qiniu, OSS V1/V4) as the `UrlSigner` port.

use std::sync::Arc;

use secrecy::ExposeSecret;
use soundshelf_ports::UrlSigner;
use soundshelf_signers::Method;
use soundshelf_signers::oss::{OssCredentials, OssTarget, V4Extras, presign_v1, presign_v4};
use soundshelf_signers::qiniu::QiniuSigner;
use time::OffsetDateTime;

use crate::config::{OssVersion, StorageBackend};

struct Qiniu(QiniuSigner);

impl UrlSigner for Qiniu {
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

struct Oss {
    credentials: OssCredentials,
    target: OssTarget,
    version: OssVersion,
}

impl UrlSigner for Oss {
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

/// The signer of a CDN backend; `None` for local storage.
pub fn signer(backend: &StorageBackend) -> Option<Arc<dyn UrlSigner>> {
    match backend {
        StorageBackend::Local => None,
        StorageBackend::Qiniu {
            access_key,
            secret_key,
            domain,
            ..
        } => Some(Arc::new(Qiniu(QiniuSigner::new(
            access_key,
            secret_key.expose_secret(),
            domain,
        )))),
        StorageBackend::Oss {
            access_key_id,
            access_key_secret,
            bucket,
            region,
            endpoint,
            version,
        } => Some(Arc::new(Oss {
            credentials: OssCredentials {
                access_key_id: access_key_id.clone(),
                access_key_secret: access_key_secret.expose_secret().to_owned(),
            },
            target: OssTarget::new(endpoint, bucket, region),
            version: *version,
        })),
    }
}
