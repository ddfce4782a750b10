//! `cargo xtask crash [--kills N] [--debug]`: the server is killed (SIGKILL) at random
//! moments while it applies a sync of 500 changes and a burst of grants, `N` times over,
//! on a fresh MariaDB database. After each kill the database must hold all or none of
//! each request's effects, every request answered 200 before the kill must be there in
//! full, and the server must start cleanly on what is left.
//!
//! What "all or none" means here, checked after every kill:
//! - the sync's 500 favorites are all there or none is;
//! - each user's grant counter for a day equals the grants recorded for that day (no
//!   grant without its counter, no counter without its grant);
//! - every recorded grant has its token, every token its download record, and every
//!   record that names a token names one that exists;
//! - an operator's change (a user's nickname patched, a track put, both in each burst)
//!   is there with its audit entry or neither is: no change without its entry, no entry
//!   without its change, and a user's state is the `after` of its latest entry.

use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, RunQueryDsl, SimpleAsyncConnection};
use serde_json::{Value, json};
use soundshelf_store::{DbConfig, PoolOptions, Store, demo, migrations};

use crate::server::{self, Proc};

/// Changes in the sync each run sends (the most one sync may carry).
const SYNC_CHANGES: usize = 500;
/// Demo tracks granted in each run's burst, in two qualities each.
const TRACKS: usize = 12;
const QUALITIES: [&str; 2] = ["standard", "high"];

/// Requests in one burst: the sync, the grants, the patch and the put.
const REQUESTS: usize = 1 + TRACKS * QUALITIES.len() + 2;

/// Consistency rules over the whole database: each query counts the rows that break one.
const INVARIANTS: &[(&str, &str)] = &[
    (
        "a day's grant counter differs from the grants recorded that day",
        "SELECT COUNT(*) AS n FROM daily_grant_counters c LEFT JOIN \
         (SELECT user_id, day, COUNT(*) AS granted FROM download_grant_days GROUP BY user_id, day) g \
         ON g.user_id = c.user_id AND g.day = c.day WHERE c.grants <> COALESCE(g.granted, 0)",
    ),
    (
        "a grant recorded without its day's counter",
        "SELECT COUNT(*) AS n FROM download_grant_days g WHERE NOT EXISTS \
         (SELECT 1 FROM daily_grant_counters c WHERE c.user_id = g.user_id AND c.day = g.day)",
    ),
    (
        "a grant recorded without its token",
        "SELECT COUNT(*) AS n FROM download_grant_days g WHERE NOT EXISTS \
         (SELECT 1 FROM download_tokens t WHERE t.user_id = g.user_id \
          AND t.music_id = g.music_id AND t.quality = g.quality)",
    ),
    (
        "a token without its download record",
        "SELECT COUNT(*) AS n FROM download_tokens t WHERE NOT EXISTS \
         (SELECT 1 FROM user_downloads d WHERE d.user_id = t.user_id \
          AND d.music_id = t.music_id AND d.quality = t.quality)",
    ),
    (
        "a download record naming a token that does not exist",
        "SELECT COUNT(*) AS n FROM user_downloads d WHERE d.download_token IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM download_tokens t WHERE t.token = d.download_token)",
    ),
    (
        "a user changed without its audit entry",
        "SELECT COUNT(*) AS n FROM users u WHERE u.id LIKE 'crash\\_u%' AND u.nickname <> 'crash' \
         AND NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.target = CONCAT('user:', u.id))",
    ),
    (
        "a user whose state is not the after of its latest audit entry",
        "SELECT COUNT(*) AS n FROM users u JOIN audit_log a ON a.target = CONCAT('user:', u.id) \
         WHERE a.id = (SELECT MAX(b.id) FROM audit_log b WHERE b.target = a.target) \
         AND JSON_VALUE(a.after_state, '$.nickname') <> u.nickname",
    ),
    (
        "a track put without its audit entry",
        "SELECT COUNT(*) AS n FROM music_files m WHERE m.id LIKE 'crash\\_m%' AND NOT EXISTS \
         (SELECT 1 FROM audit_log a WHERE a.target = CONCAT('music:', m.id))",
    ),
    (
        "an audit entry of a track put that is not there",
        "SELECT COUNT(*) AS n FROM audit_log a WHERE a.target LIKE 'music:crash\\_m%' AND NOT EXISTS \
         (SELECT 1 FROM music_files m WHERE CONCAT('music:', m.id) = a.target)",
    ),
    (
        "a track put with some of its assets",
        "SELECT COUNT(*) AS n FROM music_files m WHERE m.id LIKE 'crash\\_m%' AND \
         (SELECT COUNT(*) FROM music_assets s WHERE s.music_id = m.id) <> 3",
    ),
];

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn count(conn: &mut AsyncMysqlConnection, sql: &str) -> anyhow::Result<i64> {
    let rows: Vec<Count> = diesel::sql_query(sql)
        .load(conn)
        .await
        .with_context(|| sql.to_owned())?;
    Ok(rows.into_iter().next().map_or(0, |r| r.n))
}

/// What one run's requests got before the kill.
#[derive(Default)]
struct Answers {
    /// The sync answered 200.
    sync_accepted: bool,
    /// The grants answered 200, as (track, quality).
    grants_accepted: Vec<(String, &'static str)>,
    /// The nickname patch answered 200.
    patch_accepted: bool,
    /// The track put answered 200.
    put_accepted: bool,
    /// Requests answered at all (any status) before the kill.
    answered: usize,
}

/// Tallies over all runs, for the report.
#[derive(Default)]
struct Tally {
    syncs_applied: usize,
    syncs_absent: usize,
    changes_applied: usize,
    changes_absent: usize,
    grants_accepted: usize,
    all_answered_before_kill: usize,
    none_answered_before_kill: usize,
}

pub async fn run(kills: usize, debug: bool) -> anyhow::Result<()> {
    let profile = server::profile(debug);
    server::build(profile)?;
    let (url, _) = server::fresh_database("crash").await?;
    let result = crash_runs(&url, kills, profile).await;
    let dropped = migrations::drop_database(&url).await;
    result?;
    dropped?;
    Ok(())
}

fn user(run: usize) -> String {
    format!("crash_u{run}")
}

async fn crash_runs(url: &str, kills: usize, profile: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = DbConfig::Mysql {
        url: url.to_owned(),
    };
    migrations::run_pending(&config).await?;
    let store = Store::connect(&config, PoolOptions::default()).await?;
    demo::seed(&store, time::OffsetDateTime::now_utc()).await?;
    let mut conn = AsyncMysqlConnection::establish(url).await?;
    let users: Vec<String> = (0..=kills)
        .map(|k| format!("('{}', 'crash', 'active', 'vip', 1, 'user')", user(k)))
        .collect();
    conn.batch_execute(&format!(
        "INSERT INTO users (id, nickname, status, subscription_type, has_premium_access, role) VALUES {}",
        users.join(",")
    ))
    .await?;

    let data_dir = server::scratch_dir("crash")?;
    let client = soundshelf_outbound::http::client_builder()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut tally = Tally::default();
    // How long a run's requests take when nothing kills them; kills are spread over
    // a little more than that, so that they land before, during and after the writes.
    let mut window = Duration::from_millis(400);
    for run in 0..kills {
        let (mut app, base) = start(profile, url, &data_dir).await?;
        let kill_after = window.mul_f64(1.3 * random_fraction());
        let requests = send_burst(&client, &base, &user(run))?;
        let sent = Instant::now();
        tokio::time::sleep(kill_after).await;
        app.kill()?;
        let answers = collect(requests, run).await;
        if answers.answered == REQUESTS {
            tally.all_answered_before_kill += 1;
            window = window.mul_f64(0.8) + sent.elapsed().mul_f64(0.2);
        } else if answers.answered == 0 {
            tally.none_answered_before_kill += 1;
        }
        check(&mut conn, run, &answers, &mut tally)
            .await
            .with_context(|| format!("after kill {} (at {kill_after:?})", run + 1))?;
    }

    // The server starts cleanly on what is left, and works.
    let (mut app, base) = start(profile, url, &data_dir).await?;
    let ready = client.get(format!("{base}/ready")).send().await?;
    ensure!(
        ready.status() == 200,
        "/ready after the last kill: {}",
        ready.status()
    );
    let last = user(kills);
    let answers = collect(send_burst(&client, &base, &last)?, kills).await;
    ensure!(
        answers.sync_accepted
            && answers.grants_accepted.len() == TRACKS * QUALITIES.len()
            && answers.patch_accepted
            && answers.put_accepted,
        "the server did not work after the last kill"
    );
    check(&mut conn, kills, &answers, &mut Tally::default()).await?;
    app.stop()?;
    let _ = std::fs::remove_dir_all(&data_dir);

    println!(
        "crash: {kills} kills in {:.0?}, no half-applied request. Syncs: {} applied whole, {} \
         absent; operators' changes: {} there with their audit entries, {} absent with none; \
         {} grants answered 200 and all found; runs with every answer in before the \
         kill: {}, with none: {} (the rest were cut mid-flight).",
        started.elapsed(),
        tally.syncs_applied,
        tally.syncs_absent,
        tally.changes_applied,
        tally.changes_absent,
        tally.grants_accepted,
        tally.all_answered_before_kill,
        tally.none_answered_before_kill,
    );
    Ok(())
}

/// A uniform random number in [0, 1).
fn random_fraction() -> f64 {
    let bits = ulid::Ulid::generate().random() >> 27;
    #[expect(clippy::cast_precision_loss, reason = "53 random bits fit an f64")]
    let fraction = (bits & ((1 << 53) - 1)) as f64 / (1u64 << 53) as f64;
    fraction
}

async fn start(
    profile: &str,
    url: &str,
    data_dir: &std::path::Path,
) -> anyhow::Result<(Proc, String)> {
    let port = server::free_port()?;
    let mut cmd = server::command(profile, url, port);
    cmd.env("DATA_DIR", data_dir)
        .env("WORKERS", "2")
        .env("RATE_LIMIT_DOWNLOADS_PER_MINUTE", "1000000")
        .env("AUTO_MIGRATE", "false")
        .env("SEED_DEMO", "false");
    let app = Proc::spawn("soundshelf", &mut cmd)?;
    let base = format!("http://127.0.0.1:{port}");
    server::wait_healthy("soundshelf", &format!("{base}/health")).await?;
    Ok((app, base))
}

/// What a request of a burst was.
enum Sent {
    Sync,
    Grant(String, &'static str),
    Patch,
    Put,
}

type Burst = Vec<tokio::task::JoinHandle<Option<(u16, Sent)>>>;

/// Sends the sync and the grants of `user`, each as its own task; each task ends with
/// the status it got (or `None` when the connection died) and what it was.
fn send_burst(client: &reqwest::Client, base: &str, user: &str) -> anyhow::Result<Burst> {
    let token = server::token(user)?;
    // Kept small: 500 changes must fit the 64 KiB body limit (the type comes from the
    // `music_` prefix).
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)?
        .format(&time::format_description::well_known::Rfc3339)?;
    let changes: Vec<Value> = (0..SYNC_CHANGES)
        .map(|i| {
            json!({"item_id": format!("music_s{i:03}"), "action": "add", "timestamp": now,
                   "item_data": {"title": format!("c{i}"), "cover": "", "duration": 1}})
        })
        .collect();
    let body = json!({"last_sync_time": null, "local_changes": changes});
    let mut tasks: Burst = Vec::new();
    let sync = client
        .put(format!("{base}/api/favorites/sync"))
        .bearer_auth(&token)
        .json(&body);
    tasks.push(tokio::spawn(async move {
        let res = sync.send().await.ok()?;
        Some((res.status().as_u16(), Sent::Sync))
    }));
    // An operator's changes in the same burst: the user's nickname, and a new track.
    let admin = server::token("user_admin")?;
    let patch = client
        .patch(format!("{base}/api/admin/users/{user}"))
        .bearer_auth(&admin)
        .json(&json!({"nickname": format!("n-{user}")}));
    tasks.push(tokio::spawn(async move {
        let res = patch.send().await.ok()?;
        Some((res.status().as_u16(), Sent::Patch))
    }));
    let track = user.replace("crash_u", "crash_m");
    let assets: Vec<Value> = ["standard", "high", "lossless"]
        .iter()
        .map(|q| json!({"quality": q, "object_key": format!("music/{track}_{q}"), "file_size": 1000}))
        .collect();
    let put = client
        .put(format!("{base}/api/admin/music/{track}"))
        .bearer_auth(&admin)
        .json(
            &json!({"title": track, "duration": 60, "premium_required": false, "assets": assets}),
        );
    tasks.push(tokio::spawn(async move {
        let res = put.send().await.ok()?;
        Some((res.status().as_u16(), Sent::Put))
    }));
    for track in 1..=TRACKS {
        for quality in QUALITIES {
            let music = format!("music_{track:03}");
            let grant = client
                .get(format!(
                    "{base}/api/music/download-url/{music}?quality={quality}"
                ))
                .bearer_auth(&token);
            tasks.push(tokio::spawn(async move {
                let res = grant.send().await.ok()?;
                Some((res.status().as_u16(), Sent::Grant(music, quality)))
            }));
        }
    }
    Ok(tasks)
}

/// What the burst's requests got. A request cut off by the kill counts as unanswered.
async fn collect(burst: Burst, run: usize) -> Answers {
    let mut answers = Answers::default();
    for task in burst {
        let Ok(Some((status, sent))) = task.await else {
            continue;
        };
        answers.answered += 1;
        if status != 200 {
            eprintln!("run {run}: a request answered {status}");
            continue;
        }
        match sent {
            Sent::Sync => answers.sync_accepted = true,
            Sent::Grant(music, quality) => answers.grants_accepted.push((music, quality)),
            Sent::Patch => answers.patch_accepted = true,
            Sent::Put => answers.put_accepted = true,
        }
    }
    answers
}

async fn check(
    conn: &mut AsyncMysqlConnection,
    run: usize,
    answers: &Answers,
    tally: &mut Tally,
) -> anyhow::Result<()> {
    let user = user(run);
    let favorites = count(
        conn,
        &format!("SELECT COUNT(*) AS n FROM user_favorites WHERE user_id = '{user}'"),
    )
    .await?;
    match favorites {
        0 if answers.sync_accepted => bail!("the sync answered 200 but none of it is stored"),
        0 => tally.syncs_absent += 1,
        n if n == i64::try_from(SYNC_CHANGES)? => tally.syncs_applied += 1,
        n => bail!("half a sync: {n} of {SYNC_CHANGES} favorites stored"),
    }
    for (music, quality) in &answers.grants_accepted {
        let found = count(
            conn,
            &format!(
                "SELECT COUNT(*) AS n FROM download_grant_days WHERE user_id = '{user}' \
                 AND music_id = '{music}' AND quality = '{quality}'"
            ),
        )
        .await?;
        ensure!(
            found == 1,
            "a grant of {music} ({quality}) answered 200 is not stored"
        );
        tally.grants_accepted += 1;
    }
    let changed = count(
        conn,
        &format!("SELECT COUNT(*) AS n FROM users WHERE id = '{user}' AND nickname = 'n-{user}'"),
    )
    .await?;
    ensure!(
        changed == 1 || !answers.patch_accepted,
        "the patch answered 200 but the user is unchanged"
    );
    let track = user.replace("crash_u", "crash_m");
    let put = count(
        conn,
        &format!("SELECT COUNT(*) AS n FROM music_files WHERE id = '{track}'"),
    )
    .await?;
    ensure!(
        put == 1 || !answers.put_accepted,
        "the put answered 200 but the track is not there"
    );
    for done in [changed, put] {
        if done == 1 {
            tally.changes_applied += 1;
        } else {
            tally.changes_absent += 1;
        }
    }
    for (broken, sql) in INVARIANTS {
        let n = count(conn, sql).await?;
        ensure!(n == 0, "{broken}: {n} rows");
    }
    Ok(())
}
