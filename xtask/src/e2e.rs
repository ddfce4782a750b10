//! `cargo xtask e2e [--debug]`: the deployment of `deploy/` on this machine. Two instances
//! (the release build, or with `--debug` the debug build)
//! on MariaDB and Redis (the local servers, a fresh database and key prefix), Debian's
//! nginx with `deploy/nginx.conf` rendered for loopback ports (plain HTTP, the same
//! locations), and a scripted user session through nginx. Everything it starts, creates
//! or writes is stopped and removed at the end, pass or fail.
//!
//! The client speaks from other loopback addresses (127.0.0.2 and up) than nginx
//! (127.0.0.1), so the address the app records can be told from the proxy's, and nginx's
//! per-address limits can be reached by one client without starving the others.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use diesel_async::{AsyncConnection, AsyncMysqlConnection};
use serde_json::{Value, json};
use soundshelf_domain::ErrorCode;
use soundshelf_store::migrations;

use crate::deploy::{self, Loopback};
use crate::server::{self, Proc, free_port, redis_url, server_url, wait_healthy};

/// How the two instances run.
pub(crate) enum Launch {
    /// The server binary of a cargo profile (`release` or `debug`).
    Binary(&'static str),
    /// Containers of a built image, on host networking, through a docker client.
    Image {
        /// The docker client of the daemon to use.
        docker: crate::image::Docker,
        /// The image's tag.
        image: String,
    },
}

impl Launch {
    fn describe(&self) -> String {
        match self {
            Launch::Binary(profile) => format!("{profile} instances"),
            Launch::Image { image, .. } => format!("containers of {image}"),
        }
    }
}

struct Setup {
    dir: PathBuf,
    db_url: String,
    prefix: String,
    api_port: u16,
    tag: String,
    launch: Launch,
}

/// Runs the e2e session on the server binary; cleans up whatever happens.
pub async fn run(debug: bool) -> anyhow::Result<()> {
    let profile = server::profile(debug);
    server::build(profile)?;
    run_with(Launch::Binary(profile)).await
}

/// Runs the e2e session with the instances `launch` says; cleans up whatever happens.
pub(crate) async fn run_with(launch: Launch) -> anyhow::Result<()> {
    let nginx =
        deploy::nginx_binary().context("nginx is not installed (apt-get install nginx-light)")?;
    let tag = ulid::Ulid::generate().to_string().to_lowercase();
    let setup = Setup {
        dir: std::env::temp_dir().join(format!("soundshelf-e2e-{tag}")),
        db_url: format!("{}/e2e_{tag}", server_url()),
        prefix: format!("soundshelf-e2e-{tag}:"),
        api_port: free_port()?,
        tag,
        launch,
    };
    std::fs::create_dir_all(setup.dir.join("storage"))?;
    let started = Instant::now();
    let result = session(&nginx, &setup).await;
    if let Launch::Image { docker, .. } = &setup.launch {
        for name in ["app1", "app2"] {
            let _ = docker
                .command()
                .args(["rm", "-f", &container_name(&setup, name)])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
    // Clean-up, pass or fail.
    let _ = migrations::drop_database(&setup.db_url).await;
    if let Ok(redis) = soundshelf_redis::Redis::new(&redis_url(), &setup.prefix) {
        let _ = redis.clear().await;
    }
    if result.is_err() {
        eprintln!("e2e: logs of the failed run:");
        for log in ["app1.log", "app2.log", "nginx.log"] {
            if let Ok(text) = std::fs::read_to_string(setup.dir.join(log)) {
                let tail: Vec<&str> = text
                    .lines()
                    .rev()
                    .filter(|l| !l.contains("limiting requests"))
                    .take(20)
                    .collect();
                eprintln!("--- {log} (last lines)");
                for line in tail.into_iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
    if result.is_err()
        && let Ok(text) = std::fs::read_to_string(setup.dir.join("access.log"))
    {
        eprintln!("--- access.log, answers of 500 and up");
        for line in text.lines().filter(|l| l.contains("\"status\":5")) {
            eprintln!("{line}");
        }
    }
    let _ = std::fs::remove_dir_all(&setup.dir);
    result?;
    println!("e2e: passed in {:.1?}", started.elapsed());
    Ok(())
}

fn container_name(setup: &Setup, name: &str) -> String {
    format!("soundshelf-e2e-{}-{name}", setup.tag)
}

/// What an instance is configured with, given its data and storage folders as it sees
/// them.
fn instance_settings(
    setup: &Setup,
    port: u16,
    first: bool,
    data: &str,
    storage: &str,
) -> Vec<(&'static str, String)> {
    let first = if first { "true" } else { "false" };
    let mut settings = server::settings(&setup.db_url, port);
    settings.extend([
        (
            "PUBLIC_BASE_URL",
            format!("http://127.0.0.1:{}", setup.api_port),
        ),
        ("REDIS_URL", redis_url()),
        ("REDIS_KEY_PREFIX", setup.prefix.clone()),
        ("TRUSTED_PROXIES", "127.0.0.1".to_owned()),
        ("DATA_DIR", data.to_owned()),
        ("LOCAL_STORAGE_DIR", storage.to_owned()),
        ("AUTO_MIGRATE", first.to_owned()),
        ("SEED_DEMO", first.to_owned()),
        ("WORKERS", "2".to_owned()),
        ("LOG_FORMAT", "json".to_owned()),
    ]);
    settings
}

fn start_app(name: &'static str, setup: &Setup, port: u16, first: bool) -> anyhow::Result<Proc> {
    let log = std::fs::File::create(setup.dir.join(format!("{name}.log")))?;
    let storage = setup.dir.join("storage");
    let mut cmd = match &setup.launch {
        Launch::Binary(profile) => {
            let data = setup.dir.join("data");
            let mut cmd = server::command(profile, &setup.db_url, port);
            cmd.current_dir(&setup.dir).envs(instance_settings(
                setup,
                port,
                first,
                &data.to_string_lossy(),
                &storage.to_string_lossy(),
            ));
            cmd
        }
        Launch::Image { docker, image } => {
            // A container of the image on host networking. Its data directory stays
            // inside the container; storage is shared by both instances (the demo objects
            // the first one writes), owned by the image's user.
            let chown = Command::new("chown")
                .args(["-R", "10001:10001"])
                .arg(&storage)
                .status()?;
            ensure!(chown.success(), "chown of the shared storage failed");
            let mut run = docker.command();
            run.args(["run", "--rm", "--name", &container_name(setup, name)])
                .args(["--network", "host", "--sig-proxy=true"])
                .arg("-v")
                .arg(format!("{}:/var/lib/soundshelf/storage", storage.display()));
            let settings = instance_settings(
                setup,
                port,
                first,
                "/var/lib/soundshelf",
                "/var/lib/soundshelf/storage",
            );
            for (k, v) in settings {
                run.arg("-e").arg(format!("{k}={v}"));
            }
            run.arg(image).arg("serve");
            run
        }
    };
    cmd.stdout(log.try_clone()?).stderr(log);
    Proc::spawn(name, &mut cmd)
}

/// For containers: waits until docker calls the container `healthy` (its own
/// HEALTHCHECK, `soundshelf healthcheck`), and checks it runs as a user other than root.
fn check_container(setup: &Setup, name: &str) -> anyhow::Result<()> {
    let Launch::Image { docker, .. } = &setup.launch else {
        return Ok(());
    };
    let container = container_name(setup, name);
    let inspect = |format: &str| -> anyhow::Result<String> {
        let out = docker
            .command()
            .args(["inspect", "-f", format, &container])
            .output()?;
        ensure!(out.status.success(), "docker inspect {container} failed");
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let health = inspect("{{.State.Health.Status}}")?;
        if health == "healthy" {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "{container} not healthy within 90 s: {health}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let out = docker
        .command()
        .args(["exec", &container, "id", "-u"])
        .output()?;
    let uid = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    ensure!(
        out.status.success() && uid != "0" && !uid.is_empty(),
        "{container} runs as uid {uid:?}"
    );
    println!("e2e: {container} is healthy and runs as uid {uid}");
    Ok(())
}

/// A client whose connections come from `127.0.0.{last}`.
fn client_from(last: u8) -> anyhow::Result<reqwest::Client> {
    Ok(soundshelf_outbound::http::client_builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
        .timeout(Duration::from_secs(30))
        .build()?)
}

async fn json_of(resp: reqwest::Response, what: &str, want: u16) -> anyhow::Result<Value> {
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    ensure!(
        status == want,
        "{what}: status {status}, want {want}: {body}"
    );
    let value: Value =
        serde_json::from_str(&body).with_context(|| format!("{what}: not JSON: {body}"))?;
    Ok(value)
}

async fn session(nginx: &Path, setup: &Setup) -> anyhow::Result<()> {
    let (p1, p2, redirect_port) = (free_port()?, free_port()?, free_port()?);
    let mut app1 = start_app("app1", setup, p1, true)?;
    wait_healthy("app1", &format!("http://127.0.0.1:{p1}/health")).await?;
    let mut app2 = start_app("app2", setup, p2, false)?;
    wait_healthy("app2", &format!("http://127.0.0.1:{p2}/health")).await?;
    check_container(setup, "app1")?;
    check_container(setup, "app2")?;

    let conf = std::fs::read_to_string(deploy::repo_root().join("deploy/nginx.conf"))?;
    let rendered = deploy::render_nginx(
        &conf,
        &Loopback {
            redirect_port,
            api_port: setup.api_port,
            apps: [p1, p2],
            tls: None,
        },
    )?;
    let conf_path = setup.dir.join("nginx.conf");
    std::fs::write(&conf_path, rendered)?;
    let nginx_log = std::fs::File::create(setup.dir.join("nginx.log"))?;
    let access_log = std::fs::File::create(setup.dir.join("access.log"))?;
    let mut nginx = Proc {
        name: "nginx".to_owned(),
        child: Command::new(nginx)
            .arg("-p")
            .arg(&setup.dir)
            .arg("-c")
            .arg(&conf_path)
            .arg("-e")
            .arg(setup.dir.join("nginx-error.log"))
            .arg("-g")
            .arg(format!(
                "daemon off; pid {};",
                setup.dir.join("nginx.pid").display()
            ))
            .stdout(access_log)
            .stderr(nginx_log)
            .spawn()
            .context("starting nginx")?,
    };
    let base = format!("http://127.0.0.1:{}", setup.api_port);
    wait_healthy("nginx", &format!("{base}/health")).await?;
    println!(
        "e2e: nginx on {base} in front of {} on 127.0.0.1:{p1} and 127.0.0.1:{p2}",
        setup.launch.describe()
    );

    let token = server::token;
    let vip = token("user_vip")?;
    let premium = token("user_premium")?;
    let admin = token("user_admin")?;

    user_session(setup, &base, &vip, &admin).await?;
    nginx_limits(&base, &vip).await?;
    failover(&base, &vip, &premium, &mut app2).await?;
    spread(setup, p1, p2)?;

    // With no instance left, nginx answers its own 502 in the envelope.
    app1.stop()?;
    let resp = client_from(9)?
        .get(format!("{base}/api/favorites"))
        .bearer_auth(&vip)
        .send()
        .await?;
    let body = json_of(resp, "GET /api/favorites with every instance down", 502).await?;
    ensure!(
        body["success"] == false && body["code"] == ErrorCode::Unavailable.as_str(),
        "nginx's 502 is not the envelope: {body}"
    );
    println!("e2e: every instance down: nginx answers 502 UNAVAILABLE in the envelope");
    nginx.stop()?;
    Ok(())
}

/// Favorites, sync, a grant redeemed with a Range resume, records, admin stats; then the
/// client address the app recorded.
async fn user_session(setup: &Setup, base: &str, vip: &str, admin: &str) -> anyhow::Result<()> {
    let client = client_from(2)?;
    let item = |id: &str, title: &str| {
        json!({"item_id": id, "item_type": "music",
               "item_data": {"title": title, "cover": "/covers/a.jpg", "duration": 300}})
    };
    let resp = client
        .post(format!("{base}/api/favorites"))
        .bearer_auth(vip)
        .json(&item("music_001", "深度放松"))
        .send()
        .await?;
    json_of(resp, "POST /api/favorites", 200).await?;
    let resp = client
        .get(format!("{base}/api/favorites"))
        .bearer_auth(vip)
        .header("X-Request-Id", "e2e-request-1")
        .send()
        .await?;
    let echoed: Vec<_> = resp.headers().get_all("x-request-id").iter().collect();
    ensure!(
        echoed.len() == 1 && echoed[0] == "e2e-request-1",
        "X-Request-Id through nginx: {echoed:?}"
    );
    let list = json_of(resp, "GET /api/favorites", 200).await?;
    ensure!(
        list["total"] == 1 && list["data"][0]["item_id"] == "music_001",
        "list: {list}"
    );

    let now =
        time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339)?;
    let resp = client
        .put(format!("{base}/api/favorites/sync"))
        .bearer_auth(vip)
        .json(&json!({"last_sync_time": null, "local_changes": [
            {"item_id": "music_002", "action": "add", "timestamp": now, "item_type": "music",
             "item_data": {"title": "睡前冥想", "cover": "/covers/b.jpg", "duration": 600}},
            {"item_id": "music_001", "action": "remove", "timestamp": now}
        ]}))
        .send()
        .await?;
    let sync = json_of(resp, "PUT /api/favorites/sync", 200).await?;
    let ids: Vec<&str> = sync["data"]["server_favorites"]
        .as_array()
        .context("sync: no server_favorites")?
        .iter()
        .filter_map(|f| f["item_id"].as_str())
        .collect();
    ensure!(ids == ["music_002"], "sync left {ids:?}");

    // A grant, redeemed in two ranges (the second a resume), with a spoofed
    // X-Forwarded-For that must not be believed.
    let resp = client
        .get(format!(
            "{base}/api/music/download-url/music_003?quality=high"
        ))
        .bearer_auth(vip)
        .send()
        .await?;
    let grant = json_of(resp, "grant", 200).await?;
    let url = grant["data"]["download_url"]
        .as_str()
        .context("grant: no download_url")?;
    ensure!(
        url.starts_with(base),
        "the download URL {url} is not behind nginx ({base})"
    );
    let first = client
        .get(url)
        .header("Range", "bytes=0-1023")
        .header("X-Forwarded-For", "203.0.113.66")
        .send()
        .await?;
    ensure!(first.status() == 206, "first range: {}", first.status());
    let total: u64 = first
        .headers()
        .get("content-range")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.rsplit('/').next())
        .and_then(|v| v.parse().ok())
        .context("first range: no Content-Range total")?;
    let head = first.bytes().await?;
    ensure!(head.len() == 1024, "first range: {} bytes", head.len());
    let rest = client
        .get(url)
        .header("Range", "bytes=1024-")
        .header("X-Forwarded-For", "203.0.113.66")
        .send()
        .await?;
    ensure!(rest.status() == 206, "resume: {}", rest.status());
    let tail = rest.bytes().await?;
    ensure!(
        head.len() as u64 + tail.len() as u64 == total,
        "resume: {} + {} bytes of {total}",
        head.len(),
        tail.len()
    );

    let resp = client
        .post(format!("{base}/api/downloads"))
        .bearer_auth(vip)
        .json(&json!({"music_id": "music_003", "quality": "high", "status": "completed", "file_size": total}))
        .send()
        .await?;
    json_of(resp, "POST /api/downloads", 200).await?;
    let resp = client
        .get(format!("{base}/api/downloads"))
        .bearer_auth(vip)
        .send()
        .await?;
    let records = json_of(resp, "GET /api/downloads", 200).await?;
    ensure!(
        records["data"].as_array().is_some_and(|r| r
            .iter()
            .any(|d| d["music_id"] == "music_003" && d["status"] == "completed")),
        "records: {records}"
    );
    let resp = client
        .get(format!("{base}/api/admin/stats/downloads?range=24h"))
        .bearer_auth(admin)
        .send()
        .await?;
    json_of(resp, "GET /api/admin/stats/downloads", 200).await?;

    let mut conn = AsyncMysqlConnection::establish(&setup.db_url).await?;
    let ips = download_log_ips(&mut conn).await?;
    ensure!(
        !ips.is_empty() && ips.iter().all(|ip| ip == "127.0.0.2"),
        "download_logs recorded {ips:?}, want the client's 127.0.0.2 only"
    );
    println!(
        "e2e: session passed (favorites, sync, grant, Range resume of {total} bytes, records, admin stats); download_logs ip = 127.0.0.2"
    );
    Ok(())
}

async fn download_log_ips(conn: &mut AsyncMysqlConnection) -> anyhow::Result<Vec<String>> {
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;

    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        ip_address: String,
    }
    let rows: Vec<Row> = diesel::sql_query("SELECT ip_address FROM download_logs")
        .load(conn)
        .await?;
    Ok(rows.into_iter().map(|r| r.ip_address).collect())
}

/// One address sending far more than nginx's API limit (20 r/s, burst 40) meets nginx's
/// own 429, in the envelope.
async fn nginx_limits(base: &str, vip: &str) -> anyhow::Result<()> {
    let client = client_from(3)?;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..120 {
        let (client, url, vip) = (
            client.clone(),
            format!("{base}/api/favorites/contains?item_ids=music_002"),
            vip.to_owned(),
        );
        tasks.spawn(async move {
            let resp = client.get(url).bearer_auth(vip).send().await?;
            let status = resp.status().as_u16();
            let retry_after = resp.headers().contains_key("retry-after");
            let body = resp.text().await?;
            anyhow::Ok((status, retry_after, body))
        });
    }
    let (mut ok, mut limited) = (0, 0);
    while let Some(result) = tasks.join_next().await {
        let (status, retry_after, body) = result??;
        match status {
            200 => ok += 1,
            429 => {
                let value: Value = serde_json::from_str(&body)
                    .with_context(|| format!("nginx's 429 is not JSON: {body}"))?;
                ensure!(
                    value["success"] == false
                        && value["code"] == ErrorCode::RateLimited.as_str()
                        && retry_after,
                    "nginx's 429 is not the envelope with Retry-After: {body}"
                );
                limited += 1;
            }
            other => bail!("flood: unexpected status {other}: {body}"),
        }
    }
    ensure!(
        limited > 0 && ok > 0,
        "flood of 120: {ok} passed, {limited} limited"
    );
    println!(
        "e2e: nginx limit: {ok} of 120 passed, {limited} answered 429 RATE_LIMITED in the envelope"
    );
    Ok(())
}

/// From nginx's access log: both instances served requests, and how many requests nginx
/// passed on to the other instance (`upstream` lists every instance it tried).
fn spread(setup: &Setup, p1: u16, p2: u16) -> anyhow::Result<()> {
    let log = std::fs::read_to_string(setup.dir.join("access.log"))?;
    let (mut on1, mut on2, mut retried) = (0, 0, 0);
    for line in log.lines().filter(|l| l.starts_with('{')) {
        let Ok(entry) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let upstream = entry["upstream"].as_str().unwrap_or_default();
        on1 += usize::from(upstream.contains(&format!(":{p1}")));
        on2 += usize::from(upstream.contains(&format!(":{p2}")));
        retried += usize::from(upstream.contains(", "));
    }
    ensure!(
        on1 > 0 && on2 > 0,
        "nginx did not spread the load: app1 {on1}, app2 {on2}"
    );
    println!(
        "e2e: nginx sent {on1} requests to app1 and {on2} to app2; {retried} passed on to the other instance"
    );
    Ok(())
}

/// Readers and writers through nginx while app2 is stopped: every read succeeds (nginx
/// retries it on app1) and every accepted write is there afterwards.
async fn failover(base: &str, vip: &str, premium: &str, app2: &mut Proc) -> anyhow::Result<()> {
    let run_for = Duration::from_secs(4);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for r in 0..4u8 {
        let (client, url, vip) = (
            client_from(10 + r)?,
            format!("{base}/api/favorites"),
            vip.to_owned(),
        );
        tasks.spawn(async move {
            let mut statuses = Vec::new();
            while started.elapsed() < run_for {
                let status = client
                    .get(&url)
                    .bearer_auth(&vip)
                    .send()
                    .await?
                    .status()
                    .as_u16();
                statuses.push(status);
                tokio::time::sleep(Duration::from_millis(80)).await;
            }
            anyhow::Ok((false, statuses, Vec::new()))
        });
    }
    for w in 0..4u8 {
        let (client, url, premium) = (
            client_from(20 + w)?,
            format!("{base}/api/favorites"),
            premium.to_owned(),
        );
        tasks.spawn(async move {
            let mut statuses = Vec::new();
            let mut accepted = Vec::new();
            let mut i = 0;
            while started.elapsed() < run_for {
                let id = format!("e2e_{w}_{i}");
                i += 1;
                let body = json!({"item_id": id, "item_type": "music",
                                  "item_data": {"title": "写入", "cover": "/c.jpg", "duration": 60}});
                let status = client.post(&url).bearer_auth(&premium).json(&body).send().await?.status().as_u16();
                if status == 200 {
                    accepted.push(id);
                }
                statuses.push(status);
                tokio::time::sleep(Duration::from_millis(80)).await;
            }
            anyhow::Ok((true, statuses, accepted))
        });
    }
    tokio::time::sleep(run_for / 3).await;
    app2.stop()?;
    let stopped_at = started.elapsed();
    let (mut reads, mut writes, mut accepted) = (Vec::new(), Vec::new(), Vec::new());
    while let Some(result) = tasks.join_next().await {
        let (writer, statuses, ok) = result??;
        if writer {
            writes.extend(statuses);
            accepted.extend(ok);
        } else {
            reads.extend(statuses);
        }
    }
    let failed_reads = reads.iter().filter(|s| **s != 200).count();
    ensure!(
        failed_reads == 0,
        "{failed_reads} of {} reads failed while app2 stopped: {reads:?}",
        reads.len()
    );
    let refused: Vec<u16> = writes.iter().copied().filter(|s| *s != 200).collect();
    ensure!(
        refused.iter().all(|s| matches!(s, 502..=504)),
        "writes answered {refused:?}"
    );
    // Every accepted write is stored.
    let client = client_from(30)?;
    let mut stored = std::collections::HashSet::new();
    let mut offset = 0;
    loop {
        let resp = client
            .get(format!("{base}/api/favorites?limit=100&offset={offset}"))
            .bearer_auth(premium)
            .send()
            .await?;
        let page = json_of(resp, "GET /api/favorites (premium)", 200).await?;
        let items = page["data"].as_array().context("no data")?;
        stored.extend(
            items
                .iter()
                .filter_map(|f| f["item_id"].as_str().map(str::to_owned)),
        );
        if items.len() < 100 {
            break;
        }
        offset += 100;
    }
    let lost: Vec<&String> = accepted.iter().filter(|id| !stored.contains(*id)).collect();
    ensure!(lost.is_empty(), "accepted writes lost: {lost:?}");
    println!(
        "e2e: app2 stopped at {stopped_at:.1?}: {} reads all 200; {} writes accepted and stored, {} refused by nginx (not accepted)",
        reads.len(),
        accepted.len(),
        refused.len()
    );
    Ok(())
}
