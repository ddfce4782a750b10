//! The database goes away and comes back. The test runs a MariaDB of its own, kills it
//! (SIGKILL: connections drop without a goodbye) while the app is serving, and checks:
//! every route that needs the database answers 503 `UNAVAILABLE` with `Retry-After`
//! within the documented bound, `/ready` says the database is down, `/health` stays 200;
//! after the database is started again, requests succeed without restarting the app and
//! nothing written before the outage is lost.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::time::{Duration, Instant};

use serde_json::json;
use soundshelf_app::testing::*;
use soundshelf_store::testing::OwnMariaDb;

/// `DB_TIMEOUT` for this test. A request waits at most that for a connection, all
/// told, so while the database is down or hung every request is refused within it
/// (plus the request's own work).
const DB_TIMEOUT: &str = "2s";
const BOUND: Duration = Duration::from_millis(2800);

/// Every route that needs the database, as (method, path, user, body).
fn routes() -> Vec<(
    &'static str,
    String,
    &'static str,
    Option<serde_json::Value>,
)> {
    vec![
        ("GET", "/api/favorites".into(), "user_free", None),
        (
            "GET",
            "/api/favorites?type=music&search=x".into(),
            "user_free",
            None,
        ),
        (
            "GET",
            "/api/favorites/contains?item_ids=music_001".into(),
            "user_free",
            None,
        ),
        (
            "POST",
            "/api/favorites".into(),
            "user_free",
            Some(item("music_002", "during")),
        ),
        (
            "PUT",
            "/api/favorites/sync".into(),
            "user_free",
            Some(json!({"last_sync_time": null, "local_changes": [
                {"item_id": "music_003", "item_type": "music", "action": "add",
                 "item_data": {"title": "t", "cover": "", "duration": 1},
                 "timestamp": "2026-01-01T00:00:00Z"}]})),
        ),
        (
            "DELETE",
            "/api/favorites/items/music_001".into(),
            "user_free",
            None,
        ),
        (
            "DELETE",
            "/api/favorites/fav_01J00000000000000000000000".into(),
            "user_free",
            None,
        ),
        (
            "GET",
            "/api/music/download-url/music_001".into(),
            "user_vip",
            None,
        ),
        ("GET", "/api/downloads".into(), "user_vip", None),
        ("GET", "/api/me".into(), "user_vip", None),
        ("GET", "/api/music/music_001".into(), "user_vip", None),
        ("GET", "/api/music?ids=music_001".into(), "user_vip", None),
        (
            "POST",
            "/api/downloads".into(),
            "user_vip",
            Some(json!({"music_id": "music_001", "status": "completed"})),
        ),
        (
            "DELETE",
            "/api/downloads/dl_01J00000000000000000000000".into(),
            "user_vip",
            None,
        ),
        (
            "GET",
            "/files/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
            "user_vip",
            None,
        ),
        (
            "GET",
            "/api/admin/stats/downloads?range=1h".into(),
            "user_admin",
            None,
        ),
        (
            "GET",
            "/api/admin/downloads/popular".into(),
            "user_admin",
            None,
        ),
        (
            "GET",
            "/api/admin/downloads/abnormal".into(),
            "user_admin",
            None,
        ),
        ("GET", "/api/admin/reports/daily".into(), "user_admin", None),
    ]
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    user: &str,
    body: Option<&serde_json::Value>,
) -> (u16, Option<String>, serde_json::Value) {
    send_with(&app.client, method, &app.url(path), user, body).await
}

async fn send_with(
    client: &reqwest::Client,
    method: &str,
    url: &str,
    user: &str,
    body: Option<&serde_json::Value>,
) -> (u16, Option<String>, serde_json::Value) {
    let mut req = client
        .request(method.parse().unwrap(), url)
        .bearer_auth(token(user));
    if let Some(body) = body {
        req = req.json(body);
    }
    let res = req.send().await.unwrap();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let (status, body) = read(res).await;
    (status, retry_after, body)
}

/// The app on `mariadb`, with one favorite of user_free's. Every demo user's status is
/// then cached, so the requests of the tests reach the handlers and their own queries
/// (not only the token check) meet the outage; the pool holds connections about to
/// break.
async fn app_with_a_favorite(mariadb: &OwnMariaDb) -> TestApp {
    let app = spawn_app_on(
        mariadb.database().await,
        &[("DB_TIMEOUT", DB_TIMEOUT), ("DB_QUERY_TIMEOUT", DB_TIMEOUT)],
    )
    .await;
    app.add("user_free", "music_001", "before").await;
    for user in ["user_vip", "user_admin"] {
        assert_eq!(app.get("/api/downloads", user).await.0, 200);
    }
    app
}

/// Polls `/ready` until the database answers again (30 s at most).
async fn wait_until_ready(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.get("/ready", "user_free").await.0 != 200 {
        assert!(Instant::now() < deadline, "/ready stayed down");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_answers_503_and_recovers_without_a_restart() {
    let Some(mut mariadb) = OwnMariaDb::start() else {
        return;
    };
    let app = app_with_a_favorite(&mariadb).await;
    assert_eq!(app.get("/ready", "user_free").await.0, 200);

    mariadb.kill();

    for (method, path, user, body) in routes() {
        let started = Instant::now();
        let (status, retry_after, body) = send(&app, method, &path, user, body.as_ref()).await;
        let took = started.elapsed();
        assert_eq!(
            (status, body["code"].as_str()),
            (503, Some("UNAVAILABLE")),
            "{method} {path}: {body}"
        );
        assert_eq!(body["success"], false);
        assert_eq!(retry_after.as_deref(), Some("5"), "{method} {path}");
        assert!(took < BOUND, "{method} {path} took {took:?}");
        let text = body.to_string();
        for secret in ["mysql", "127.0.0.1", "diesel", "Connection"] {
            assert!(
                !text.contains(secret),
                "{method} {path} leaks internals: {text}"
            );
        }
    }
    let started = Instant::now();
    let (status, retry_after, ready) = send(&app, "GET", "/ready", "user_free", None).await;
    assert!(started.elapsed() < BOUND);
    assert_eq!((status, retry_after.as_deref()), (503, Some("5")));
    assert_eq!(ready["code"], "UNAVAILABLE");
    assert_eq!(ready["checks"]["database"], "down");
    assert_eq!(app.get("/health", "user_free").await.0, 200);

    // The database comes back on the same port: no restart of the app is needed.
    mariadb.restart();
    wait_until_ready(&app).await;
    for (method, path, user, body) in routes() {
        let (status, _, body) = send(&app, method, &path, user, body.as_ref()).await;
        // Each route works again: ids the test made up are not found, nothing else fails.
        assert!(
            status < 300 || status == 404,
            "{method} {path} after recovery: {status} {body}"
        );
    }
    let (status, list) = app.get("/api/favorites", "user_free").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["item_id"].as_str().unwrap())
        .collect();
    // music_001 was written before the outage and removed after recovery; 002 and 003
    // were written after recovery.
    assert_eq!(ids.len(), 2, "{list}");
    assert!(
        ids.contains(&"music_002") && ids.contains(&"music_003"),
        "{list}"
    );
}

/// The database hangs instead of going away (SIGSTOP: connections stay open and nothing
/// answers). Requests must still be answered within the bound, and work again when it
/// wakes up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_database_is_answered_within_the_bound() {
    let Some(mariadb) = OwnMariaDb::start() else {
        return;
    };
    let app = app_with_a_favorite(&mariadb).await;

    mariadb.freeze();
    // All at once, as real traffic would come: more requests than pooled connections.
    let mut requests = tokio::task::JoinSet::new();
    for (method, path, user, body) in routes() {
        let (client, url) = (app.client.clone(), app.url(&path));
        requests.spawn(async move {
            let started = Instant::now();
            let (status, retry_after, body) =
                send_with(&client, method, &url, user, body.as_ref()).await;
            (method, path, started.elapsed(), status, retry_after, body)
        });
    }
    while let Some(answer) = requests.join_next().await {
        let (method, path, took, status, retry_after, body) = answer.unwrap();
        assert_eq!(
            (status, body["code"].as_str(), retry_after.as_deref()),
            (503, Some("UNAVAILABLE"), Some("5")),
            "{method} {path}: {body}"
        );
        assert!(took < BOUND, "{method} {path} took {took:?}");
    }
    assert_eq!(app.get("/health", "user_free").await.0, 200);

    mariadb.thaw();
    wait_until_ready(&app).await;
    let (status, list) = app.get("/api/favorites", "user_free").await;
    assert_eq!((status, list["total"].as_u64()), (200, Some(1)), "{list}");
}
