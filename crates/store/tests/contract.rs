//! The store contract: every port method, run against both backends (SQLite on a fresh
//! temporary file, MariaDB/MySQL on a fresh `test_<random>` database).

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::collections::HashSet;

use serde_json::json;
use soundshelf_domain::downloads::{
    DownloadStatus, Grant, GrantDenied, PlanLimits, Usage, decide_quota,
};
use soundshelf_domain::favorites::PageStart;
use soundshelf_domain::{CatalogId, DownloadId, LogId, Quality, TokenId};
use soundshelf_domain::{
    Favorite, FavoriteFilter, FavoriteId, ItemData, ItemId, ItemType, Limit, PageRequest,
    SearchTerm, User, UserId, UserStatus,
};
use soundshelf_ports::{
    CatalogStore, DownloadLogEntry, DownloadStore, FavoriteStore, GrantDecider, GrantRequest,
    RecordReport, Removal, StoreError, SyncSnapshot, SyncWrites, UserStore,
};
use soundshelf_store::testing::TestDb;
use soundshelf_store::{Backend, Store, demo, migrations};
use time::{Duration, OffsetDateTime};
use ulid::Ulid;

soundshelf_store::on_both_backends!(
    migrations_go_up_down_and_up_again,
    favorites_round_trip_with_cjk_and_emoji,
    duplicates_conflict_per_user,
    deletes_touch_only_the_owners_rows,
    lists_are_newest_first_filtered_and_counted,
    search_is_a_literal_case_insensitive_substring,
    keyset_pages_hold_each_row_exactly_once_while_rows_are_added,
    contains_reports_only_the_users_items,
    users_are_found_with_their_status,
    demo_seed_is_complete_and_runs_once,
    deletes_leave_tombstones_and_adds_clear_them,
    sync_reads_under_the_lock_and_writes_all,
    sync_without_writes_changes_nothing,
    catalogue_tracks_have_their_files,
    catalogue_entries_carry_what_the_client_shows,
    the_usage_read_is_what_each_grant_sees,
    grants_hand_the_decision_the_user_as_stored,
    grants_count_distinct_files_per_day_and_refuse_atomically,
    grants_check_storage_of_completed_downloads,
    grants_write_only_what_the_decision_says,
    parallel_grants_hold_the_daily_limit_exactly,
    corrupt_stored_numbers_are_reported_not_read_as_zero,
    a_query_timeout_inside_a_transaction_answers_unavailable_and_the_write_completes_whole,
    token_uses_are_counted_conditionally,
    records_are_upserted_paged_counted_and_deleted,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_of_500_changes_is_a_bounded_number_of_statements_on_mysql() {
    let (_db, store) = seeded(Backend::Mysql).await;
    // Warm the pool so connection set-up is not counted.
    store
        .sync(
            &uid("user_free"),
            &[],
            None,
            Box::new(|_| SyncWrites::default()),
        )
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let puts: Vec<Favorite> = (0..250)
        .map(|i| favorite("user_free", &format!("p{i}"), "t", now))
        .collect();
    let removals: Vec<Removal> = (0..250)
        .map(|i| Removal {
            item_id: ItemId::parse(&format!("r{i}")).unwrap(),
            removed_at: now,
        })
        .collect();
    let items: Vec<ItemId> = puts
        .iter()
        .map(|f| f.item_id.clone())
        .chain(removals.iter().map(|r| r.item_id.clone()))
        .collect();
    let before = store.statements_executed();
    let writes = SyncWrites { puts, removals };
    store
        .sync(
            &uid("user_free"),
            &items,
            Some(now - Duration::days(1)),
            Box::new(move |_| writes),
        )
        .await
        .unwrap();
    let statements = store.statements_executed() - before;
    eprintln!("a sync of 500 changes took {statements} statements");
    assert!(statements <= 12, "{statements} statements for 500 changes");
    assert_eq!(
        store
            .list(&uid("user_free"), &FavoriteFilter::default(), &page(100))
            .await
            .unwrap()
            .total,
        250
    );
}

async fn seeded(backend: Backend) -> (TestDb, Store) {
    let (db, store) = TestDb::migrated(backend).await;
    demo::seed(&store, OffsetDateTime::now_utc()).await.unwrap();
    (db, store)
}

fn uid(s: &str) -> UserId {
    UserId::parse(s).unwrap()
}

fn favorite(user: &str, item: &str, title: &str, at: OffsetDateTime) -> Favorite {
    let at = soundshelf_domain::time::to_storage_precision(at);
    Favorite {
        id: FavoriteId::from_ulid(Ulid::generate()),
        user_id: uid(user),
        item_id: ItemId::parse(item).unwrap(),
        item_type: ItemType::from_id_prefix(&ItemId::parse(item).unwrap())
            .unwrap_or(ItemType::Music),
        item_data: ItemData::parse(json!({"title": title, "cover": "/c.jpg", "duration": 360}))
            .unwrap(),
        created_at: at,
        updated_at: at,
    }
}

fn page(limit: u32) -> PageRequest {
    PageRequest {
        limit: Limit::parse(Some(&limit.to_string())).unwrap(),
        start: PageStart::Offset(0),
    }
}

fn search(term: &str) -> FavoriteFilter {
    FavoriteFilter {
        item_type: None,
        search: SearchTerm::parse(Some(term)).unwrap(),
    }
}

async fn all(store: &Store, user: &str, filter: &FavoriteFilter) -> Vec<Favorite> {
    store
        .list(&uid(user), filter, &page(100))
        .await
        .unwrap()
        .items
}

async fn migrations_go_up_down_and_up_again(backend: Backend) {
    let db = TestDb::empty(backend).await;
    let up = migrations::run_pending(&db.config).await.unwrap();
    assert!(!up.is_empty());
    let down = migrations::revert_all(&db.config).await.unwrap();
    assert_eq!(down.len(), up.len());
    let again = migrations::run_pending(&db.config).await.unwrap();
    assert_eq!(again, up);
    assert!(
        migrations::run_pending(&db.config)
            .await
            .unwrap()
            .is_empty()
    );
    // The schema is usable after the round trip.
    let store = Store::connect(&db.config, Default::default())
        .await
        .unwrap();
    demo::seed(&store, OffsetDateTime::now_utc()).await.unwrap();
    store
        .insert(&favorite(
            "user_free",
            "music_001",
            "t",
            OffsetDateTime::now_utc(),
        ))
        .await
        .unwrap();
}

async fn favorites_round_trip_with_cjk_and_emoji(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let mut f = favorite(
        "user_free",
        "music_001",
        "深度放松冥想音乐 🎵🧘‍♀️",
        OffsetDateTime::now_utc(),
    );
    f.item_data = ItemData::parse(json!({
        "title": "深度放松冥想音乐 🎵🧘‍♀️",
        "cover": "/images/封面.jpg",
        "duration": 360.5,
        "category": "冥想",
        "metadata": {"artist": "Ólafur 😀", "tags": ["睡眠", 1, null]}
    }))
    .unwrap();
    store.insert(&f).await.unwrap();
    let got = all(&store, "user_free", &FavoriteFilter::default()).await;
    assert_eq!(got, vec![f.clone()]);
    for term in ["冥想", "🎵", "🧘‍♀️", "深度放松冥想音乐 🎵"] {
        assert_eq!(
            all(&store, "user_free", &search(term)).await,
            vec![f.clone()],
            "{term}"
        );
    }
    // Under a Unicode collation every emoji weighs the same; this one must not match.
    assert!(all(&store, "user_free", &search("😀")).await.is_empty());
    assert!(
        all(&store, "user_free", &search("冥想音乐 🎶"))
            .await
            .is_empty()
    );
}

async fn duplicates_conflict_per_user(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let now = OffsetDateTime::now_utc();
    store
        .insert(&favorite("user_free", "music_001", "a", now))
        .await
        .unwrap();
    let err = store
        .insert(&favorite("user_free", "music_001", "b", now))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict), "{err:?}");
    // Ids are case-sensitive: another id, not a duplicate.
    store
        .insert(&favorite("user_free", "MUSIC_001", "c", now))
        .await
        .unwrap();
    // Another user may favorite the same item.
    store
        .insert(&favorite("user_vip", "music_001", "a", now))
        .await
        .unwrap();
    assert_eq!(
        all(&store, "user_free", &FavoriteFilter::default())
            .await
            .len(),
        2
    );
    assert_eq!(all(&store, "user_free", &search("b")).await.len(), 0);
}

async fn deletes_touch_only_the_owners_rows(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let now = OffsetDateTime::now_utc();
    let mine = favorite("user_free", "music_001", "a", now);
    let theirs = favorite("user_vip", "music_002", "b", now);
    store.insert(&mine).await.unwrap();
    store.insert(&theirs).await.unwrap();

    assert!(!store.delete(&uid("user_free"), &theirs.id).await.unwrap());
    assert!(
        !store
            .delete_by_item(&uid("user_free"), &theirs.item_id)
            .await
            .unwrap()
    );
    assert_eq!(
        all(&store, "user_vip", &FavoriteFilter::default()).await,
        vec![theirs.clone()]
    );

    assert!(store.delete(&uid("user_free"), &mine.id).await.unwrap());
    assert!(!store.delete(&uid("user_free"), &mine.id).await.unwrap());
    assert!(
        store
            .delete_by_item(&uid("user_vip"), &theirs.item_id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .delete_by_item(&uid("user_vip"), &theirs.item_id)
            .await
            .unwrap()
    );
}

async fn lists_are_newest_first_filtered_and_counted(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let t0 = OffsetDateTime::now_utc() - Duration::hours(1);
    let items = [
        ("music_001", 0),
        ("assessment_001", 1),
        ("sequence_001", 2),
        ("music_002", 3),
    ];
    for (item, minutes) in items {
        store
            .insert(&favorite(
                "user_free",
                item,
                item,
                t0 + Duration::minutes(minutes),
            ))
            .await
            .unwrap();
    }
    let got = store
        .list(&uid("user_free"), &FavoriteFilter::default(), &page(2))
        .await
        .unwrap();
    assert_eq!(got.total, 4);
    assert!(got.has_more);
    let ids: Vec<&str> = got.items.iter().map(|f| f.item_id.as_str()).collect();
    assert_eq!(ids, ["music_002", "sequence_001"]);

    let offset = PageRequest {
        limit: Limit::parse(Some("2")).unwrap(),
        start: PageStart::Offset(2),
    };
    let rest = store
        .list(&uid("user_free"), &FavoriteFilter::default(), &offset)
        .await
        .unwrap();
    let ids: Vec<&str> = rest.items.iter().map(|f| f.item_id.as_str()).collect();
    assert_eq!(ids, ["assessment_001", "music_001"]);
    assert!(!rest.has_more);

    let music = FavoriteFilter {
        item_type: Some(ItemType::Music),
        search: None,
    };
    let got = store
        .list(&uid("user_free"), &music, &page(10))
        .await
        .unwrap();
    assert_eq!(got.total, 2);
    assert!(got.items.iter().all(|f| f.item_type == ItemType::Music));
    assert_eq!(
        store
            .list(&uid("user_vip"), &FavoriteFilter::default(), &page(10))
            .await
            .unwrap()
            .total,
        0
    );
}

async fn search_is_a_literal_case_insensitive_substring(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let now = OffsetDateTime::now_utc();
    for (item, title) in [
        ("m1", "Deep Relaxation"),
        ("m2", "100% Calm"),
        ("m3", "under_score"),
        ("m4", "ÉTÉ Émotion"),
        ("m5", "plain"),
    ] {
        store
            .insert(&favorite("user_free", item, title, now))
            .await
            .unwrap();
    }
    let titles = |fs: Vec<Favorite>| -> HashSet<String> {
        fs.iter().map(|f| f.item_data.title().to_owned()).collect()
    };
    let cases: &[(&str, &[&str])] = &[
        ("deep", &["Deep Relaxation"]),
        ("RELAX", &["Deep Relaxation"]),
        ("%", &["100% Calm"]),
        ("_", &["under_score"]),
        ("été", &["ÉTÉ Émotion"]),
        ("émo", &["ÉTÉ Émotion"]),
        ("a%c", &[]),
        ("u_d", &[]),
        ("xyz", &[]),
    ];
    for (term, want) in cases {
        let got = titles(all(&store, "user_free", &search(term)).await);
        let want: HashSet<String> = want.iter().map(|s| s.to_string()).collect();
        assert_eq!(got, want, "search {term:?}");
    }
}

async fn keyset_pages_hold_each_row_exactly_once_while_rows_are_added(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    // Several rows share one instant, so the id breaks ties.
    let t0 = OffsetDateTime::now_utc() - Duration::hours(1);
    let mut expected = HashSet::new();
    for i in 0..23 {
        let f = favorite(
            "user_free",
            &format!("music_{i:03}"),
            "t",
            t0 + Duration::seconds(i / 3),
        );
        expected.insert(f.id);
        store.insert(&f).await.unwrap();
    }
    let mut seen = Vec::new();
    let mut start = PageStart::Offset(0);
    let mut added = 0;
    loop {
        let req = PageRequest {
            limit: Limit::parse(Some("5")).unwrap(),
            start: start.clone(),
        };
        let got = store
            .list(&uid("user_free"), &FavoriteFilter::default(), &req)
            .await
            .unwrap();
        seen.extend(got.items.iter().map(|f| f.id));
        // Meanwhile the user favorites more items (newer than everything listed).
        added += 1;
        store
            .insert(&favorite(
                "user_free",
                &format!("new_{added}"),
                "t",
                OffsetDateTime::now_utc(),
            ))
            .await
            .unwrap();
        if !got.has_more {
            break;
        }
        let last = got.items.last().unwrap();
        start = PageStart::After(soundshelf_domain::Cursor::after(last));
    }
    assert_eq!(seen.len(), expected.len(), "no row twice");
    assert_eq!(seen.iter().copied().collect::<HashSet<_>>(), expected);
}

async fn contains_reports_only_the_users_items(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let now = OffsetDateTime::now_utc();
    store
        .insert(&favorite("user_free", "a", "t", now))
        .await
        .unwrap();
    store
        .insert(&favorite("user_vip", "b", "t", now))
        .await
        .unwrap();
    let ids: Vec<ItemId> = ["a", "b", "c"]
        .iter()
        .map(|s| ItemId::parse(s).unwrap())
        .collect();
    let got = store.contains(&uid("user_free"), &ids).await.unwrap();
    assert_eq!(got, vec![ItemId::parse("a").unwrap()]);
    assert!(
        store
            .contains(&uid("user_free"), &[])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn users_are_found_with_their_status(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let free = store.find_user(&uid("user_free")).await.unwrap().unwrap();
    assert!(free.is_active());
    assert!(!free.has_premium_access);
    let disabled = store
        .find_user(&uid("user_disabled"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(disabled.status, UserStatus::Disabled);
    let admin = store.find_user(&uid("user_admin")).await.unwrap().unwrap();
    assert_eq!(admin.role, soundshelf_domain::Role::Admin);
    assert!(store.find_user(&uid("nobody")).await.unwrap().is_none());
    assert!(
        store
            .set_user_status(&uid("user_free"), UserStatus::Banned)
            .await
            .unwrap()
    );
    let banned = store.find_user(&uid("user_free")).await.unwrap().unwrap();
    assert_eq!(banned.status, UserStatus::Banned);
}

async fn demo_seed_is_complete_and_runs_once(backend: Backend) {
    let (_db, store) = TestDb::migrated(backend).await;
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        demo::seed(&store, now).await.unwrap(),
        demo::SeedOutcome::Seeded
    );
    assert_eq!(
        demo::seed(&store, now).await.unwrap(),
        demo::SeedOutcome::AlreadyPopulated
    );
    assert_eq!(store.count_users().await.unwrap(), 6);
    for u in demo::users(now) {
        let got = store.find_user(&u.id).await.unwrap().unwrap();
        assert_eq!(got, u);
    }
}

/// Runs a sync whose planner records the snapshot and writes `writes`.
async fn sync_with(
    store: &Store,
    user: &str,
    items: &[&str],
    since: Option<OffsetDateTime>,
    writes: SyncWrites,
) -> SyncSnapshot {
    let items: Vec<ItemId> = items.iter().map(|s| ItemId::parse(s).unwrap()).collect();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let slot = seen.clone();
    let now = store
        .sync(
            &uid(user),
            &items,
            since,
            Box::new(move |snapshot| {
                *slot.lock().unwrap() = Some(snapshot);
                writes
            }),
        )
        .await
        .unwrap();
    let snapshot = seen.lock().unwrap().take().unwrap();
    assert_eq!(snapshot.now, now);
    snapshot
}

async fn deletes_leave_tombstones_and_adds_clear_them(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let start = OffsetDateTime::now_utc() - Duration::seconds(1);
    let a = favorite("user_free", "music_001", "a", start);
    let b = favorite("user_free", "music_002", "b", start);
    store.insert(&a).await.unwrap();
    store.insert(&b).await.unwrap();
    assert!(store.delete(&uid("user_free"), &a.id).await.unwrap());
    assert!(
        store
            .delete_by_item(&uid("user_free"), &b.item_id)
            .await
            .unwrap()
    );
    // A failed delete leaves no tombstone.
    assert!(
        !store
            .delete_by_item(&uid("user_free"), &ItemId::parse("music_003").unwrap())
            .await
            .unwrap()
    );

    let snap = sync_with(
        &store,
        "user_free",
        &["music_001", "music_002", "music_003"],
        Some(start),
        SyncWrites::default(),
    )
    .await;
    assert_eq!(snap.tombstones.len(), 2);
    assert!(
        snap.tombstones
            .values()
            .all(|t| *t >= start && *t <= snap.now)
    );
    let mut deleted: Vec<&str> = snap.deleted_since.iter().map(ItemId::as_str).collect();
    deleted.sort();
    assert_eq!(deleted, ["music_001", "music_002"]);

    // Adding an item again clears its tombstone; another user's tombstones are not seen.
    store
        .insert(&favorite(
            "user_free",
            "music_001",
            "a",
            OffsetDateTime::now_utc(),
        ))
        .await
        .unwrap();
    let snap = sync_with(
        &store,
        "user_free",
        &["music_001", "music_002"],
        Some(start),
        SyncWrites::default(),
    )
    .await;
    assert_eq!(
        snap.tombstones
            .keys()
            .map(ItemId::as_str)
            .collect::<Vec<_>>(),
        ["music_002"]
    );
    let other = sync_with(
        &store,
        "user_vip",
        &["music_002"],
        Some(start),
        SyncWrites::default(),
    )
    .await;
    assert!(other.tombstones.is_empty() && other.deleted_since.is_empty());
}

async fn sync_reads_under_the_lock_and_writes_all(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let t0 = OffsetDateTime::now_utc() - Duration::hours(1);
    let kept = favorite("user_free", "music_001", "kept", t0);
    let replaced = favorite("user_free", "music_002", "old", t0);
    store.insert(&kept).await.unwrap();
    store.insert(&replaced).await.unwrap();

    let mut new_version = replaced.clone();
    new_version.item_data =
        ItemData::parse(json!({"title": "新的 🎵", "cover": "c", "duration": 2})).unwrap();
    new_version.updated_at =
        soundshelf_domain::time::to_storage_precision(t0 + Duration::minutes(5));
    let added = favorite("user_free", "music_003", "added", t0 + Duration::minutes(6));
    let writes = SyncWrites {
        puts: vec![new_version.clone(), added.clone()],
        removals: vec![
            Removal {
                item_id: kept.item_id.clone(),
                removed_at: t0 + Duration::minutes(7),
            },
            Removal {
                item_id: ItemId::parse("never_there").unwrap(),
                removed_at: t0,
            },
        ],
    };
    let snap = sync_with(
        &store,
        "user_free",
        &["music_001", "music_002", "music_003", "never_there"],
        None,
        writes,
    )
    .await;
    assert_eq!(
        snap.favorites.len(),
        2,
        "the whole list, read before the writes"
    );
    assert!(snap.tombstones.is_empty() && snap.deleted_since.is_empty());

    let list = all(&store, "user_free", &FavoriteFilter::default()).await;
    let mut got: Vec<Favorite> = list;
    got.sort_by_key(|f| f.item_id.as_str().to_owned());
    assert_eq!(got, vec![new_version, added]);
    let snap = sync_with(
        &store,
        "user_free",
        &["music_001", "never_there"],
        Some(t0),
        SyncWrites::default(),
    )
    .await;
    assert_eq!(snap.tombstones.len(), 2);
    assert_eq!(
        snap.tombstones[&kept.item_id],
        soundshelf_domain::time::to_storage_precision(t0 + Duration::minutes(7))
    );
    assert_eq!(snap.deleted_since.len(), 2, "recorded now, after t0");
    // `since` filters by when the server recorded the removal.
    let later = sync_with(
        &store,
        "user_free",
        &[],
        Some(snap.now),
        SyncWrites::default(),
    )
    .await;
    assert!(later.deleted_since.is_empty());
}

async fn sync_without_writes_changes_nothing(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let f = favorite("user_free", "music_001", "a", OffsetDateTime::now_utc());
    store.insert(&f).await.unwrap();
    let snap = sync_with(&store, "user_free", &[], None, SyncWrites::default()).await;
    assert_eq!(snap.favorites, vec![f.clone()]);
    assert_eq!(
        all(&store, "user_free", &FavoriteFilter::default()).await,
        vec![f]
    );
}

fn music(id: &str) -> CatalogId {
    CatalogId::parse_field("music_id", id).unwrap()
}

/// The domain's quota rule at 2 grants a day and 10 MB, as the server hands it to the store.
fn rule(file_size: u64) -> GrantDecider {
    rule_with(2, 10, file_size)
}

fn rule_with(daily_downloads: u32, storage_mb: u64, file_size: u64) -> GrantDecider {
    let limits = PlanLimits {
        daily_downloads,
        storage_mb,
    };
    Box::new(move |_: &User, usage: &Usage| decide_quota(&limits, usage, file_size))
}

const COUNTED: Result<Grant, GrantDenied> = Ok(Grant {
    file_size: 1_000_000,
    counts_toward_daily_limit: true,
});
const REPEAT: Result<Grant, GrantDenied> = Ok(Grant {
    file_size: 1_000_000,
    counts_toward_daily_limit: false,
});

/// A device's report that `user` completed (`track`, `quality`) of `size` bytes, now.
fn completed(user: &str, track: &str, quality: Quality, size: u64) -> RecordReport {
    RecordReport {
        user_id: uid(user),
        music_id: music(track),
        quality,
        status: DownloadStatus::Completed,
        progress: 100,
        error_message: None,
        file_size: size,
        now: OffsetDateTime::now_utc(),
        new_id: DownloadId::from_ulid(Ulid::generate()),
    }
}

fn grant_request(user: &str, track: &str, quality: Quality, day: time::Date) -> GrantRequest {
    let now = soundshelf_domain::time::to_storage_precision(OffsetDateTime::now_utc());
    GrantRequest {
        user_id: uid(user),
        music_id: music(track),
        quality,
        file_size: 1_000_000,
        day,
        now,
        token_id: TokenId::from_ulid(Ulid::generate()),
        token_hash: format!("{:064x}", Ulid::generate().0),
        expires_at: now + Duration::hours(1),
        max_uses: 3,
        download_url: "http://x/files/{token}".into(),
        download_id: DownloadId::from_ulid(Ulid::generate()),
    }
}

async fn catalogue_tracks_have_their_files(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let t = store.track(&music("music_009")).await.unwrap().unwrap();
    assert!(t.premium_required);
    assert_eq!(t.files.len(), 3);
    assert_eq!(t.size(Quality::High), Some(900 * 40_000));
    assert!(store.track(&music("music_404")).await.unwrap().is_none());
}

async fn catalogue_entries_carry_what_the_client_shows(backend: Backend) {
    let (db, store) = seeded(backend).await;
    let ids = [music("music_010"), music("music_404"), music("music_001")];
    let mut entries = store.entries(&ids).await.unwrap();
    entries.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(entries.len(), 2, "unknown ids are left out");
    let (one, ten) = (&entries[0], &entries[1]);
    assert_eq!(one.id.as_str(), "music_001");
    assert_eq!(one.duration, 360);
    assert!(!one.premium_required && !one.retired);
    assert_eq!(one.assets.len(), 3);
    assert_eq!(
        one.assets[0].quality,
        Quality::Standard,
        "lowest quality first"
    );
    assert_eq!(one.assets[0].file_size, 360 * 16_000);
    assert_eq!(
        one.assets[0].object_key.as_str(),
        "music/music_001_128k.mp3"
    );
    assert_eq!(one.category.as_deref(), Some("冥想"));
    assert!(!one.cover.is_empty());
    assert!(ten.premium_required);
    assert!(store.entries(&[]).await.unwrap().is_empty());
    soundshelf_store::testing::execute_sql(
        &db.config,
        "UPDATE music_files SET retired_at = created_at WHERE id = 'music_001'",
    )
    .await;
    let entries = store.entries(&[music("music_001")]).await.unwrap();
    assert!(entries[0].retired, "a retired track is read as retired");
    assert!(
        store
            .track(&music("music_001"))
            .await
            .unwrap()
            .unwrap()
            .retired
    );
}

/// `DownloadStore::usage` is the grant's own read: before each grant, the usage derived
/// from it for the file is exactly the usage the grant's decision is then handed.
async fn the_usage_read_is_what_each_grant_sees(backend: Backend) {
    use std::sync::{Arc, Mutex};
    let (_db, store) = seeded(backend).await;
    let day = time::macros::date!(2026 - 06 - 01);
    let user = uid("user_vip");
    for (track, quality, size) in [
        ("music_002", Quality::High, 7_000_000),
        ("music_003", Quality::Lossless, 11_000_000),
    ] {
        store
            .report(&completed("user_vip", track, quality, size))
            .await
            .unwrap();
    }
    let empty = store.usage(&user, day, &[]).await.unwrap();
    assert_eq!((empty.granted_today, empty.storage_used), (0, 18_000_000));
    assert!(empty.granted_files.is_empty() && empty.completed_files.is_empty());
    let files = [
        ("music_001", Quality::Standard),
        ("music_002", Quality::High),
        ("music_001", Quality::Standard),
        ("music_003", Quality::Lossless),
        ("music_002", Quality::Standard),
        ("music_002", Quality::High),
    ];
    for (track, quality) in files {
        let asked = [music(track), music("music_003")];
        let predicted = store
            .usage(&user, day, &asked)
            .await
            .unwrap()
            .usage_for(&music(track), quality);
        let seen = Arc::new(Mutex::new(None));
        let decider: GrantDecider = {
            let seen = seen.clone();
            let rule = rule_with(100, 100, 1_000_000);
            Box::new(move |stored: &User, u: &Usage| {
                *seen.lock().unwrap() = Some(*u);
                rule(stored, u)
            })
        };
        let mut request = grant_request("user_vip", track, quality, day);
        request.user_id = user.clone();
        store.grant(&request, decider).await.unwrap().unwrap();
        assert_eq!(
            Some(predicted),
            *seen.lock().unwrap(),
            "{track} {quality:?}"
        );
    }
    let after = store
        .usage(&user, day, &[music("music_002")])
        .await
        .unwrap();
    assert_eq!(after.granted_today, 4);
    let mut granted: Vec<Quality> = after.granted_files.iter().map(|(_, q)| *q).collect();
    granted.sort_by_key(|q| q.as_str());
    assert_eq!(granted, [Quality::High, Quality::Standard]);
    // The grants of music_002/high and music_003/lossless reset their records to
    // downloading: neither is completed any more.
    assert_eq!(after.storage_used, 0);
    assert!(after.completed_files.is_empty());
    // Another day starts from zero.
    let next = store
        .usage(
            &user,
            time::macros::date!(2026 - 06 - 02),
            &[music("music_002")],
        )
        .await
        .unwrap();
    assert_eq!((next.granted_today, next.granted_files.len()), (0, 0));
}

/// The decision is handed the user's row read under the lock, not a caller's copy.
async fn grants_hand_the_decision_the_user_as_stored(backend: Backend) {
    use std::sync::{Arc, Mutex};
    let (_db, store) = seeded(backend).await;
    let day = time::macros::date!(2026 - 06 - 01);
    store
        .set_user_status(&uid("user_free"), UserStatus::Banned)
        .await
        .unwrap();
    let seen = Arc::new(Mutex::new(None));
    let decider: GrantDecider = {
        let seen = seen.clone();
        Box::new(move |stored: &User, _: &Usage| {
            *seen.lock().unwrap() = Some(stored.clone());
            Err(GrantDenied::UserInactive)
        })
    };
    let request = grant_request("user_free", "music_001", Quality::Standard, day);
    assert_eq!(
        store.grant(&request, decider).await.unwrap(),
        Err(GrantDenied::UserInactive)
    );
    let stored = seen.lock().unwrap().clone().unwrap();
    assert_eq!(
        (stored.id.as_str(), stored.status),
        ("user_free", UserStatus::Banned)
    );
    // A user who does not exist (deleted since the token was checked) is refused.
    let ghost = grant_request("nobody", "music_001", Quality::Standard, day);
    assert_eq!(
        store.grant(&ghost, rule(1_000_000)).await.unwrap(),
        Err(GrantDenied::UserInactive)
    );
}

async fn grants_count_distinct_files_per_day_and_refuse_atomically(backend: Backend) {
    let (db, store) = seeded(backend).await;
    let day = time::macros::date!(2026 - 06 - 01);
    let g = |track, q| grant_request("user_free", track, q, day);
    assert_eq!(
        store
            .grant(&g("music_001", Quality::Standard), rule(1_000_000))
            .await
            .unwrap(),
        COUNTED
    );
    assert_eq!(
        store
            .grant(&g("music_001", Quality::Standard), rule(1_000_000))
            .await
            .unwrap(),
        REPEAT
    );
    assert_eq!(
        store
            .grant(&g("music_001", Quality::High), rule(1_000_000))
            .await
            .unwrap(),
        COUNTED
    );
    let refused = g("music_002", Quality::Standard);
    assert_eq!(
        store.grant(&refused, rule(1_000_000)).await.unwrap(),
        Err(GrantDenied::DailyLimitReached { limit: 2 })
    );
    // A refusal writes nothing: no token, no grant row.
    assert!(
        store
            .find_token(&refused.token_hash)
            .await
            .unwrap()
            .is_none()
    );
    let rows = soundshelf_store::testing::query_text(
        &db.config,
        "SELECT CAST(COUNT(*) AS CHAR) AS value FROM download_grant_days",
    )
    .await;
    assert_eq!(rows.as_deref(), Some("2"));
    // A repeat is served at the limit; the next day starts afresh.
    assert_eq!(
        store
            .grant(&g("music_001", Quality::High), rule(1_000_000))
            .await
            .unwrap(),
        REPEAT
    );
    let tomorrow = grant_request(
        "user_free",
        "music_002",
        Quality::Standard,
        day.next_day().unwrap(),
    );
    assert_eq!(
        store.grant(&tomorrow, rule(1_000_000)).await.unwrap(),
        COUNTED
    );
    // The grant made (one) record per file, reset to downloading.
    let counts = store.counts(&uid("user_free")).await.unwrap();
    assert_eq!((counts.total, counts.downloading), (3, 3));
}

async fn grants_check_storage_of_completed_downloads(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let day = time::macros::date!(2026 - 06 - 01);
    let report = completed("user_free", "music_001", Quality::Standard, 9_500_000);
    store.report(&report).await.unwrap();
    // 9 500 000 completed + 1 000 000 > 10 MB (10 485 760 bytes).
    let big = grant_request("user_free", "music_002", Quality::Standard, day);
    assert_eq!(
        store
            .grant(&big, rule_with(100, 10, 1_000_000))
            .await
            .unwrap(),
        Err(GrantDenied::StorageFull)
    );
    // The completed file itself does not count twice.
    let mut again = grant_request("user_free", "music_001", Quality::Standard, day);
    again.file_size = 9_500_000;
    assert!(
        store
            .grant(&again, rule_with(100, 10, 9_500_000))
            .await
            .unwrap()
            .is_ok()
    );
}

/// The store has no quota rule of its own: it hands the decision the usage it read under
/// the user's lock and writes what the decision says. Another rule (as a change to the
/// domain's would be) changes what the store grants.
async fn grants_write_only_what_the_decision_says(backend: Backend) {
    use std::sync::{Arc, Mutex};
    let (db, store) = seeded(backend).await;
    let day = time::macros::date!(2026 - 06 - 01);
    let g = |track, q| grant_request("user_free", track, q, day);
    let count = async |table: &str| {
        soundshelf_store::testing::query_text(
            &db.config,
            &format!("SELECT CAST(COUNT(*) AS CHAR) AS value FROM {table}"),
        )
        .await
        .unwrap_or_default()
    };

    // The usage each decision sees: today's counted pairs, whether this pair is one of
    // them, completed bytes other than this file.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let watching = |seen: &Arc<Mutex<Vec<Usage>>>| -> GrantDecider {
        let seen = seen.clone();
        let rule = rule(1_000_000);
        Box::new(move |stored: &User, u: &Usage| {
            seen.lock().unwrap().push(*u);
            rule(stored, u)
        })
    };
    for (track, q) in [
        ("music_001", Quality::Standard),
        ("music_001", Quality::Standard),
        ("music_002", Quality::Standard),
        ("music_003", Quality::Standard),
    ] {
        store
            .grant(&g(track, q), watching(&seen))
            .await
            .unwrap()
            .ok();
    }
    let usage = |granted_today, repeat_today| Usage {
        granted_today,
        repeat_today,
        storage_used: 0,
    };
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            usage(0, false),
            usage(1, true),
            usage(1, false),
            usage(2, false)
        ]
    );

    // A rule that refuses everything: nothing is written.
    let tokens_before = count("download_tokens").await;
    let refuse: GrantDecider = Box::new(|_, _| Err(GrantDenied::StorageFull));
    let refused = g("music_004", Quality::Standard);
    assert_eq!(
        store.grant(&refused, refuse).await.unwrap(),
        Err(GrantDenied::StorageFull)
    );
    assert_eq!(count("download_tokens").await, tokens_before);
    assert_eq!(count("download_grant_days").await, "2");

    // A rule under which nothing counts: the store grants past the old limit of 2 and
    // raises no counter.
    let free: fn() -> GrantDecider = || {
        Box::new(|_, _| {
            Ok(Grant {
                file_size: 1_000_000,
                counts_toward_daily_limit: false,
            })
        })
    };
    for track in ["music_004", "music_005", "music_006"] {
        assert!(
            store
                .grant(&g(track, Quality::Standard), free())
                .await
                .unwrap()
                .is_ok()
        );
    }
    assert_eq!(count("download_grant_days").await, "2");
    let counter = soundshelf_store::testing::query_text(
        &db.config,
        "SELECT CAST(grants AS CHAR) AS value FROM daily_grant_counters",
    )
    .await;
    assert_eq!(counter.as_deref(), Some("2"));

    // A rule with a higher limit lets the next distinct file through.
    assert_eq!(
        store
            .grant(
                &g("music_007", Quality::Standard),
                rule_with(3, 10, 1_000_000)
            )
            .await
            .unwrap(),
        COUNTED
    );
}

/// 30 grants of distinct files at once against a daily limit of 5, three days in a row:
/// exactly 5 pass each day, and the day's counter says 5.
async fn parallel_grants_hold_the_daily_limit_exactly(backend: Backend) {
    let (db, store) = seeded(backend).await;
    let mut files = Vec::new();
    for n in 1..=10 {
        for q in [Quality::Standard, Quality::High, Quality::Lossless] {
            files.push((format!("music_{n:03}"), q));
        }
    }
    for offset in 0..3 {
        let day = time::macros::date!(2026 - 06 - 01) + Duration::days(offset);
        let tasks: Vec<_> = files
            .iter()
            .map(|(track, q)| {
                let store = store.clone();
                let request = grant_request("user_vip", track, *q, day);
                tokio::spawn(async move {
                    store
                        .grant(&request, rule_with(5, 10_240, 1_000_000))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut granted = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => granted += 1,
                Err(denied) => assert_eq!(denied, GrantDenied::DailyLimitReached { limit: 5 }),
            }
        }
        assert_eq!(granted, 5, "day {day}");
        let counter = soundshelf_store::testing::query_text(
            &db.config,
            &format!(
                "SELECT CAST(grants AS CHAR) AS value FROM daily_grant_counters WHERE day = '{day}'"
            ),
        )
        .await;
        assert_eq!(counter.as_deref(), Some("5"), "day {day}");
    }
}

/// A negative size is corrupt data: reads report it (an
/// internal error, logged) instead of turning it into 0.
async fn corrupt_stored_numbers_are_reported_not_read_as_zero(backend: Backend) {
    let (db, store) = seeded(backend).await;
    let user = uid("user_free");
    store
        .report(&completed(
            "user_free",
            "music_001",
            Quality::Standard,
            1000,
        ))
        .await
        .unwrap();
    let page = PageRequest::parse(None, None, None).unwrap();
    assert!(store.records(&user, None, &page).await.is_ok());
    // (The schema's own CHECKs keep progress within 0–100 and the status known.)
    soundshelf_store::testing::execute_sql(&db.config, "UPDATE user_downloads SET file_size = -5")
        .await;
    assert!(matches!(
        store.records(&user, None, &page).await,
        Err(StoreError::Internal(_))
    ));
    assert!(matches!(
        store.counts(&user).await,
        Err(StoreError::Internal(_))
    ));
    let r = grant_request(
        "user_free",
        "music_002",
        Quality::Standard,
        time::macros::date!(2026 - 06 - 01),
    );
    assert!(matches!(
        store.grant(&r, rule(1_000_000)).await,
        Err(StoreError::Internal(_))
    ));
}

/// `DB_QUERY_TIMEOUT` firing while a grant's transaction waits for the user's lock
/// (held from outside): the caller gets `Unavailable` at the bound, and the operation,
/// which is never cut off, commits whole once the lock is free.
async fn a_query_timeout_inside_a_transaction_answers_unavailable_and_the_write_completes_whole(
    backend: Backend,
) {
    use diesel_async::{AsyncConnection, SimpleAsyncConnection};
    let (db, _seeded) = seeded(backend).await;
    let store = Store::connect(
        &db.config,
        soundshelf_store::PoolOptions {
            max_size: 4,
            timeout: std::time::Duration::from_secs(5),
            query_timeout: std::time::Duration::from_secs(1),
        },
    )
    .await
    .unwrap();
    // Hold the user's lock: MySQL, the user's row in an open transaction; SQLite, the
    // database's write lock.
    enum Holder {
        Mysql(diesel_async::AsyncMysqlConnection),
        Sqlite(soundshelf_store::testing::SqliteWriteLock),
    }
    let holder = match &db.config {
        soundshelf_store::DbConfig::Mysql { url } => {
            let mut conn = diesel_async::AsyncMysqlConnection::establish(url)
                .await
                .unwrap();
            conn.batch_execute(
                "BEGIN; UPDATE users SET favorites_version = favorites_version WHERE id = 'user_free';",
            )
            .await
            .unwrap();
            Holder::Mysql(conn)
        }
        soundshelf_store::DbConfig::Sqlite { path } => {
            Holder::Sqlite(soundshelf_store::testing::SqliteWriteLock::take(path))
        }
    };
    let r = grant_request(
        "user_free",
        "music_001",
        Quality::Standard,
        time::macros::date!(2026 - 06 - 01),
    );
    let started = std::time::Instant::now();
    let answer = store.grant(&r, rule(1_000_000)).await;
    let waited = started.elapsed();
    assert!(
        matches!(answer, Err(StoreError::Unavailable(_))),
        "{answer:?}"
    );
    assert!(
        waited >= std::time::Duration::from_millis(950)
            && waited < std::time::Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(
        store.find_token(&r.token_hash).await.unwrap().is_none(),
        "not yet"
    );
    match holder {
        Holder::Mysql(mut conn) => conn.batch_execute("COMMIT").await.unwrap(),
        Holder::Sqlite(lock) => drop(lock),
    }
    // The grant goes on by itself and commits all of its writes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.find_token(&r.token_hash).await.unwrap().is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "the grant never completed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let count = async |sql: &str| soundshelf_store::testing::query_text(&db.config, sql).await;
    assert_eq!(
        count("SELECT CAST(grants AS CHAR) AS value FROM daily_grant_counters")
            .await
            .as_deref(),
        Some("1")
    );
    assert_eq!(
        count("SELECT CAST(COUNT(*) AS CHAR) AS value FROM user_downloads")
            .await
            .as_deref(),
        Some("1")
    );
}

async fn token_uses_are_counted_conditionally(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let r = grant_request(
        "user_free",
        "music_001",
        Quality::Standard,
        time::macros::date!(2026 - 06 - 01),
    );
    store.grant(&r, rule(1_000_000)).await.unwrap().unwrap();
    let t = store.find_token(&r.token_hash).await.unwrap().unwrap();
    assert_eq!(
        (t.uses, t.max_uses, t.music_id.as_str()),
        (0, 3, "music_001")
    );
    let now = OffsetDateTime::now_utc();
    for _ in 0..3 {
        assert!(store.use_token(&t.id, now).await.unwrap());
    }
    assert!(!store.use_token(&t.id, now).await.unwrap(), "no fourth use");
    let r2 = grant_request(
        "user_free",
        "music_002",
        Quality::Standard,
        time::macros::date!(2026 - 06 - 01),
    );
    store.grant(&r2, rule(1_000_000)).await.unwrap().unwrap();
    let t2 = store.find_token(&r2.token_hash).await.unwrap().unwrap();
    assert!(
        !store.use_token(&t2.id, r2.expires_at).await.unwrap(),
        "expired at its expiry"
    );
    store
        .log_download(&DownloadLogEntry {
            id: LogId::from_ulid(Ulid::generate()),
            user_id: "user_free".into(),
            music_id: "music_001".into(),
            token_hash: r.token_hash.clone(),
            ip: "::1".into(),
            user_agent: Some("ua 🎵".into()),
            download_size: 10,
            at: now,
            status: "started",
            error_code: None,
        })
        .await
        .unwrap();
}

async fn records_are_upserted_paged_counted_and_deleted(backend: Backend) {
    let (_db, store) = seeded(backend).await;
    let t0 = OffsetDateTime::now_utc() - Duration::hours(1);
    let mut ids = Vec::new();
    for (i, (track, status)) in [
        ("music_001", DownloadStatus::Completed),
        ("music_002", DownloadStatus::Failed),
        ("music_003", DownloadStatus::Downloading),
    ]
    .into_iter()
    .enumerate()
    {
        let rec = store
            .report(&RecordReport {
                user_id: uid("user_free"),
                music_id: music(track),
                quality: Quality::High,
                status,
                progress: 50,
                error_message: (status == DownloadStatus::Failed).then(|| "断网".to_owned()),
                file_size: 1_048_576,
                now: soundshelf_domain::time::to_storage_precision(
                    t0 + Duration::minutes(i as i64),
                ),
                new_id: DownloadId::from_ulid(Ulid::generate()),
            })
            .await
            .unwrap();
        assert!(!rec.title.is_empty());
        ids.push(rec.id);
    }
    let counts = store.counts(&uid("user_free")).await.unwrap();
    assert_eq!(
        (
            counts.total,
            counts.completed,
            counts.failed,
            counts.downloading,
            counts.completed_bytes
        ),
        (3, 1, 1, 1, 1_048_576)
    );
    let page1 = store
        .records(&uid("user_free"), None, &page(2))
        .await
        .unwrap();
    assert_eq!((page1.total, page1.has_more), (3, true));
    assert_eq!(page1.items[0].music_id.as_str(), "music_003");
    let cursor = soundshelf_domain::Cursor::new(page1.items[1].download_time, page1.items[1].id);
    let rest = PageRequest {
        limit: Limit::parse(Some("2")).unwrap(),
        start: PageStart::After(cursor),
    };
    let page2 = store.records(&uid("user_free"), None, &rest).await.unwrap();
    assert_eq!(page2.items.len(), 1);
    assert_eq!(page2.items[0].music_id.as_str(), "music_001");
    let failed = store
        .records(&uid("user_free"), Some(DownloadStatus::Failed), &page(10))
        .await
        .unwrap();
    assert_eq!(failed.items[0].error_message.as_deref(), Some("断网"));
    assert!(
        !store
            .delete_record(&uid("user_vip"), &ids[0])
            .await
            .unwrap()
    );
    assert!(
        store
            .delete_record(&uid("user_free"), &ids[0])
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .counts(&uid("user_free"))
            .await
            .unwrap()
            .completed_bytes,
        0
    );
}
