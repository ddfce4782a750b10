//! The admin API on both backends: admins only, and figures that match the seeded logs.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use serde_json::json;
use soundshelf_app::testing::*;
use soundshelf_store::Backend;
use soundshelf_store::testing::execute_sql;
use time::{Duration, OffsetDateTime};

soundshelf_store::on_both_backends!(admin_figures_match_the_logs);

fn at(ago: Duration) -> String {
    let t = OffsetDateTime::now_utc() - ago;
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `n` log rows of one address, user, track and status, `ago` in the past.
fn logs(
    prefix: &str,
    n: usize,
    ip: &str,
    user: &str,
    music: &str,
    status: &str,
    ago: Duration,
) -> String {
    let time = at(ago);
    let rows: Vec<String> = (0..n)
        .map(|i| format!("('{prefix}{i}', '{user}', '{music}', '{ip}', 100, '{time}', '{status}')"))
        .collect();
    format!(
        "INSERT INTO download_logs (id, user_id, music_id, ip_address, download_size, download_time, status) VALUES {}",
        rows.join(", ")
    )
}

async fn admin_figures_match_the_logs(backend: Backend) {
    let app = spawn_app(backend).await;
    let minutes = Duration::minutes(5);
    for sql in [
        logs(
            "a",
            3,
            "10.0.0.1",
            "user_free",
            "music_003",
            "started",
            minutes,
        ),
        logs(
            "b",
            2,
            "10.0.0.1",
            "user_free",
            "music_001",
            "started",
            minutes,
        ),
        logs(
            "c",
            2,
            "10.0.0.1",
            "user_free",
            "music_002",
            "started",
            minutes,
        ),
        logs(
            "d",
            1,
            "10.0.0.1",
            "user_free",
            "music_004",
            "failed",
            minutes,
        ),
        logs(
            "e",
            4,
            "10.0.0.1",
            "user_free",
            "music_005",
            "started",
            Duration::days(8),
        ),
        // Abnormal activity: more than 50 attempts in the last hour.
        logs(
            "f",
            51,
            "203.0.113.1",
            "user_trial",
            "music_006",
            "failed",
            minutes,
        ),
        logs(
            "g",
            50,
            "203.0.113.2",
            "user_trial",
            "music_006",
            "failed",
            minutes,
        ),
        logs(
            "h",
            60,
            "203.0.113.3",
            "user_trial",
            "music_006",
            "failed",
            Duration::hours(2),
        ),
    ] {
        execute_sql(&app.db.config, &sql).await;
    }
    execute_sql(
        &app.db.config,
        "INSERT INTO daily_reports (day, downloads_total, downloads_downloading, downloads_completed, downloads_failed, downloads_expired, completed_bytes, new_favorites, created_at) \
         VALUES ('2026-06-09', 4, 1, 2, 1, 0, 3500, 1, '2026-06-10 01:00:00')",
    )
    .await;

    let routes = [
        "/api/admin/stats/downloads?range=1h",
        "/api/admin/downloads/popular?limit=2",
        "/api/admin/downloads/abnormal",
        "/api/admin/reports/daily?date=2026-06-09",
    ];
    for route in routes {
        assert_error(&app.get(route, "user_vip").await, 403, "FORBIDDEN");
        assert_eq!(app.get(route, "user_admin").await.0, 200, "{route}");
    }

    let (_, popular) = app
        .get("/api/admin/downloads/popular?limit=2", "user_admin")
        .await;
    assert_eq!(
        popular["data"],
        json!([
            {"music_id": "music_003", "title": "森林晨曦", "downloads": 3},
            {"music_id": "music_001", "title": "深度放松冥想音乐", "downloads": 2},
        ])
    );
    let (_, all) = app.get("/api/admin/downloads/popular", "user_admin").await;
    let ids: Vec<&str> = all["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["music_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["music_003", "music_001", "music_002"],
        "failed and older than 7 days are not counted"
    );
    for bad in ["limit=0", "limit=101", "limit=abc"] {
        assert_error(
            &app.get(&format!("/api/admin/downloads/popular?{bad}"), "user_admin")
                .await,
            400,
            "INVALID_REQUEST",
        );
    }

    let (_, abnormal) = app.get("/api/admin/downloads/abnormal", "user_admin").await;
    assert_eq!(abnormal["data"]["threshold"], 50);
    assert_eq!(
        abnormal["data"]["pairs"],
        json!([{"ip_address": "203.0.113.1", "user_id": "user_trial", "attempts": 51}]),
        "51 is abnormal, 50 is not, two hours ago does not count"
    );

    let (_, stats) = app
        .get("/api/admin/stats/downloads?range=1h", "user_admin")
        .await;
    assert_eq!(stats["data"]["total_attempts"], 3 + 2 + 2 + 1 + 51 + 50);
    assert_eq!(stats["data"]["by_status"]["started"]["attempts"], 7);
    assert_eq!(stats["data"]["by_status"]["failed"]["attempts"], 102);
    let (_, month) = app
        .get("/api/admin/stats/downloads?range=30d", "user_admin")
        .await;
    assert_eq!(month["data"]["total_attempts"], 109 + 4 + 60);
    assert_error(
        &app.get("/api/admin/stats/downloads?range=2h", "user_admin")
            .await,
        400,
        "INVALID_REQUEST",
    );

    let (_, report) = app
        .get("/api/admin/reports/daily?date=2026-06-09", "user_admin")
        .await;
    assert_eq!(
        report["data"],
        json!({"date": "2026-06-09", "downloads": {"total": 4, "downloading": 1, "completed": 2, "failed": 1, "expired": 0}, "completed_bytes": 3500, "new_favorites": 1})
    );
    assert_error(
        &app.get("/api/admin/reports/daily?date=2026-06-08", "user_admin")
            .await,
        404,
        "REPORT_NOT_FOUND",
    );
    assert_error(
        &app.get("/api/admin/reports/daily?date=yesterday", "user_admin")
            .await,
        400,
        "INVALID_REQUEST",
    );
    let (_, recent) = app.get("/api/admin/reports/daily", "user_admin").await;
    assert_eq!(recent["data"].as_array().unwrap().len(), 1);
}
