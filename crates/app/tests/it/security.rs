//! Attacks, each refused in the envelope without changing anything: hostile path
//! parameters (traversal in plain and encoded spellings, NUL bytes, other users' ids,
//! oversized ids), forged tokens, header injection through titles, oversized and deeply
//! nested JSON, and slow clients. docs/security.md maps each defence to its test.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
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
        ("GET", "/api/music/{}"),
        ("GET", "/api/music?ids={}"),
        ("DELETE", "/api/downloads/{}"),
        ("GET", "/files/{}"),
        ("HEAD", "/files/{}"),
    ];
    for (method, template) in templates {
        for param in &params {
            let path = template.replace("{}", param);
            let (status, body) = send(&app, method, &path, "user_free").await;
            if status == 200 && template.contains("ids=") {
                // A well-formed id nobody catalogued (the favorite's id) is left out.
                assert_eq!(param, &their_fav);
                assert_eq!(body, r#"{"success":true,"data":[]}"#);
                continue;
            }
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
    // Another user's item: user_free has no music_002, user_vip has; user_vip keeps it.
    let (status, body) = send(
        &app,
        "DELETE",
        "/api/favorites/items/music_002",
        "user_free",
    )
    .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(
        snapshot(&app).await,
        before,
        "a refused request changed something"
    );
}

soundshelf_store::on_both_backends!(another_users_download_record_is_not_found_and_untouched);

async fn another_users_download_record_is_not_found_and_untouched(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, _) = app
        .get("/api/music/download-url/music_001", "user_vip")
        .await;
    assert_eq!(status, 200);
    let (_, records) = app.get("/api/downloads", "user_vip").await;
    let theirs = records["data"][0]["id"].as_str().unwrap().to_owned();
    let before = snapshot(&app).await;
    for user in ["user_free", "user_premium", "user_admin"] {
        let (status, body) = send(&app, "DELETE", &format!("/api/downloads/{theirs}"), user).await;
        assert_eq!(status, 404, "{user}: {body}");
        assert!(body.contains("DOWNLOAD_NOT_FOUND"), "{body}");
    }
    // A user_id naming someone else is refused, never followed.
    let (status, _) = app
        .get("/api/downloads?user_id=user_vip", "user_free")
        .await;
    assert_eq!(status, 403);
    let (status, _) = app
        .get("/api/favorites?user_id=user_vip", "user_free")
        .await;
    assert_eq!(status, 403);
    assert_eq!(snapshot(&app).await, before);
}

/// Tokens made to get past the check: each is 401 in the envelope, and none lets its
/// bearer read anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_tokens_are_refused() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let app = spawn_app(Backend::Sqlite).await;
    let exp = now() + 3600;
    let good = sign(
        json!({"sub": "user_free", "exp": exp}),
        SECRET,
        Algorithm::HS256,
    );
    let parts: Vec<&str> = good.split('.').collect();
    let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());

    let mut forged: Vec<(&str, String)> = vec![
        // The payload changed to another user, the signature kept.
        (
            "tampered subject",
            format!(
                "{}.{}.{}",
                parts[0],
                b64(json!({"sub": "user_admin", "exp": exp})),
                parts[2]
            ),
        ),
        // The payload changed to live longer, the signature kept.
        (
            "tampered expiry",
            format!(
                "{}.{}.{}",
                parts[0],
                b64(json!({"sub": "user_free", "exp": exp + 999_999})),
                parts[2]
            ),
        ),
        // Algorithm confusion: the header claims RS256 (the secret taken as a public key).
        (
            "RS256 header over an HMAC signature",
            format!(
                "{}.{}.{}",
                b64(json!({"alg": "RS256", "typ": "JWT"})),
                parts[1],
                parts[2]
            ),
        ),
        (
            "alg None",
            format!("{}.{}.", b64(json!({"alg": "None"})), parts[1]),
        ),
        (
            "alg nOnE",
            format!("{}.{}.", b64(json!({"alg": "nOnE"})), parts[1]),
        ),
        (
            "alg none, signature kept",
            format!("{}.{}.{}", b64(json!({"alg": "none"})), parts[1], parts[2]),
        ),
        ("no signature", format!("{}.{}", parts[0], parts[1])),
        ("extra part", format!("{good}.{}", parts[2])),
        (
            "signature of another token",
            format!("{}.{}.{}", parts[0], parts[1], "A".repeat(43)),
        ),
        (
            "kid and jku pointing elsewhere",
            sign_with_header(json!({"sub": "user_free", "exp": exp})),
        ),
        (
            "8 KB token",
            format!("{}.{}.{}", parts[0], "A".repeat(8 * 1024), parts[2]),
        ),
    ];
    forged.push((
        "sub as an object",
        sign(
            json!({"sub": {"$ne": ""}, "exp": exp}),
            SECRET,
            Algorithm::HS256,
        ),
    ));
    forged.push((
        "exp as text",
        sign(
            json!({"sub": "user_free", "exp": "never"}),
            SECRET,
            Algorithm::HS256,
        ),
    ));
    for (what, token) in forged {
        let got = app.get_with_token("/api/favorites", &token).await;
        assert_eq!(got.0, 401, "{what}: {}", got.1);
        assert_eq!(got.1["success"], false, "{what}");
        assert!(
            matches!(
                got.1["code"].as_str(),
                Some("TOKEN_INVALID" | "MISSING_TOKEN")
            ),
            "{what}: {}",
            got.1
        );
    }
    // A header far beyond any token: refused before it is read, and the server goes on.
    let huge = format!("Bearer {}", "A".repeat(256 * 1024));
    let res = app
        .client
        .get(app.url("/api/favorites"))
        .header("Authorization", huge)
        .send()
        .await;
    if let Ok(res) = res {
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    // On a new connection: the pooled one may be the one the server just closed.
    let after = soundshelf_outbound::http::client()
        .get(app.url("/api/favorites"))
        .bearer_auth(token("user_free"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), 200);
}

/// A token whose header names a key id and a key URL: the server has one key and
/// fetches nothing, so this is an ordinary good token if the signature is right, and the
/// test checks that a wrong signature with such a header is refused.
fn sign_with_header(claims: Value) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = URL_SAFE_NO_PAD.encode(
        json!({"alg": "HS256", "kid": "../../dev/null", "jku": "http://127.0.0.1:1/keys"})
            .to_string(),
    );
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    // Signed with an empty key, as a /dev/null key file would give.
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"");
    let sig = ring::hmac::sign(&key, format!("{header}.{payload}").as_bytes());
    format!(
        "{header}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(sig.as_ref())
    )
}

/// A catalogue title with quotes, CR LF and a path goes into the download's file name:
/// it must not add a header, break out of the parameter, or name a path.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn titles_cannot_inject_headers_through_content_disposition() {
    let app = spawn_app(Backend::Sqlite).await;
    let title = "x\"; filename=\"../../etc/passwd\"\r\nSet-Cookie: session=stolen\r\n\r\n<script>";
    soundshelf_store::testing::execute_sql(
        &app.db.config,
        &format!(
            "UPDATE music_files SET title = '{}' WHERE id = 'music_001'",
            title.replace('\'', "''")
        ),
    )
    .await;
    let (status, grant) = app
        .get("/api/music/download-url/music_001", "user_vip")
        .await;
    assert_eq!(status, 200, "{grant}");
    let url = grant["data"]["download_url"].as_str().unwrap();
    let path = &url[url.find("/files/").unwrap()..];
    let res = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(!res.headers().contains_key("set-cookie"));
    let all: Vec<_> = res
        .headers()
        .get_all("content-disposition")
        .iter()
        .collect();
    assert_eq!(all.len(), 1);
    let disposition = all[0].to_str().unwrap();
    assert!(!disposition.contains('\r') && !disposition.contains('\n'));
    // The plain file name is the object key's; the title only travels percent-encoded.
    assert!(
        disposition.starts_with("attachment; filename=\"music_001_128k.mp3\"; filename*=UTF-8''"),
        "{disposition}"
    );
    assert!(!disposition.contains("../"), "{disposition}");
    let encoded = disposition.split("filename*=UTF-8''").nth(1).unwrap();
    // Nothing that could end the parameter, start another or name a folder survives
    // unencoded. (`=` does: the HTTP library leaves it as is, which RFC 8187 does not
    // list among plain characters but which cannot break out of the value.)
    assert!(
        !encoded.bytes().any(|b| b";\"' \\/\r\n,".contains(&b)),
        "{encoded}"
    );
    assert!(encoded.starts_with("x%22%3B%20filename"), "{encoded}");
}

/// Bodies too big or too deep: 413 or 400 in the envelope, nothing stored, and the
/// server keeps answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_and_deeply_nested_json_is_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    let post = |body: Vec<u8>| {
        app.client
            .post(app.url("/api/favorites"))
            .bearer_auth(token("user_free"))
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    // 1 MiB of a valid favorite's padding.
    let padding = "a".repeat(1024 * 1024);
    let big = json!({"item_id": "music_001", "item_type": "music",
                     "item_data": {"title": "t", "cover": "c", "duration": 1, "pad": padding}});
    let res = post(serde_json::to_vec(&big).unwrap()).await.unwrap();
    assert_error(&read(res).await, 413, "PAYLOAD_TOO_LARGE");
    // A body that says it is small and is not.
    let res = app
        .client
        .put(app.url("/api/favorites/sync"))
        .bearer_auth(token("user_free"))
        .header("Content-Type", "application/json")
        .body(vec![b' '; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert_error(&read(res).await, 413, "PAYLOAD_TOO_LARGE");
    // Nesting deeper than the parser allows, inside the size limit: in metadata, and as
    // the whole body.
    let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let nested = format!(
        "{{\"item_id\":\"music_001\",\"item_type\":\"music\",\"item_data\":{{\"title\":\"t\",\"cover\":\"c\",\"duration\":1,\"metadata\":{{\"x\":{}}}}}}}",
        deep(10_000)
    );
    let res = post(nested.into_bytes()).await.unwrap();
    assert_error(&read(res).await, 400, "INVALID_REQUEST");
    let res = post(deep(30_000).into_bytes()).await.unwrap();
    assert_error(&read(res).await, 400, "INVALID_REQUEST");
    let objects = format!("{}{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let res = app
        .client
        .put(app.url("/api/favorites/sync"))
        .bearer_auth(token("user_free"))
        .header("Content-Type", "application/json")
        .body(objects)
        .send()
        .await
        .unwrap();
    assert_error(&read(res).await, 400, "INVALID_REQUEST");
    let (status, list) = app.get("/api/favorites", "user_free").await;
    assert_eq!((status, list["total"].as_u64()), (200, Some(0)));
}

/// Slow clients: a request head that never ends, and a body sent a byte at a time, are
/// cut off at the configured timeouts, and the server serves others meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_at_the_configured_timeouts() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(
        Backend::Sqlite,
        &[
            ("HTTP_HEADER_TIMEOUT", "1s"),
            ("HTTP_REQUEST_TIMEOUT", "2s"),
        ],
    )
    .await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    // A head that never ends.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /api/favorites HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    assert_eq!(app.get("/api/favorites", "user_free").await.0, 200);
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the connection was not closed");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "{took:?}");
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );

    // A body sent a byte a second.
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = serde_json::to_vec(&item("music_001", "slow")).unwrap();
    let head = format!(
        "POST /api/favorites HTTP/1.1\r\nHost: x\r\nX-Request-Id: slow-add-1\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        token("user_free"),
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let dribble = async {
        for b in &body {
            if slow.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(4), dribble).await;
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(2), slow.read(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("REQUEST_TIMEOUT"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("x-request-id: slow-add-1"),
        "a timed-out request keeps its id: {text}"
    );
    assert!(started.elapsed() < Duration::from_secs(7));
    let (status, list) = app.get("/api/favorites", "user_free").await;
    assert_eq!(
        (status, list["total"].as_u64()),
        (200, Some(0)),
        "the slow add was not stored"
    );
}
