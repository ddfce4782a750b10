//! `cargo xtask soak --minutes N [--debug]`: mixed traffic against the server (release
//! build by default) on MariaDB and Redis for N minutes: favorites (list, add, remove,
//! contains), offline syncs, grants redeemed in two Range requests, download records.
//! It reports errors (every answer that is not the one the request must get; the run
//! fails on any), latency percentiles per time slice, and the server's resident memory
//! after the warm-up and at the end; the run fails if memory grew by more than
//! [`RSS_GROWTH_BOUND_KB`] after the warm-up.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, ensure};
use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};
use hdrhistogram::Histogram;
use serde_json::{Value, json};
use soundshelf_store::migrations;
use tokio::sync::Mutex;

use crate::server::{self, Proc};

/// Requests in flight at once.
const CONCURRENCY: usize = 16;
/// Users the traffic is spread over.
const USERS: usize = 200;
/// How much the resident memory may grow from the end of the warm-up to the end of the
/// run. Memory that grows with the traffic's history (a leak, an unbounded cache) passes
/// this within minutes; allocator and pool settling stay well under it.
pub(crate) const RSS_GROWTH_BOUND_KB: u64 = 32 * 1024;
/// Time slices in the report.
const SLICES: u32 = 10;

/// One slice of the run: latencies and errors.
struct Slice {
    hist: Histogram<u64>,
    errors: u64,
}

impl Slice {
    fn new() -> Self {
        Self {
            hist: Histogram::new_with_bounds(1, 120_000_000, 3)
                .unwrap_or_else(|_| unreachable!("valid bounds")),
            errors: 0,
        }
    }
}

struct Shared {
    client: reqwest::Client,
    base: String,
    tokens: Vec<String>,
    slices: Vec<Mutex<Slice>>,
    started: Instant,
    slice_len: Duration,
    /// The first few errors, for the report.
    samples: Mutex<Vec<String>>,
    /// Latency of each kind of step in the first and in the last slice, to tell which
    /// kinds slow down as the data grows.
    by_kind: Vec<Mutex<[Histogram<u64>; 2]>>,
}

/// The kinds of steps, in the order of [`one_step`]'s choice.
const KINDS: [&str; 7] = [
    "list favorites",
    "add (+ remove)",
    "contains",
    "sync of 20",
    "grant + 2 ranges",
    "records",
    "report",
];

impl Shared {
    async fn record(&self, at: Instant, kind: usize, result: anyhow::Result<()>) {
        let slice =
            usize::try_from((at - self.started).as_millis() / self.slice_len.as_millis().max(1))
                .unwrap_or(usize::MAX)
                .min(self.slices.len() - 1);
        let micros = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
        if slice == 0 || slice == self.slices.len() - 1 {
            let mut h = self.by_kind[kind].lock().await;
            let _ = h[usize::from(slice != 0)].record(micros.max(1));
        }
        let mut s = self.slices[slice].lock().await;
        let _ = s.hist.record(micros.max(1));
        if let Err(e) = result {
            s.errors += 1;
            let mut samples = self.samples.lock().await;
            if samples.len() < 10 {
                samples.push(format!("{e:#}"));
            }
        }
    }
}

pub async fn run(minutes: f64, debug: bool) -> anyhow::Result<()> {
    ensure!(minutes > 0.0, "--minutes must be more than zero");
    let profile = server::profile(debug);
    server::build(profile)?;
    let (url, name) = server::fresh_database("soak").await?;
    let dir = server::scratch_dir("soak")?;
    let prefix = format!("soundshelf-soak:{name}:");
    let result = soak(
        &url,
        &dir,
        &prefix,
        Duration::from_secs_f64(minutes * 60.0),
        profile,
    )
    .await;
    let dropped = migrations::drop_database(&url).await;
    let cleared = soundshelf_redis::Redis::new(&server::redis_url(), &prefix)?
        .clear()
        .await;
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!("the server log is kept in {}", dir.display());
    }
    result?;
    dropped?;
    cleared?;
    Ok(())
}

async fn soak(
    url: &str,
    dir: &std::path::Path,
    prefix: &str,
    length: Duration,
    profile: &str,
) -> anyhow::Result<()> {
    let port = server::free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join("server.log"))?;
    let mut cmd = server::command(profile, url, port);
    cmd.env("DATA_DIR", dir.join("data"))
        .env("PUBLIC_BASE_URL", &base)
        .env("REDIS_URL", server::redis_url())
        .env("REDIS_KEY_PREFIX", prefix)
        .env("AUTO_MIGRATE", "true")
        .env("SEED_DEMO", "true")
        .env("DB_POOL_SIZE", "16")
        .env("RATE_LIMIT_DOWNLOADS_PER_MINUTE", "1000000")
        .env("PLAN_VIP_DAILY_DOWNLOADS", "1000000")
        .env("PLAN_VIP_STORAGE_MB", "100000000")
        .stdout(log.try_clone()?)
        .stderr(log);
    let mut app = Proc::spawn("soundshelf", &mut cmd)?;
    server::wait_healthy("soundshelf", &format!("{base}/health")).await?;

    let mut conn = AsyncMysqlConnection::establish(url).await?;
    let users: Vec<String> = (0..USERS)
        .map(|u| format!("('soak_{u}', 'soak', 'active', 'vip', 1, 'user')"))
        .collect();
    conn.batch_execute(&format!(
        "INSERT INTO users (id, nickname, status, subscription_type, has_premium_access, role) VALUES {}",
        users.join(",")
    ))
    .await?;
    let tokens = (0..USERS)
        .map(|u| server::token(&format!("soak_{u}")))
        .collect::<anyhow::Result<Vec<_>>>()?;

    // The first slice is the warm-up: its memory reading is the baseline.
    let slice_len = length / SLICES;
    let shared = Arc::new(Shared {
        client: soundshelf_outbound::http::client_builder()
            .pool_max_idle_per_host(CONCURRENCY)
            // Idle connections are dropped before the server would close them: a
            // connection the pool opened but never used gets a 408 after
            // HTTP_HEADER_TIMEOUT (10 s), which a request sent on it just then would read
            // (seen once in 221 050 requests before this line).
            .pool_idle_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()?,
        base,
        tokens,
        slices: (0..SLICES).map(|_| Mutex::new(Slice::new())).collect(),
        started: Instant::now(),
        slice_len,
        samples: Mutex::new(Vec::new()),
        by_kind: KINDS
            .iter()
            .map(|_| Mutex::new([Slice::new().hist, Slice::new().hist]))
            .collect(),
    });
    let end = shared.started + length;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..CONCURRENCY {
        let shared = shared.clone();
        tasks.spawn(async move {
            let mut step = worker;
            while Instant::now() < end {
                step += CONCURRENCY;
                one_step(&shared, worker, step).await;
            }
        });
    }
    let mut rss = Vec::new();
    for slice in 0..SLICES {
        tokio::time::sleep_until((shared.started + slice_len * (slice + 1)).into()).await;
        rss.push(app.rss_kb().map_or(0, |(now, _)| now));
    }
    tasks.join_all().await;
    let peak = app.rss_kb().map_or(0, |(_, peak)| peak);
    app.stop()?;

    let mut total_errors = 0;
    let mut all = Histogram::<u64>::new(3)?;
    println!(
        "soak: {:.1} min, {CONCURRENCY} clients, {USERS} users, {profile} build, MariaDB + Redis\n",
        length.as_secs_f64() / 60.0
    );
    println!("| slice (s) | requests | errors | p50 ms | p90 ms | p99 ms | max ms | RSS MiB |");
    println!("|---|---|---|---|---|---|---|---|");
    for (i, slice) in shared.slices.iter().enumerate() {
        let s = slice.lock().await;
        let from = slice_len.as_secs_f64() * f64::from(u32::try_from(i)?);
        let ms = |q: f64| s.hist.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "| {from:.0}–{:.0} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            from + slice_len.as_secs_f64(),
            s.hist.len(),
            s.errors,
            ms(0.5),
            ms(0.9),
            ms(0.99),
            s.hist.max() as f64 / 1000.0,
            rss[i] as f64 / 1024.0,
        );
        total_errors += s.errors;
        all.add(&s.hist)?;
    }
    let baseline = rss[0];
    let last = rss[rss.len() - 1];
    let growth = last.saturating_sub(baseline);
    println!(
        "\n{} requests, {total_errors} errors; p50 {:.1} ms, p99 {:.1} ms; RSS after warm-up {:.1} MiB, \
         at the end {:.1} MiB (growth {:.1} MiB, bound {} MiB), peak {:.1} MiB",
        all.len(),
        all.value_at_quantile(0.5) as f64 / 1000.0,
        all.value_at_quantile(0.99) as f64 / 1000.0,
        baseline as f64 / 1024.0,
        last as f64 / 1024.0,
        growth as f64 / 1024.0,
        RSS_GROWTH_BOUND_KB / 1024,
        peak as f64 / 1024.0,
    );
    println!("\n| step | p50 ms, first slice | p50 ms, last slice | last / first |");
    println!("|---|---|---|---|");
    for (kind, name) in KINDS.iter().enumerate() {
        let h = shared.by_kind[kind].lock().await;
        let (first, last) = (h[0].value_at_quantile(0.5), h[1].value_at_quantile(0.5));
        println!(
            "| {name} | {:.1} | {:.1} | {:.2} |",
            first as f64 / 1000.0,
            last as f64 / 1000.0,
            last as f64 / first.max(1) as f64
        );
    }
    for sample in shared.samples.lock().await.iter() {
        eprintln!("error: {sample}");
    }
    ensure!(total_errors == 0, "{total_errors} requests failed");
    ensure!(
        growth <= RSS_GROWTH_BOUND_KB,
        "resident memory grew by {} kB after the warm-up (bound {RSS_GROWTH_BOUND_KB} kB)",
        growth
    );
    Ok(())
}

/// One step of a simulated client: a request (or a short sequence) chosen by `step`.
async fn one_step(shared: &Shared, worker: usize, step: usize) {
    let user = (step * 7 + worker) % USERS;
    let token = &shared.tokens[user];
    let item = format!("music_{:03}", 1 + step % 12);
    let at = Instant::now();
    let (kind, result) = match step % 20 {
        0..=5 => (0, get_ok(shared, token, "/api/favorites?limit=20").await),
        6..=8 => (
            1,
            add_then_remove(shared, token, &format!("soak_{worker}_{step}")).await,
        ),
        9 | 10 => (
            2,
            get_ok(
                shared,
                token,
                "/api/favorites/contains?item_ids=music_001,music_002,music_003",
            )
            .await,
        ),
        11 | 12 => (3, sync(shared, token, worker, step).await),
        13..=16 => (4, grant_and_redeem(shared, token, &item).await),
        17 | 18 => (5, get_ok(shared, token, "/api/downloads?limit=20").await),
        _ => (6, report(shared, token, &item).await),
    };
    shared.record(at, kind, result).await;
}

async fn expect(res: reqwest::Response, want: u16, what: &str) -> anyhow::Result<Value> {
    let status = res.status().as_u16();
    let body = res.bytes().await.context(what.to_owned())?;
    ensure!(
        status == want,
        "{what}: {status} {}",
        String::from_utf8_lossy(&body)
    );
    Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
}

/// A read that must answer 200.
async fn get_ok(s: &Shared, token: &str, path: &str) -> anyhow::Result<()> {
    let res = s
        .client
        .get(format!("{}{path}", s.base))
        .bearer_auth(token)
        .send()
        .await?;
    expect(res, 200, path).await.map(drop)
}

async fn add_then_remove(s: &Shared, token: &str, item: &str) -> anyhow::Result<()> {
    let res = s
        .client
        .post(format!("{}/api/favorites", s.base))
        .bearer_auth(token)
        .json(&json!({"item_id": item, "item_type": "music",
                      "item_data": {"title": "浸泡", "cover": "/c.jpg", "duration": 60}}))
        .send()
        .await?;
    expect(res, 200, "add").await?;
    // Half are removed again, so the library grows slowly, as real ones do.
    if item.len().is_multiple_of(2) {
        let res = s
            .client
            .delete(format!("{}/api/favorites/items/{item}", s.base))
            .bearer_auth(token)
            .send()
            .await?;
        expect(res, 200, "remove").await?;
    }
    Ok(())
}

async fn sync(s: &Shared, token: &str, worker: usize, step: usize) -> anyhow::Result<()> {
    let now =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    let changes: Vec<Value> = (0..20)
        .map(|i| {
            let action = if i % 4 == 3 { "remove" } else { "add" };
            json!({"item_id": format!("music_w{worker}_{}", (step + i) % 50), "action": action,
                   "timestamp": now,
                   "item_data": {"title": "离线", "cover": "/c.jpg", "duration": 30}})
        })
        .collect();
    let res = s
        .client
        .put(format!("{}/api/favorites/sync", s.base))
        .bearer_auth(token)
        .json(&json!({"last_sync_time": null, "local_changes": changes}))
        .send()
        .await?;
    expect(res, 200, "sync").await.map(drop)
}

async fn grant_and_redeem(s: &Shared, token: &str, item: &str) -> anyhow::Result<()> {
    let res = s
        .client
        .get(format!("{}/api/music/download-url/{item}", s.base))
        .bearer_auth(token)
        .send()
        .await?;
    let grant = expect(res, 200, "grant").await?;
    let link = grant["data"]["download_url"]
        .as_str()
        .context("grant without download_url")?
        .to_owned();
    let first = s
        .client
        .get(&link)
        .header("Range", "bytes=0-1023")
        .send()
        .await?;
    ensure!(first.status() == 206, "first range: {}", first.status());
    let head = first.bytes().await?;
    ensure!(head.len() == 1024, "first range: {} bytes", head.len());
    let resume = s
        .client
        .get(&link)
        .header("Range", "bytes=1024-65535")
        .send()
        .await?;
    ensure!(resume.status() == 206, "resume: {}", resume.status());
    let rest = resume.bytes().await?;
    ensure!(rest.len() == 64_512, "resume: {} bytes", rest.len());
    Ok(())
}

async fn report(s: &Shared, token: &str, item: &str) -> anyhow::Result<()> {
    let res = s
        .client
        .post(format!("{}/api/downloads", s.base))
        .bearer_auth(token)
        .json(&json!({"music_id": item, "status": "downloading", "progress": 40}))
        .send()
        .await?;
    expect(res, 200, "report").await.map(drop)
}
