//! HTTP tests of the operators' account routes (SPEC §11) on both backends: looking users
//! up, changing plans and status, resetting today's count, the audit log, and the main
//! backend's signed `PUT /internal/users/{user_id}`, signed here by an independent
//! implementation (Python's `hmac`).

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use soundshelf_app::testing::*;
use soundshelf_store::Backend;

soundshelf_store::on_both_backends!(
    admins_look_up_and_change_users_and_every_change_is_audited,
    a_banned_user_is_refused_at_once_and_loses_live_links,
    todays_count_is_reset,
    a_grant_is_judged_by_the_user_as_stored_even_while_cached,
    the_internal_route_takes_only_signed_requests,
);

const INTERNAL_SECRET: &str = "an-internal-secret-of-at-least-32-bytes";

/// `X-Signature` for `body` at `t`, computed by Python's `hmac` (not the server's code).
fn python_signature(secret: &str, t: i64, body: &[u8]) -> Option<String> {
    let script = "import hmac, hashlib, sys\n\
        secret, t = sys.argv[1].encode(), sys.argv[2]\n\
        body = sys.stdin.buffer.read()\n\
        print('t=%s,v1=%s' % (t, hmac.new(secret, t.encode() + b'.' + body, hashlib.sha256).hexdigest()))";
    let mut child = match Command::new("python3")
        .args(["-c", script, secret, &t.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(_) => {
            soundshelf_store::testing::missing_tool("python3 (an independent HMAC)");
            return None;
        }
    };
    child.stdin.take().unwrap().write_all(body).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    Some(String::from_utf8(out.stdout).unwrap().trim().to_owned())
}

async fn patch(app: &TestApp, user: &str, target: &str, body: &Value) -> (u16, Value) {
    let res = app
        .client
        .patch(app.url(&format!("/api/admin/users/{target}")))
        .bearer_auth(token(user))
        .json(body)
        .send()
        .await
        .unwrap();
    read(res).await
}

async fn audit(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/api/admin/audit{query}"), "user_admin")
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

async fn admins_look_up_and_change_users_and_every_change_is_audited(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = app.get("/api/admin/users/user_free", "user_admin").await;
    assert_eq!(status, 200, "{body}");
    let d = &body["data"];
    assert_eq!(d["user"]["id"], "user_free");
    assert_eq!(d["user"]["subscription_type"], "free");
    assert_eq!(d["qualities"], json!(["standard", "high"]));
    assert_eq!(d["downloads"]["daily_limit"], 5);
    assert_eq!(d["storage"]["used_bytes"], 0);

    // Not an admin, a bad id, an unknown user.
    assert_error(
        &app.get("/api/admin/users/user_free", "user_vip").await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &patch(
            &app,
            "user_vip",
            "user_free",
            &json!({"subscription_type": "vip"}),
        )
        .await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &app.get("/api/admin/users/a.b", "user_admin").await,
        400,
        "INVALID_REQUEST",
    );
    assert_error(
        &app.get("/api/admin/users/nobody", "user_admin").await,
        404,
        "USER_NOT_FOUND",
    );
    for bad in [
        json!({}),
        json!({"subscription_type": "gold"}),
        json!({"status": "deleted"}),
        json!({"role": "root"}),
        json!({"has_premium_access": "yes"}),
        json!({"nickname": "x".repeat(65)}),
    ] {
        assert_error(
            &patch(&app, "user_admin", "user_free", &bad).await,
            400,
            "INVALID_REQUEST",
        );
    }
    // An admin cannot lock themselves out.
    for bad in [
        json!({"status": "disabled"}),
        json!({"status": "banned"}),
        json!({"role": "user"}),
    ] {
        assert_error(
            &patch(&app, "user_admin", "user_admin", &bad).await,
            400,
            "INVALID_REQUEST",
        );
    }
    assert_eq!(
        app.get("/api/admin/audit", "user_admin").await.0,
        200,
        "still an admin"
    );
    assert!(audit(&app, "").await.is_empty(), "refusals change nothing");

    // An upgrade takes effect at once: the next lossless grant passes.
    let (status, body) = patch(
        &app,
        "user_admin",
        "user_free",
        &json!({"subscription_type": "vip", "has_premium_access": true, "nickname": "小明"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["subscription_type"], "vip");
    assert_eq!(body["data"]["nickname"], "小明");
    assert_eq!(
        app.get(
            "/api/music/download-url/music_010?quality=lossless",
            "user_free"
        )
        .await
        .0,
        200
    );
    // The same change again changes nothing and records nothing.
    let (status, _) = patch(
        &app,
        "user_admin",
        "user_free",
        &json!({"subscription_type": "vip"}),
    )
    .await;
    assert_eq!(status, 200);

    let entries = audit(&app, "?user_id=user_free").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert!(e["id"].as_str().unwrap().starts_with("aud_"));
    assert_eq!(e["actor"], "user_admin");
    assert_eq!(e["action"], "user.update");
    assert_eq!(e["target"], "user:user_free");
    assert_eq!(e["before"]["subscription_type"], "free");
    assert_eq!(e["after"]["subscription_type"], "vip");
    assert_eq!(e["after"]["nickname"], "小明");
    assert!(e["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(audit(&app, "?user_id=user_vip").await.is_empty());
    assert_error(
        &app.get("/api/admin/audit", "user_vip").await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &app.get("/api/admin/audit?user_id=../x", "user_admin").await,
        400,
        "INVALID_REQUEST",
    );
}

async fn a_banned_user_is_refused_at_once_and_loses_live_links(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, grant) = app
        .get("/api/music/download-url/music_001", "user_trial")
        .await;
    assert_eq!(status, 200, "{grant}");
    let url = grant["data"]["download_url"].as_str().unwrap().to_owned();
    let path = &url[url.find("/files/").unwrap()..];
    // Warm the auth cache: the ban must not wait for it to expire.
    assert_eq!(app.get("/api/me", "user_trial").await.0, 200);

    let (status, body) = patch(
        &app,
        "user_admin",
        "user_trial",
        &json!({"status": "banned"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_error(
        &app.get("/api/me", "user_trial").await,
        403,
        "USER_INACTIVE",
    );
    assert_error(
        &app.get(path, "user_trial").await,
        410,
        "DOWNLOAD_LINK_EXPIRED",
    );
    let e = &audit(&app, "?user_id=user_trial").await[0];
    assert_eq!(
        (
            e["before"]["status"].as_str(),
            e["after"]["status"].as_str()
        ),
        (Some("active"), Some("banned"))
    );

    // Reactivated: the user is back at once; the revoked link stays revoked.
    let (status, _) = patch(
        &app,
        "user_admin",
        "user_trial",
        &json!({"status": "active"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(app.get("/api/me", "user_trial").await.0, 200);
    assert_error(
        &app.get(path, "user_trial").await,
        410,
        "DOWNLOAD_LINK_EXPIRED",
    );
    assert_eq!(audit(&app, "?user_id=user_trial").await.len(), 2);
}

async fn todays_count_is_reset(backend: Backend) {
    let app = spawn_app_with(backend, &[("RATE_LIMIT_DOWNLOADS_PER_MINUTE", "1000")]).await;
    for i in 1..=5 {
        let path = format!("/api/music/download-url/music_00{i}");
        assert_eq!(app.get(&path, "user_free").await.0, 200);
    }
    assert_error(
        &app.get("/api/music/download-url/music_006", "user_free")
            .await,
        403,
        "DAILY_LIMIT_REACHED",
    );
    let reset = |user: &'static str| {
        let app = &app;
        async move {
            let res = app
                .client
                .delete(app.url("/api/admin/users/user_free/quota/today"))
                .bearer_auth(token(user))
                .send()
                .await
                .unwrap();
            read(res).await
        }
    };
    assert_error(&reset("user_free").await, 403, "FORBIDDEN");
    let (status, body) = reset("user_admin").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["used_today_before"], 5);
    assert_eq!(
        app.get("/api/me", "user_free").await.1["data"]["downloads"]["used_today"],
        0
    );
    assert_eq!(
        app.get("/api/music/download-url/music_006", "user_free")
            .await
            .0,
        200
    );
    let entries = audit(&app, "?user_id=user_free").await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["action"], "quota.reset");
    assert_eq!(entries[0]["before"]["used_today"], 5);
    assert_eq!(entries[0]["after"]["used_today"], 0);
}

async fn send_internal(
    app: &TestApp,
    user: &str,
    body: &[u8],
    signature: Option<&str>,
) -> (u16, Value) {
    let mut req = app
        .client
        .put(app.url(&format!("/internal/users/{user}")))
        .header("content-type", "application/json")
        .body(body.to_vec());
    if let Some(s) = signature {
        req = req.header("X-Signature", s);
    }
    read(req.send().await.unwrap()).await
}

async fn the_internal_route_takes_only_signed_requests(backend: Backend) {
    let app = spawn_app_with(backend, &[("INTERNAL_API_SECRET", INTERNAL_SECRET)]).await;
    let body = br#"{"subscription_type":"vip","has_premium_access":true,"status":"active","nickname":"new"}"#;
    let t = now();
    let Some(good) = python_signature(INTERNAL_SECRET, t, body) else {
        return;
    };
    let (status, created) = send_internal(&app, "u_main_1", body, Some(&good)).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["data"]["id"], "u_main_1");
    assert_eq!(created["data"]["subscription_type"], "vip");
    assert_eq!(created["data"]["role"], "user");
    // The new user may use the API at once.
    assert_eq!(
        app.get(
            "/api/music/download-url/music_010?quality=lossless",
            "u_main_1"
        )
        .await
        .0,
        200
    );
    // A replay changes nothing more.
    let (status, again) = send_internal(&app, "u_main_1", body, Some(&good)).await;
    assert_eq!(status, 200);
    assert_eq!(again["data"], created["data"]);
    let entries = audit(&app, "?user_id=u_main_1").await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["actor"], "internal");
    assert_eq!(entries[0]["action"], "user.create");
    assert_eq!(entries[0]["before"], Value::Null);

    // Refused, each changing nothing.
    let down = br#"{"subscription_type":"free","has_premium_access":false,"status":"banned"}"#;
    let wrong_secret = python_signature("another-secret-of-at-least-32-bytes!!", t, down).unwrap();
    let mut flipped = down.to_vec();
    flipped[25] ^= 0x01;
    let signed_down = python_signature(INTERNAL_SECRET, t, down).unwrap();
    let stale = python_signature(INTERNAL_SECRET, t - 310, down).unwrap();
    let future = python_signature(INTERNAL_SECRET, t + 310, down).unwrap();
    let cases: Vec<(&str, &[u8], Option<&str>)> = vec![
        ("wrong secret", down, Some(&wrong_secret)),
        ("a changed byte", &flipped, Some(&signed_down)),
        ("stale", down, Some(&stale)),
        ("future", down, Some(&future)),
        ("missing header", down, None),
        ("malformed header", down, Some("v1=abc")),
        ("not hex", down, Some("t=1,v1=zz")),
    ];
    for (what, bytes, signature) in cases {
        let got = send_internal(&app, "u_main_1", bytes, signature).await;
        assert_eq!(got.0, 401, "{what}: {}", got.1);
        assert_error(&got, 401, "SIGNATURE_INVALID");
    }
    assert_eq!(audit(&app, "?user_id=u_main_1").await.len(), 1);
    assert_eq!(app.get("/api/me", "u_main_1").await.0, 200, "still active");

    // A signed, valid downgrade and ban: applied, audited, and the user is out at once.
    let (status, answer) = send_internal(&app, "u_main_1", down, Some(&signed_down)).await;
    assert_eq!(status, 200, "{answer}");
    assert_error(&app.get("/api/me", "u_main_1").await, 403, "USER_INACTIVE");
    assert_eq!(audit(&app, "?user_id=u_main_1").await.len(), 2);
    // A signed body that is not valid: 400, nothing applied.
    let bad = br#"{"subscription_type":"gold","has_premium_access":false,"status":"active"}"#;
    let signed_bad = python_signature(INTERNAL_SECRET, t, bad).unwrap();
    assert_error(
        &send_internal(&app, "u_main_1", bad, Some(&signed_bad)).await,
        400,
        "INVALID_REQUEST",
    );
    assert_eq!(audit(&app, "?user_id=u_main_1").await.len(), 2);

    // Without INTERNAL_API_SECRET the route does not exist.
    let plain = spawn_app(backend).await;
    assert_error(
        &send_internal(&plain, "u_main_1", body, Some(&good)).await,
        404,
        "NOT_FOUND",
    );
}

/// SPEC §11 "plans in force": a grant is judged by the user as stored at that moment,
/// even when the user changed outside the server (SQL) and this instance still caches the
/// old state for the other routes.
async fn a_grant_is_judged_by_the_user_as_stored_even_while_cached(backend: Backend) {
    let app = spawn_app_with(backend, &[("AUTH_CACHE_TTL", "30s")]).await;
    assert_eq!(app.get("/api/me", "user_free").await.0, 200, "cached");
    soundshelf_store::testing::execute_sql(
        &app.db.config,
        "UPDATE users SET subscription_type = 'vip' WHERE id = 'user_free'",
    )
    .await;
    let lossless = "/api/music/download-url/music_002?quality=lossless";
    assert_eq!(
        app.get(lossless, "user_free").await.0,
        200,
        "an upgrade counts at once"
    );
    soundshelf_store::testing::execute_sql(
        &app.db.config,
        "UPDATE users SET status = 'banned' WHERE id = 'user_free'",
    )
    .await;
    assert_eq!(app.get("/api/me", "user_free").await.0, 200, "still cached");
    assert_error(
        &app.get("/api/music/download-url/music_003", "user_free")
            .await,
        403,
        "USER_INACTIVE",
    );
}
