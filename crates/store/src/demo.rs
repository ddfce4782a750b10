//! The demo data of SPEC §7: six users and twelve tracks in three qualities.

use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use soundshelf_domain::catalog::object_key;
use soundshelf_domain::time::to_primitive_utc;
use soundshelf_domain::{CatalogId, Plan, Quality, Role, User, UserId, UserStatus};
use soundshelf_ports::StoreError;
use time::OffsetDateTime;

use crate::database::{Store, with_conn};
use crate::error::query_error;
use crate::schema::{music_assets, music_files, users};
use crate::users::NewUserRow;

/// A demo track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoTrack {
    /// `music_001` …
    pub id: &'static str,
    /// Title.
    pub title: &'static str,
    /// Category.
    pub category: &'static str,
    /// Seconds.
    pub duration: i32,
    /// Whether premium access is needed.
    pub premium_required: bool,
}

/// A stored file of a demo track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DemoAsset {
    /// The track.
    pub music_id: &'static str,
    /// The quality.
    pub quality: Quality,
    /// Where it is stored.
    pub object_key: String,
    /// Its size in bytes.
    pub file_size: i64,
}

const TRACKS: [(&str, &str, i32); 12] = [
    ("深度放松冥想音乐", "冥想", 360),
    ("雨夜白噪音", "睡眠", 600),
    ("森林晨曦", "自然", 300),
    ("海浪呼吸练习", "呼吸", 240),
    ("颂钵疗愈", "冥想", 420),
    ("专注阿尔法波", "专注", 480),
    ("午后钢琴", "放松", 270),
    ("篝火夜话", "睡眠", 540),
    ("432Hz 身体扫描", "冥想", 900),
    ("深睡德尔塔波", "睡眠", 1200),
    ("减压引导冥想", "冥想", 720),
    ("晨间能量唤醒", "专注", 330),
];

/// The twelve demo tracks; `music_009` … `music_012` need premium access.
pub fn tracks() -> Vec<DemoTrack> {
    const IDS: [&str; 12] = [
        "music_001",
        "music_002",
        "music_003",
        "music_004",
        "music_005",
        "music_006",
        "music_007",
        "music_008",
        "music_009",
        "music_010",
        "music_011",
        "music_012",
    ];
    IDS.iter()
        .zip(TRACKS)
        .enumerate()
        .map(|(i, (id, (title, category, duration)))| DemoTrack {
            id,
            title,
            category,
            duration,
            premium_required: i >= 8,
        })
        .collect()
}

/// Bytes per second of each quality: 128 kbit/s, 320 kbit/s, and about 900 kbit/s FLAC.
fn bytes_per_second(q: Quality) -> i64 {
    match q {
        Quality::Standard => 16_000,
        Quality::High => 40_000,
        Quality::Lossless => 112_500,
    }
}

/// Every demo track in every quality, with its object key and size.
pub fn assets() -> Vec<DemoAsset> {
    tracks()
        .into_iter()
        .flat_map(|t| {
            Quality::ALL.into_iter().map(move |q| DemoAsset {
                music_id: t.id,
                quality: q,
                object_key: object_key(
                    &CatalogId::parse_field("music_id", t.id).unwrap_or_else(|_| unreachable!()),
                    q,
                ),
                file_size: i64::from(t.duration) * bytes_per_second(q),
            })
        })
        .collect()
}

/// The six demo users.
pub fn users(now: OffsetDateTime) -> Vec<User> {
    let now = soundshelf_domain::time::to_storage_precision(now);
    let user = |id: &str, plan: Plan, status: UserStatus, role: Role| User {
        id: UserId::parse(id).unwrap_or_else(|_| unreachable!()),
        nickname: id.replace('_', " "),
        status,
        plan,
        has_premium_access: plan != Plan::Free,
        role,
        created_at: now,
    };
    vec![
        user("user_free", Plan::Free, UserStatus::Active, Role::User),
        user("user_trial", Plan::Trial, UserStatus::Active, Role::User),
        user(
            "user_premium",
            Plan::Premium,
            UserStatus::Active,
            Role::User,
        ),
        user("user_vip", Plan::Vip, UserStatus::Active, Role::User),
        user(
            "user_disabled",
            Plan::Free,
            UserStatus::Disabled,
            Role::User,
        ),
        user("user_admin", Plan::Vip, UserStatus::Active, Role::Admin),
    ]
}

#[derive(Insertable)]
#[diesel(table_name = music_files)]
struct NewTrackRow {
    id: &'static str,
    title: &'static str,
    cover: String,
    duration: i32,
    category: Option<&'static str>,
    premium_required: bool,
    created_at: time::PrimitiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = music_assets)]
struct NewAssetRow {
    music_id: &'static str,
    quality: &'static str,
    object_key: String,
    file_size: i64,
}

/// Whether [`seed`] wrote anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedOutcome {
    /// The database had no users; the demo data was written.
    Seeded,
    /// The database already had users; nothing was written.
    AlreadyPopulated,
}

/// Writes the demo users and catalogue, in one transaction, when the database has no
/// users yet.
pub async fn seed(store: &Store, now: OffsetDateTime) -> Result<SeedOutcome, StoreError> {
    let now_db = to_primitive_utc(now);
    let user_rows: Vec<NewUserRow> = users(now).iter().map(NewUserRow::from_domain).collect();
    let track_rows: Vec<NewTrackRow> = tracks()
        .into_iter()
        .map(|t| NewTrackRow {
            id: t.id,
            title: t.title,
            cover: format!("/images/{}.jpg", t.id),
            duration: t.duration,
            category: Some(t.category),
            premium_required: t.premium_required,
            created_at: now_db,
        })
        .collect();
    let asset_rows: Vec<NewAssetRow> = assets()
        .into_iter()
        .map(|a| NewAssetRow {
            music_id: a.music_id,
            quality: a.quality.as_str(),
            object_key: a.object_key,
            file_size: a.file_size,
        })
        .collect();
    let outcome = with_conn!(store, conn => {
        conn.transaction(async |conn| {
            let existing: i64 = users::table.count().get_result(conn).await?;
            if existing > 0 {
                return Ok::<_, diesel::result::Error>(SeedOutcome::AlreadyPopulated);
            }
            // Row by row: SQLite's async wrapper has no multi-row INSERT, and these
            // are a few dozen rows written once.
            for row in &user_rows {
                diesel::insert_into(users::table).values(row).execute(conn).await?;
            }
            for row in &track_rows {
                diesel::insert_into(music_files::table).values(row).execute(conn).await?;
            }
            for row in &asset_rows {
                diesel::insert_into(music_assets::table).values(row).execute(conn).await?;
            }
            Ok(SeedOutcome::Seeded)
        })
        .await
        .map_err(query_error)?
    });
    if outcome == SeedOutcome::Seeded {
        tracing::info!(
            users = user_rows.len(),
            tracks = track_rows.len(),
            "demo data seeded"
        );
    }
    Ok(outcome)
}
