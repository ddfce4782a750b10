//! The `soundshelf` binary as a user runs it: the embedded default from an empty folder,
//! the printed demo `curl` line, a refused setting, and a graceful stop on SIGTERM.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn soundshelf(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_soundshelf"));
    cmd.current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BIND", "127.0.0.1:0")
        .env("WORKERS", "1")
        .env("LOG_LEVEL", "warn");
    cmd
}

/// Starts the server and reads its banner: the base URL and the demo token.
fn start(dir: &std::path::Path) -> (Child, String, String) {
    let mut child = soundshelf(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut base = None;
    let mut token = None;
    while token.is_none() {
        let Some(line) = lines.next() else {
            panic!("the server exited before printing its banner")
        };
        let line = line.unwrap();
        if let Some(url) = line.strip_prefix("soundshelf is listening on ") {
            base = Some(url.trim().to_owned());
        }
        if let Some(rest) = line.split("Bearer ").nth(1) {
            token = rest.split('\'').next().map(str::to_owned);
        }
    }
    (child, base.unwrap(), token.unwrap())
}

fn stop(child: &mut Child) -> std::process::ExitStatus {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    panic!("the server did not stop within 10 s of SIGTERM");
}

#[tokio::test]
async fn the_embedded_default_starts_with_demo_data_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, base, token) = start(dir.path());
    assert!(dir.path().join("data/soundshelf.db").exists());
    assert!(dir.path().join("data/jwt_secret").exists());
    assert!(
        dir.path()
            .join("data/storage/music/music_001_flac.flac")
            .exists()
    );

    // The printed token works: a new user can add, list, search, check and delete.
    let client = soundshelf_outbound::http::client();
    let body = serde_json::json!({
        "item_id": "music_001", "item_type": "music",
        "item_data": {"title": "深度放松冥想音乐", "cover": "/images/music_001.jpg", "duration": 360}
    });
    let res = client
        .post(format!("{base}/api/favorites"))
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let url =
        reqwest::Url::parse_with_params(&format!("{base}/api/favorites"), &[("search", "冥想")])
            .unwrap();
    let list: serde_json::Value = client
        .get(url)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    let contains: serde_json::Value = client
        .get(format!(
            "{base}/api/favorites/contains?item_ids=music_001,music_002"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        contains["data"],
        serde_json::json!({"music_001": true, "music_002": false})
    );
    let res = client
        .delete(format!("{base}/api/favorites/items/music_001"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    assert!(stop(&mut child).success(), "exits 0 after SIGTERM");

    // A second start keeps the secret (old tokens stay valid) and does not seed twice.
    let (mut child, base, _) = start(dir.path());
    let res = client
        .get(format!("{base}/api/favorites"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(stop(&mut child).success());
}

#[test]
fn a_bad_setting_stops_start_up_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    for (var, value) in [
        ("BIND", "nowhere"),
        ("LOG_FORMAT", "xml"),
        ("JWT_SECRET", "short"),
    ] {
        let out = soundshelf(dir.path()).env(var, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
    }
    assert!(!dir.path().join("data").exists(), "nothing was created");
}

#[test]
fn sign_url_prints_the_vendor_url_for_fixed_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let qiniu = [
        ("STORAGE_BACKEND", "qiniu"),
        ("QINIU_ACCESS_KEY", "abcdefghklmnopq"),
        ("QINIU_SECRET_KEY", "1234567890"),
        ("QINIU_BUCKET", "soundshelf"),
        ("QINIU_DOMAIN", "https://cdn.example.com"),
    ];
    let run = |vars: &[(&str, &str)], args: &[&str]| {
        let mut cmd = soundshelf(dir.path());
        cmd.arg("sign-url").args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let fixed = [
        "--music-id",
        "music_001",
        "--quality",
        "standard",
        "--expires-at",
        "1700000000",
    ];
    let out = run(&qiniu, &fixed);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "https://cdn.example.com/music/music_001_128k.mp3?e=1700000000&token=abcdefghklmnopq:HU0e2PdMOK6xN2iuq6lIMiYECoQ="
    );
    // OSS V4 signs at expires-at − DOWNLOAD_REDIRECT_TTL, for that TTL: the Python SDK's URL.
    let oss = [
        ("STORAGE_BACKEND", "oss"),
        ("OSS_REGION", "oss-cn-hangzhou"),
        ("OSS_ACCESS_KEY_ID", "ak"),
        ("OSS_ACCESS_KEY_SECRET", "sk"),
        ("OSS_BUCKET", "soundshelf-audio"),
    ];
    let out = run(
        &oss,
        &[
            "--music-id",
            "music_001",
            "--quality",
            "standard",
            "--expires-at",
            "1700000300",
        ],
    );
    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(url.starts_with(
        "https://soundshelf-audio.oss-cn-hangzhou.aliyuncs.com/music/music_001_128k.mp3?"
    ));
    assert!(url.contains("x-oss-date=20231114T221320Z&x-oss-expires=300"));
    assert!(url.ends_with("x-oss-signature=ace266d219799cb54d831afd272b9756e097a2c5b7b8ff048cabf7c22be86f9c&x-oss-signature-version=OSS4-HMAC-SHA256"));

    for (args, needle) in [
        (
            vec!["--music-id", "music_001", "--quality", "ultra"],
            "--quality",
        ),
        (
            vec!["--music-id", "../x", "--quality", "standard"],
            "--music-id",
        ),
    ] {
        let out = run(&qiniu, &args);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains(needle));
    }
    let out = run(&[], &fixed);
    assert_eq!(
        out.status.code(),
        Some(2),
        "local storage has nothing to sign"
    );
    let without_bucket: Vec<_> = oss
        .iter()
        .filter(|(k, _)| *k != "OSS_BUCKET")
        .copied()
        .collect();
    let out = run(&without_bucket, &fixed);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("OSS_BUCKET"));
    // And the server itself refuses to start without it.
    let mut cmd = soundshelf(dir.path());
    for (k, v) in &without_bucket {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("OSS_BUCKET"));
}

#[tokio::test]
async fn json_logs_carry_the_request_id_on_every_line_of_a_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = soundshelf(dir.path())
        .env("LOG_FORMAT", "json")
        .env("LOG_LEVEL", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut startup = Vec::new();
    let base = loop {
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        if let Some(url) = line.strip_prefix("soundshelf is listening on ") {
            break url.trim().to_owned();
        }
        startup.push(line);
    };
    let res = soundshelf_outbound::http::client()
        .get(format!("{base}/no/such/route"))
        .header("X-Request-Id", "json-log-test-1")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(stop(&mut child).success());
    let lines: Vec<String> = rx.try_iter().collect();
    // Dependencies' internals stay below the default level (the cron scheduler once
    // printed six INFO lines at every start).
    let chatter: Vec<&String> = startup
        .iter()
        .chain(&lines)
        .filter(|l| l.contains("tokio_cron_scheduler"))
        .collect();
    assert!(chatter.is_empty(), "{chatter:?}");
    let request_lines: Vec<serde_json::Value> = lines
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.to_string().contains("json-log-test-1"))
        .collect();
    assert!(!request_lines.is_empty(), "{lines:?}");
    for v in &request_lines {
        assert_eq!(v["span"]["request_id"], "json-log-test-1", "{v}");
        assert!(v["level"].is_string() && v["timestamp"].is_string());
    }
}

/// Secrets and tokens never reach the logs, even at the most verbose level: the
/// database password, the JWT secret, the Redis password (a wrong one, so Redis errors
/// are logged too), users' tokens good and forged, and download tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_and_tokens_never_appear_in_the_logs() {
    use soundshelf_store::testing::{execute_sql, mysql_server_url};
    let tag = ulid::Ulid::generate().to_string().to_lowercase();
    let (db_user, db_password) = (format!("logs_{}", &tag[..12]), format!("Db-Pw-{tag}"));
    let database = format!("test_logs_{tag}");
    let root = soundshelf_store::DbConfig::Mysql {
        url: format!("{}/mysql", mysql_server_url()),
    };
    execute_sql(
        &root,
        &format!(
            "CREATE DATABASE {database}; CREATE USER '{db_user}'@'%' IDENTIFIED BY '{db_password}'; \
             GRANT ALL ON {database}.* TO '{db_user}'@'%'"
        ),
    )
    .await;
    // Dropped whatever happens below, pass or fail.
    let _cleanup = DropWith(
        root.clone(),
        format!("DROP DATABASE {database}; DROP USER '{db_user}'@'%'"),
    );
    let host = mysql_server_url().rsplit('@').next().unwrap().to_owned();
    let jwt_secret = format!("jwt-secret-{tag}-0123456789abcdef");
    let redis_password = format!("Redis-Pw-{tag}");
    let dir = tempfile::tempdir().unwrap();
    let mut child = soundshelf(dir.path())
        .env(
            "DATABASE_URL",
            format!("mysql://{db_user}:{db_password}@{host}/{database}"),
        )
        .env("JWT_SECRET", &jwt_secret)
        .env(
            "REDIS_URL",
            format!("redis://:{redis_password}@127.0.0.1:6379"),
        )
        .env("AUTO_MIGRATE", "true")
        .env("SEED_DEMO", "true")
        .env("LOG_LEVEL", "trace")
        .env("LOG_FORMAT", "json")
        .env("DATA_DIR", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    for stream in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    let mut seen = Vec::new();
    let base = loop {
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap();
        seen.push(line.clone());
        if let Some(url) = line.strip_prefix("soundshelf is listening on ") {
            break url.trim().to_owned();
        }
    };

    let keys = soundshelf_app::jwt::JwtKeys::new(&secrecy::SecretString::from(jwt_secret.clone()))
        .unwrap();
    let user = soundshelf_domain::UserId::parse("user_vip").unwrap();
    let token = keys.mint(&user, Duration::from_secs(600)).unwrap();
    let forged = format!("{}.forged-{tag}", token.rsplit_once('.').unwrap().0);
    let client = soundshelf_outbound::http::client();
    let get = |path: &str, token: &str| {
        client
            .get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(get("/api/favorites", &token).await.unwrap().status(), 200);
    assert_eq!(get("/api/favorites", &forged).await.unwrap().status(), 401);
    let grant: serde_json::Value = get("/api/music/download-url/music_001", &token)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = grant["data"]["download_url"].as_str().unwrap();
    let download_token = url.rsplit('/').next().unwrap().to_owned();
    let link = format!("{base}/files/{download_token}");
    let res = client
        .get(&link)
        .header("Range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    let res = client
        .get(format!("{base}/files/{download_token}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(stop(&mut child).success());
    std::thread::sleep(Duration::from_millis(200));
    seen.extend(rx.try_iter());

    // The logs saw what the secrets went through: the requests, and Redis refusing.
    assert!(
        seen.len() > 20,
        "too few log lines to mean anything: {seen:?}"
    );
    assert!(
        seen.iter().any(|l| l.contains("/files/{token}")),
        "{seen:?}"
    );
    assert!(
        seen.iter().any(|l| l.to_lowercase().contains("redis")),
        "{seen:?}"
    );
    let signature = token.rsplit('.').next().unwrap();
    for (what, secret) in [
        ("database password", db_password.as_str()),
        ("JWT secret", jwt_secret.as_str()),
        ("Redis password", redis_password.as_str()),
        ("user token", token.as_str()),
        ("user token signature", signature),
        ("forged token", forged.as_str()),
        ("download token", download_token.as_str()),
    ] {
        let leaks: Vec<&String> = seen.iter().filter(|l| l.contains(secret)).collect();
        assert!(leaks.is_empty(), "the {what} is in the logs: {leaks:?}");
    }
}

/// Runs its SQL on its database when dropped (from a thread of its own: a test's
/// runtime cannot be blocked on from inside).
struct DropWith(soundshelf_store::DbConfig, String);

impl Drop for DropWith {
    fn drop(&mut self) {
        let (config, sql) = (self.0.clone(), self.1.clone());
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(soundshelf_store::testing::execute_sql(&config, &sql));
        })
        .join();
    }
}
