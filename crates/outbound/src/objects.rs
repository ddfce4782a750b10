//! The size of the object under a key, as the catalogue's verification asks it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use soundshelf_domain::catalog::ObjectKey;
use soundshelf_ports::{BoxError, Clock, ObjectSizes, UrlSigner};

/// Files under a root folder (`LOCAL_STORAGE_DIR`): their size by `stat`.
#[derive(Debug, Clone)]
pub struct LocalObjects {
    /// The folder object keys are relative to.
    pub root: PathBuf,
}

#[async_trait]
impl ObjectSizes for LocalObjects {
    async fn size_of(&self, key: &ObjectKey) -> Result<Option<u64>, BoxError> {
        // A checked key (no `..`, not absolute) stays below the root.
        match tokio::fs::metadata(self.root.join(key.as_str())).await {
            Ok(meta) if meta.is_file() => Ok(Some(meta.len())),
            Ok(_) => Ok(None),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Box::new(e)),
        }
    }
}

/// How long the URL of one `HEAD` is valid: long enough for a slow answer, short enough
/// that a logged URL is soon useless.
const HEAD_URL_LIFETIME: time::Duration = time::Duration::seconds(60);

/// Objects of a CDN bucket (Qiniu, OSS), asked by a `HEAD` on the URL the downloads'
/// signer makes for that method: 200 gives the size from `Content-Length`, 404 means
/// absent, anything else (403, 5xx, a timeout) is an error that names the status, never
/// the signed URL.
#[derive(Clone)]
pub struct SignedObjects {
    signer: Arc<dyn UrlSigner>,
    clock: Arc<dyn Clock>,
    client: reqwest::Client,
}

impl std::fmt::Debug for SignedObjects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedObjects").finish_non_exhaustive()
    }
}

impl SignedObjects {
    /// Objects signed by `signer` at `clock`'s time; each `HEAD` (connection included)
    /// gives up after `timeout`. Redirects are not followed: a bucket answers directly.
    pub fn new(
        signer: Arc<dyn UrlSigner>,
        clock: Arc<dyn Clock>,
        timeout: Duration,
    ) -> Result<Self, BoxError> {
        let client = crate::http::client_builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Box::new(e.without_url()))?;
        Ok(Self {
            signer,
            clock,
            client,
        })
    }
}

#[async_trait]
impl ObjectSizes for SignedObjects {
    async fn size_of(&self, key: &ObjectKey) -> Result<Option<u64>, BoxError> {
        let now = self.clock.now();
        let url = self
            .signer
            .sign(key.as_str(), true, now, now + HEAD_URL_LIFETIME);
        let answer = self
            .client
            .head(url)
            .send()
            .await
            .map_err(|e| Box::new(e.without_url()))?;
        match answer.status().as_u16() {
            200 => {
                // A HEAD has no body, so the length is the header's, not the body's.
                let length = answer
                    .headers()
                    .get(reqwest::header::CONTENT_LENGTH)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or("the storage answered 200 without a Content-Length")?;
                Ok(Some(length))
            }
            404 => Ok(None),
            _ => Err(format!("the storage answered {}", answer.status()).into()),
        }
    }
}
