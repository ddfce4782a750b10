//! The in-process page cache: pages of this process only, for a single instance (the
//! embedded default), bounded in count.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use soundshelf_ports::PageCache;

/// The most pages the in-process cache holds before it drops the expired ones, and then
/// everything.
const MAX_MEMORY_PAGES: usize = 10_000;

/// Pages in this process, for a single instance (the embedded default).
#[derive(Debug, Default)]
pub struct MemoryPageCache {
    pages: Mutex<HashMap<String, (Instant, Vec<u8>)>>,
}

#[async_trait]
impl PageCache for MemoryPageCache {
    async fn get(&self, key: &str) -> Option<Vec<u8>> {
        let pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        pages
            .get(key)
            .filter(|(until, _)| *until > Instant::now())
            .map(|(_, page)| page.clone())
    }

    async fn put(&self, key: &str, page: &[u8], ttl: Duration) {
        let now = Instant::now();
        let mut pages = self.pages.lock().unwrap_or_else(|p| p.into_inner());
        if pages.len() >= MAX_MEMORY_PAGES {
            pages.retain(|_, (until, _)| *until > now);
            if pages.len() >= MAX_MEMORY_PAGES {
                pages.clear();
            }
        }
        pages.insert(key.to_owned(), (now + ttl, page.to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_pages_expire() {
        let cache = MemoryPageCache::default();
        cache.put("k", b"v", Duration::from_millis(50)).await;
        assert_eq!(cache.get("k").await.as_deref(), Some(&b"v"[..]));
        tokio::time::sleep(Duration::from_millis(80)).await;
        assert_eq!(cache.get("k").await, None);
    }
}
