//! The in-process page cache: pages of this process only, under a per-user generation,
//! bounded in users and in pages per user.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use soundshelf_domain::UserId;
use soundshelf_ports::{CachedPage, PageCache, PageLookup};

/// The most users the cache holds before it drops the expired ones, and then everyone.
const MAX_USERS: usize = 10_000;
/// The most pages of one user (queries: filters, searches, pages) kept at a generation.
const MAX_PAGES_PER_USER: usize = 64;

#[derive(Debug)]
struct UserPages {
    generation: u64,
    until: Instant,
    pages: HashMap<String, CachedPage>,
}

/// Pages in this process: for a single instance (the embedded default), or behind a
/// generation the caller reads from the database (several instances without Redis).
#[derive(Debug)]
pub struct MemoryPageCache {
    users: Mutex<HashMap<UserId, UserPages>>,
    next_generation: AtomicU64,
}

impl Default for MemoryPageCache {
    fn default() -> Self {
        // Generations start far from any a caller reads elsewhere (database versions).
        Self {
            users: Mutex::default(),
            next_generation: AtomicU64::new(1 << 40),
        }
    }
}

impl MemoryPageCache {
    fn users(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, UserPages>> {
        self.users.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn make_room(users: &mut HashMap<UserId, UserPages>, now: Instant) {
    if users.len() >= MAX_USERS {
        users.retain(|_, u| u.until > now);
        if users.len() >= MAX_USERS {
            users.clear();
        }
    }
}

#[async_trait]
impl PageCache for MemoryPageCache {
    async fn lookup(&self, user: &UserId, query: &str, ttl: Duration) -> PageLookup {
        let now = Instant::now();
        let mut users = self.users();
        if let Some(u) = users.get(user).filter(|u| u.until > now) {
            return match u.pages.get(query) {
                Some(page) => PageLookup::Hit(page.clone()),
                None => PageLookup::Miss(Some(u.generation)),
            };
        }
        make_room(&mut users, now);
        let generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
        users.insert(
            user.clone(),
            UserPages {
                generation,
                until: now + ttl,
                pages: HashMap::new(),
            },
        );
        PageLookup::Miss(Some(generation))
    }

    async fn lookup_at(&self, user: &UserId, generation: u64, query: &str) -> Option<CachedPage> {
        let now = Instant::now();
        let users = self.users();
        users
            .get(user)
            .filter(|u| u.until > now && u.generation == generation)
            .and_then(|u| u.pages.get(query).cloned())
    }

    async fn store(
        &self,
        user: &UserId,
        generation: u64,
        query: &str,
        page: &CachedPage,
        ttl: Duration,
    ) {
        let now = Instant::now();
        let mut users = self.users();
        match users.get_mut(user) {
            Some(u) if u.until > now && u.generation == generation => {
                if u.pages.len() >= MAX_PAGES_PER_USER {
                    u.pages.clear();
                }
                u.pages.insert(query.to_owned(), page.clone());
            }
            // The user's generation has moved on: this page is of the past.
            Some(u) if u.until > now && u.generation > generation => {}
            // None yet, an expired one, or an older one (a caller-held generation, the
            // database's version, moved on): start the user's pages at this one.
            _ => {
                make_room(&mut users, now);
                users.insert(
                    user.clone(),
                    UserPages {
                        generation,
                        until: now + ttl,
                        pages: HashMap::from([(query.to_owned(), page.clone())]),
                    },
                );
            }
        }
    }

    async fn invalidate(&self, user: &UserId) {
        if let Some(u) = self.users().get_mut(user) {
            u.generation = self.next_generation.fetch_add(1, Ordering::Relaxed);
            u.pages.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(body: &str) -> CachedPage {
        CachedPage {
            etag: format!("\"{body}\""),
            body: body.as_bytes().to_vec(),
        }
    }

    #[tokio::test]
    async fn a_page_is_found_until_the_user_changes_or_the_generation_ends() {
        let cache = MemoryPageCache::default();
        let user = UserId::parse("u1").unwrap();
        let ttl = Duration::from_millis(100);
        let PageLookup::Miss(Some(g)) = cache.lookup(&user, "q", ttl).await else {
            panic!("a miss")
        };
        cache.store(&user, g, "q", &page("a"), ttl).await;
        assert_eq!(
            cache.lookup(&user, "q", ttl).await,
            PageLookup::Hit(page("a"))
        );
        // A write: the page is gone, and a page rendered before it is not stored.
        cache.invalidate(&user).await;
        let PageLookup::Miss(Some(g2)) = cache.lookup(&user, "q", ttl).await else {
            panic!("a miss after the write")
        };
        assert_ne!(g, g2);
        cache.store(&user, g, "q", &page("old"), ttl).await;
        assert_eq!(
            cache.lookup(&user, "q", ttl).await,
            PageLookup::Miss(Some(g2))
        );
        cache.store(&user, g2, "q", &page("b"), ttl).await;
        assert_eq!(
            cache.lookup(&user, "q", ttl).await,
            PageLookup::Hit(page("b"))
        );
        // The generation ends after its ttl: whatever was missed, a new one starts.
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert!(matches!(
            cache.lookup(&user, "q", ttl).await,
            PageLookup::Miss(Some(g3)) if g3 != g2
        ));
    }

    #[tokio::test]
    async fn caller_held_generations_replace_older_ones() {
        let cache = MemoryPageCache::default();
        let user = UserId::parse("u1").unwrap();
        let ttl = Duration::from_secs(30);
        assert_eq!(cache.lookup_at(&user, 5, "q").await, None);
        cache.store(&user, 5, "q", &page("v5"), ttl).await;
        assert_eq!(cache.lookup_at(&user, 5, "q").await, Some(page("v5")));
        assert_eq!(cache.lookup_at(&user, 6, "q").await, None);
        cache.store(&user, 6, "q", &page("v6"), ttl).await;
        assert_eq!(cache.lookup_at(&user, 6, "q").await, Some(page("v6")));
        assert_eq!(cache.lookup_at(&user, 5, "q").await, None);
        cache.store(&user, 5, "q", &page("late"), ttl).await;
        assert_eq!(cache.lookup_at(&user, 6, "q").await, Some(page("v6")));
    }
}
