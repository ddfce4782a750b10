//! The page cache in Redis, shared by every instance: per user, a generation key and a
//! hash of pages in one hash slot; a lookup is one script (one round trip). Each
//! instance also keeps the pages it saw in memory, by generation: when its copy is of
//! the user's current generation, Redis answers the generation alone, not the page.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use soundshelf_domain::UserId;
use soundshelf_ports::{CachedPage, PageCache, PageLookup};

use crate::{Looked, Redis};

/// The most bytes of pages an instance keeps in memory before it starts afresh.
const LOCAL_BYTES: usize = 16 << 20;

#[derive(Debug, Default)]
struct Local {
    pages: HashMap<(UserId, String), (u64, CachedPage)>,
    bytes: usize,
}

impl Local {
    fn keep(&mut self, user: &UserId, query: &str, generation: u64, page: &CachedPage) {
        let size = page.body.len() + page.etag.len() + query.len();
        if self.bytes + size > LOCAL_BYTES {
            self.pages.clear();
            self.bytes = 0;
        }
        if let Some((_, old)) = self
            .pages
            .insert((user.clone(), query.to_owned()), (generation, page.clone()))
        {
            self.bytes = self
                .bytes
                .saturating_sub(old.body.len() + old.etag.len() + query.len());
        }
        self.bytes += size;
    }
}

/// Pages in Redis (and this instance's copies of them); a failure is a miss that stores
/// nothing (logged at debug: it is expected while Redis is away).
#[derive(Debug, Clone)]
pub struct RedisPageCache {
    redis: Redis,
    local: Arc<Mutex<Local>>,
}

impl RedisPageCache {
    /// Pages in `redis`.
    pub fn new(redis: Redis) -> Self {
        Self {
            redis,
            local: Arc::default(),
        }
    }

    fn local(&self) -> std::sync::MutexGuard<'_, Local> {
        self.local.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A page as stored: the entity tag, a newline, the body.
fn encode(page: &CachedPage) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(page.etag.len() + 1 + page.body.len());
    bytes.extend_from_slice(page.etag.as_bytes());
    bytes.push(b'\n');
    bytes.extend_from_slice(&page.body);
    bytes
}

fn decode(mut bytes: Vec<u8>) -> Option<CachedPage> {
    let newline = bytes.iter().position(|b| *b == b'\n')?;
    let body = bytes.split_off(newline + 1);
    bytes.pop();
    Some(CachedPage {
        etag: String::from_utf8(bytes).ok()?,
        body,
    })
}

/// A generation to start at: the clock in microseconds, so that a new generation is
/// far from any an old reader may still hold.
fn fresh_generation() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX >> 2))
        .unwrap_or(1)
}

#[async_trait]
impl PageCache for RedisPageCache {
    async fn lookup(&self, user: &UserId, query: &str, ttl: Duration) -> PageLookup {
        let held = self
            .local()
            .pages
            .get(&(user.clone(), query.to_owned()))
            .map(|(generation, _)| *generation);
        match self
            .redis
            .page_lookup(user.as_str(), query, ttl, fresh_generation(), held)
            .await
        {
            Ok(Looked::Held(generation)) => {
                match self.local().pages.get(&(user.clone(), query.to_owned())) {
                    Some((g, page)) if *g == generation => PageLookup::Hit(page.clone()),
                    // Replaced meanwhile by another request's copy: ask again next time.
                    _ => PageLookup::Miss(Some(generation)),
                }
            }
            Ok(Looked::Page(generation, bytes)) => match decode(bytes) {
                Some(page) => {
                    self.local().keep(user, query, generation, &page);
                    PageLookup::Hit(page)
                }
                None => PageLookup::Miss(Some(generation)),
            },
            Ok(Looked::Missing(generation)) => PageLookup::Miss(Some(generation)),
            Err(e) => {
                tracing::debug!(error = %e, "page cache bypassed");
                PageLookup::Miss(None)
            }
        }
    }

    async fn lookup_at(&self, user: &UserId, generation: u64, query: &str) -> Option<CachedPage> {
        self.redis
            .page_at(user.as_str(), generation, query)
            .await
            .inspect_err(|e| tracing::debug!(error = %e, "page cache bypassed"))
            .ok()
            .flatten()
            .and_then(decode)
    }

    async fn store(
        &self,
        user: &UserId,
        generation: u64,
        query: &str,
        page: &CachedPage,
        ttl: Duration,
    ) {
        match self
            .redis
            .page_store(user.as_str(), generation, query, encode(page), ttl)
            .await
        {
            Ok(true) => self.local().keep(user, query, generation, page),
            Ok(false) => {}
            Err(e) => tracing::debug!(error = %e, "page not cached"),
        }
    }

    async fn invalidate(&self, user: &UserId) {
        if let Err(e) = self.redis.page_invalidate(user.as_str()).await {
            // The generation ends on its own within its ttl: that bounds what this costs.
            tracing::warn!(error = %e, "favorites pages not invalidated; they end with their generation");
        }
    }
}
