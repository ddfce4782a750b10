//! HTTP tests of `PUT /api/favorites/sync` on both backends, and its behaviour under
//! concurrent syncs of one user on MariaDB.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use soundshelf_app::testing::*;
use soundshelf_store::Backend;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

soundshelf_store::on_both_backends!(
    a_first_sync_applies_changes_and_lists_no_deletions,
    replaying_a_request_changes_nothing,
    an_older_add_does_not_undo_a_removal_and_a_newer_one_does,
    future_timestamps_are_clamped,
    adds_without_a_type_are_rejected_while_the_rest_applies,
    malformed_changes_are_rejected_one_by_one_and_the_rest_applies,
    deleted_item_ids_are_exactly_the_removals_since_last_sync,
    single_deletes_sync_as_removals,
    limits_and_malformed_requests_change_nothing,
);

const PATH: &str = "/api/favorites/sync";

fn ts(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

fn add(item: &str, at: OffsetDateTime, title: &str) -> Value {
    json!({"item_id": item, "action": "add", "timestamp": ts(at),
           "item_data": {"title": title, "cover": "c", "duration": 1}})
}

fn remove(item: &str, at: OffsetDateTime) -> Value {
    json!({"item_id": item, "action": "remove", "timestamp": ts(at)})
}

fn body(last_sync: Option<&Value>, changes: Vec<Value>) -> Value {
    json!({"last_sync_time": last_sync.cloned().unwrap_or(Value::Null), "local_changes": changes})
}

/// Syncs and returns `data`, asserting a 200.
async fn sync(app: &TestApp, user: &str, body: &Value) -> Value {
    let (status, got) = app.put(PATH, user, body).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["success"], true);
    got["data"].clone()
}

/// `item_id → title` of a list of favorites.
fn titles(list: &Value) -> BTreeMap<String, String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["item_id"].as_str().unwrap().to_owned(),
                f["item_data"]["title"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn server_titles(app: &TestApp, user: &str) -> BTreeMap<String, String> {
    titles(&app.get("/api/favorites?limit=100", user).await.1["data"])
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

async fn a_first_sync_applies_changes_and_lists_no_deletions(backend: Backend) {
    let app = spawn_app(backend).await;
    app.add("user_free", "music_009", "on the server").await;
    let t = now() - Duration::minutes(10);
    let data = sync(
        &app,
        "user_free",
        &body(
            None,
            vec![
                add("music_001", t, "一"),
                add("sequence_002", t, "二"),
                remove("music_003", t),
            ],
        ),
    )
    .await;
    assert_eq!(
        titles(&data["server_favorites"]),
        BTreeMap::from([
            ("music_001".into(), "一".into()),
            ("music_009".into(), "on the server".into()),
            ("sequence_002".into(), "二".into()),
        ])
    );
    let seq = data["server_favorites"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["item_id"] == "sequence_002")
        .unwrap();
    assert_eq!(seq["item_type"], "sequence", "type from the id's prefix");
    assert_eq!(data["deleted_item_ids"], json!([]));
    assert_eq!(data["conflicts"], json!([]));
    assert_eq!(data["rejected"], json!([]));
    let sync_time = OffsetDateTime::parse(data["sync_time"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(data["sync_time"].as_str().unwrap().ends_with('Z'));
    assert!((now() - sync_time).abs() < Duration::minutes(1));
    assert_eq!(
        server_titles(&app, "user_free").await,
        titles(&data["server_favorites"])
    );
}

async fn replaying_a_request_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = now() - Duration::minutes(10);
    let request = body(
        None,
        vec![
            add("music_001", t, "a"),
            remove("music_002", t),
            add("music_003", t, "c"),
        ],
    );
    let first = sync(&app, "user_free", &request).await;
    let again = sync(&app, "user_free", &request).await;
    assert_eq!(
        again["server_favorites"], first["server_favorites"],
        "same rows, same ids"
    );
    assert_eq!(again["conflicts"], json!([]));
    let (_, list) = app.get("/api/favorites", "user_free").await;
    assert_eq!(list["total"], 2, "no duplicate");
}

async fn an_older_add_does_not_undo_a_removal_and_a_newer_one_does(backend: Backend) {
    let app = spawn_app(backend).await;
    let t1 = now() - Duration::minutes(30);
    let t2 = t1 + Duration::minutes(10);
    let t3 = t2 + Duration::minutes(10);
    // Both devices start with the item.
    let start = sync(
        &app,
        "user_free",
        &body(None, vec![add("music_001", t1 - Duration::minutes(5), "x")]),
    )
    .await;
    // Device A removes it at t2.
    sync(
        &app,
        "user_free",
        &body(Some(&start["sync_time"]), vec![remove("music_001", t2)]),
    )
    .await;
    // Device B replays an add it made at t1 < t2: still removed, reported as a conflict.
    let b = sync(
        &app,
        "user_free",
        &body(Some(&start["sync_time"]), vec![add("music_001", t1, "x")]),
    )
    .await;
    assert!(titles(&b["server_favorites"]).is_empty());
    assert_eq!(
        b["conflicts"],
        json!([{"item_id": "music_001", "local_action": "add", "server_state": "removed", "resolution": "server_wins"}])
    );
    assert_eq!(b["deleted_item_ids"], json!(["music_001"]));
    // An add made after the removal brings it back.
    let c = sync(
        &app,
        "user_free",
        &body(Some(&b["sync_time"]), vec![add("music_001", t3, "back")]),
    )
    .await;
    assert_eq!(
        titles(&c["server_favorites"]),
        BTreeMap::from([("music_001".into(), "back".into())])
    );
    assert_eq!(c["conflicts"], json!([]));
    assert_eq!(c["deleted_item_ids"], json!([]));
    // And an older removal replayed now is a conflict with the present item.
    let d = sync(
        &app,
        "user_free",
        &body(Some(&c["sync_time"]), vec![remove("music_001", t2)]),
    )
    .await;
    assert_eq!(d["conflicts"][0]["server_state"], "present");
    assert_eq!(server_titles(&app, "user_free").await.len(), 1);
}

async fn future_timestamps_are_clamped(backend: Backend) {
    let app = spawn_app(backend).await;
    let data = sync(
        &app,
        "user_free",
        &body(
            None,
            vec![add("music_001", now() + Duration::days(1), "future")],
        ),
    )
    .await;
    let fav = &data["server_favorites"][0];
    assert_eq!(fav["updated_at"], data["sync_time"], "taken at server time");
    // So a removal made a minute later on another device wins.
    let later = now() + Duration::minutes(1);
    let data = sync(
        &app,
        "user_free",
        &body(None, vec![remove("music_001", later)]),
    )
    .await;
    assert!(titles(&data["server_favorites"]).is_empty());
    // Within five minutes of skew, a device's time is kept.
    let near = now() + Duration::minutes(4);
    let data = sync(
        &app,
        "user_free",
        &body(None, vec![add("music_002", near, "near")]),
    )
    .await;
    let fav = &data["server_favorites"][0];
    let kept = OffsetDateTime::parse(fav["updated_at"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!((kept - near).abs() < Duration::milliseconds(1));
}

async fn adds_without_a_type_are_rejected_while_the_rest_applies(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = now() - Duration::minutes(1);
    let mut typed_by_data = add("x_2", t, "typed by data");
    typed_by_data["item_data"]["item_type"] = json!("assessment");
    let mut bad_type = add("music_3", t, "bad type");
    bad_type["item_type"] = json!("video");
    let mut no_data = add("music_4", t, "no data");
    no_data.as_object_mut().unwrap().remove("item_data");
    let mut big = add("music_5", t, "big");
    big["item_data"]["metadata"] = json!({"x": "y".repeat(9000)});
    let data = sync(
        &app,
        "user_free",
        &body(
            None,
            vec![
                add("x_1", t, "no type"),
                typed_by_data,
                bad_type,
                no_data,
                add("music_6", t, "fine"),
            ],
        ),
    )
    .await;
    let rejected: Vec<&str> = data["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["item_id"].as_str().unwrap())
        .collect();
    assert_eq!(rejected, ["x_1", "music_3", "music_4"]);
    assert!(
        data["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["reason"].as_str().is_some_and(|s| !s.is_empty()))
    );
    assert_eq!(
        server_titles(&app, "user_free")
            .await
            .keys()
            .collect::<Vec<_>>(),
        ["music_6", "x_2"]
    );
    // An over-sized item_data makes the body too large as a whole here; on its own it is
    // rejected like any invalid field.
    let data = sync(&app, "user_free", &body(None, vec![big])).await;
    assert_eq!(data["rejected"][0]["item_id"], "music_5");
}

/// SPEC §10: one bad change never jams a device's queue. Every malformed entry is listed
/// in `rejected` at its index with its `item_id` as sent (null when not a string) and a
/// reason naming the field; every good one applies; a replay changes nothing more.
async fn malformed_changes_are_rejected_one_by_one_and_the_rest_applies(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = now() - Duration::minutes(10);
    let stamp = ts(t);
    let long = "a".repeat(37);
    let changes = vec![
        add("music_g1", t, "good 1"),                                  // 0
        json!(42),                                                     // 1
        remove("music/../etc", t),                                     // 2
        add("music_g2", t, "good 2"),                                  // 3
        remove("..", t),                                               // 4
        remove(&long, t),                                              // 5
        json!({"item_id": 7, "action": "remove", "timestamp": stamp}), // 6
        json!({"item_id": "music_g1", "action": "toggle", "timestamp": stamp}), // 7
        json!({"item_id": "music_g2", "action": "remove", "timestamp": "yesterday"}), // 8
        json!("music_g3"),                                             // 9
        remove("music_gone", t),                                       // 10
        json!({"action": "add", "timestamp": stamp}),                  // 11
        json!(null),                                                   // 12
        json!({"item_id": "music_g3", "action": "add", "timestamp": 1_700_000_000}), // 13
        json!([add("music_g4", t, "inside an array")]),                // 14
        add("sequence_g5", t, "good 5"),                               // 15
    ];
    let want: Vec<(usize, Value, &str)> = vec![
        (1, Value::Null, "变更必须是 JSON 对象"),
        (2, json!("music/../etc"), "item_id 无效"),
        (4, json!(".."), "item_id 无效"),
        (5, json!(long), "item_id 无效"),
        (6, Value::Null, "item_id 无效"),
        (7, json!("music_g1"), "action 无效"),
        (8, json!("music_g2"), "timestamp 无效"),
        (9, Value::Null, "变更必须是 JSON 对象"),
        (11, Value::Null, "缺少 item_id"),
        (12, Value::Null, "变更必须是 JSON 对象"),
        (13, json!("music_g3"), "timestamp 无效"),
        (14, Value::Null, "变更必须是 JSON 对象"),
    ];
    let request = body(None, changes);
    let check = |data: &Value| {
        let rejected = data["rejected"].as_array().unwrap();
        assert_eq!(rejected.len(), want.len(), "{rejected:?}");
        for (got, (index, item_id, reason)) in rejected.iter().zip(&want) {
            assert_eq!(got["index"], json!(index), "{got}");
            assert_eq!(&got["item_id"], item_id, "{got}");
            let text = got["reason"].as_str().unwrap();
            assert!(text.starts_with(reason), "{got}");
        }
    };
    let first = sync(&app, "user_free", &request).await;
    check(&first);
    assert!(first["conflicts"].as_array().unwrap().is_empty());
    let stored = server_titles(&app, "user_free").await;
    assert_eq!(
        stored.into_iter().collect::<Vec<_>>(),
        [
            ("music_g1".to_owned(), "good 1".to_owned()),
            ("music_g2".to_owned(), "good 2".to_owned()),
            ("sequence_g5".to_owned(), "good 5".to_owned()),
        ]
    );
    // The same good changes alone give the same list.
    let alone = spawn_app(backend).await;
    let good: Vec<Value> = request["local_changes"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(i, _)| [0, 3, 10, 15].contains(i))
        .map(|(_, c)| c.clone())
        .collect();
    let alone_data = sync(&alone, "user_free", &body(None, good)).await;
    assert_eq!(
        titles(&alone_data["server_favorites"]),
        titles(&first["server_favorites"])
    );

    // A replay changes nothing more: same list with the same times, same rejections.
    let before = app.get("/api/favorites", "user_free").await.1["data"].clone();
    let last = json!(first["sync_time"]);
    let again = sync(
        &app,
        "user_free",
        &body(
            Some(&last),
            request["local_changes"].as_array().unwrap().clone(),
        ),
    )
    .await;
    check(&again);
    assert!(again["conflicts"].as_array().unwrap().is_empty());
    assert_eq!(
        app.get("/api/favorites", "user_free").await.1["data"],
        before
    );

    // A field sent twice in one entry rejects that entry only.
    let raw = format!(
        r#"{{"local_changes":[{{"item_id":"music_d1","item_id":"music_d2","action":"remove","timestamp":"{stamp}"}},{}]}}"#,
        add("music_g6", t, "good 6")
    );
    let res = app
        .client
        .put(app.url(PATH))
        .bearer_auth(token("user_free"))
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    let (status, got) = read(res).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        got["data"]["rejected"],
        json!([{"index": 0, "item_id": "music_d1", "reason": "item_id 无效：字段重复"}])
    );
    assert!(
        server_titles(&app, "user_free")
            .await
            .contains_key("music_g6")
    );
}

async fn deleted_item_ids_are_exactly_the_removals_since_last_sync(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = now() - Duration::minutes(30);
    let start = sync(
        &app,
        "user_free",
        &body(
            None,
            vec![
                add("music_a", t, "music_a"),
                add("music_b", t, "music_b"),
                add("music_c", t, "music_c"),
                remove("music_old", t),
            ],
        ),
    )
    .await;
    // Removed on other devices after `start`: b by sync, c by the delete route; a is
    // removed and added back.
    sync(
        &app,
        "user_free",
        &body(
            None,
            vec![
                remove("music_b", t + Duration::minutes(1)),
                remove("music_a", t + Duration::minutes(1)),
            ],
        ),
    )
    .await;
    app.delete("/api/favorites/items/music_c", "user_free")
        .await;
    sync(
        &app,
        "user_free",
        &body(
            None,
            vec![add("music_a", t + Duration::minutes(2), "a again")],
        ),
    )
    .await;
    let data = sync(&app, "user_free", &body(Some(&start["sync_time"]), vec![])).await;
    assert_eq!(
        data["deleted_item_ids"],
        json!(["music_b", "music_c"]),
        "not `old` (before), not `a` (present)"
    );
    assert_eq!(
        titles(&data["server_favorites"]).keys().collect::<Vec<_>>(),
        ["music_a"]
    );
    // Since this sync, nothing more was removed.
    let data = sync(&app, "user_free", &body(Some(&data["sync_time"]), vec![])).await;
    assert_eq!(data["deleted_item_ids"], json!([]));
}

async fn single_deletes_sync_as_removals(backend: Backend) {
    let app = spawn_app(backend).await;
    let fav = app.add("user_free", "music_001", "t").await;
    app.delete(
        &format!("/api/favorites/{}", fav["id"].as_str().unwrap()),
        "user_free",
    )
    .await;
    // A device that favorited it offline before the delete does not bring it back.
    let before = now() - Duration::minutes(5);
    let data = sync(
        &app,
        "user_free",
        &body(None, vec![add("music_001", before, "t")]),
    )
    .await;
    assert!(titles(&data["server_favorites"]).is_empty());
    assert_eq!(data["conflicts"][0]["server_state"], "removed");
}

async fn limits_and_malformed_requests_change_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let t = now() - Duration::minutes(1);
    let too_many: Vec<Value> = (0..501).map(|i| remove(&format!("m{i}"), t)).collect();
    assert_error(
        &app.put(PATH, "user_free", &body(None, too_many)).await,
        413,
        "PAYLOAD_TOO_LARGE",
    );
    let exactly: Vec<Value> = (0..500).map(|i| remove(&format!("m{i}"), t)).collect();
    assert_eq!(
        app.put(PATH, "user_free", &body(None, exactly)).await.0,
        200
    );

    let valid = add("music_001", t, "must not be applied");
    let cases: Vec<(&str, Value)> = vec![
        ("body not an object", json!([valid.clone()])),
        ("no local_changes", json!({"last_sync_time": null})),
        (
            "local_changes not an array",
            json!({"local_changes": {"0": valid.clone()}}),
        ),
        ("local_changes a string", json!({"local_changes": "[]"})),
        (
            "bad last_sync_time",
            json!({"last_sync_time": "yesterday", "local_changes": [valid.clone()]}),
        ),
        (
            "last_sync_time not a string",
            json!({"last_sync_time": 5, "local_changes": [valid.clone()]}),
        ),
    ];
    for (what, request) in cases {
        let got = app.put(PATH, "user_free", &request).await;
        assert_eq!(got.0, 400, "{what}: {}", got.1);
        assert_error(&got, 400, "INVALID_REQUEST");
    }
    assert!(
        server_titles(&app, "user_free").await.is_empty(),
        "nothing half-applied"
    );
    let mut other = body(None, vec![valid]);
    other["user_id"] = json!("user_vip");
    assert_error(&app.put(PATH, "user_free", &other).await, 403, "FORBIDDEN");
    assert!(server_titles(&app, "user_free").await.is_empty());
}

/// Two devices of one user sync overlapping changes at the same moment, 50 times: the
/// result is always the last-writer-wins outcome, which is what either serial order
/// gives; an update lost between one sync's reads and writes would show as a stale title
/// or a resurrected item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_syncs_of_one_user_never_lose_a_write_on_mariadb() {
    let app = spawn_app_with(Backend::Mysql, &[("WORKERS", "2")]).await;
    let t = now() - Duration::hours(1);
    let m = |n: i64| t + Duration::seconds(n);
    for i in 0..50 {
        let (x, y, z) = (
            format!("music_x{i}"),
            format!("music_y{i}"),
            format!("music_z{i}"),
        );
        sync(&app, "user_free", &body(None, vec![add(&x, m(0), "x0")])).await;
        let a = body(
            None,
            vec![remove(&x, m(3)), add(&y, m(2), "A"), add(&z, m(5), "A")],
        );
        let b = body(
            None,
            vec![add(&x, m(1), "B"), add(&y, m(4), "B"), remove(&z, m(4))],
        );
        let (ra, rb) = tokio::join!(
            app.put(PATH, "user_free", &a),
            app.put(PATH, "user_free", &b)
        );
        assert_eq!((ra.0, rb.0), (200, 200), "{} {}", ra.1, rb.1);
        let state = server_titles(&app, "user_free").await;
        assert!(!state.contains_key(&x), "round {i}: x resurrected");
        assert_eq!(state.get(&y).map(String::as_str), Some("B"), "round {i}: y");
        assert_eq!(state.get(&z).map(String::as_str), Some("A"), "round {i}: z");
    }
}
