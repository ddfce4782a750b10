//! The page cache in Redis, shared by every instance.

use std::time::Duration;

use async_trait::async_trait;
use soundshelf_ports::PageCache;

use crate::Redis;

/// Pages in Redis; a failure is a miss (logged at debug: it is expected while Redis is
/// away).
#[derive(Debug, Clone)]
pub struct RedisPageCache(pub Redis);

#[async_trait]
impl PageCache for RedisPageCache {
    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.0
            .page_get(key)
            .await
            .inspect_err(|e| tracing::debug!(error = %e, "page cache bypassed"))
            .ok()
            .flatten()
    }

    async fn put(&self, key: &str, page: &[u8], ttl: Duration) {
        if let Err(e) = self.0.page_put(key, page, ttl).await {
            tracing::debug!(error = %e, "page not cached");
        }
    }
}
