//! The scheduled jobs on both backends: each cleans exactly what SPEC says and nothing
//! else; the daily report equals counts computed independently; and a job started on two
//! instances at once runs once with only the database to coordinate them.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::sync::Arc;

use soundshelf_domain::jobs::Job;
use soundshelf_ports::Clock;
use soundshelf_service::jobs::{JobRun, JobsService};
use soundshelf_store::testing::{TestDb, execute_sql, query_text};
use soundshelf_store::{Backend, Store, demo};
use time::OffsetDateTime;
use time::macros::{datetime, offset};

const NOW: OffsetDateTime = datetime!(2026-06-10 12:00 UTC);

struct FixedClock;
impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        NOW
    }
}

soundshelf_store::on_both_backends!(
    every_job_cleans_exactly_what_it_should,
    the_daily_report_matches_independent_counts,
    retention_deletes_exactly_what_is_older_than_each_window
);

async fn setup(backend: Backend) -> (TestDb, Store, JobsService) {
    let (db, store) = TestDb::migrated(backend).await;
    demo::seed(&store, NOW - time::Duration::days(60))
        .await
        .unwrap();
    let store_arc = Arc::new(store.clone());
    let jobs = JobsService::new(
        store_arc.clone(),
        store_arc,
        Arc::new(FixedClock),
        offset!(+8),
    );
    (db, store, jobs)
}

async fn ids(db: &TestDb, sql: &str) -> String {
    query_text(&db.config, sql).await.unwrap_or_default()
}

fn group_concat(backend: Backend, column: &str) -> String {
    match backend {
        Backend::Mysql => format!("GROUP_CONCAT({column} ORDER BY {column} SEPARATOR ',')"),
        Backend::Sqlite => format!("GROUP_CONCAT({column}, ',')"),
    }
}

async fn every_job_cleans_exactly_what_it_should(backend: Backend) {
    let (db, _store, jobs) = setup(backend).await;
    let token = |id: &str, music: &str, expires: &str| {
        format!(
            "INSERT INTO download_tokens (id, user_id, music_id, token, download_url, quality, expires_at, max_downloads, download_count, created_at) \
             VALUES ('{id}', 'user_free', '{music}', '{id}-hash', 'u', 'standard', '{expires}', 3, 0, '2026-06-10 00:00:00')"
        )
    };
    let record = |id: &str, music: &str, status: &str, time: &str, expires: &str| {
        format!(
            "INSERT INTO user_downloads (id, user_id, music_id, file_size, quality, status, progress, download_time, expires_at) \
             VALUES ('{id}', 'user_free', '{music}', 1, 'standard', '{status}', 0, '{time}', {expires})"
        )
    };
    let tombstone = |item: &str, recorded: &str| {
        format!(
            "INSERT INTO favorite_tombstones (user_id, item_id, removed_at, recorded_at) VALUES ('user_free', '{item}', '{recorded}', '{recorded}')"
        )
    };
    for sql in [
        token("tok_expired", "music_001", "2026-06-10 11:00:00"),
        token("tok_valid", "music_002", "2026-06-10 13:00:00"),
        record(
            "dl_stale",
            "music_001",
            "downloading",
            "2026-06-10 05:00:00",
            "'2026-06-10 11:00:00'",
        ),
        record(
            "dl_live",
            "music_002",
            "downloading",
            "2026-06-10 10:00:00",
            "'2026-06-10 13:00:00'",
        ),
        record(
            "dl_done",
            "music_003",
            "completed",
            "2026-06-10 05:00:00",
            "'2026-06-10 11:00:00'",
        ),
        record(
            "dl_reported",
            "music_004",
            "downloading",
            "2026-05-01 00:00:00",
            "NULL",
        ),
        record(
            "dl_failed_old",
            "music_005",
            "failed",
            "2026-06-02 11:59:59",
            "NULL",
        ),
        record(
            "dl_failed_new",
            "music_006",
            "failed",
            "2026-06-03 12:00:01",
            "NULL",
        ),
        record(
            "dl_done_old",
            "music_007",
            "completed",
            "2026-04-01 00:00:00",
            "NULL",
        ),
        tombstone("old_item", "2026-05-11 11:59:59"),
        tombstone("new_item", "2026-05-11 12:00:01"),
    ] {
        execute_sql(&db.config, &sql).await;
    }

    let JobRun::Ran(report) = jobs.run(Job::TokenCleanup).await.unwrap() else {
        panic!("ran")
    };
    assert_eq!(
        report.counts,
        vec![("tokens_deleted", 1), ("downloads_expired", 1)]
    );
    assert_eq!(
        ids(
            &db,
            &format!(
                "SELECT {} AS value FROM download_tokens",
                group_concat(backend, "id")
            )
        )
        .await,
        "tok_valid"
    );
    let expired = ids(
        &db,
        &format!(
            "SELECT {} AS value FROM user_downloads WHERE status = 'expired'",
            group_concat(backend, "id")
        ),
    )
    .await;
    assert_eq!(expired, "dl_stale");

    let JobRun::Ran(report) = jobs.run(Job::FailedCleanup).await.unwrap() else {
        panic!("ran")
    };
    assert_eq!(
        report.counts,
        vec![("failed_records_deleted", 1), ("tombstones_purged", 1)]
    );
    let left = ids(
        &db,
        &format!(
            "SELECT {} AS value FROM user_downloads",
            group_concat(backend, "id")
        ),
    )
    .await;
    assert_eq!(
        left,
        "dl_done,dl_done_old,dl_failed_new,dl_live,dl_reported,dl_stale"
    );
    assert_eq!(
        ids(&db, "SELECT item_id AS value FROM favorite_tombstones").await,
        "new_item"
    );

    // Running again finds nothing more.
    let JobRun::Ran(again) = jobs.run(Job::TokenCleanup).await.unwrap() else {
        panic!("ran")
    };
    assert_eq!(
        again.counts,
        vec![("tokens_deleted", 0), ("downloads_expired", 0)]
    );

    // Statistics: started downloads of the last 7 and 30 days, per track.
    let log = |id: &str, music: &str, status: &str, at: &str| {
        format!(
            "INSERT INTO download_logs (id, user_id, music_id, ip_address, download_size, download_time, status) VALUES ('{id}', 'user_free', '{music}', '::1', 0, '{at}', '{status}')"
        )
    };
    for sql in [
        log("l1", "music_001", "started", "2026-06-09 00:00:00"),
        log("l2", "music_001", "started", "2026-06-08 00:00:00"),
        log("l3", "music_001", "started", "2026-05-25 00:00:00"),
        log("l4", "music_002", "started", "2026-05-20 00:00:00"),
        log("l5", "music_003", "failed", "2026-06-09 00:00:00"),
        log("l6", "music_004", "started", "2026-04-01 00:00:00"),
    ] {
        execute_sql(&db.config, &sql).await;
    }
    let JobRun::Ran(report) = jobs.run(Job::StatsRefresh).await.unwrap() else {
        panic!("ran")
    };
    assert_eq!(report.counts, vec![("tracks_refreshed", 2)]);
    let week = ids(&db, "SELECT CAST(downloads_7d AS CHAR) AS value FROM music_download_stats WHERE music_id = 'music_001'").await;
    let month = ids(&db, "SELECT CAST(downloads_30d AS CHAR) AS value FROM music_download_stats WHERE music_id = 'music_001'").await;
    let stats = format!("{week}/{month}");
    assert_eq!(stats, "2/3");
}

/// Rows at known ages on each side of every window's edge (SPEC §12's defaults; now is
/// 2026-06-10 12:00 UTC, 20:00 in the app's +08:00): one run deletes exactly those
/// strictly older, in batches (2,500 old logs take three), and a second run deletes
/// nothing.
async fn retention_deletes_exactly_what_is_older_than_each_window(backend: Backend) {
    let (db, _store, jobs) = setup(backend).await;
    let jobs = jobs.with_retention_pause(std::time::Duration::from_millis(1));
    let log = |id: &str, at: &str| {
        format!("('{id}', 'user_free', 'music_001', '::1', 0, '{at}', 'started')")
    };
    // Logs: kept 90 days, the edge is 2026-03-12 12:00:00.
    let mut old_logs: Vec<String> = (0..2_500)
        .map(|n| log(&format!("log_old_{n:04}"), "2026-01-01 00:00:00"))
        .collect();
    old_logs.push(log("log_edge_before", "2026-03-12 11:59:59"));
    for (id, at) in [
        ("log_edge_at", "2026-03-12 12:00:00"),
        ("log_edge_after", "2026-03-12 12:00:01"),
        ("log_today", "2026-06-10 11:00:00"),
    ] {
        old_logs.push(log(id, at));
    }
    for chunk in old_logs.chunks(500) {
        execute_sql(
            &db.config,
            &format!(
                "INSERT INTO download_logs (id, user_id, music_id, ip_address, download_size, download_time, status) VALUES {}",
                chunk.join(", ")
            ),
        )
        .await;
    }
    let day_rows = |table: &str, day: &str, user: &str| match table {
        "download_grant_days" => format!(
            "INSERT INTO download_grant_days (user_id, day, music_id, quality, granted_at) VALUES ('{user}', '{day}', 'music_001', 'standard', '{day} 08:00:00')"
        ),
        _ => format!(
            "INSERT INTO daily_grant_counters (user_id, day, grants) VALUES ('{user}', '{day}', 1)"
        ),
    };
    let report = |day: &str| {
        format!(
            "INSERT INTO daily_reports (day, downloads_total, downloads_downloading, downloads_completed, downloads_failed, downloads_expired, completed_bytes, new_favorites, created_at) \
             VALUES ('{day}', 1, 0, 1, 0, 0, 10, 0, '{day} 01:00:00')"
        )
    };
    let audit = |id: &str, at: &str| {
        format!(
            "INSERT INTO audit_log (id, at, actor, action, target, before_state, after_state, request_id) \
             VALUES ('{id}', '{at}', 'system', 'user.update', 'user:user_free', NULL, '{{}}', NULL)"
        )
    };
    let record = |id: &str, music: &str, status: &str, at: &str| {
        format!(
            "INSERT INTO user_downloads (id, user_id, music_id, file_size, quality, status, progress, download_time) \
             VALUES ('{id}', 'user_free', '{music}', 1, 'standard', '{status}', 0, '{at}')"
        )
    };
    let mut statements = Vec::new();
    for table in ["download_grant_days", "daily_grant_counters"] {
        // Kept 35 days: today (06-10 in +08:00) and the 35 before it, from 05-06.
        statements.push(day_rows(table, "2026-05-05", "user_free"));
        statements.push(day_rows(table, "2026-05-06", "user_free"));
        statements.push(day_rows(table, "2026-06-10", "user_free"));
        statements.push(day_rows(table, "2026-05-05", "user_trial"));
    }
    // Reports kept 400 days: from 2025-05-06.
    for day in ["2025-05-05", "2025-05-06", "2026-06-09"] {
        statements.push(report(day));
    }
    // Audit entries kept 400 days: from 2025-05-06 12:00:00.
    statements.push(audit("aud_before", "2025-05-06 11:59:59"));
    statements.push(audit("aud_at", "2025-05-06 12:00:00"));
    statements.push(audit("aud_recent", "2026-06-01 00:00:00"));
    // Expired records kept 30 days: from 2026-05-11 12:00:00; other statuses are not
    // this job's.
    statements.push(record(
        "dl_expired_before",
        "music_001",
        "expired",
        "2026-05-11 11:59:59",
    ));
    statements.push(record(
        "dl_expired_at",
        "music_002",
        "expired",
        "2026-05-11 12:00:00",
    ));
    statements.push(record(
        "dl_completed_old",
        "music_003",
        "completed",
        "2025-01-01 00:00:00",
    ));
    statements.push(record(
        "dl_downloading_old",
        "music_004",
        "downloading",
        "2025-01-01 00:00:00",
    ));
    // Alerted pairs kept a day: from 2026-06-09 12:00:00.
    for (ip, at) in [
        ("192.0.2.1", "2026-06-09 11:59:59"),
        ("192.0.2.2", "2026-06-09 12:00:00"),
    ] {
        statements.push(format!(
            "INSERT INTO alert_pairs (ip_address, user_id, alerted_at) VALUES ('{ip}', 'user_free', '{at}')"
        ));
    }
    for sql in statements {
        execute_sql(&db.config, &sql).await;
    }

    let JobRun::Ran(first) = jobs.run(Job::Retention).await.unwrap() else {
        panic!("ran")
    };
    assert_eq!(
        first.counts,
        vec![
            ("download_logs_deleted", 2_501),
            ("grant_days_deleted", 2),
            ("grant_counters_deleted", 2),
            ("daily_reports_deleted", 1),
            ("audit_entries_deleted", 1),
            ("expired_records_deleted", 1),
            ("alert_pairs_deleted", 1),
        ]
    );
    let left = |table: &str, column: &str| {
        let sql = format!(
            "SELECT {} AS value FROM {table}",
            group_concat(backend, column)
        );
        let db = &db;
        async move { ids(db, &sql).await }
    };
    assert_eq!(
        left("download_logs", "id").await,
        "log_edge_after,log_edge_at,log_today"
    );
    for table in ["download_grant_days", "daily_grant_counters"] {
        assert_eq!(
            left(table, "CAST(day AS CHAR)").await,
            "2026-05-06,2026-06-10",
            "{table}"
        );
    }
    assert_eq!(
        left("daily_reports", "CAST(day AS CHAR)").await,
        "2025-05-06,2026-06-09"
    );
    assert_eq!(left("audit_log", "id").await, "aud_at,aud_recent");
    assert_eq!(left("alert_pairs", "ip_address").await, "192.0.2.2");
    assert_eq!(
        left("user_downloads", "id").await,
        "dl_completed_old,dl_downloading_old,dl_expired_at"
    );

    let JobRun::Ran(second) = jobs.run(Job::Retention).await.unwrap() else {
        panic!("ran")
    };
    assert!(
        second.counts.iter().all(|(_, n)| *n == 0),
        "{:?}",
        second.counts
    );
}

async fn the_daily_report_matches_independent_counts(backend: Backend) {
    let (db, _store, jobs) = setup(backend).await;
    // Yesterday in +08:00 is 2026-06-09: [06-08 16:00, 06-09 16:00) UTC.
    let record = |id: &str, music: &str, quality: &str, status: &str, time: &str, size: u64| {
        format!(
            "INSERT INTO user_downloads (id, user_id, music_id, file_size, quality, status, progress, download_time) \
             VALUES ('{id}', 'user_vip', '{music}', {size}, '{quality}', '{status}', 0, '{time}')"
        )
    };
    let favorite = |id: &str, item: &str, at: &str| {
        format!(
            "INSERT INTO user_favorites (id, user_id, item_id, item_type, item_data, search_title, created_at, updated_at) \
             VALUES ('{id}', 'user_vip', '{item}', 'music', '{{\"title\":\"t\",\"cover\":\"c\",\"duration\":1}}', 't', '{at}', '{at}')"
        )
    };
    for sql in [
        record(
            "dl_1",
            "music_001",
            "standard",
            "completed",
            "2026-06-08 16:00:00",
            1000,
        ),
        record(
            "dl_2",
            "music_002",
            "standard",
            "completed",
            "2026-06-09 15:59:59",
            2500,
        ),
        record(
            "dl_3",
            "music_003",
            "standard",
            "failed",
            "2026-06-09 03:00:00",
            9999,
        ),
        record(
            "dl_4",
            "music_004",
            "standard",
            "downloading",
            "2026-06-09 04:00:00",
            7,
        ),
        record(
            "dl_5",
            "music_005",
            "standard",
            "completed",
            "2026-06-08 15:59:59",
            50000,
        ),
        record(
            "dl_6",
            "music_006",
            "standard",
            "completed",
            "2026-06-09 16:00:00",
            60000,
        ),
        favorite("fav_01M8HZ0000000000000000000A", "a", "2026-06-09 10:00:00"),
        favorite("fav_01M8HZ0000000000000000000B", "b", "2026-06-07 10:00:00"),
    ] {
        execute_sql(&db.config, &sql).await;
    }
    let JobRun::Ran(report) = jobs.run(Job::DailyReport).await.unwrap() else {
        panic!("ran")
    };
    let window = "download_time >= '2026-06-08 16:00:00' AND download_time < '2026-06-09 16:00:00'";
    let count = |sql: String| {
        let db = &db;
        async move { ids(db, &sql).await.parse::<u64>().unwrap() }
    };
    let cast = |expr: &str| format!("CAST({expr} AS CHAR)");
    let expected_total = count(format!(
        "SELECT {} AS value FROM user_downloads WHERE {window}",
        cast("COUNT(*)")
    ))
    .await;
    let expected_completed = count(format!(
        "SELECT {} AS value FROM user_downloads WHERE {window} AND status = 'completed'",
        cast("COUNT(*)")
    ))
    .await;
    let expected_bytes = count(format!(
        "SELECT {} AS value FROM user_downloads WHERE {window} AND status = 'completed'",
        cast("COALESCE(SUM(file_size), 0)")
    ))
    .await;
    let expected_favorites = count(format!(
        "SELECT {} AS value FROM user_favorites WHERE created_at >= '2026-06-08 16:00:00' AND created_at < '2026-06-09 16:00:00'",
        cast("COUNT(*)")
    ))
    .await;
    let get = |name: &str| report.counts.iter().find(|(n, _)| *n == name).unwrap().1;
    assert_eq!(get("downloads"), expected_total);
    assert_eq!(get("completed"), expected_completed);
    assert_eq!(get("completed_bytes"), expected_bytes);
    assert_eq!(get("new_favorites"), expected_favorites);
    assert_eq!(
        (
            expected_total,
            expected_completed,
            expected_bytes,
            expected_favorites
        ),
        (4, 2, 3500, 1)
    );
    let stored = ids(
        &db,
        &format!(
            "SELECT {} AS value FROM daily_reports WHERE day = '2026-06-09'",
            cast("completed_bytes")
        ),
    )
    .await;
    assert_eq!(stored, "3500");
    // A second run replaces the day's report rather than adding one.
    jobs.run(Job::DailyReport).await.unwrap();
    assert_eq!(
        ids(
            &db,
            &format!("SELECT {} AS value FROM daily_reports", cast("COUNT(*)"))
        )
        .await,
        "1"
    );
}

/// Two instances sharing only MariaDB start the same job at once: it runs once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_started_on_two_instances_sharing_only_mariadb_runs_once() {
    let (db, _store, _) = setup(Backend::Mysql).await;
    let instance = || async {
        let store = Arc::new(
            Store::connect(&db.config, Default::default())
                .await
                .unwrap(),
        );
        JobsService::new(store.clone(), store, Arc::new(FixedClock), offset!(+8))
    };
    let (a, b) = (instance().await, instance().await);
    for _ in 0..5 {
        let (ra, rb) = tokio::join!(a.run(Job::StatsRefresh), b.run(Job::StatsRefresh));
        let ran = [ra.unwrap(), rb.unwrap()]
            .iter()
            .filter(|r| matches!(r, JobRun::Ran(_)))
            .count();
        assert_eq!(ran, 1);
    }
}
