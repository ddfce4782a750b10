//! `cargo xtask bench [--quick]`: the release server on MariaDB, seeded by the bench,
//! driven by `wrk` (two threads, 64 connections, a warm-up run, then the measured one;
//! its latency distribution for p50/p99/p99.9; scripts in `xtask/bench/`); writes
//! `docs/benchmarks.md`.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};
use hdrhistogram::Histogram;
use soundshelf_app::jwt::JwtKeys;
use soundshelf_domain::UserId;
use soundshelf_store::{DbConfig, PoolOptions, Store, demo, migrations};

use crate::deploy;
use crate::server::{self, Proc};

const CONCURRENCY: usize = 32;

/// The Redis the scenarios of a deployment with Redis use (each run under its own
/// key prefix, deleted after).
const REDIS_URL: &str = "redis://127.0.0.1:6379";

struct Sizes {
    small_users: usize,
    large_users: usize,
    warmup: Duration,
    duration: Duration,
}

/// One scenario's results.
struct Run {
    name: String,
    requests: u64,
    errors: u64,
    seconds: f64,
    p50_ms: f64,
    p99_ms: f64,
    p999_ms: f64,
    peak_rss_kb: Option<u64>,
}

impl Run {
    fn rps(&self) -> f64 {
        self.requests as f64 / self.seconds
    }

    fn measured(name: &str, m: &crate::wrk::Measured, peak_rss_kb: Option<u64>) -> Self {
        Self {
            name: name.to_owned(),
            requests: m.requests,
            errors: m.errors,
            seconds: m.seconds,
            p50_ms: m.p50_us as f64 / 1000.0,
            p99_ms: m.p99_us as f64 / 1000.0,
            p999_ms: m.p999_us as f64 / 1000.0,
            peak_rss_kb,
        }
    }
}

/// A fresh database with the demo catalogue and `users` bench users of 50 favorites
/// each (and a few download records).
async fn seed(name: &str, users: usize) -> anyhow::Result<String> {
    let url = format!("{}/{name}", server::server_url());
    migrations::create_database_if_missing(&url).await?;
    migrations::run_pending(&DbConfig::Mysql { url: url.clone() }).await?;
    let store = Store::connect(
        &DbConfig::Mysql { url: url.clone() },
        PoolOptions::default(),
    )
    .await?;
    demo::seed(&store, time::OffsetDateTime::now_utc()).await?;
    let mut conn = AsyncMysqlConnection::establish(&url).await?;
    let started = Instant::now();
    for chunk in (0..users).collect::<Vec<_>>().chunks(500) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|u| {
                format!("('bu_{u}', 'bench', 'active', 'vip', 1, 'user', '2026-01-01 00:00:00')")
            })
            .collect();
        conn.batch_execute(&format!(
            "INSERT INTO users (id, nickname, status, subscription_type, has_premium_access, role, created_at) VALUES {}",
            rows.join(",")
        ))
        .await?;
    }
    let mut rows: Vec<String> = Vec::with_capacity(2000);
    let insert = |rows: &[String]| {
        format!(
            "INSERT INTO user_favorites (id, user_id, item_id, item_type, item_data, search_title, created_at, updated_at) VALUES {}",
            rows.join(",")
        )
    };
    for u in 0..users {
        for i in 0..50 {
            let id = format!("fav_{}", ulid::Ulid::generate());
            let at = format!("2026-01-01 00:{:02}:{:02}", i / 60, i % 60);
            rows.push(format!(
                "('{id}', 'bu_{u}', 'music_{i:03}', 'music', '{{\"title\":\"深度放松 {i}\",\"cover\":\"/c.jpg\",\"duration\":360}}', '深度放松 {i}', '{at}', '{at}')"
            ));
            if rows.len() == 2000 {
                conn.batch_execute(&insert(&rows)).await?;
                rows.clear();
            }
        }
    }
    if !rows.is_empty() {
        conn.batch_execute(&insert(&rows)).await?;
    }
    eprintln!(
        "seeded {name}: {users} users, {} favorites in {:.1?}",
        users * 50,
        started.elapsed()
    );
    Ok(url)
}

/// The release server, stopped when dropped.
struct Server {
    proc: Proc,
    base: String,
}

impl Server {
    async fn start(url: &str, extra: &[(&str, &str)]) -> anyhow::Result<Self> {
        let port = server::free_port()?;
        let mut cmd = server::command("release", url, port);
        cmd.env("DB_POOL_SIZE", "16")
            .env("RATE_LIMIT_DOWNLOADS_PER_MINUTE", "1000000")
            .env("PLAN_VIP_DAILY_DOWNLOADS", "1000000")
            .env("PLAN_VIP_STORAGE_MB", "100000000");
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let proc = Proc::spawn("soundshelf", &mut cmd)?;
        let base = format!("http://127.0.0.1:{port}");
        server::wait_healthy("soundshelf", &format!("{base}/health")).await?;
        Ok(Self { proc, base })
    }

    /// The server's peak resident memory so far, in kB.
    fn peak_rss_kb(&self) -> Option<u64> {
        self.proc.rss_kb().map(|(_, peak)| peak)
    }
}

/// Writes `tokens` one a line into `dir`, for the scripts.
fn tokens_file(
    dir: &std::path::Path,
    name: &str,
    tokens: &[String],
) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join(format!("{name}.txt"));
    std::fs::write(&path, tokens.join("\n"))?;
    Ok(path)
}

/// Runs the wrk `scenario` against `server`: a warm-up run of `sizes.warmup` (when not
/// zero), then `sizes.duration` measured.
async fn drive(
    name: &str,
    sizes: &Sizes,
    server: &Server,
    scenario: &'static str,
    tokens: &std::path::Path,
) -> anyhow::Result<Run> {
    let dir = tokens
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default();
    let (base, tokens) = (server.base.clone(), tokens.to_path_buf());
    let (warmup, duration) = (sizes.warmup, sizes.duration);
    let measured = tokio::task::spawn_blocking(move || {
        if !warmup.is_zero() {
            crate::wrk::run(&dir, scenario, &base, &tokens, warmup)?;
        }
        crate::wrk::run(&dir, scenario, &base, &tokens, duration)
    })
    .await??;
    let run = Run::measured(name, &measured, server.peak_rss_kb());
    eprintln!(
        "{name}: {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, errors {}",
        run.rps(),
        run.p50_ms,
        run.p99_ms,
        run.p999_ms,
        run.errors
    );
    Ok(run)
}

fn tokens(users: usize) -> anyhow::Result<Arc<Vec<String>>> {
    let keys = JwtKeys::new(&secrecy::SecretString::from(server::SECRET.to_owned()))?;
    let tokens = (0..users)
        .map(|u| {
            keys.mint(
                &UserId::parse(&format!("bu_{u}")).unwrap_or_else(|_| unreachable!()),
                Duration::from_secs(3600),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(tokens))
}

/// Runs every scenario and writes `docs/benchmarks.md`.
pub async fn run(quick: bool) -> anyhow::Result<()> {
    let total = Instant::now();
    server::build("release")?;
    let sizes = if quick {
        Sizes {
            small_users: 200,
            large_users: 2_000,
            warmup: Duration::from_secs(1),
            duration: Duration::from_secs(4),
        }
    } else {
        Sizes {
            small_users: 200,
            large_users: 20_000,
            warmup: Duration::from_secs(2),
            duration: Duration::from_secs(10),
        }
    };
    let tag = ulid::Ulid::generate().to_string().to_lowercase();
    let small_db = format!("bench_small_{tag}");
    let large_db = format!("bench_large_{tag}");
    let small = seed(&small_db, sizes.small_users).await?;
    let large = seed(&large_db, sizes.large_users).await?;
    let result = scenarios(&sizes, &small, &large).await;
    for url in [&small, &large] {
        let _ = migrations::drop_database(url).await;
    }
    let runs = result?;
    write_report(&runs, &sizes, quick, total.elapsed())?;
    Ok(())
}

async fn scenarios(sizes: &Sizes, small: &str, large: &str) -> anyhow::Result<Vec<Run>> {
    let users = sizes.small_users;
    let dir = tempfile::tempdir()?;
    let small_tokens = tokens_file(dir.path(), "small", &tokens(users)?)?;
    let mut runs = Vec::new();

    // As deployed (deploy/docker-compose.yml): with Redis, under a prefix of its own.
    let prefix = format!("bench:{}:", ulid::Ulid::generate());
    let server = Server::start(
        small,
        &[("REDIS_URL", REDIS_URL), ("REDIS_KEY_PREFIX", &prefix)],
    )
    .await?;
    runs.push(drive("1. GET /health", sizes, &server, "health", &small_tokens).await?);
    runs.push(
        drive(
            "2a. GET /api/favorites, cache warm",
            sizes,
            &server,
            "favorites",
            &small_tokens,
        )
        .await?,
    );
    runs.push(
        drive(
            "3. add + delete a favorite",
            sizes,
            &server,
            "add_delete",
            &small_tokens,
        )
        .await?,
    );
    runs.push(drive("4. grants", sizes, &server, "grants", &small_tokens).await?);
    runs.push(
        drive(
            "5. PUT /api/favorites/sync, 100 changes",
            sizes,
            &server,
            "sync",
            &small_tokens,
        )
        .await?,
    );
    drop(server);
    soundshelf_redis::Redis::new(REDIS_URL, &prefix)?
        .clear()
        .await?;

    let cold = Server::start(small, &[("FAVORITES_CACHE_TTL", "0s")]).await?;
    runs.push(
        drive(
            "2b. GET /api/favorites, cache cold",
            sizes,
            &cold,
            "favorites",
            &small_tokens,
        )
        .await?,
    );
    runs.push(
        drive(
            "6a. list, small table",
            sizes,
            &cold,
            "favorites",
            &small_tokens,
        )
        .await?,
    );
    drop(cold);
    let large_server = Server::start(large, &[("FAVORITES_CACHE_TTL", "0s")]).await?;
    let large_tokens = tokens_file(dir.path(), "large", &tokens_subset(sizes.large_users)?)?;
    runs.push(
        drive(
            "6b. list, large table",
            sizes,
            &large_server,
            "favorites",
            &large_tokens,
        )
        .await?,
    );
    drop(large_server);
    runs.push(db_ceiling(sizes, small, users, Ceiling::ColdList).await?);
    runs.push(db_ceiling(sizes, small, users, Ceiling::Grant).await?);
    Ok(runs)
}

fn tokens_subset(users: usize) -> anyhow::Result<Arc<Vec<String>>> {
    // Spread over the whole table: every 10th user.
    let keys = JwtKeys::new(&secrecy::SecretString::from(server::SECRET.to_owned()))?;
    let tokens = (0..users)
        .step_by(10)
        .map(|u| {
            keys.mint(
                &UserId::parse(&format!("bu_{u}")).unwrap_or_else(|_| unreachable!()),
                Duration::from_secs(3600),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Arc::new(tokens))
}

/// Which work to send straight to the database.
#[derive(Clone, Copy)]
enum Ceiling {
    ColdList,
    Grant,
}

/// The SQL the server sends for one request of `work` by `user` (auth and the catalogue
/// are cached in-process; the cold list runs with the page cache off).
fn ceiling_sql(work: Ceiling, user: &str, i: usize) -> String {
    match work {
        Ceiling::ColdList => format!(
            "SELECT COUNT(*) FROM user_favorites WHERE user_id = '{user}'; \
             SELECT id, user_id, item_id, item_type, item_data, created_at, updated_at FROM user_favorites \
             WHERE user_id = '{user}' ORDER BY created_at DESC, id DESC LIMIT 51"
        ),
        Ceiling::Grant => {
            let music = format!("music_{:03}", (i % 12) + 1);
            let quality = ["standard", "high", "lossless"][i / 12 % 3];
            let token = ulid::Ulid::generate();
            format!(
                "START TRANSACTION; \
                 UPDATE users SET favorites_version = favorites_version + 0 WHERE id = '{user}'; \
                 SELECT id, nickname, status, subscription_type, has_premium_access, role, created_at FROM users WHERE id = '{user}'; \
                 SELECT grants FROM daily_grant_counters WHERE user_id = '{user}' AND day = '2026-01-01'; \
                 SELECT CAST(COALESCE(SUM(file_size), 0) AS SIGNED) FROM user_downloads WHERE user_id = '{user}' AND status = 'completed'; \
                 SELECT music_id, quality FROM download_grant_days WHERE user_id = '{user}' AND day = '2026-01-01' AND music_id IN ('{music}'); \
                 SELECT music_id, quality, file_size FROM user_downloads WHERE user_id = '{user}' AND status = 'completed' AND music_id IN ('{music}'); \
                 INSERT IGNORE INTO download_grant_days (user_id, day, music_id, quality, granted_at) VALUES ('{user}', '2026-01-01', '{music}', '{quality}', NOW(6)); \
                 INSERT INTO daily_grant_counters (user_id, day, grants) VALUES ('{user}', '2026-01-01', 1) ON DUPLICATE KEY UPDATE grants = grants + 1; \
                 INSERT INTO download_tokens (id, user_id, music_id, token, download_url, quality, expires_at, max_downloads, download_count, created_at) \
                 VALUES ('tok_{token}', '{user}', '{music}', '{token:0>64}', 'u', '{quality}', NOW(6), 3, 0, NOW(6)); \
                 UPDATE user_downloads SET download_token = '{token}', status = 'downloading', progress = 0, download_time = NOW(6) \
                 WHERE user_id = '{user}' AND music_id = '{music}' AND quality = '{quality}'; \
                 COMMIT"
            )
        }
    }
}

/// The statements of a request, sent straight to MariaDB from `CONCURRENCY`
/// connections: the database's own ceiling for that work.
async fn db_ceiling(sizes: &Sizes, url: &str, users: usize, work: Ceiling) -> anyhow::Result<Run> {
    let mut tasks = tokio::task::JoinSet::new();
    let warm_until = Instant::now() + sizes.warmup;
    let end = warm_until + sizes.duration;
    for task in 0..CONCURRENCY {
        let url = url.to_owned();
        tasks.spawn(async move {
            let mut conn = AsyncMysqlConnection::establish(&url).await?;
            let mut hist = Histogram::<u64>::new(3)?;
            let (mut n, mut i) = (0u64, 0usize);
            while Instant::now() < end {
                let user = format!("bu_{}", (i * 7 + task) % users);
                let started = Instant::now();
                // One round trip per statement, as the server sends them.
                for statement in ceiling_sql(work, &user, i).split("; ") {
                    conn.batch_execute(statement).await?;
                }
                i += 1;
                if started >= warm_until {
                    hist.record(started.elapsed().as_micros() as u64)?;
                    n += 1;
                }
            }
            anyhow::Ok((hist, n))
        });
    }
    let mut hist = Histogram::<u64>::new(3)?;
    let mut requests = 0;
    for r in tasks.join_all().await {
        let (h, n) = r?;
        hist.add(h)?;
        requests += n;
    }
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    let run = Run {
        name: match work {
            Ceiling::ColdList => "2c. the cold list's SQL straight to MariaDB".into(),
            Ceiling::Grant => "4b. a grant's SQL straight to MariaDB".into(),
        },
        requests,
        errors: 0,
        seconds: sizes.duration.as_secs_f64(),
        p50_ms: ms(0.5),
        p99_ms: ms(0.99),
        p999_ms: ms(0.999),
        peak_rss_kb: None,
    };
    eprintln!("{}: {:.0} req/s", run.name, run.rps());
    Ok(run)
}

fn write_report(runs: &[Run], sizes: &Sizes, quick: bool, took: Duration) -> anyhow::Result<()> {
    let find = |prefix: &str| runs.iter().find(|r| r.name.starts_with(prefix));
    let health = find("1.").map(Run::rps).unwrap_or(1.0);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmarks\n");
    let _ = writeln!(
        md,
        "Written by `cargo xtask bench{}` ({} run, {:.0?} in all) on a {cores}-core machine. Load from `wrk` ({} threads, \
         {} connections; the Lua scripts of `xtask/bench/`; its latency distribution), on the same cores as the release \
         server, MariaDB and Redis (scenarios 1–5 run as deployed, with Redis; the cold and table-size ones without, \
         the page cache off); the database ceilings send the statements from {CONCURRENCY} connections of this process. \
         Each scenario: a {:?} warm-up run, then {:?} measured. Absolute numbers move with the machine; the ratios \
         (measured in the same run) are what to compare.\n",
        if quick { " --quick" } else { "" },
        if quick { "a quick" } else { "a full" },
        took,
        crate::wrk::THREADS,
        crate::wrk::CONNECTIONS,
        sizes.warmup,
        sizes.duration,
    );
    let _ = writeln!(
        md,
        "| scenario | req/s | × /health | p50 ms | p99 ms | p99.9 ms | errors | server peak RSS |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |",
            r.name,
            r.rps(),
            r.rps() / health,
            r.p50_ms,
            r.p99_ms,
            r.p999_ms,
            r.errors,
            r.peak_rss_kb
                .map_or("—".into(), |kb| format!("{:.1} MB", kb as f64 / 1024.0)),
        );
    }
    let ratio = |a: Option<&Run>, b: Option<&Run>, f: fn(&Run) -> f64| match (a, b) {
        (Some(a), Some(b)) if f(b) > 0.0 => f(a) / f(b),
        _ => f64::NAN,
    };
    let warm = ratio(find("2a."), find("1."), Run::rps);
    let cold_vs_db = ratio(find("2b."), find("2c."), Run::rps);
    let grants_vs_db = ratio(find("4."), find("4b."), Run::rps);
    let p50_growth = ratio(find("6b."), find("6a."), |r| r.p50_ms);
    let p99_growth = ratio(find("6b."), find("6a."), |r| r.p99_ms);
    let peak = runs.iter().filter_map(|r| r.peak_rss_kb).max().unwrap_or(0) as f64 / 1024.0;
    let errors: u64 = runs.iter().map(|r| r.errors).sum();
    let _ = writeln!(md, "\n## Targets\n");
    let _ = writeln!(md, "| target | measured | |");
    let _ = writeln!(md, "|---|---:|---|");
    let verdict = |ok: bool| if ok { "met" } else { "missed" };
    let short = |got: f64, want: f64| {
        if got >= want {
            "met".to_owned()
        } else {
            format!("missed by {:.0} points", (want - got) * 100.0)
        }
    };
    let _ = writeln!(
        md,
        "| warm list ≥ 25% of /health | {:.0}% | {} |",
        warm * 100.0,
        short(warm, 0.25)
    );
    let _ = writeln!(
        md,
        "| cold list ≥ 60% of its SQL sent straight to MariaDB | {:.0}% | {} |",
        cold_vs_db * 100.0,
        verdict(cold_vs_db >= 0.6)
    );
    let _ = writeln!(
        md,
        "| grants ≥ 60% of their SQL sent straight to MariaDB | {:.0}% | {} |",
        grants_vs_db * 100.0,
        short(grants_vs_db, 0.6)
    );
    let _ = writeln!(md, "| zero errors | {errors} | {} |", verdict(errors == 0));
    let _ = writeln!(
        md,
        "| peak RSS under 64 MB | {peak:.1} MB | {} |",
        verdict(peak < 64.0)
    );
    let _ = writeln!(
        md,
        "| list latency with {} vs {} favorites rows within 1.5× | p50 {:.2}×, p99 {:.2}× | {} |",
        sizes.large_users * 50,
        sizes.small_users * 50,
        p50_growth,
        p99_growth,
        verdict(p50_growth <= 1.5 && p99_growth <= 1.5)
    );
    // Only a full run is the record; a quick one stays out of the repository.
    let path = if quick {
        deploy::repo_root().join("target/benchmarks-quick.md")
    } else {
        deploy::repo_root().join("docs/benchmarks.md")
    };
    std::fs::write(&path, md)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

/// `cargo xtask bench --retention`: the retention job deleting 1,000,000 old download
/// logs (run by the release binary, `soundshelf jobs run retention`) while lists and
/// grants run against the release server; their p50/p99 during the job against a quiet
/// run of the same load. Writes `docs/benchmarks-retention.md`.
pub async fn retention() -> anyhow::Result<()> {
    const OLD_LOGS: u64 = 1_000_000;
    let total = Instant::now();
    server::build("release")?;
    let sizes = Sizes {
        small_users: 200,
        large_users: 0,
        warmup: Duration::from_secs(2),
        duration: Duration::from_secs(10),
    };
    let tag = ulid::Ulid::generate().to_string().to_lowercase();
    let url = seed(&format!("bench_retention_{tag}"), sizes.small_users).await?;
    let result = retention_runs(&sizes, &url, OLD_LOGS).await;
    let _ = migrations::drop_database(&url).await;
    let (quiet, during, job) = result?;
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let mut md = String::new();
    let _ = writeln!(md, "# Benchmark: the retention job under load\n");
    let _ = writeln!(
        md,
        "Written by `cargo xtask bench --retention` ({:.0?} in all) on a {cores}-core machine: MariaDB, the \
         release server and wrk ({} threads, {} connections, alternating `GET /api/favorites` \
         and grants of 200 users) share the cores. {OLD_LOGS} download logs dated 2025 are placed first \
         ({:.1?}); `download_logs` then holds {:.0} MB of data and indexes ({:.0} bytes a row). The quiet \
         run is {:?} after a {:?} warm-up; the second run measures the same load from the moment \
         `soundshelf jobs run retention` starts until {:?} later.\n",
        total.elapsed(),
        crate::wrk::THREADS,
        crate::wrk::CONNECTIONS,
        job.insert_took,
        job.table_bytes as f64 / 1e6,
        job.table_bytes as f64 / OLD_LOGS as f64,
        sizes.duration,
        sizes.warmup,
        sizes.duration,
    );
    let _ = writeln!(md, "| run | req/s | p50 ms | p99 ms | p99.9 ms | errors |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|---:|");
    for r in [&quiet, &during] {
        let _ = writeln!(
            md,
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} |",
            r.name,
            r.rps(),
            r.p50_ms,
            r.p99_ms,
            r.p999_ms,
            r.errors
        );
    }
    let p99 = during.p99_ms / quiet.p99_ms;
    let _ = writeln!(
        md,
        "\nThe job deleted {} logs in {:.1?} ({}); p99 during the job is {p99:.2}× the quiet run's \
         (target: within 2×: {}).",
        job.deleted,
        job.took,
        if job.outlasted_measurement {
            "still running when the measurement ended, so every measured request overlapped it"
        } else {
            "it ended before the measurement did"
        },
        if p99 <= 2.0 { "met" } else { "missed" }
    );
    let path = deploy::repo_root().join("docs/benchmarks-retention.md");
    std::fs::write(&path, md)?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

struct RetentionJob {
    insert_took: Duration,
    table_bytes: u64,
    deleted: u64,
    took: Duration,
    outlasted_measurement: bool,
}

async fn retention_runs(
    sizes: &Sizes,
    url: &str,
    old_logs: u64,
) -> anyhow::Result<(Run, Run, RetentionJob)> {
    use diesel::QueryableByName;
    #[derive(QueryableByName)]
    struct Bytes {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        bytes: i64,
    }
    let mut conn = AsyncMysqlConnection::establish(url).await?;
    let started = Instant::now();
    // MariaDB's sequence engine numbers the rows; one day of 2025 spread over them.
    conn.batch_execute(&format!(
        "INSERT INTO download_logs (id, user_id, music_id, ip_address, user_agent, download_size, download_time, status) \
         SELECT CONCAT('old_', seq), CONCAT('bu_', seq % 200), CONCAT('music_', LPAD(seq % 12 + 1, 3, '0')), \
         '203.0.113.7', 'MicroMessenger/8.0', 1048576, TIMESTAMP('2025-01-01') + INTERVAL (seq % 86400) SECOND, 'completed' \
         FROM seq_1_to_{old_logs}"
    ))
    .await?;
    let insert_took = started.elapsed();
    conn.batch_execute("ANALYZE TABLE download_logs").await?;
    let table_bytes = diesel_async::RunQueryDsl::get_result::<Bytes>(
        diesel::sql_query(
            "SELECT CAST(data_length + index_length AS SIGNED) AS bytes FROM information_schema.tables \
             WHERE table_schema = DATABASE() AND table_name = 'download_logs'",
        ),
        &mut conn,
    )
    .await?
    .bytes;

    let server = Server::start(url, &[]).await?;
    let dir = tempfile::tempdir()?;
    let tokens = tokens_file(dir.path(), "tokens", &tokens(sizes.small_users)?)?;
    let quiet = drive("quiet: lists + grants", sizes, &server, "mixed", &tokens).await?;

    let mut job = server::command("release", url, server::free_port()?);
    job.args(["jobs", "run", "retention"])
        .stdout(std::process::Stdio::piped());
    let job_started = Instant::now();
    let child = job.spawn()?;
    let during_sizes = Sizes {
        warmup: Duration::ZERO,
        ..*sizes
    };
    let during = drive(
        "during the retention job",
        &during_sizes,
        &server,
        "mixed",
        &tokens,
    )
    .await?;
    let measured = job_started.elapsed();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await??;
    let took = job_started.elapsed();
    anyhow::ensure!(out.status.success(), "the retention job failed");
    let left: i64 = diesel_async::RunQueryDsl::get_result::<Bytes>(
        diesel::sql_query(
            "SELECT COUNT(*) AS bytes FROM download_logs WHERE download_time < '2025-12-31'",
        ),
        &mut conn,
    )
    .await?
    .bytes;
    anyhow::ensure!(left == 0, "{left} old logs left after the job");
    Ok((
        quiet,
        during,
        RetentionJob {
            insert_took,
            table_bytes: u64::try_from(table_bytes).unwrap_or(0),
            deleted: old_logs,
            took,
            outlasted_measurement: took > measured,
        },
    ))
}
