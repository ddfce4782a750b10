//! Redemption with a CDN backend: every check and count as on local storage, then a 302
//! to exactly the URL the vendor's signer makes for the object and expiry.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use serde_json::Value;
use soundshelf_app::testing::*;
use soundshelf_signers::Method;
use soundshelf_signers::oss::{OssCredentials, OssTarget, V4Extras, presign_v1, presign_v4};
use soundshelf_signers::qiniu::QiniuSigner;
use soundshelf_store::Backend;
use soundshelf_store::testing::{execute_sql, query_text};
use time::OffsetDateTime;

const QINIU: &[(&str, &str)] = &[
    ("STORAGE_BACKEND", "qiniu"),
    ("QINIU_ACCESS_KEY", "qiniu-ak"),
    ("QINIU_SECRET_KEY", "qiniu-sk-0123456789"),
    ("QINIU_BUCKET", "soundshelf"),
    ("QINIU_DOMAIN", "https://cdn.example.com"),
    ("DOWNLOAD_REDIRECT_TTL", "120s"),
];

fn oss(version: &'static str) -> Vec<(&'static str, &'static str)> {
    vec![
        ("STORAGE_BACKEND", "oss"),
        ("OSS_REGION", "oss-cn-hangzhou"),
        ("OSS_ACCESS_KEY_ID", "oss-ak"),
        ("OSS_ACCESS_KEY_SECRET", "oss-secret"),
        ("OSS_BUCKET", "soundshelf-audio"),
        ("OSS_SIGNATURE_VERSION", version),
        ("DOWNLOAD_REDIRECT_TTL", "120s"),
    ]
}

fn no_redirects() -> reqwest::Client {
    soundshelf_outbound::http::client_builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Grants `music_001` standard for `user_free` and returns the `/files/…` path.
async fn grant(app: &TestApp) -> String {
    let (status, body) = app
        .get(
            "/api/music/download-url/music_001?quality=standard",
            "user_free",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let url = body["data"]["download_url"].as_str().unwrap();
    url[url.find("/files/").unwrap()..].to_owned()
}

fn query_value<'a>(url: &'a str, name: &str) -> &'a str {
    url.split_once('?')
        .unwrap()
        .1
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap()
}

const KEY: &str = "music/music_001_128k.mp3";

/// Redeems `path` (GET or HEAD) and returns the status and `Location`.
async fn redeem(app: &TestApp, path: &str, head: bool) -> (u16, Option<String>, Value) {
    let client = no_redirects();
    let req = if head {
        client.head(app.url(path))
    } else {
        client.get(app.url(path))
    };
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.json().await.unwrap_or(Value::Null);
    (status, location, body)
}

/// Checks the uses, the logs, and expiry, whatever the backend.
async fn counts_logs_and_expiry(app: &TestApp, path: &str) {
    // Uses 2 and 3, then no more redirects.
    for _ in 0..2 {
        assert_eq!(redeem(app, path, false).await.0, 302);
    }
    let (status, location, body) = redeem(app, path, false).await;
    assert_eq!(
        (status, location, body["code"].clone()),
        (410, None, "DOWNLOAD_USES_EXCEEDED".into())
    );
    let logs = query_text(
        &app.db.config,
        "SELECT CAST(COUNT(*) AS CHAR) AS value FROM download_logs",
    )
    .await;
    assert_eq!(
        logs.as_deref(),
        Some("5"),
        "every attempt is logged (HEAD included)"
    );
    execute_sql(
        &app.db.config,
        "UPDATE download_tokens SET expires_at = '2000-01-01 00:00:00'",
    )
    .await;
    let (status, location, _) = redeem(app, path, true).await;
    assert_eq!(
        (status, location),
        (410, None),
        "an expired token never redirects"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qiniu_redirects_to_the_signed_url() {
    let app = spawn_app_with(Backend::Sqlite, QINIU).await;
    let path = grant(&app).await;
    let (status, location, _) = redeem(&app, &path, false).await;
    assert_eq!(status, 302);
    let location = location.unwrap();
    let deadline: i64 = query_value(&location, "e").parse().unwrap();
    let left = deadline - OffsetDateTime::now_utc().unix_timestamp();
    assert!(
        (110..=121).contains(&left),
        "DOWNLOAD_REDIRECT_TTL, got {left}"
    );
    let signer = QiniuSigner::new("qiniu-ak", "qiniu-sk-0123456789", "https://cdn.example.com");
    assert_eq!(location, signer.object_url(KEY, None, deadline));
    // HEAD redirects too, and uses nothing.
    assert_eq!(redeem(&app, &path, true).await.0, 302);
    counts_logs_and_expiry(&app, &path).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oss_v4_redirects_to_the_presigned_url() {
    let app = spawn_app_with(Backend::Sqlite, &oss("v4")).await;
    let path = grant(&app).await;
    let credentials = OssCredentials {
        access_key_id: "oss-ak".into(),
        access_key_secret: "oss-secret".into(),
    };
    let target = OssTarget::new(
        "https://soundshelf-audio.oss-cn-hangzhou.aliyuncs.com",
        "soundshelf-audio",
        "oss-cn-hangzhou",
    );
    for (head, method) in [(false, Method::Get), (true, Method::Head)] {
        let (status, location, _) = redeem(&app, &path, head).await;
        assert_eq!(status, 302);
        let location = location.unwrap();
        let date = query_value(&location, "x-oss-date");
        let signed_at = time::PrimitiveDateTime::parse(
            date,
            time::macros::format_description!("[year][month][day]T[hour][minute][second]Z"),
        )
        .unwrap()
        .assume_utc();
        let expires: i64 = query_value(&location, "x-oss-expires").parse().unwrap();
        assert_eq!(expires, 120);
        let expected = presign_v4(
            &credentials,
            &target,
            method,
            KEY,
            signed_at,
            expires,
            &V4Extras::default(),
        );
        assert_eq!(location, expected);
    }
    counts_logs_and_expiry(&app, &path).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oss_v1_redirects_to_the_presigned_url() {
    let app = spawn_app_with(Backend::Mysql, &oss("v1")).await;
    let path = grant(&app).await;
    let (status, location, _) = redeem(&app, &path, false).await;
    assert_eq!(status, 302);
    let location = location.unwrap();
    let expires: i64 = query_value(&location, "Expires").parse().unwrap();
    let credentials = OssCredentials {
        access_key_id: "oss-ak".into(),
        access_key_secret: "oss-secret".into(),
    };
    let target = OssTarget::new(
        "https://soundshelf-audio.oss-cn-hangzhou.aliyuncs.com",
        "soundshelf-audio",
        "oss-cn-hangzhou",
    );
    assert_eq!(
        location,
        presign_v1(&credentials, &target, Method::Get, KEY, expires, &[])
    );
    assert_eq!(redeem(&app, &path, true).await.0, 302);
    counts_logs_and_expiry(&app, &path).await;
}
