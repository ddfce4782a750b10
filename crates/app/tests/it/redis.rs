//! Many instances sharing Redis: limits hold across them, a write on one is seen at once
//! on the other, and a Redis outage degrades the service without breaking it.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use soundshelf_app::testing::*;
use soundshelf_memory::GovernorLimiter;
use soundshelf_ports::{RateDecision, RateLimiter};
use soundshelf_redis::Redis;
use soundshelf_store::Backend;

const SHARED_REDIS: &str = "redis://127.0.0.1:6379";

fn grant_path(n: u32) -> String {
    format!("/api/music/download-url/music_{n:03}")
}

/// The Redis limiter and the in-process one decide the same on the same schedule.
#[tokio::test]
async fn the_redis_limiter_agrees_with_the_in_process_one() {
    let redis = Redis::new(
        SHARED_REDIS,
        &format!("soundshelf-test:{}:", ulid::Ulid::generate()),
    )
    .unwrap();
    let local = GovernorLimiter::per_minute(5);
    for i in 0..8 {
        let shared = redis.rate_check("grant:u", 5).await.unwrap();
        let here = local.check("grant:u").await;
        match (shared, here) {
            (RateDecision::Allowed, RateDecision::Allowed) => assert!(i < 5),
            (
                RateDecision::Limited { retry_after: a },
                RateDecision::Limited { retry_after: b },
            ) => {
                assert!(i >= 5);
                let gap = a.abs_diff(b);
                assert!(gap < Duration::from_millis(500), "{a:?} vs {b:?}");
            }
            other => panic!("request {i}: {other:?}"),
        }
    }
    redis.clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_limits_and_see_each_others_writes() {
    let a = spawn_app_with(Backend::Mysql, &[("REDIS_URL", SHARED_REDIS)]).await;
    let b = a.another_instance().await;
    assert_ne!(a.base, b.base);

    // Grants alternate between the instances; the sixth in the minute is refused.
    for n in 1..=5 {
        let instance = if n % 2 == 1 { &a } else { &b };
        let (status, body) = instance.get(&grant_path(n), "user_free").await;
        assert_eq!(status, 200, "grant {n}: {body}");
    }
    let sixth = b.get(&grant_path(6), "user_free").await;
    assert_error(&sixth, 429, "RATE_LIMITED");

    // B caches its page; A writes; B's next list has the write and another ETag.
    let list = |app: &TestApp| {
        let req = app
            .client
            .get(app.url("/api/favorites"))
            .bearer_auth(token("user_free"));
        async move {
            let res = req.send().await.unwrap();
            let etag = res.headers()["etag"].to_str().unwrap().to_owned();
            let body: Value = res.json().await.unwrap();
            (etag, body)
        }
    };
    let (etag_before, before) = list(&b).await;
    let (etag_again, _) = list(&b).await;
    assert_eq!(etag_again, etag_before);
    assert_eq!(before["total"], 0);
    a.add("user_free", "music_001", "added on A").await;
    let (etag_after, after) = list(&b).await;
    assert_eq!(after["total"], 1, "no stale page on B");
    assert_eq!(after["data"][0]["item_id"], "music_001");
    assert_ne!(etag_after, etag_before);
    let res = b
        .client
        .get(b.url("/api/favorites"))
        .bearer_auth(token("user_free"))
        .header("If-None-Match", &etag_before)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the old ETag no longer matches");
    // And a delete on B is seen on A.
    b.delete("/api/favorites/items/music_001", "user_free")
        .await;
    assert_eq!(a.get("/api/favorites", "user_free").await.1["total"], 0);

    let (_, ready) = a.get("/ready", "user_free").await;
    assert_eq!(ready["data"]["checks"]["redis"], "up");
    let redis = Redis::new(SHARED_REDIS, &a.env["REDIS_KEY_PREFIX"]).unwrap();
    assert!(
        redis.clear().await.unwrap() > 0,
        "keys were written under the prefix"
    );
}

/// A Redis of the test's own, on a free port.
struct OwnRedis {
    port: u16,
    child: Child,
}

impl OwnRedis {
    fn start(port: u16) -> Self {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let this = Self { port, child };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return this;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not start on {port}");
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_degrades_without_breaking() {
    let mut redis = OwnRedis::start(free_port());
    let url = format!("redis://127.0.0.1:{}", redis.port);
    let app = spawn_app_with(Backend::Sqlite, &[("REDIS_URL", url.as_str())]).await;
    app.add("user_free", "music_001", "before").await;
    assert_eq!(
        app.get("/ready", "user_free").await.1["data"]["status"],
        "ready"
    );

    redis.stop();
    // Every request keeps its usual pace: Redis costs at most its 250 ms bound.
    let timed = |started: Instant| {
        let took = started.elapsed();
        assert!(took < Duration::from_millis(1500), "took {took:?}");
    };
    let t = Instant::now();
    app.add("user_free", "music_002", "during").await;
    timed(t);
    let t = Instant::now();
    let (status, list) = app.get("/api/favorites", "user_free").await;
    timed(t);
    assert_eq!((status, list["total"].clone()), (200, 2.into()));
    for n in 1..=5 {
        let t = Instant::now();
        assert_eq!(app.get(&grant_path(n), "user_vip").await.0, 200);
        timed(t);
    }
    assert_error(
        &app.get(&grant_path(6), "user_vip").await,
        429,
        "RATE_LIMITED",
    );
    let (status, ready) = app.get("/ready", "user_free").await;
    assert_eq!(status, 200);
    assert_eq!(ready["data"]["status"], "degraded");
    assert_eq!(ready["data"]["checks"]["redis"], "down");
    assert!(
        ready["data"]["checks"]["rate_limit_fallbacks"]
            .as_u64()
            .unwrap()
            >= 6
    );

    // Redis comes back on the same port: shared limiting resumes without a restart.
    let _redis = OwnRedis::start(redis.port);
    assert_eq!(
        app.get("/ready", "user_free").await.1["data"]["checks"]["redis"],
        "up"
    );
    assert_eq!(app.get(&grant_path(1), "user_premium").await.0, 200);
    let shared = Redis::new(&url, &app.env["REDIS_KEY_PREFIX"]).unwrap();
    assert!(
        shared.clear().await.unwrap() > 0,
        "the grant was counted in Redis again"
    );
}

/// A job started on two instances at once runs once: each instance has its own Redis
/// pool, the lock is shared.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_started_on_both_instances_at_once_runs_once() {
    use soundshelf_service::jobs::{JobRun, run_exclusive};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    let prefix = format!("soundshelf-test:{}:", ulid::Ulid::generate());
    let instance_a = Redis::new(SHARED_REDIS, &prefix).unwrap();
    let instance_b = Redis::new(SHARED_REDIS, &prefix).unwrap();
    let runs = Arc::new(AtomicU32::new(0));
    let job = |runs: Arc<AtomicU32>| async move {
        runs.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ttl = Duration::from_secs(30);
    let (a, b) = tokio::join!(
        run_exclusive(&instance_a, "token-cleanup", ttl, || job(runs.clone())),
        run_exclusive(&instance_b, "token-cleanup", ttl, || job(runs.clone())),
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(runs.load(Ordering::SeqCst), 1);
    assert_eq!(
        outcomes.iter().filter(|o| **o == JobRun::Ran(())).count(),
        1
    );
    // Released: the next run (an hour later, say) takes the lock again.
    assert!(matches!(
        run_exclusive(&instance_b, "token-cleanup", ttl, || job(runs.clone()))
            .await
            .unwrap(),
        JobRun::Ran(())
    ));
    instance_a.clear().await.unwrap();
}

/// Asks `path` as `user` until it answers `want`; fails after 5 s.
async fn until(app: &TestApp, path: &str, user: &str, want: u16) {
    let start = Instant::now();
    loop {
        let (status, _) = app.get(path, user).await;
        if status == want {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{path} as {user}: still {status} after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// SPEC §11 across instances: a ban made on A is refused on B within 5 s (not after B's
/// 30 s auth cache), the user's live link answers 410 on both, and an upgrade through
/// `/internal/users` on A lets B grant lossless within 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ban_or_an_upgrade_on_one_instance_reaches_the_other_within_5_s() {
    let secret = "an-internal-secret-of-at-least-32-bytes";
    let a = spawn_app_with(
        Backend::Mysql,
        &[
            ("REDIS_URL", SHARED_REDIS),
            ("AUTH_CACHE_TTL", "30s"),
            ("INTERNAL_API_SECRET", secret),
        ],
    )
    .await;
    let b = a.another_instance().await;
    // Both instances cache both users.
    for app in [&a, &b] {
        for user in ["user_trial", "user_free"] {
            assert_eq!(app.get("/api/me", user).await.0, 200);
        }
    }
    let (status, grant) = b.get(&grant_path(1), "user_trial").await;
    assert_eq!(status, 200, "{grant}");
    let url = grant["data"]["download_url"].as_str().unwrap();
    let link = url[url.find("/files/").unwrap()..].to_owned();

    let res = a
        .client
        .patch(a.url("/api/admin/users/user_trial"))
        .bearer_auth(token("user_admin"))
        .json(&serde_json::json!({"status": "banned"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let banned_at = Instant::now();
    assert_error(&a.get("/api/me", "user_trial").await, 403, "USER_INACTIVE");
    until(&b, "/api/me", "user_trial", 403).await;
    assert!(banned_at.elapsed() < Duration::from_secs(5));
    for app in [&a, &b] {
        assert_error(
            &app.get(&link, "user_trial").await,
            410,
            "DOWNLOAD_LINK_EXPIRED",
        );
    }

    // free → vip through the main backend's hook on A: B grants lossless within 5 s.
    let body = br#"{"subscription_type":"vip","has_premium_access":true,"status":"active"}"#;
    let t = time::OffsetDateTime::now_utc().unix_timestamp();
    let signature =
        soundshelf_signers::internal::RequestSigner::new(secret.as_bytes()).sign(t, body);
    let res = a
        .client
        .put(a.url("/internal/users/user_free"))
        .header("X-Signature", signature)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let lossless = "/api/music/download-url/music_002?quality=lossless";
    assert_eq!(a.get(lossless, "user_free").await.0, 200);
    until(&b, lossless, "user_free", 200).await;
}

/// The favorites titles `user` sees on `app`.
async fn titles(app: &TestApp, user: &str) -> Vec<String> {
    let (status, body) = app.get("/api/favorites?limit=100", user).await;
    assert_eq!(status, 200, "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["item_data"]["title"].as_str().unwrap().to_owned())
        .collect()
}

/// The warm list's staleness bounds (docs/redis.md): normally a write through any
/// instance is read at once on every other, warm pages notwithstanding; when the move
/// of the user's generation is missed (a write that bypasses it, as when Redis does not
/// answer just after the commit, or a write through an instance cut off from Redis), an
/// old page is shown at most until the generation ends, FAVORITES_CACHE_TTL after it
/// began; an instance cut off from Redis reads the database and is never stale itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_pages_are_never_stale_and_a_missed_write_ends_with_the_generation() {
    const TTL: Duration = Duration::from_secs(2);
    let a = spawn_app_with(
        Backend::Mysql,
        &[("REDIS_URL", SHARED_REDIS), ("FAVORITES_CACHE_TTL", "2s")],
    )
    .await;
    let b = a.another_instance().await;

    // Normal case: 10 rounds of warm both, write on one, read on the other at once.
    for n in 0..10 {
        let (writer, reader) = if n % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let before = titles(reader, "user_free").await;
        let _ = titles(writer, "user_free").await;
        writer
            .add("user_free", &format!("item_{n}"), &format!("曲目 {n}"))
            .await;
        let after = titles(reader, "user_free").await;
        assert_eq!(after.len(), before.len() + 1, "round {n}: {after:?}");
        assert!(after.contains(&format!("曲目 {n}")));
        let (status, _) = reader
            .delete(&format!("/api/favorites/items/item_{n}"), "user_free")
            .await;
        assert_eq!(status, 200);
        assert_eq!(titles(writer, "user_free").await, before, "round {n}");
    }

    // A missed move: a write the cache never hears of (here straight into the database).
    let warm = titles(&a, "user_trial").await;
    let started = Instant::now();
    soundshelf_store::testing::execute_sql(
        &a.db.config,
        "INSERT INTO user_favorites (id, user_id, item_id, item_type, item_data, search_title, created_at, updated_at) \
         VALUES ('fav_01JAAAAAAAAAAAAAAAAAAAAAAA', 'user_trial', 'missed', 'music', '{\"title\":\"missed\",\"cover\":\"/c.jpg\",\"duration\":1}', 'missed', '2026-01-01 00:00:00', '2026-01-01 00:00:00')",
    )
    .await;
    let mut saw_old = false;
    loop {
        let now = titles(&b, "user_trial").await;
        if now.contains(&"missed".to_owned()) {
            break;
        }
        assert_eq!(now, warm);
        saw_old = true;
        assert!(
            started.elapsed() < TTL + Duration::from_millis(500),
            "an old page outlived its generation: {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        saw_old,
        "the warm page should have hidden the missed write for a while"
    );

    // An instance cut off from Redis (nothing listens there): it reads the database, so
    // it is fresh itself; its writes cannot move the generation, so the others may show
    // an old page until the generation ends.
    let dead = format!("redis://127.0.0.1:{}", free_port());
    let mut env: Vec<(String, String)> = a
        .env
        .iter()
        .filter(|(k, _)| k.as_str() != "REDIS_URL")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.push(("REDIS_URL".into(), dead));
    let vars: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let cut_off = spawn_app_on(a.db.shared(), &vars).await;
    let warm = titles(&a, "user_premium").await;
    let started = Instant::now();
    cut_off.add("user_premium", "cut_off_item", "cut off").await;
    assert!(
        titles(&cut_off, "user_premium")
            .await
            .contains(&"cut off".to_owned())
    );
    loop {
        let now = titles(&a, "user_premium").await;
        if now.contains(&"cut off".to_owned()) {
            break;
        }
        assert_eq!(now, warm);
        assert!(
            started.elapsed() < TTL + Duration::from_millis(500),
            "an old page outlived its generation: {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
