//! Attacks on every path parameter: traversal in its plain and encoded spellings, NUL
//! bytes, other users' ids, oversized ids. Each must be refused in the envelope (400 or
//! 404, never 2xx or 5xx), never echo the input, and change nothing.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use serde_json::Value;
use soundshelf_app::testing::*;
use soundshelf_store::Backend;

soundshelf_store::on_both_backends!(hostile_path_parameters_are_refused_and_change_nothing);

/// Spellings of "leave this folder" and other things no id may contain.
const HOSTILE: &[&str] = &[
    "..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2E%2E%5C..%5Cwindows",
    "..%252F..%252Fetc",
    "music_001%00.mp3",
    "music_001%0d%0aX-Injected:%201",
    "%c0%ae%c0%ae%2f",
    "music_001%2F..%2Fmusic_002",
    "%2Fetc%2Fpasswd",
    "C:%5Cwindows",
    "music_%E2%80%AE100",
    "fav_%27%20OR%20%271%27=%271",
];

async fn send(app: &TestApp, method: &str, path: &str, user: &str) -> (u16, String) {
    let url = app.url(path);
    let req = match method {
        "GET" => app.client.get(url),
        "HEAD" => app.client.head(url),
        "DELETE" => app.client.delete(url),
        _ => unreachable!(),
    };
    let res = req.bearer_auth(token(user)).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

async fn snapshot(app: &TestApp) -> (Value, Value, Value) {
    let (_, free) = app.get("/api/favorites?limit=100", "user_free").await;
    let (_, vip) = app.get("/api/favorites?limit=100", "user_vip").await;
    let (_, downloads) = app.get("/api/downloads?limit=100", "user_vip").await;
    (
        free["data"].clone(),
        vip["data"].clone(),
        downloads["data"].clone(),
    )
}

async fn hostile_path_parameters_are_refused_and_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add("user_free", "music_001", "mine").await;
    let theirs = app.add("user_vip", "music_002", "theirs").await;
    let (status, grant) = app
        .get(
            "/api/music/download-url/music_001?quality=standard",
            "user_vip",
        )
        .await;
    assert_eq!(status, 200, "{grant}");
    let before = snapshot(&app).await;

    let long = "a".repeat(4096);
    let their_fav = theirs["id"].as_str().unwrap().to_owned();
    let mut params: Vec<String> = HOSTILE.iter().map(|s| (*s).to_owned()).collect();
    params.push(long);
    params.push(their_fav.clone());

    let templates = [
        ("DELETE", "/api/favorites/{}"),
        ("DELETE", "/api/favorites/items/{}"),
        ("GET", "/api/music/download-url/{}?quality=standard"),
        ("DELETE", "/api/downloads/{}"),
        ("GET", "/files/{}"),
        ("HEAD", "/files/{}"),
    ];
    for (method, template) in templates {
        for param in &params {
            let path = template.replace("{}", param);
            let (status, body) = send(&app, method, &path, "user_free").await;
            assert!(
                matches!(status, 400 | 404 | 414 | 431),
                "{method} {path}: {status} {body}"
            );
            if method != "HEAD" && status != 414 && status != 431 {
                let v: Value = serde_json::from_str(&body)
                    .unwrap_or_else(|_| panic!("{method} {path}: not JSON: {body}"));
                assert_eq!(v["success"], false, "{method} {path}: {body}");
                assert!(v["code"].is_string(), "{method} {path}: {body}");
            }
            for needle in ["passwd", "windows", "X-Injected", "OR '1'"] {
                assert!(
                    !body.contains(needle),
                    "{method} {path}: the answer echoes the input: {body}"
                );
            }
        }
    }
    // Another user's favorite by id: 404, never 403 (no existence oracle), untouched.
    let (status, _) = send(
        &app,
        "DELETE",
        &format!("/api/favorites/{their_fav}"),
        "user_free",
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused request changed something"
    );
}
