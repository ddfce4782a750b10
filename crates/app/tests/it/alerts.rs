//! Alerts (SPEC §12) against real receivers started by the test: 55 redemptions by one
//! user from one address give exactly one alert in each webhook format (and one mail),
//! naming the pair and the count; the json one verifies with `ALERT_WEBHOOK_SECRET`; a
//! second run within the hour sends nothing; a receiver failing twice gets the alert on
//! the third try; a receiver that never answers neither holds up the job nor the API and
//! is counted as failed; `ALERT_AUTO_DISABLE` disables the user, audited as `system`.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;
use soundshelf_app::Settings;
use soundshelf_app::testing::*;
use soundshelf_domain::jobs::Job;
use soundshelf_outbound::testing::{Receiver, Reply, SmtpSink};
use soundshelf_ports::SystemClock;
use soundshelf_service::accounts::AccountsService;
use soundshelf_service::jobs::{JobRun, JobsService};
use soundshelf_signers::internal::RequestSigner;
use soundshelf_store::Backend;
use soundshelf_store::testing::{execute_sql, query_text};

soundshelf_store::on_both_backends!(
    one_alert_in_every_format_and_none_again_within_the_hour,
    a_failing_receiver_is_retried_and_a_dead_one_holds_up_nothing,
    auto_disable_refuses_the_user_and_the_audit_says_system,
);

const JSON_SECRET: &str = "an-alert-webhook-secret-of-32-bytes!!";

/// 55 redemption attempts of `user_vip` from this test's address (127.0.0.1).
async fn redeem_55_times(app: &TestApp) {
    let mut attempts = 0;
    while attempts < 55 {
        let (status, body) = app
            .get(
                "/api/music/download-url/music_001?quality=standard",
                "user_vip",
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let url = body["data"]["download_url"].as_str().unwrap().to_owned();
        let path = &url[url.find("/files/").unwrap()..];
        // Three uses, then refusals: every attempt is logged.
        for _ in 0..20 {
            if attempts == 55 {
                break;
            }
            let res = app
                .client
                .get(app.url(path))
                .header("Range", "bytes=0-0")
                .send()
                .await
                .unwrap();
            assert!([206, 410].contains(&res.status().as_u16()));
            attempts += 1;
        }
    }
    let logged = query_text(
        &app.db.config,
        "SELECT CAST(COUNT(*) AS CHAR) AS value FROM download_logs WHERE user_id = 'user_vip' AND ip_address = '127.0.0.1'",
    )
    .await
    .unwrap();
    assert_eq!(logged, "55");
}

/// The app's settings with `extra` on top.
fn settings(app: &TestApp, extra: &[(&str, String)]) -> Settings {
    let mut env = app.env.clone();
    for (k, v) in extra {
        env.insert((*k).to_owned(), v.clone());
    }
    Settings::from_lookup(|k| env.get(k).cloned()).unwrap()
}

/// The jobs as an instance configured with `extra` runs them, over the app's database.
fn jobs_with(app: &TestApp, extra: &[(&str, String)]) -> JobsService {
    let settings = settings(app, extra);
    let accounts = AccountsService::new(
        Arc::new(app.store.clone()),
        Arc::new(SystemClock),
        settings.app_timezone,
    );
    soundshelf_app::startup::jobs_service(&settings, &app.store, None, accounts).unwrap()
}

async fn run_alerts(jobs: &JobsService) -> Vec<(&'static str, u64)> {
    match jobs.run(Job::Alerts).await.unwrap() {
        JobRun::Ran(report) => report.counts,
        JobRun::Skipped => panic!("skipped"),
    }
}

/// The text of an alert as each format carries it.
fn text_of(format: &str, got: &Value) -> String {
    match format {
        "json" => got["text"].as_str().unwrap().to_owned(),
        "wecom" | "dingtalk" => {
            assert_eq!(got["msgtype"], "text", "{got}");
            got["text"]["content"].as_str().unwrap().to_owned()
        }
        "feishu" => {
            assert_eq!(got["msg_type"], "text", "{got}");
            got["content"]["text"].as_str().unwrap().to_owned()
        }
        _ => unreachable!(),
    }
}

fn hmac_base64(key: &[u8], message: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    base64::engine::general_purpose::STANDARD.encode(ring::hmac::sign(&key, message).as_ref())
}

async fn one_alert_in_every_format_and_none_again_within_the_hour(backend: Backend) {
    let app = spawn_app(backend).await;
    redeem_55_times(&app).await;
    let sink = SmtpSink::start().await;
    for (format, secret) in [
        ("json", JSON_SECRET),
        ("wecom", ""),
        ("dingtalk", "SEC-dingtalk-robot-secret"),
        ("feishu", "feishu-robot-secret"),
    ] {
        execute_sql(&app.db.config, "DELETE FROM alert_pairs").await;
        let receiver = Receiver::start(vec![Reply::Ok]).await;
        let mut extra = vec![
            ("ALERT_WEBHOOK_URLS", receiver.url("/hook?key=robot-key")),
            ("ALERT_WEBHOOK_FORMAT", format.to_owned()),
            ("ALERT_WEBHOOK_SECRET", secret.to_owned()),
        ];
        if format == "json" {
            extra.push(("ALERT_EMAIL", "ops@example.com".to_owned()));
            extra.push(("SMTP_URL", sink.url()));
            extra.push(("ALERT_EMAIL_FROM", "alerts@soundshelf.example".to_owned()));
        }
        let jobs = jobs_with(&app, &extra);
        let counts = run_alerts(&jobs).await;
        assert_eq!(
            counts,
            vec![("pairs_over_threshold", 1), ("alerts_sent", 1)],
            "{format}"
        );
        assert!(jobs.flush_alerts(Duration::from_secs(10)).await, "{format}");
        let got = receiver.received();
        assert_eq!(got.len(), 1, "{format}");
        let hit = &got[0];
        let body = hit.json();
        let text = text_of(format, &body);
        for part in ["127.0.0.1", "user_vip", "55", "50"] {
            assert!(text.contains(part), "{format}: {text}");
        }
        match format {
            "json" => {
                assert_eq!(body["kind"], "abnormal_activity");
                assert_eq!(body["data"]["attempts"], 55);
                assert_eq!(body["data"]["ip_address"], "127.0.0.1");
                assert_eq!(body["data"]["user_id"], "user_vip");
                let now = time::OffsetDateTime::now_utc().unix_timestamp();
                let signature = hit.header("x-signature");
                assert!(
                    RequestSigner::new(JSON_SECRET.as_bytes()).verify(signature, &hit.body, now),
                    "{signature:?}"
                );
                assert!(
                    !RequestSigner::new(b"another-secret-of-at-least-32-bytes!")
                        .verify(signature, &hit.body, now)
                );
            }
            "dingtalk" => {
                // timestamp (ms) and sign = base64(HMAC-SHA256(secret, "ts\nsecret")).
                let query = hit.target.split_once('?').unwrap().1;
                let param = |name: &str| {
                    query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                        .unwrap()
                        .to_owned()
                };
                assert_eq!(param("key"), "robot-key");
                let ts = param("timestamp");
                let sign = percent_encoding::percent_decode_str(&param("sign"))
                    .decode_utf8()
                    .unwrap()
                    .into_owned();
                assert_eq!(
                    sign,
                    hmac_base64(secret.as_bytes(), format!("{ts}\n{secret}").as_bytes())
                );
            }
            "feishu" => {
                let ts = body["timestamp"].as_str().unwrap();
                assert_eq!(
                    body["sign"],
                    hmac_base64(format!("{ts}\n{secret}").as_bytes(), b"")
                );
            }
            _ => {}
        }

        // Within the hour: nothing again.
        let counts = run_alerts(&jobs).await;
        assert_eq!(
            counts,
            vec![("pairs_over_threshold", 1), ("alerts_sent", 0)],
            "{format}"
        );
        assert!(jobs.flush_alerts(Duration::from_secs(10)).await);
        assert_eq!(receiver.received().len(), 1, "{format}");
    }
    // The daily report is sent when written.
    let reports = Receiver::start(vec![Reply::Ok]).await;
    let jobs = jobs_with(
        &app,
        &[
            ("ALERT_WEBHOOK_URLS", reports.url("/reports")),
            ("ALERT_WEBHOOK_SECRET", JSON_SECRET.to_owned()),
        ],
    );
    let JobRun::Ran(report) = jobs.run(Job::DailyReport).await.unwrap() else {
        panic!("ran")
    };
    assert!(jobs.flush_alerts(Duration::from_secs(10)).await);
    let got = reports.received();
    assert_eq!(got.len(), 1);
    let body = got[0].json();
    assert_eq!(body["kind"], "daily_report");
    let yesterday = (time::OffsetDateTime::now_utc()
        .to_offset(time::macros::offset!(+8))
        .date()
        - time::Duration::days(1))
    .to_string();
    assert_eq!(body["data"]["date"], yesterday.as_str());
    let total = report
        .counts
        .iter()
        .find(|(k, _)| *k == "downloads")
        .unwrap()
        .1;
    assert_eq!(body["data"]["downloads"]["total"], total);
    assert!(body["title"].as_str().unwrap().contains(&yesterday));

    // `soundshelf jobs run alerts` delivers what it queued before it exits.
    execute_sql(&app.db.config, "DELETE FROM alert_pairs").await;
    let receiver = Receiver::start(vec![Reply::Status(503), Reply::Ok]).await;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_soundshelf"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(&app.env)
        .env("ALERT_WEBHOOK_URLS", receiver.url("/cli"))
        .env("ALERT_WEBHOOK_SECRET", JSON_SECRET)
        .env("ALERT_RETRY_BACKOFF", "50ms")
        .args(["jobs", "run", "alerts"]);
    // Off the runtime: the receiver answers from it meanwhile.
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("alerts: pairs_over_threshold=1 alerts_sent=1"),
        "{stdout}"
    );
    assert_eq!(receiver.received().len(), 2);

    let mails = sink.accepted();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].from, "alerts@soundshelf.example");
    assert_eq!(mails[0].to, vec!["ops@example.com".to_owned()]);
    let text = mail_text(&mails[0].data);
    for part in ["127.0.0.1", "user_vip", "55"] {
        assert!(text.contains(part), "{text}");
    }
}

/// The body of a plain-text mail, decoded when lettre chose base64 or quoted-printable.
fn mail_text(data: &str) -> String {
    let (head, body) = data.split_once("\n\n").unwrap();
    let head = head.to_ascii_lowercase();
    if head.contains("content-transfer-encoding: base64") {
        let joined: String = body.split_whitespace().collect();
        String::from_utf8(
            base64::engine::general_purpose::STANDARD
                .decode(joined)
                .unwrap(),
        )
        .unwrap()
    } else if head.contains("content-transfer-encoding: quoted-printable") {
        let joined = body.replace("=\n", "");
        let mut out = Vec::new();
        let bytes = joined.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'=' && i + 2 < bytes.len() + 1 {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            } else {
                out.push(bytes[i]);
                i += 1;
            }
        }
        String::from_utf8(out).unwrap()
    } else {
        body.to_owned()
    }
}

/// The value of `alert_deliveries_total` for `receiver` and `outcome` at `/metrics`.
async fn delivered(app: &TestApp, receiver: &str, outcome: &str) -> u64 {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| l.starts_with("alert_deliveries_total{"))
        .filter(|l| {
            l.contains(&format!("receiver=\"{receiver}\""))
                && l.contains(&format!("outcome=\"{outcome}\""))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// p99 of `n` list requests, 8 at a time.
async fn list_p99(app: &TestApp, n: usize) -> Duration {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n / 8 {
        let batch = (0..8).map(|_| async {
            let started = Instant::now();
            let (status, _) = app.get("/api/favorites", "user_free").await;
            assert_eq!(status, 200);
            started.elapsed()
        });
        times.extend(futures_util::future::join_all(batch).await);
    }
    times.sort();
    times[times.len() * 99 / 100]
}

async fn a_failing_receiver_is_retried_and_a_dead_one_holds_up_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    redeem_55_times(&app).await;

    // 500, 500, then 200: the third try delivers.
    let flaky = Receiver::start(vec![Reply::Status(500), Reply::Status(500), Reply::Ok]).await;
    let retried_before = delivered(&app, "webhook1/wecom", "retried").await;
    let jobs = jobs_with(
        &app,
        &[
            ("ALERT_WEBHOOK_URLS", flaky.url("/flaky")),
            ("ALERT_WEBHOOK_FORMAT", "wecom".to_owned()),
            ("ALERT_RETRY_BACKOFF", "50ms".to_owned()),
        ],
    );
    assert_eq!(run_alerts(&jobs).await[1], ("alerts_sent", 1));
    assert!(jobs.flush_alerts(Duration::from_secs(10)).await);
    let got = flaky.received();
    assert_eq!(got.len(), 3);
    assert!(got.iter().all(|g| g.body == got[0].body));
    assert!(delivered(&app, "webhook1/wecom", "retried").await >= retried_before + 2);
    assert!(delivered(&app, "webhook1/wecom", "delivered").await >= 1);

    // A receiver that never answers: the job returns at once, the API keeps its pace,
    // and after the attempts the delivery is counted as failed.
    execute_sql(&app.db.config, "DELETE FROM alert_pairs").await;
    let quiet = list_p99(&app, 160).await;
    let dead = Receiver::start(vec![Reply::Hang]).await;
    let failed_before = delivered(&app, "webhook1/feishu", "failed").await;
    let jobs = jobs_with(
        &app,
        &[
            ("ALERT_WEBHOOK_URLS", dead.url("/dead")),
            ("ALERT_WEBHOOK_FORMAT", "feishu".to_owned()),
            ("ALERT_TIMEOUT", "1s".to_owned()),
            ("ALERT_RETRY_ATTEMPTS", "2".to_owned()),
            ("ALERT_RETRY_BACKOFF", "100ms".to_owned()),
        ],
    );
    let started = Instant::now();
    assert_eq!(run_alerts(&jobs).await[1], ("alerts_sent", 1));
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "the job waited on the receiver: {:?}",
        started.elapsed()
    );
    let during = list_p99(&app, 160).await;
    assert!(
        !jobs.flush_alerts(Duration::from_millis(10)).await,
        "the delivery should still be pending"
    );
    assert!(
        during <= quiet * 2 + Duration::from_millis(50),
        "p99 {during:?} while the receiver hangs, {quiet:?} before"
    );
    assert!(jobs.flush_alerts(Duration::from_secs(10)).await);
    assert_eq!(dead.received().len(), 2);
    // (The other backend's run of this test counts under the same label.)
    assert!(delivered(&app, "webhook1/feishu", "failed").await > failed_before);
}

async fn auto_disable_refuses_the_user_and_the_audit_says_system(backend: Backend) {
    let receiver = Receiver::start(vec![Reply::Ok]).await;
    let app = spawn_app_with(
        backend,
        &[
            ("ALERT_AUTO_DISABLE", "true"),
            ("ALERT_WEBHOOK_URLS", &receiver.url("/hook")),
            ("ALERT_WEBHOOK_SECRET", JSON_SECRET),
            // The cache of active users is as long as it may be: the change must reach it.
            ("AUTH_CACHE_TTL", "30s"),
        ],
    )
    .await;
    redeem_55_times(&app).await;
    let (status, _) = app.get("/api/favorites", "user_vip").await;
    assert_eq!(status, 200);
    // The app's own jobs, as its scheduler runs them.
    let JobRun::Ran(report) = app.jobs.run(Job::Alerts).await.unwrap() else {
        panic!("ran")
    };
    assert_eq!(
        report.counts,
        vec![
            ("pairs_over_threshold", 1),
            ("alerts_sent", 1),
            ("users_disabled", 1)
        ]
    );
    let refused = app.get("/api/favorites", "user_vip").await;
    assert_error(&refused, 403, "USER_INACTIVE");
    let (_, audit) = app
        .get("/api/admin/audit?user_id=user_vip", "user_admin")
        .await;
    let entry = &audit["data"][0];
    assert_eq!(entry["actor"], "system", "{audit}");
    assert_eq!(entry["action"], "user.update");
    assert_eq!(entry["after"]["status"], "disabled");
    assert!(app.jobs.flush_alerts(Duration::from_secs(10)).await);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["data"]["user_disabled"], true);
}
