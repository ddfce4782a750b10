//! HTTP tests of SPEC §10 on both backends: `/api/me` and `/api/music` say exactly what
//! grants then do, for every demo plan, and neither consumes the rate limit.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use soundshelf_app::testing::*;
use soundshelf_domain::downloads::MB;
use soundshelf_domain::settings::parse_utc_offset;
use soundshelf_store::Backend;
use soundshelf_store::demo;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

soundshelf_store::on_both_backends!(
    me_counts_what_grants_then_do_for_every_plan,
    me_and_music_consume_no_rate_limit,
    music_predicts_every_grant_for_every_plan_quality_and_track,
    unknown_malformed_and_retired_music,
);

/// The demo users of each plan, with the daily limits these tests set.
const PLANS: [(&str, &str, u32); 4] = [
    ("user_free", "FREE", 3),
    ("user_trial", "TRIAL", 4),
    ("user_premium", "PREMIUM", 5),
    ("user_vip", "VIP", 6),
];

/// Small daily limits (so each can be reached) and the rate limit out of the way.
fn small_limits() -> Vec<(String, String)> {
    let mut vars = vec![(
        "RATE_LIMIT_DOWNLOADS_PER_MINUTE".to_owned(),
        "1000000".to_owned(),
    )];
    for (_, plan, limit) in PLANS {
        vars.push((format!("PLAN_{plan}_DAILY_DOWNLOADS"), limit.to_string()));
    }
    vars
}

async fn start(backend: Backend, vars: &[(String, String)]) -> TestApp {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    spawn_app_with(backend, &vars).await
}

fn grant_path(music: &str, quality: &str) -> String {
    format!("/api/music/download-url/{music}?quality={quality}")
}

/// `/api/me`'s `data`, asserting a 200.
async fn me(app: &TestApp, user: &str) -> Value {
    let (status, body) = app.get("/api/me", user).await;
    assert_eq!(status, 200, "{body}");
    body["data"].clone()
}

/// The catalogue's size of each demo (music, quality).
fn catalogue_sizes() -> BTreeMap<(String, String), u64> {
    demo::assets()
        .into_iter()
        .map(|a| {
            (
                (a.music_id.to_owned(), a.quality.as_str().to_owned()),
                u64::try_from(a.file_size).unwrap(),
            )
        })
        .collect()
}

/// Every demo (music, quality), in catalogue order.
fn files() -> Vec<(String, &'static str)> {
    let mut all = Vec::new();
    for t in demo::tracks() {
        for q in ["standard", "high", "lossless"] {
            all.push((t.id.to_owned(), q));
        }
    }
    all
}

async fn me_counts_what_grants_then_do_for_every_plan(backend: Backend) {
    let tz = "-03:30";
    let mut vars = small_limits();
    vars.push(("APP_TIMEZONE".to_owned(), tz.to_owned()));
    let app = start(backend, &vars).await;
    for (user, plan, limit) in PLANS {
        let first = me(&app, user).await;
        assert_eq!(first["user_id"], user);
        assert_eq!(first["plan"], plan.to_lowercase());
        assert_eq!(first["status"], "active");
        assert_eq!(first["rate_limit"], json!({"per_minute": 1_000_000}));
        let qualities = if plan == "VIP" {
            json!(["standard", "high", "lossless"])
        } else {
            json!(["standard", "high"])
        };
        assert_eq!(first["qualities"], qualities, "{user}");
        // resets_at: the next midnight at APP_TIMEZONE, in that offset.
        let offset = parse_utc_offset(tz).unwrap();
        let expect = |now: OffsetDateTime| {
            let day = now.to_offset(offset).date();
            day.next_day()
                .unwrap()
                .midnight()
                .assume_offset(offset)
                .format(&Rfc3339)
                .unwrap()
        };
        let resets = first["downloads"]["resets_at"].as_str().unwrap();
        assert!(resets.ends_with("T00:00:00-03:30"), "{resets}");
        let now = OffsetDateTime::now_utc();
        assert!(
            [expect(now - time::Duration::minutes(1)), expect(now)].contains(&resets.to_owned()),
            "{resets}"
        );

        // Grant new files one by one: the figures move with each, and the grant past
        // the limit is refused exactly when remaining_today is 0.
        let candidates: Vec<(String, &str)> = files()
            .into_iter()
            .filter(|(m, q)| *q == "standard" && m.as_str() < "music_009")
            .chain(
                files()
                    .into_iter()
                    .filter(|(m, q)| *q == "high" && m.as_str() < "music_009"),
            )
            .collect();
        let mut granted = Vec::new();
        for k in 0..=limit {
            let data = me(&app, user).await;
            let d = &data["downloads"];
            assert_eq!(d["daily_limit"], limit, "{user}");
            assert_eq!(d["used_today"], k, "{user}");
            assert_eq!(d["remaining_today"], limit - k, "{user}");
            let (music, quality) = &candidates[k as usize];
            let got = app.get(&grant_path(music, quality), user).await;
            if d["remaining_today"] == 0 {
                assert_error(&got, 403, "DAILY_LIMIT_REACHED");
            } else {
                assert_eq!(got.0, 200, "{user} {k}: {}", got.1);
                granted.push((music.clone(), *quality));
            }
        }
        // At the limit a repeat of today's is still served, and counts nothing.
        let (music, quality) = &granted[0];
        assert_eq!(app.get(&grant_path(music, quality), user).await.0, 200);
        let d = me(&app, user).await["downloads"].clone();
        assert_eq!(
            (d["used_today"].as_u64(), d["remaining_today"].as_u64()),
            (Some(u64::from(limit)), Some(0))
        );
    }

    // Storage moves by the catalogue's size when a download is reported completed, and
    // only once per file.
    let sizes = catalogue_sizes();
    let before = me(&app, "user_vip").await["storage"].clone();
    assert_eq!(before["used_bytes"], 0);
    assert_eq!(before["limit_bytes"], 10240 * MB);
    assert_eq!(before["remaining_bytes"], 10240 * MB);
    let report = |music: &str, quality: &str, status: &str| json!({"music_id": music, "quality": quality, "status": status, "file_size": 1});
    let mut done: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (music, quality, status) in [
        ("music_002", "high", "downloading"),
        ("music_002", "high", "completed"),
        ("music_010", "lossless", "completed"),
        ("music_010", "lossless", "completed"),
        ("music_004", "standard", "failed"),
    ] {
        let got = app
            .post(
                "/api/downloads",
                "user_vip",
                &report(music, quality, status),
            )
            .await;
        assert_eq!(got.0, 200, "{}", got.1);
        if status == "completed" {
            done.insert((music, quality));
        }
        let used: u64 = done
            .iter()
            .map(|(m, q)| sizes[&((*m).to_owned(), (*q).to_owned())])
            .sum();
        let storage = me(&app, "user_vip").await["storage"].clone();
        assert_eq!(
            storage["used_bytes"], used,
            "after {music} {quality} {status}"
        );
        assert_eq!(storage["remaining_bytes"], 10240 * MB - used);
    }
    assert_eq!(done.len(), 2);
}

async fn me_and_music_consume_no_rate_limit(backend: Backend) {
    // The default rate limit: 5 grants a minute.
    let app = spawn_app(backend).await;
    for _ in 0..100 {
        assert_eq!(app.get("/api/me", "user_free").await.0, 200);
    }
    for _ in 0..30 {
        assert_eq!(app.get("/api/music/music_001", "user_free").await.0, 200);
        assert_eq!(
            app.get("/api/music?ids=music_001,music_002", "user_free")
                .await
                .0,
            200
        );
    }
    for i in 1..=5 {
        let got = app
            .get(
                &grant_path(&format!("music_00{i}"), "standard"),
                "user_free",
            )
            .await;
        assert_eq!(got.0, 200, "grant {i}: {}", got.1);
    }
    assert_error(
        &app.get(&grant_path("music_006", "standard"), "user_free")
            .await,
        429,
        "RATE_LIMITED",
    );
    // And reading changed nothing: exactly the five grants are counted.
    assert_eq!(me(&app, "user_free").await["downloads"]["used_today"], 5);
}

/// For every demo plan, every track and quality, in an order that reaches the daily
/// limit, with storage nearly full: `/api/music/{id}` read just before the grant says
/// exactly what the grant does. Each file is asked for twice (the second time a repeat).
async fn music_predicts_every_grant_for_every_plan_quality_and_track(backend: Backend) {
    let sizes = catalogue_sizes();
    // Each user has two completed downloads; the plan's storage leaves 10 MB beside
    // them, so some files fit and some do not.
    let completed = [("music_005", "lossless"), ("music_006", "high")];
    let used: u64 = completed
        .iter()
        .map(|(m, q)| sizes[&((*m).to_owned(), (*q).to_owned())])
        .sum();
    let storage_mb = used.div_ceil(MB) + 10;
    let mut vars = small_limits();
    for (_, plan, _) in PLANS {
        vars.push((format!("PLAN_{plan}_STORAGE_MB"), storage_mb.to_string()));
    }
    let app = start(backend, &vars).await;
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for (user, _, _) in PLANS {
        for (music, quality) in completed {
            let body = json!({"music_id": music, "quality": quality, "status": "completed"});
            assert_eq!(app.post("/api/downloads", user, &body).await.0, 200);
        }
        let storage = me(&app, user).await["storage"].clone();
        assert_eq!(storage["used_bytes"], used);
        assert_eq!(storage["limit_bytes"], storage_mb * MB);
        for round in 0..2 {
            for (music, quality) in files() {
                let (status, body) = app.get(&format!("/api/music/{music}"), user).await;
                assert_eq!(status, 200, "{body}");
                let offer = body["data"]["qualities"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|o| o["quality"] == quality)
                    .unwrap()
                    .clone();
                assert_eq!(
                    offer["file_size"],
                    sizes[&(music.clone(), quality.to_owned())]
                );
                let got = app.get(&grant_path(&music, quality), user).await;
                let what = format!(
                    "{user} {music} {quality} round {round}: {offer} vs {}",
                    got.1
                );
                if offer["allowed"] == true {
                    assert_eq!(offer["denied_code"], Value::Null, "{what}");
                    assert_eq!(got.0, 200, "{what}");
                    assert_eq!(got.1["data"]["file_size"], offer["file_size"], "{what}");
                    seen.insert("allowed".to_owned());
                } else {
                    assert_eq!(offer["allowed"], false, "{what}");
                    let code = offer["denied_code"].as_str().unwrap();
                    assert_error(&got, 403, code);
                    seen.insert(code.to_owned());
                }
            }
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [
            "DAILY_LIMIT_REACHED",
            "PREMIUM_REQUIRED",
            "STORAGE_FULL",
            "VIP_REQUIRED",
            "allowed"
        ],
        "the table reaches every outcome"
    );
}

async fn unknown_malformed_and_retired_music(backend: Backend) {
    let app = spawn_app(backend).await;
    let (status, body) = app.get("/api/music/music_009", "user_free").await;
    assert_eq!(status, 200, "{body}");
    let data = &body["data"];
    assert_eq!(data["id"], "music_009");
    assert_eq!(data["premium_required"], true);
    assert_eq!(data["duration"], 900);
    assert!(data["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(data["cover"].is_string());
    let qualities: Vec<&str> = data["qualities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["quality"].as_str().unwrap())
        .collect();
    assert_eq!(qualities, ["standard", "high", "lossless"]);

    assert_error(
        &app.get("/api/music/music_404", "user_free").await,
        404,
        "MUSIC_NOT_FOUND",
    );
    for bad in ["a%2Fb", "..%2Fetc", "a.b", "%20", &"a".repeat(37)] {
        assert_error(
            &app.get(&format!("/api/music/{bad}"), "user_free").await,
            400,
            "INVALID_REQUEST",
        );
    }
    assert_error(
        &app.get("/api/music/music_001", "nobody").await,
        401,
        "TOKEN_INVALID",
    );
    let (status, _) = read(app.client.get(app.url("/api/me")).send().await.unwrap()).await;
    assert_eq!(status, 401);

    // A list: known ids in the order asked, unknown left out, duplicates folded.
    let (status, body) = app
        .get(
            "/api/music?ids=music_003,music_404,music_001,music_003",
            "user_free",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let ids: Vec<&str> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["music_003", "music_001"]);
    let fifty: Vec<String> = (0..50).map(|i| format!("m{i}")).collect();
    let (status, body) = app
        .get(&format!("/api/music?ids={}", fifty.join(",")), "user_free")
        .await;
    assert_eq!((status, body["data"].clone()), (200, json!([])));
    let fifty_one = format!("{},m50", fifty.join(","));
    for bad in [
        "",
        "?ids=",
        "?ids=a,,b",
        "?ids=a%2Fb",
        &format!("?ids={fifty_one}"),
    ] {
        assert_error(
            &app.get(&format!("/api/music{bad}"), "user_free").await,
            400,
            "INVALID_REQUEST",
        );
    }

    // Retired (through the admin API, which this instance's catalogue cache hears of):
    // not found, left out of lists, and not granted.
    let (status, _) = app.delete("/api/admin/music/music_003", "user_admin").await;
    assert_eq!(status, 200);
    assert_error(
        &app.get("/api/music/music_003", "user_free").await,
        404,
        "MUSIC_NOT_FOUND",
    );
    let (_, body) = app
        .get("/api/music?ids=music_003,music_001", "user_free")
        .await;
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["data"][0]["id"], "music_001");
    assert_error(
        &app.get(&grant_path("music_003", "standard"), "user_free")
            .await,
        404,
        "MUSIC_NOT_FOUND",
    );
}
