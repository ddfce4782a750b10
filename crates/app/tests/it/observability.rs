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
