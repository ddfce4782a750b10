//! HTTP tests of the operators' catalogue (SPEC §11) on both backends: a track created
//! with three assets, granted and redeemed, retired (new grants 404, live links 410,
//! records keep the title) and put back, every change audited once.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use serde_json::{Value, json};
use soundshelf_app::testing::*;
use soundshelf_store::Backend;
use soundshelf_store::demo;

soundshelf_store::on_both_backends!(
    a_catalogue_change_is_seen_here_at_once_and_on_another_instance_within_5_s,
    a_track_is_created_granted_retired_and_put_back_through_the_api,
    catalogue_changes_are_validated_and_for_admins_only,
);

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    user: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let mut req = app
        .client
        .request(method.parse().unwrap(), app.url(path))
        .bearer_auth(token(user));
    if let Some(body) = body {
        req = req.json(body);
    }
    read(req.send().await.unwrap()).await
}

/// A track whose three files are the demo objects of music_001 (already in storage).
fn track_body(title: &str) -> Value {
    let assets: Vec<Value> = demo::assets()
        .into_iter()
        .filter(|a| a.music_id == "music_001")
        .map(|a| json!({"quality": a.quality.as_str(), "object_key": a.object_key, "file_size": a.file_size}))
        .collect();
    json!({"title": title, "cover": "/images/new.jpg", "duration": 360, "category": "冥想",
           "premium_required": false, "assets": assets})
}

async fn audit_of(app: &TestApp, target: &str) -> Vec<Value> {
    let (status, body) = app.get("/api/admin/audit?limit=100", "user_admin").await;
    assert_eq!(status, 200, "{body}");
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == target)
        .cloned()
        .collect()
}

async fn a_track_is_created_granted_retired_and_put_back_through_the_api(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = send(
        &app,
        "PUT",
        "/api/admin/music/new_track",
        "user_admin",
        Some(&track_body("新曲目")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["id"], "new_track");
    assert_eq!(body["data"]["retired"], false);
    assert_eq!(body["data"]["assets"].as_array().unwrap().len(), 3);
    // Listed, found by a search, shown to clients.
    let (_, list) = app.get("/api/admin/music?search=新曲", "user_admin").await;
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["data"][0]["id"], "new_track");
    assert_eq!(app.get("/api/music/new_track", "user_vip").await.0, 200);

    // Granted and redeemed.
    let (status, grant) = app
        .get("/api/music/download-url/new_track?quality=high", "user_vip")
        .await;
    assert_eq!(status, 200, "{grant}");
    let url = grant["data"]["download_url"].as_str().unwrap();
    let path = url[url.find("/files/").unwrap()..].to_owned();
    let res = app
        .client
        .get(app.url(&path))
        .header("Range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 206);
    assert_eq!(res.bytes().await.unwrap().len(), 10);

    app.add("user_vip", "new_track", "新曲目").await;

    // Retired: new grants 404, the live link 410, the record and the favorite keep
    // their titles.
    let (status, body) = send(
        &app,
        "DELETE",
        "/api/admin/music/new_track",
        "user_admin",
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["retired"], true);
    assert_error(
        &app.get("/api/music/download-url/new_track?quality=high", "user_vip")
            .await,
        404,
        "MUSIC_NOT_FOUND",
    );
    assert_error(
        &app.get(&path, "user_vip").await,
        410,
        "DOWNLOAD_LINK_EXPIRED",
    );
    assert_error(
        &app.get("/api/music/new_track", "user_vip").await,
        404,
        "MUSIC_NOT_FOUND",
    );
    let (_, records) = app.get("/api/downloads", "user_vip").await;
    let record = records["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["music_id"] == "new_track")
        .unwrap()
        .clone();
    assert_eq!(record["music_info"]["title"], "新曲目");
    let (_, favorites) = app.get("/api/favorites", "user_vip").await;
    let favorite = favorites["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["item_id"] == "new_track")
        .unwrap()
        .clone();
    assert_eq!(favorite["item_data"]["title"], "新曲目");
    let (_, list) = app.get("/api/admin/music?search=新曲", "user_admin").await;
    assert_eq!(list["data"][0]["retired"], true, "listed, flagged");
    // Retiring again changes nothing.
    assert_eq!(
        send(
            &app,
            "DELETE",
            "/api/admin/music/new_track",
            "user_admin",
            None
        )
        .await
        .0,
        200
    );

    // Put back: live again, grants work; the old link stays expired.
    let (status, body) = send(
        &app,
        "PUT",
        "/api/admin/music/new_track",
        "user_admin",
        Some(&track_body("新曲目")),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["retired"], false);
    assert_eq!(
        app.get("/api/music/download-url/new_track?quality=high", "user_vip")
            .await
            .0,
        200
    );
    assert_error(
        &app.get(&path, "user_vip").await,
        410,
        "DOWNLOAD_LINK_EXPIRED",
    );
    // The same put again records nothing.
    assert_eq!(
        send(
            &app,
            "PUT",
            "/api/admin/music/new_track",
            "user_admin",
            Some(&track_body("新曲目"))
        )
        .await
        .0,
        200
    );

    let entries = audit_of(&app, "music:new_track").await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["music.put", "music.retire", "music.put"],
        "newest first"
    );
    assert_eq!(entries[2]["before"], Value::Null, "created");
    assert_eq!(entries[1]["after"]["retired"], true);
    assert_eq!(entries[0]["before"]["retired"], true);
    assert!(entries.iter().all(|e| e["actor"] == "user_admin"));
}

async fn catalogue_changes_are_validated_and_for_admins_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let good = track_body("t");
    assert_error(
        &send(&app, "PUT", "/api/admin/music/x1", "user_vip", Some(&good)).await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &send(
            &app,
            "DELETE",
            "/api/admin/music/music_001",
            "user_vip",
            None,
        )
        .await,
        403,
        "FORBIDDEN",
    );
    assert_error(
        &app.get("/api/admin/music", "user_vip").await,
        403,
        "FORBIDDEN",
    );
    let with = |f: &dyn Fn(&mut Value)| {
        let mut b = good.clone();
        f(&mut b);
        b
    };
    let cases: Vec<(&str, Value)> = vec![
        (
            "no title",
            with(&|b| {
                b.as_object_mut().unwrap().remove("title");
            }),
        ),
        ("blank title", with(&|b| b["title"] = json!("  "))),
        ("long title", with(&|b| b["title"] = json!("t".repeat(201)))),
        ("negative duration", with(&|b| b["duration"] = json!(-1))),
        (
            "premium not a bool",
            with(&|b| b["premium_required"] = json!("no")),
        ),
        (
            "no assets",
            with(&|b| {
                b.as_object_mut().unwrap().remove("assets");
            }),
        ),
        (
            "zero size",
            with(&|b| b["assets"][0]["file_size"] = json!(0)),
        ),
        (
            "dot-dot key",
            with(&|b| b["assets"][0]["object_key"] = json!("music/../../etc/passwd")),
        ),
        (
            "absolute key",
            with(&|b| b["assets"][0]["object_key"] = json!("/etc/passwd")),
        ),
        (
            "backslash key",
            with(&|b| b["assets"][0]["object_key"] = json!("\\x")),
        ),
        (
            "space in key",
            with(&|b| b["assets"][0]["object_key"] = json!("a b")),
        ),
        (
            "bad quality",
            with(&|b| b["assets"][0]["quality"] = json!("ultra")),
        ),
        (
            "two of a quality",
            with(&|b| b["assets"][1]["quality"] = b["assets"][0]["quality"].clone()),
        ),
    ];
    for (what, body) in cases {
        let got = send(
            &app,
            "PUT",
            "/api/admin/music/x1",
            "user_admin",
            Some(&body),
        )
        .await;
        assert_eq!(got.0, 400, "{what}: {}", got.1);
        assert_error(&got, 400, "INVALID_REQUEST");
    }
    for bad in ["a.b", "a%2Fb", &"a".repeat(37)] {
        assert_error(
            &send(
                &app,
                "PUT",
                &format!("/api/admin/music/{bad}"),
                "user_admin",
                Some(&good),
            )
            .await,
            400,
            "INVALID_REQUEST",
        );
        assert_error(
            &send(
                &app,
                "DELETE",
                &format!("/api/admin/music/{bad}"),
                "user_admin",
                None,
            )
            .await,
            400,
            "INVALID_REQUEST",
        );
    }
    assert_error(
        &send(
            &app,
            "DELETE",
            "/api/admin/music/nothing_here",
            "user_admin",
            None,
        )
        .await,
        404,
        "MUSIC_NOT_FOUND",
    );
    assert_eq!(
        app.get("/api/music/x1", "user_vip").await.0,
        404,
        "nothing was created"
    );
    assert!(audit_of(&app, "music:x1").await.is_empty());
    // Paging: every demo track once.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = app
            .get(&format!("/api/admin/music?limit=5{cursor}"), "user_admin")
            .await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen.len(), 12);
    seen.dedup();
    assert_eq!(seen.len(), 12);
}

/// Grants read the catalogue through a 5-second in-process cache: the instance that
/// retires a track refuses its grants at once, another instance (its cache warm) within
/// 5 s; putting it back is seen the same way.
async fn a_catalogue_change_is_seen_here_at_once_and_on_another_instance_within_5_s(
    backend: Backend,
) {
    let a = spawn_app(backend).await;
    let b = a.another_instance().await;
    let grant = "/api/music/download-url/music_004?quality=standard";
    // Warm both caches.
    assert_eq!(a.get("/api/music/music_004", "user_vip").await.0, 200);
    assert_eq!(b.get("/api/music/music_004", "user_vip").await.0, 200);

    let started = std::time::Instant::now();
    let (status, _) = a.delete("/api/admin/music/music_004", "user_admin").await;
    assert_eq!(status, 200);
    assert_error(&a.get(grant, "user_vip").await, 404, "MUSIC_NOT_FOUND");
    loop {
        let (status, _) = b.get("/api/music/music_004", "user_vip").await;
        if status == 404 {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_millis(5_500),
            "another instance still shows a retired track after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_error(&b.get(grant, "user_vip").await, 404, "MUSIC_NOT_FOUND");
}
