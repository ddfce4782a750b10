//! HTTP tests of the real app, bound to port 0 over a fresh database: every status code
//! and code of SPEC §2 and §3 (sync aside), on SQLite and on MariaDB/MySQL.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::collections::HashSet;

use jsonwebtoken::Algorithm;
use serde_json::{Value, json};
use soundshelf_app::testing::*;
use soundshelf_domain::{UserId, UserStatus};
use soundshelf_store::Backend;

soundshelf_store::on_both_backends!(
    health_and_unknown_routes_are_enveloped,
    tokens_are_checked,
    users_must_exist_and_be_active,
    user_id_from_the_client_is_never_obeyed,
    add_returns_the_favorite_and_refuses_duplicates,
    add_validates_every_field,
    bodies_are_checked,
    delete_by_id_is_owner_only,
    delete_by_item,
    list_validates_its_query,
    list_filters_searches_and_counts,
    cjk_and_emoji_titles_round_trip_and_are_found,
    cursor_paging_returns_each_item_once_while_items_are_added,
    etag_and_if_none_match,
    contains_checks_its_ids,
    stored_corruption_is_an_opaque_500,
);

async fn health_and_unknown_routes_are_enveloped(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.client.get(app.url("/health")).send().await.unwrap();
    let (status, body) = read(res).await;
    assert_eq!(
        (status, body),
        (200, json!({"success": true, "data": {"status": "ok"}}))
    );

    let res = app
        .client
        .get(app.url("/no/such/route"))
        .send()
        .await
        .unwrap();
    assert_error(&read(res).await, 404, "NOT_FOUND");
    let res = app.client.post(app.url("/health")).send().await.unwrap();
    assert_error(&read(res).await, 405, "METHOD_NOT_ALLOWED");
    let res = app
        .client
        .put(app.url("/api/favorites"))
        .bearer_auth(token("user_free"))
        .send()
        .await
        .unwrap();
    assert_error(&read(res).await, 405, "METHOD_NOT_ALLOWED");
}

async fn tokens_are_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    let path = "/api/favorites";

    let res = app.client.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    assert_error(&read(res).await, 401, "MISSING_TOKEN");
    let res = app
        .client
        .get(app.url(path))
        .header("Authorization", "Basic dXNlcjpwdw==")
        .send()
        .await
        .unwrap();
    assert_error(&read(res).await, 401, "MISSING_TOKEN");
    let res = app
        .client
        .get(app.url(path))
        .header("Authorization", "Bearer ")
        .send()
        .await
        .unwrap();
    assert_error(&read(res).await, 401, "MISSING_TOKEN");

    let exp = now() + 3600;
    let cases: Vec<(&str, String, &str)> = vec![
        ("garbage", "not.a.jwt".into(), "TOKEN_INVALID"),
        (
            "alg none",
            unsigned(json!({"sub": "user_free", "exp": exp})),
            "TOKEN_INVALID",
        ),
        (
            "wrong secret",
            sign(
                json!({"sub": "user_free", "exp": exp}),
                "another-secret-0123456789-abcdefghij",
                Algorithm::HS256,
            ),
            "TOKEN_INVALID",
        ),
        (
            "other algorithm",
            sign(
                json!({"sub": "user_free", "exp": exp}),
                SECRET,
                Algorithm::HS512,
            ),
            "TOKEN_INVALID",
        ),
        (
            "expired",
            sign(
                json!({"sub": "user_free", "exp": now() - 10}),
                SECRET,
                Algorithm::HS256,
            ),
            "TOKEN_EXPIRED",
        ),
        (
            "missing exp",
            sign(json!({"sub": "user_free"}), SECRET, Algorithm::HS256),
            "TOKEN_INVALID",
        ),
        (
            "no subject",
            sign(json!({"exp": exp}), SECRET, Algorithm::HS256),
            "TOKEN_INVALID",
        ),
        (
            "unknown user",
            sign(
                json!({"sub": "user_nobody", "exp": exp}),
                SECRET,
                Algorithm::HS256,
            ),
            "TOKEN_INVALID",
        ),
        (
            "subject that is no id",
            sign(
                json!({"sub": "../user_free", "exp": exp}),
                SECRET,
                Algorithm::HS256,
            ),
            "TOKEN_INVALID",
        ),
    ];
    for (what, token, code) in cases {
        let got = app.get_with_token(path, &token).await;
        assert_eq!(got.1["code"], code, "{what}: {}", got.1);
        assert_error(&got, 401, code);
    }

    // Claim `id` is accepted, and `sub` wins when both are present.
    let by_id = sign(
        json!({"id": "user_vip", "exp": exp}),
        SECRET,
        Algorithm::HS256,
    );
    assert_eq!(app.get_with_token(path, &by_id).await.0, 200);
    app.add("user_vip", "music_001", "vip's").await;
    let both = sign(
        json!({"sub": "user_free", "id": "user_vip", "exp": exp}),
        SECRET,
        Algorithm::HS256,
    );
    let (status, body) = app.get_with_token(path, &both).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["total"], 0,
        "the list of user_free, not user_vip: {body}"
    );
}

async fn users_must_exist_and_be_active(backend: Backend) {
    let app = spawn_app_with(backend, &[("AUTH_CACHE_TTL", "0s")]).await;
    assert_error(
        &app.get("/api/favorites", "user_disabled").await,
        403,
        "USER_INACTIVE",
    );
    assert_eq!(app.get("/api/favorites", "user_trial").await.0, 200);
    let id = UserId::parse("user_trial").unwrap();
    app.store
        .set_user_status(&id, UserStatus::Banned)
        .await
        .unwrap();
    assert_error(
        &app.get("/api/favorites", "user_trial").await,
        403,
        "USER_INACTIVE",
    );
    let (status, _) = app
        .post("/api/favorites", "user_trial", &item("m1", "t"))
        .await;
    assert_eq!(status, 403);
    app.store
        .set_user_status(&id, UserStatus::Active)
        .await
        .unwrap();
    assert_eq!(app.get("/api/favorites", "user_trial").await.0, 200);
}

async fn user_id_from_the_client_is_never_obeyed(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add("user_vip", "music_001", "vip's").await;
    for path in [
        "/api/favorites?user_id=user_vip",
        "/api/favorites/contains?item_ids=music_001&user_id=user_vip",
    ] {
        assert_error(&app.get(path, "user_free").await, 403, "FORBIDDEN");
    }
    let mut body = item("music_002", "t");
    body["user_id"] = json!("user_vip");
    assert_error(
        &app.post("/api/favorites", "user_free", &body).await,
        403,
        "FORBIDDEN",
    );
    // Nothing was written for either user.
    assert_eq!(app.get("/api/favorites", "user_vip").await.1["total"], 1);
    assert_eq!(app.get("/api/favorites", "user_free").await.1["total"], 0);
    // The caller's own id is fine.
    body["user_id"] = json!("user_free");
    assert_eq!(app.post("/api/favorites", "user_free", &body).await.0, 200);
    assert_eq!(
        app.get("/api/favorites?user_id=user_free", "user_free")
            .await
            .0,
        200
    );
}

async fn add_returns_the_favorite_and_refuses_duplicates(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut body = item("music_001", "深度放松冥想音乐");
    body["item_data"]["category"] = json!("冥想");
    body["item_data"]["metadata"] = json!({"artist": "x", "bpm": 60});
    let (status, got) = app.post("/api/favorites", "user_free", &body).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["success"], true);
    let fav = &got["data"];
    assert!(fav["id"].as_str().unwrap().starts_with("fav_"));
    assert!(fav["id"].as_str().unwrap().len() <= 36);
    assert_eq!(fav["user_id"], "user_free");
    assert_eq!(fav["item_id"], "music_001");
    assert_eq!(fav["item_type"], "music");
    assert_eq!(fav["item_data"], body["item_data"]);
    let created = fav["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z'), "{created}");
    assert_eq!(fav["updated_at"], fav["created_at"]);

    let again = app
        .post("/api/favorites", "user_free", &item("music_001", "other"))
        .await;
    assert_error(&again, 409, "ALREADY_FAVORITED");
    assert_eq!(again.1["error"], "已经收藏过了");
    // The first favorite is unchanged, and another user may favorite the same item.
    let (_, list) = app.get("/api/favorites", "user_free").await;
    assert_eq!(list["data"][0], *fav);
    assert_eq!(
        app.post("/api/favorites", "user_vip", &item("music_001", "t"))
            .await
            .0,
        200
    );
}

async fn add_validates_every_field(backend: Backend) {
    let app = spawn_app(backend).await;
    let big = "x".repeat(8 * 1024);
    let cases: Vec<(&str, Value)> = vec![
        (
            "missing item_id",
            json!({"item_type": "music", "item_data": {"title": "t", "cover": "c", "duration": 1}}),
        ),
        (
            "missing item_type",
            json!({"item_id": "m", "item_data": {"title": "t", "cover": "c", "duration": 1}}),
        ),
        (
            "missing item_data",
            json!({"item_id": "m", "item_type": "music"}),
        ),
        ("item_id slash", item("a/b", "t")),
        ("item_id dots", item("..", "t")),
        ("item_id 37 chars", item(&"a".repeat(37), "t")),
        ("item_id empty", item("", "t")),
        (
            "item_id number",
            json!({"item_id": 5, "item_type": "music", "item_data": {"title": "t", "cover": "c", "duration": 1}}),
        ),
        (
            "item_type case",
            json!({"item_id": "m", "item_type": "Music", "item_data": {"title": "t", "cover": "c", "duration": 1}}),
        ),
        (
            "item_type other",
            json!({"item_id": "m", "item_type": "video", "item_data": {"title": "t", "cover": "c", "duration": 1}}),
        ),
        (
            "item_data not object",
            json!({"item_id": "m", "item_type": "music", "item_data": "t"}),
        ),
        (
            "title missing",
            json!({"item_id": "m", "item_type": "music", "item_data": {"cover": "c", "duration": 1}}),
        ),
        (
            "duration text",
            json!({"item_id": "m", "item_type": "music", "item_data": {"title": "t", "cover": "c", "duration": "1"}}),
        ),
        (
            "item_data over 8 KiB",
            json!({"item_id": "m", "item_type": "music", "item_data": {"title": "t", "cover": "c", "duration": 1, "metadata": {"x": big}}}),
        ),
        ("body not an object", json!(["m"])),
    ];
    for (what, body) in cases {
        let got = app.post("/api/favorites", "user_free", &body).await;
        assert_eq!(got.0, 400, "{what}: {}", got.1);
        assert_error(&got, 400, "INVALID_REQUEST");
    }
    let got = app
        .post("/api/favorites", "user_free", &item("a/b", "t"))
        .await;
    assert!(
        got.1["error"].as_str().unwrap().contains("item_id"),
        "names the field: {}",
        got.1
    );
    assert_eq!(
        app.get("/api/favorites", "user_free").await.1["total"],
        0,
        "nothing written"
    );
}

async fn bodies_are_checked(backend: Backend) {
    let app = spawn_app(backend).await;
    let send = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(app.url("/api/favorites"))
            .bearer_auth(token("user_free"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let res = send(b"{\"item_id\": ".to_vec(), "application/json")
        .await
        .unwrap();
    assert_error(&read(res).await, 400, "INVALID_REQUEST");
    let res = send(b"not json".to_vec(), "application/json")
        .await
        .unwrap();
    assert_error(&read(res).await, 400, "INVALID_REQUEST");
    let res = send(serde_json::to_vec(&item("m", "t")).unwrap(), "text/plain")
        .await
        .unwrap();
    assert_error(&read(res).await, 400, "INVALID_REQUEST");
    let mut huge = item("m", "t");
    huge["padding"] = json!("x".repeat(65 * 1024));
    let res = send(serde_json::to_vec(&huge).unwrap(), "application/json")
        .await
        .unwrap();
    assert_error(&read(res).await, 413, "PAYLOAD_TOO_LARGE");
    // JSON that is not an object, and an object naming a field twice: refused by name.
    let res = send(b"[1, 2]".to_vec(), "application/json").await.unwrap();
    let body = read(res).await;
    assert_error(&body, 400, "INVALID_REQUEST");
    assert_eq!(body.1["error"], "请求体必须是 JSON 对象");
    let twice = br#"{"item_id":"music_001","item_id":"music_002","item_type":"music","item_data":{"title":"t","cover":"c","duration":1}}"#;
    let res = send(twice.to_vec(), "application/json").await.unwrap();
    let body = read(res).await;
    assert_error(&body, 400, "INVALID_REQUEST");
    assert_eq!(body.1["error"], "请求体中有重复的字段");
    assert_eq!(
        app.get("/api/favorites", "user_free").await.1["total"],
        0,
        "nothing written"
    );
}

async fn delete_by_id_is_owner_only(backend: Backend) {
    let app = spawn_app(backend).await;
    let mine = app.add("user_free", "music_001", "mine").await;
    let theirs = app.add("user_vip", "music_001", "theirs").await;
    let theirs_path = format!("/api/favorites/{}", theirs["id"].as_str().unwrap());
    let mine_path = format!("/api/favorites/{}", mine["id"].as_str().unwrap());

    assert_error(
        &app.delete(&theirs_path, "user_free").await,
        404,
        "FAVORITE_NOT_FOUND",
    );
    let (_, vip) = app.get("/api/favorites", "user_vip").await;
    assert_eq!(
        vip["data"][0], theirs,
        "another user's favorite is untouched"
    );

    let (status, body) = app.delete(&mine_path, "user_free").await;
    assert_eq!(
        (status, body),
        (200, json!({"success": true, "message": "收藏已取消"}))
    );
    let again = app.delete(&mine_path, "user_free").await;
    assert_error(&again, 404, "FAVORITE_NOT_FOUND");
    assert_eq!(again.1["error"], "收藏记录不存在");

    // (A bare `..` segment never reaches a server: clients resolve it away.)
    for bad in [
        "/api/favorites/fav_x",
        "/api/favorites/dl_01M8HWFBP5SPSV5NPHRWCAVVDD",
        "/api/favorites/..%2Fetc",
    ] {
        assert_error(&app.delete(bad, "user_free").await, 400, "INVALID_REQUEST");
    }
}

async fn delete_by_item(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add("user_free", "music_001", "mine").await;
    app.add("user_vip", "music_002", "theirs").await;
    assert_error(
        &app.delete("/api/favorites/items/music_002", "user_free")
            .await,
        404,
        "FAVORITE_NOT_FOUND",
    );
    assert_eq!(app.get("/api/favorites", "user_vip").await.1["total"], 1);
    let (status, body) = app
        .delete("/api/favorites/items/music_001", "user_free")
        .await;
    assert_eq!((status, body["success"].clone()), (200, json!(true)));
    assert_error(
        &app.delete("/api/favorites/items/music_001", "user_free")
            .await,
        404,
        "FAVORITE_NOT_FOUND",
    );
    let long = format!("/api/favorites/items/{}", "a".repeat(37));
    for bad in [
        "/api/favorites/items/a%2Fb",
        "/api/favorites/items/a/b",
        "/api/favorites/items/..%2Fetc",
        "/api/favorites/items/a..b",
        "/api/favorites/items/music_001/..%2F..%2Fx",
        long.as_str(),
        "/api/favorites/items/%E9%9F%B3",
    ] {
        assert_error(&app.delete(bad, "user_free").await, 400, "INVALID_REQUEST");
    }
}

async fn list_validates_its_query(backend: Backend) {
    let app = spawn_app(backend).await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=abc",
        "limit=-1",
        "limit=",
        "offset=-1",
        "offset=x",
        "cursor=abc",
        "cursor=%00",
        "offset=0&cursor=MTIz",
        "type=Music",
        "type=video",
    ] {
        let got = app
            .get(&format!("/api/favorites?{query}"), "user_free")
            .await;
        assert_eq!(got.0, 400, "{query}: {}", got.1);
        assert_error(&got, 400, "INVALID_REQUEST");
    }
    let got = app.get("/api/favorites?limit=abc", "user_free").await;
    assert!(
        got.1["error"].as_str().unwrap().contains("limit"),
        "{}",
        got.1
    );
    for query in ["limit=1", "limit=100", "offset=0", "type=", "search="] {
        assert_eq!(
            app.get(&format!("/api/favorites?{query}"), "user_free")
                .await
                .0,
            200,
            "{query}"
        );
    }
}

async fn list_filters_searches_and_counts(backend: Backend) {
    let app = spawn_app(backend).await;
    for (id, kind, title) in [
        ("music_001", "music", "Deep Sleep"),
        ("assessment_001", "assessment", "100% Calm"),
        ("sequence_001", "sequence", "under_score"),
        ("music_002", "music", "Morning"),
    ] {
        let body = json!({"item_id": id, "item_type": kind, "item_data": {"title": title, "cover": "c", "duration": 1}});
        assert_eq!(app.post("/api/favorites", "user_free", &body).await.0, 200);
    }
    let (_, all) = app.get("/api/favorites", "user_free").await;
    assert_eq!(all["total"], 4);
    assert_eq!(all["limit"], 50);
    assert_eq!(all["offset"], 0);
    assert_eq!(all["next_cursor"], Value::Null);
    let ids: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["item_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["music_002", "sequence_001", "assessment_001", "music_001"],
        "newest first"
    );

    let (_, page) = app
        .get("/api/favorites?limit=2&offset=1", "user_free")
        .await;
    let ids: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["item_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["sequence_001", "assessment_001"]);
    assert_eq!(
        (
            page["total"].clone(),
            page["limit"].clone(),
            page["offset"].clone()
        ),
        (json!(4), json!(2), json!(1))
    );
    assert!(page["next_cursor"].is_string());

    let (_, music) = app.get("/api/favorites?type=music", "user_free").await;
    assert_eq!(music["total"], 2);
    let count = |q: &'static str| {
        let app = &app;
        async move {
            app.get(&format!("/api/favorites?search={q}"), "user_free")
                .await
                .1["total"]
                .clone()
        }
    };
    assert_eq!(count("DEEP").await, 1);
    assert_eq!(count("%25").await, 1, "% is literal");
    assert_eq!(count("_").await, 1, "_ is literal");
    assert_eq!(count("r_x").await, 0, "_ matches only itself");
    assert_eq!(count("r_s").await, 1);
    assert_eq!(count("O").await, 2);
    let (_, none) = app
        .get("/api/favorites?search=o&type=assessment", "user_free")
        .await;
    assert_eq!(none["total"], 0);
}

async fn cjk_and_emoji_titles_round_trip_and_are_found(backend: Backend) {
    let app = spawn_app(backend).await;
    let titles = [
        "深度放松冥想音乐",
        "雨夜 🌧️ 白噪音",
        "🧘‍♀️ Yoga Flow",
        "睡眠😴引导",
    ];
    for (i, t) in titles.iter().enumerate() {
        let fav = app.add("user_free", &format!("music_{i:03}"), t).await;
        assert_eq!(fav["item_data"]["title"], *t);
    }
    let (_, all) = app.get("/api/favorites", "user_free").await;
    let got: HashSet<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["item_data"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(got, titles.iter().copied().collect());
    let search = |term: &str| {
        let url = reqwest::Url::parse_with_params(&app.url("/api/favorites"), &[("search", term)])
            .unwrap();
        let client = app.client.clone();
        async move {
            let res = client
                .get(url)
                .bearer_auth(token("user_free"))
                .send()
                .await
                .unwrap();
            let (_, body) = read(res).await;
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["item_data"]["title"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("冥想").await, ["深度放松冥想音乐"]);
    assert_eq!(search("🌧️").await, ["雨夜 🌧️ 白噪音"]);
    assert_eq!(search("😴").await, ["睡眠😴引导"]);
    assert_eq!(search("yoga").await, ["🧘‍♀️ Yoga Flow"]);
    assert!(
        search("😀").await.is_empty(),
        "a different emoji does not match"
    );
}

async fn cursor_paging_returns_each_item_once_while_items_are_added(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut expected = HashSet::new();
    for i in 0..12 {
        expected.insert(
            app.add("user_free", &format!("music_{i:03}"), "t").await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut seen = Vec::new();
    let mut path = "/api/favorites?limit=5".to_owned();
    for round in 0.. {
        let (status, page) = app.get(&path, "user_free").await;
        assert_eq!(status, 200, "{page}");
        seen.extend(
            page["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["id"].as_str().unwrap().to_owned()),
        );
        app.add("user_free", &format!("new_{round}"), "added while paging")
            .await;
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/favorites?limit=5&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12, "each exactly once: {seen:?}");
    assert_eq!(seen.into_iter().collect::<HashSet<_>>(), expected);
}

async fn etag_and_if_none_match(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add("user_free", "music_001", "t").await;
    let get = |etag: Option<String>| {
        let mut req = app
            .client
            .get(app.url("/api/favorites"))
            .bearer_auth(token("user_free"));
        if let Some(e) = etag {
            req = req.header("If-None-Match", e);
        }
        req.send()
    };
    let first = get(None).await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'));

    let cached = get(Some(etag.clone())).await.unwrap();
    assert_eq!(cached.status(), 304);
    assert_eq!(cached.headers()["etag"].to_str().unwrap(), etag);
    assert!(cached.text().await.unwrap().is_empty());
    assert_eq!(
        get(Some(format!("\"other\", W/{etag}")))
            .await
            .unwrap()
            .status(),
        304
    );
    assert_eq!(get(Some("\"other\"".into())).await.unwrap().status(), 200);

    // A write changes the list, and so the tag.
    app.add("user_free", "music_002", "t").await;
    let after = get(Some(etag.clone())).await.unwrap();
    assert_eq!(after.status(), 200);
    assert_ne!(after.headers()["etag"].to_str().unwrap(), etag);
}

async fn contains_checks_its_ids(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add("user_free", "music_001", "t").await;
    app.add("user_vip", "music_002", "t").await;
    let (status, body) = app
        .get(
            "/api/favorites/contains?item_ids=music_001,music_002,music_003",
            "user_free",
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"success": true, "data": {"music_001": true, "music_002": false, "music_003": false}})
    );

    let fifty: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let fifty_one: Vec<String> = (0..51).map(|i| format!("m{i}")).collect();
    assert_eq!(
        app.get(
            &format!("/api/favorites/contains?item_ids={}", fifty.join(",")),
            "user_free"
        )
        .await
        .0,
        200
    );
    for query in [
        format!("item_ids={}", fifty_one.join(",")),
        String::new(),
        "item_ids=".into(),
        "item_ids=a,..".into(),
        "item_ids=a%2Fb".into(),
        format!("item_ids={}", "a".repeat(37)),
    ] {
        let got = app
            .get(&format!("/api/favorites/contains?{query}"), "user_free")
            .await;
        assert_error(&got, 400, "INVALID_REQUEST");
    }
}

async fn stored_corruption_is_an_opaque_500(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add("user_free", "music_001", "t").await;
    soundshelf_store::testing::execute_sql(
        &app.db.config,
        "UPDATE user_favorites SET item_id = 'bad/../id' WHERE user_id = 'user_free'",
    )
    .await;
    let got = app.get("/api/favorites", "user_free").await;
    assert_error(&got, 500, "INTERNAL");
    assert_eq!(got.1["error"], "服务器内部错误");
    let text = got.1.to_string();
    assert!(
        !text.contains("user_favorites") && !text.contains("corrupt"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_is_503_with_retry_after() {
    let app = spawn_app_with(Backend::Sqlite, &[("DB_TIMEOUT", "1s")]).await;
    let soundshelf_store::DbConfig::Sqlite { path } = &app.db.config else {
        unreachable!()
    };
    let lock = soundshelf_store::testing::SqliteWriteLock::take(path);
    let res = app
        .client
        .post(app.url("/api/favorites"))
        .bearer_auth(token("user_free"))
        .json(&item("music_001", "t"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["retry-after"], "5");
    assert_error(&read(res).await, 503, "UNAVAILABLE");
    drop(lock);
    // Once the lock is gone the same request succeeds: nothing to restart.
    assert_eq!(
        app.post("/api/favorites", "user_free", &item("music_001", "t"))
            .await
            .0,
        200
    );
}
