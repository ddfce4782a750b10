//! `/metrics` (Prometheus text whose counters move with requests) and request ids.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use soundshelf_app::testing::*;
use soundshelf_store::Backend;

async fn metrics(app: &TestApp) -> String {
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    res.text().await.unwrap()
}

/// Checks the exposition format line by line: `# HELP`/`# TYPE` comments, or
/// `name{labels} value` with a valid metric name and a number.
fn parse(text: &str) -> Vec<(String, f64)> {
    let mut samples = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            assert!(
                comment.starts_with("HELP ") || comment.starts_with("TYPE "),
                "{line}"
            );
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "{line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "{line}");
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("value of {line}"));
        samples.push((series.to_owned(), value));
    }
    samples
}

fn value(samples: &[(String, f64)], prefix: &str, must_contain: &[&str]) -> f64 {
    samples
        .iter()
        .filter(|(s, _)| s.starts_with(prefix) && must_contain.iter().all(|c| s.contains(c)))
        .map(|(_, v)| *v)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_parse_and_move_with_requests() {
    let app = spawn_app(Backend::Sqlite).await;
    app.client.get(app.url("/health")).send().await.unwrap();
    let before = parse(&metrics(&app).await);
    let health = ["route=\"/health\"", "status=\"200\""];
    let start = value(&before, "http_requests_total{", &health);
    assert!(start >= 1.0);
    for _ in 0..3 {
        app.client.get(app.url("/health")).send().await.unwrap();
    }
    let (status, body) = app
        .get("/api/music/download-url/music_001", "user_free")
        .await;
    assert_eq!(status, 200, "{body}");
    app.get("/api/music/download-url/music_009", "user_free")
        .await;
    let url = body["data"]["download_url"].as_str().unwrap();
    app.client
        .get(app.url(&url[url.find("/files/").unwrap()..]))
        .send()
        .await
        .unwrap();

    let after = parse(&metrics(&app).await);
    assert!(value(&after, "http_requests_total{", &health) >= start + 3.0);
    assert!(value(&after, "http_request_duration_seconds_count{", &health) >= start + 3.0);
    assert!(value(&after, "download_grants_total", &[]) >= 1.0);
    assert!(
        value(
            &after,
            "download_denials_total{",
            &["code=\"PREMIUM_REQUIRED\""]
        ) >= 1.0
    );
    assert!(
        value(
            &after,
            "download_redemptions_total{",
            &["outcome=\"served\""]
        ) >= 1.0
    );
    // Routes are counted by pattern, never by raw path (no token in a label).
    assert!(
        after
            .iter()
            .any(|(s, _)| s.contains("route=\"/files/{token}\""))
    );
    assert!(
        !after
            .iter()
            .any(|(s, _)| s.contains("/files/") && !s.contains("{token}"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_has_an_id() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app
        .client
        .get(app.url("/health"))
        .header("X-Request-Id", "client-abc.123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-abc.123");
    let res = app.client.get(app.url("/nope")).send().await.unwrap();
    let generated = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(generated.len(), 26, "a ULID");
    let res = app
        .client
        .get(app.url("/health"))
        .header("X-Request-Id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "bad id with spaces");
}

/// The metric names a PromQL expression selects (`name{…}`), strings skipped; `up` is
/// Prometheus' own.
fn selected_metrics(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let (mut word, mut in_string) = (String::new(), false);
    for c in expr.chars() {
        if in_string {
            in_string = c != '"';
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                word.clear();
            }
            c if c.is_ascii_alphanumeric() || c == '_' || c == ':' => word.push(c),
            '{' => {
                if !word.is_empty() && word != "up" {
                    names.push(std::mem::take(&mut word));
                }
                word.clear();
            }
            _ => word.clear(),
        }
    }
    names
}

fn repo_file(path: &str) -> String {
    std::fs::read_to_string(format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// Every metric the Grafana dashboard and the Prometheus rules query is one the server
/// exports: the dashboard is valid JSON whose panels all have queries, and after a grant,
/// a denial, a redemption, a rate-limited grant, a scrape and a job run, each queried
/// name has a series in `/metrics`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_and_the_rules_query_only_exported_metrics() {
    let receiver = soundshelf_outbound::testing::Receiver::start(vec![
        soundshelf_outbound::testing::Reply::Ok,
    ])
    .await;
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("ALERT_WEBHOOK_URLS", &receiver.url("/hook")),
            ("ALERT_WEBHOOK_FORMAT", "wecom"),
        ],
    )
    .await;
    // Traffic: grants until the rate limit (the sixth is refused), one redemption.
    let mut path = String::new();
    for n in 1..=6 {
        let (status, body) = app
            .get(&format!("/api/music/download-url/music_00{n}"), "user_free")
            .await;
        if n == 1 {
            let url = body["data"]["download_url"].as_str().unwrap();
            path = url[url.find("/files/").unwrap()..].to_owned();
        }
        assert_eq!(status, if n <= 5 { 200 } else { 429 }, "{body}");
    }
    let res = app.client.get(app.url(&path)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    soundshelf_app::scheduler::register_metrics();
    soundshelf_app::scheduler::run_and_record(&app.jobs, soundshelf_domain::jobs::Job::Alerts)
        .await;
    let exported = parse(&metrics(&app).await);
    let exists = |name: &str| {
        exported
            .iter()
            .any(|(s, _)| s == name || s.starts_with(&format!("{name}{{")))
    };

    let dashboard: serde_json::Value =
        serde_json::from_str(&repo_file("deploy/grafana/soundshelf.json")).unwrap();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 6);
    let mut queried = Vec::new();
    for panel in panels {
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{}", panel["title"]);
        for t in targets {
            queried.extend(selected_metrics(t["expr"].as_str().unwrap()));
        }
    }
    for must in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "download_grants_total",
        "download_denials_total",
        "download_redemptions_total",
        "rate_limited_total",
        "rate_limit_fallbacks_total",
    ] {
        assert!(
            queried.iter().any(|q| q == must),
            "the dashboard lacks {must}"
        );
    }
    let rules = repo_file("deploy/prometheus/alerts.yml");
    for line in rules.lines() {
        queried.extend(selected_metrics(line));
    }
    queried.sort();
    queried.dedup();
    let missing: Vec<_> = queried.iter().filter(|q| !exists(q)).collect();
    assert!(
        missing.is_empty(),
        "queried but not exported: {missing:?} (of {queried:?})"
    );
}

/// `promtool check rules` and `promtool test rules` on deploy/prometheus.
#[test]
fn the_alert_rules_pass_promtool() {
    let dir = format!("{}/../../deploy/prometheus", env!("CARGO_MANIFEST_DIR"));
    for args in [
        vec!["check", "rules", "alerts.yml"],
        vec!["test", "rules", "alerts.test.yml"],
    ] {
        let out = match std::process::Command::new("promtool")
            .args(&args)
            .current_dir(&dir)
            .output()
        {
            Ok(out) => out,
            Err(_) => {
                soundshelf_store::testing::missing_tool("promtool (Debian's prometheus package)");
                return;
            }
        };
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
