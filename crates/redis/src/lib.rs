//! Redis adapters (deadpool-redis) of soundshelf's ports, over one pool: the shared
//! rate limiter ([`RedisLimiter`]: a GCRA script, falling back to the in-process limiter
//! when Redis is away), the page cache ([`RedisPageCache`]), the job lock (`SET NX PX`
//! with a token, released by a compare-and-delete script) and the readiness probe. Every
//! key starts with the configured prefix, so several deployments or test runs share one
//! Redis safely.
//!
//! Every operation is bounded by [`OP_TIMEOUT`], connection included: a hung or absent
//! Redis costs a request at most that long, and the caller falls back (see
//! `docs/redis.md`). Every operation runs on the runtime the pool was made on, so pooled
//! connections never belong to an HTTP worker that stops first at shutdown.

mod cache;
mod events;
mod limiter;

use std::future::Future;
use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_redis::{Config, Pool, Runtime};
use redis::{AsyncCommands, Script};
use soundshelf_ports::{BoxError, JobLock, LockToken, Probe, RateDecision, StoreError};

pub use cache::RedisPageCache;
pub use events::RedisUserEvents;
pub use limiter::RedisLimiter;

/// The most any one Redis operation may take, waiting for a connection included.
pub const OP_TIMEOUT: Duration = Duration::from_millis(250);

/// Redis could not answer in time, or answered with an error.
#[derive(Debug, thiserror::Error)]
#[error("redis unavailable: {0}")]
pub struct RedisUnavailable(String);

/// A pool on one Redis, with a key prefix.
#[derive(Clone)]
pub struct Redis {
    pool: Pool,
    /// Where Redis is, for the subscriber's own connection.
    url: String,
    prefix: String,
    /// The runtime the pool was made on; every operation runs there.
    runtime: tokio::runtime::Handle,
}

impl std::fmt::Debug for Redis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redis")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

/// GCRA: one cell every `interval` µs, bursts of up to `tolerance` µs of cells. Reads
/// Redis' own clock, so every instance agrees on "now". Returns `{allowed, wait_µs}`.
/// Times are microseconds (a limit above 60 000 a minute has an interval under a
/// millisecond), written with `%d` because Lua 5.1 prints numbers with 14 digits, too
/// few for a microsecond clock; the key expires at least a millisecond ahead.
const GCRA: &str = r"
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if tat == nil or tat < now then tat = now end
local allow_at = tat - tolerance
if now < allow_at then
  return {0, allow_at - now}
end
local new_tat = tat + interval
local ttl_ms = math.max(1, math.ceil((new_tat - now) / 1000))
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', ttl_ms)
return {1, 0}
";

static GCRA_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(GCRA));

/// Deletes the lock only if it still holds our token.
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

static RELEASE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(RELEASE));

impl Redis {
    /// A pool on `url` (`redis://host:port/db`); keys start with `prefix`. No connection
    /// is made until the first operation. Must be called on the Tokio runtime that is to
    /// run the operations.
    pub fn new(url: &str, prefix: &str) -> Result<Self, RedisUnavailable> {
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|e| RedisUnavailable(e.to_string()))?;
        let pool = Config::from_url(url)
            .builder()
            .map_err(|e| RedisUnavailable(e.to_string()))?
            .max_size(16)
            .wait_timeout(Some(OP_TIMEOUT))
            .create_timeout(Some(OP_TIMEOUT))
            .recycle_timeout(Some(OP_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| RedisUnavailable(e.to_string()))?;
        Ok(Self {
            pool,
            url: url.to_owned(),
            prefix: prefix.to_owned(),
            runtime,
        })
    }

    /// The full key of `name`.
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// Runs `op` on a pooled connection, within [`OP_TIMEOUT`] in all, as a task of the
    /// pool's runtime (which also ends it at the bound, whether or not anyone waits).
    async fn run<T, F, Fut>(&self, op: F) -> Result<T, RedisUnavailable>
    where
        F: FnOnce(deadpool_redis::Connection) -> Fut + Send + 'static,
        Fut: Future<Output = redis::RedisResult<T>> + Send + 'static,
        T: Send + 'static,
    {
        let pool = self.pool.clone();
        let task = self.runtime.spawn(async move {
            let work = async move {
                let conn = pool
                    .get()
                    .await
                    .map_err(|e| RedisUnavailable(e.to_string()))?;
                op(conn).await.map_err(|e| RedisUnavailable(e.to_string()))
            };
            tokio::time::timeout(OP_TIMEOUT, work)
                .await
                .map_err(|_| RedisUnavailable(format!("no answer within {OP_TIMEOUT:?}")))?
        });
        task.await.map_err(|e| RedisUnavailable(e.to_string()))?
    }

    /// Checks that Redis answers.
    pub async fn ping(&self) -> Result<(), RedisUnavailable> {
        self.run(|mut c| async move { redis::cmd("PING").query_async::<String>(&mut c).await })
            .await
            .map(|_| ())
    }

    /// Counts a request for `key` against `per_minute` a minute (GCRA, bursts of
    /// `per_minute`), the same rule as the in-process limiter.
    pub async fn rate_check(
        &self,
        key: &str,
        per_minute: u32,
    ) -> Result<RateDecision, RedisUnavailable> {
        let per_minute = u64::from(per_minute.max(1));
        let interval = (60_000_000 / per_minute).max(1);
        let tolerance = interval * (per_minute - 1);
        let full_key = self.key(&format!("rl:{key}"));
        let (allowed, wait_us): (i64, i64) = self
            .run(move |mut c| async move {
                GCRA_SCRIPT
                    .key(&full_key)
                    .arg(interval)
                    .arg(tolerance)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(if allowed == 1 {
            RateDecision::Allowed
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_micros(u64::try_from(wait_us).unwrap_or(0)),
            }
        })
    }

    /// The keys of `user`'s pages: the generation and the hash of pages, in one hash
    /// slot (`{fav:<user>}`) so the scripts stay on one node of a cluster.
    fn page_keys(&self, user: &str) -> (String, String) {
        (
            self.key(&format!("{{fav:{user}}}:gen")),
            self.key(&format!("{{fav:{user}}}:pages")),
        )
    }

    /// `user`'s generation (started, living `ttl`, at `fresh` when there is none) and
    /// the page stored for `query` at it — or, when the caller already holds the page of
    /// generation `held` and that is still the user's generation, `Held` without the page.
    pub async fn page_lookup(
        &self,
        user: &str,
        query: &str,
        ttl: Duration,
        fresh: u64,
        held: Option<u64>,
    ) -> Result<Looked, RedisUnavailable> {
        let (generation, pages) = self.page_keys(user);
        let (query, ms) = (query.to_owned(), millis(ttl));
        let held = held.map(|g| g.to_string()).unwrap_or_default();
        let (g, page, same): (u64, Option<Vec<u8>>, i64) = self
            .run(move |mut c| async move {
                PAGE_LOOKUP_SCRIPT
                    .key(&generation)
                    .key(&pages)
                    .arg(query)
                    .arg(ms)
                    .arg(fresh)
                    .arg(held)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(match (same, page) {
            (1, _) => Looked::Held(g),
            (_, Some(page)) => Looked::Page(g, page),
            (_, None) => Looked::Missing(g),
        })
    }

    /// The page stored for `query` at `generation`.
    pub async fn page_at(
        &self,
        user: &str,
        generation: u64,
        query: &str,
    ) -> Result<Option<Vec<u8>>, RedisUnavailable> {
        let (_, pages) = self.page_keys(user);
        let field = format!("{generation}:{query}");
        self.run(move |mut c| async move { c.hget(&pages, &field).await })
            .await
    }

    /// Stores `page` for `query` at `generation` unless the user's generation moved on;
    /// whether it was stored.
    pub async fn page_store(
        &self,
        user: &str,
        generation: u64,
        query: &str,
        page: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, RedisUnavailable> {
        let (generation_key, pages) = self.page_keys(user);
        let (query, ms) = (query.to_owned(), millis(ttl));
        let stored: i64 = self
            .run(move |mut c| async move {
                PAGE_STORE_SCRIPT
                    .key(&generation_key)
                    .key(&pages)
                    .arg(generation)
                    .arg(query)
                    .arg(page)
                    .arg(ms)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(stored == 1)
    }

    /// Moves `user`'s generation on and drops the user's pages.
    pub async fn page_invalidate(&self, user: &str) -> Result<(), RedisUnavailable> {
        let (generation, pages) = self.page_keys(user);
        let _: i64 = self
            .run(move |mut c| async move {
                PAGE_INVALIDATE_SCRIPT
                    .key(&generation)
                    .key(&pages)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(())
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

/// What a page lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Looked {
    /// The generation is the one the caller holds the page of.
    Held(u64),
    /// The page stored at the generation.
    Page(u64, Vec<u8>),
    /// No page at the generation.
    Missing(u64),
}

/// A user's generation (a fresh one, living ARGV[2] ms, with the user's old pages
/// dropped, when there is none) and the page of ARGV[1] at it — unless the caller holds
/// the page of that generation already (ARGV[4]), when only the generation is answered:
/// one round trip, a few bytes when the caller's copy is current.
const PAGE_LOOKUP: &str = r"
local g = redis.call('GET', KEYS[1])
if not g then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
  redis.call('DEL', KEYS[2])
  return {ARGV[3], false, 0}
end
if g == ARGV[4] then
  return {g, false, 1}
end
return {g, redis.call('HGET', KEYS[2], g .. ':' .. ARGV[1]), 0}
";

static PAGE_LOOKUP_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(PAGE_LOOKUP));

/// Stores a page at generation ARGV[1] only while it is the user's generation.
const PAGE_STORE: &str = r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[2], ARGV[1] .. ':' .. ARGV[2], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
";

static PAGE_STORE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(PAGE_STORE));

/// After a write: the generation moves on (keeping its end) and the pages go. A user
/// with no generation has no pages to hide.
const PAGE_INVALIDATE: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('INCR', KEYS[1])
end
redis.call('DEL', KEYS[2])
return 1
";

static PAGE_INVALIDATE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(PAGE_INVALIDATE));

impl Redis {
    /// Deletes every key under the prefix (tests, and operators retiring a deployment).
    pub async fn clear(&self) -> Result<u64, RedisUnavailable> {
        let pattern = format!("{}*", self.prefix);
        let mut conn = self
            .pool
            .get()
            .await
            .map_err(|e| RedisUnavailable(e.to_string()))?;
        let keys: Vec<String> = {
            let mut iter = conn
                .scan_match::<_, String>(&pattern)
                .await
                .map_err(|e| RedisUnavailable(e.to_string()))?;
            let mut keys = Vec::new();
            while let Some(k) = iter.next_item().await {
                keys.push(k.map_err(|e| RedisUnavailable(e.to_string()))?);
            }
            keys
        };
        if keys.is_empty() {
            return Ok(0);
        }
        conn.del(&keys)
            .await
            .map_err(|e| RedisUnavailable(e.to_string()))
    }
}

fn unavailable(e: RedisUnavailable) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

#[async_trait]
impl JobLock for Redis {
    async fn try_acquire(
        &self,
        name: &str,
        ttl: Duration,
    ) -> Result<Option<LockToken>, StoreError> {
        let token = ulid::Ulid::generate().to_string();
        let full_key = self.key(&format!("lock:{name}"));
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let set: Option<String> = self
            .run({
                let token = token.clone();
                move |mut c| async move {
                    redis::cmd("SET")
                        .arg(&full_key)
                        .arg(&token)
                        .arg("NX")
                        .arg("PX")
                        .arg(ms)
                        .query_async(&mut c)
                        .await
                }
            })
            .await
            .map_err(unavailable)?;
        Ok(set.map(|_| LockToken(token)))
    }

    async fn release(&self, name: &str, token: &LockToken) -> Result<bool, StoreError> {
        let full_key = self.key(&format!("lock:{name}"));
        let deleted: i64 = self
            .run({
                let token = token.0.clone();
                move |mut c| async move {
                    RELEASE_SCRIPT
                        .key(&full_key)
                        .arg(&token)
                        .invoke_async(&mut c)
                        .await
                }
            })
            .await
            .map_err(unavailable)?;
        Ok(deleted == 1)
    }
}

#[async_trait]
impl Probe for Redis {
    async fn ping(&self) -> Result<(), BoxError> {
        Redis::ping(self).await.map_err(|e| Box::new(e) as BoxError)
    }
}
