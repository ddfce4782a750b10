//! `soundshelf catalog import` through the real binary on both backends: 10,000 rows
//! applied with counts printed, a second run changes nothing, and a file with 3 bad rows
//! among 10,000 names those rows and fields and applies nothing.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::fmt::Write as _;
use std::process::Command;

use soundshelf_store::testing::{TestDb, query_text};
use soundshelf_store::{Backend, DbConfig};

soundshelf_store::on_both_backends!(
    ten_thousand_rows_import_once_and_bad_rows_apply_nothing,
    verify_finds_a_deleted_file_and_a_wrong_size_on_the_local_backend,
    verify_asks_qiniu_and_oss_with_signed_heads,
);

const HEADER: &str = "id,title,cover,duration,category,premium_required,standard_key,standard_size,high_key,high_size,lossless_key,lossless_size\n";

/// `rows` CSV rows with ids `{prefix}{n}`; `bad` rows replaced by the given lines.
fn catalogue(prefix: &str, rows: usize, bad: &[(usize, String)]) -> String {
    let mut text = HEADER.to_owned();
    for n in 1..=rows {
        if let Some((_, line)) = bad.iter().find(|(row, _)| *row == n) {
            text.push_str(line);
        } else {
            write!(
                text,
                "{prefix}{n},曲目 {n},/c/{n}.jpg,{},冥想,{},music/{prefix}{n}_128k.mp3,{},music/{prefix}{n}_320k.mp3,{},,",
                60 + n % 600,
                n % 7 == 0,
                16_000 * (60 + n % 600),
                40_000 * (60 + n % 600)
            )
            .unwrap();
        }
        text.push('\n');
    }
    text
}

fn import(db: &DbConfig, dir: &std::path::Path, file: &std::path::Path) -> (bool, String, String) {
    let url = match db {
        DbConfig::Mysql { url } => url.clone(),
        DbConfig::Sqlite { path } => format!("sqlite://{}", path.display()),
    };
    let out = Command::new(env!("CARGO_BIN_EXE_soundshelf"))
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", url)
        .env("JWT_SECRET", "a-test-secret-of-at-least-32-bytes!!")
        .env("AUTO_MIGRATE", "true")
        .env("LOG_LEVEL", "warn")
        .args(["catalog", "import"])
        .arg(file)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn count(db: &DbConfig, sql: &str) -> u64 {
    query_text(
        db,
        &format!("SELECT CAST(COUNT(*) AS CHAR) AS value FROM {sql}"),
    )
    .await
    .unwrap()
    .parse()
    .unwrap()
}

async fn ten_thousand_rows_import_once_and_bad_rows_apply_nothing(backend: Backend) {
    let db = TestDb::empty(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("catalogue.csv");
    std::fs::write(&good, catalogue("t", 10_000, &[])).unwrap();

    let (ok, out, err) = import(&db.config, dir.path(), &good);
    assert!(ok, "{out}{err}");
    assert!(out.contains("10000 rows checked"), "{out}");
    assert!(
        out.contains("created 10000, updated 0, unchanged 0"),
        "{out}"
    );
    assert_eq!(count(&db.config, "music_files").await, 10_000);
    assert_eq!(count(&db.config, "music_assets").await, 20_000);
    assert_eq!(
        count(
            &db.config,
            "audit_log WHERE actor = 'system' AND action = 'music.put'"
        )
        .await,
        10_000
    );

    let (ok, out, err) = import(&db.config, dir.path(), &good);
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("created 0, updated 0, unchanged 10000"),
        "{out}"
    );
    assert_eq!(
        count(&db.config, "audit_log").await,
        10_000,
        "a second run records nothing"
    );

    // Three bad rows among 10,000 new ones: each named, nothing applied.
    let bad = dir.path().join("bad.csv");
    let lines = vec![
        (17, "n17,,,60,,false,music/n17.mp3,100,,,,".to_owned()),
        (5000, "n5000,好,,60,,false,music/n5000.mp3,0,,,,".to_owned()),
        (
            9999,
            "n/9999,好,,60,,false,music/n9999.mp3,100,,,,".to_owned(),
        ),
    ];
    std::fs::write(&bad, catalogue("n", 10_000, &lines)).unwrap();
    let (ok, out, err) = import(&db.config, dir.path(), &bad);
    assert!(!ok, "{out}{err}");
    let named: Vec<&str> = err.lines().filter(|l| l.starts_with("row ")).collect();
    assert_eq!(named.len(), 3, "{err}");
    assert!(
        named[0].starts_with("row 17:") && named[0].contains("title"),
        "{err}"
    );
    assert!(
        named[1].starts_with("row 5000:") && named[1].contains("file_size"),
        "{err}"
    );
    assert!(
        named[2].starts_with("row 9999:") && named[2].contains("id"),
        "{err}"
    );
    assert!(err.contains("nothing applied"), "{err}");
    assert_eq!(
        count(&db.config, "music_files").await,
        10_000,
        "nothing applied"
    );
    assert_eq!(count(&db.config, "audit_log").await, 10_000);
}

/// `soundshelf catalog verify` with the app's own settings.
fn verify(app: &soundshelf_app::testing::TestApp) -> (Option<i32>, String) {
    verify_with(app, &[], 4)
}

fn verify_with(
    app: &soundshelf_app::testing::TestApp,
    vars: &[(&str, &str)],
    concurrency: usize,
) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_soundshelf"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(&app.env)
        .envs(vars.iter().copied())
        .args(["catalog", "verify", "--timeout", "5s", "--concurrency"])
        .arg(concurrency.to_string())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

async fn verify_finds_a_deleted_file_and_a_wrong_size_on_the_local_backend(backend: Backend) {
    let app = soundshelf_app::testing::spawn_app(backend).await;
    let (code, out) = verify(&app);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("36 assets checked, 0 mismatches"), "{out}");

    let storage = app.dir.path().join("storage");
    std::fs::remove_file(storage.join("music/music_002_320k.mp3")).unwrap();
    std::fs::write(storage.join("music/music_005_128k.mp3"), b"short").unwrap();
    // A retired track's files are not checked.
    std::fs::remove_file(storage.join("music/music_007_128k.mp3")).unwrap();
    soundshelf_store::testing::execute_sql(
        &app.db.config,
        "UPDATE music_files SET retired_at = created_at WHERE id = 'music_007'",
    )
    .await;
    let (code, out) = verify(&app);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("music_002 high music/music_002_320k.mp3: missing"),
        "{out}"
    );
    assert!(
        out.contains("music_005 standard music/music_005_128k.mp3: size 5, the catalogue says"),
        "{out}"
    );
    assert!(!out.contains("music_007"), "{out}");
    assert!(out.contains("33 assets checked, 2 mismatches"), "{out}");
}

/// With Qiniu and OSS (V1 and V4), each asset is asked by a signed `HEAD` of a stand-in
/// bucket that checks the vendor's signature with its own implementation: a missing
/// object and a wrong size are found, never more than `--concurrency` at once, and a
/// wrong secret makes every asset "could not be checked" (exit 1), with no URL printed.
async fn verify_asks_qiniu_and_oss_with_signed_heads(backend: Backend) {
    use serde_json::json;
    use soundshelf_outbound::testing::{StandIn, Vendor};

    let objects: serde_json::Map<String, serde_json::Value> = soundshelf_store::demo::assets()
        .into_iter()
        .filter(|a| a.object_key != "music/music_002_320k.mp3")
        .map(|a| {
            let size = if a.object_key == "music/music_005_128k.mp3" {
                5
            } else {
                a.file_size
            };
            (a.object_key, json!(size))
        })
        .collect();
    let app = soundshelf_app::testing::spawn_app(backend).await;
    for vendor in [Vendor::Qiniu, Vendor::OssV1, Vendor::OssV4] {
        let config = json!({
            "access_key": "standin-ak",
            "secret": "standin-secret-0123456789",
            "bucket": "soundshelf-audio",
            "region": "cn-hangzhou",
            "objects": objects,
            "delay": 0.05,
        });
        let Ok(bucket) = StandIn::start(vendor, &config) else {
            soundshelf_store::testing::missing_tool("python3 (the stand-in bucket)");
            return;
        };
        let url = bucket.url();
        let mut vars = match vendor {
            Vendor::Qiniu => vec![
                ("STORAGE_BACKEND", "qiniu"),
                ("QINIU_ACCESS_KEY", "standin-ak"),
                ("QINIU_SECRET_KEY", "standin-secret-0123456789"),
                ("QINIU_BUCKET", "soundshelf-audio"),
                ("QINIU_DOMAIN", url.as_str()),
            ],
            Vendor::OssV1 | Vendor::OssV4 => vec![
                ("STORAGE_BACKEND", "oss"),
                ("OSS_ACCESS_KEY_ID", "standin-ak"),
                ("OSS_ACCESS_KEY_SECRET", "standin-secret-0123456789"),
                ("OSS_BUCKET", "soundshelf-audio"),
                ("OSS_REGION", "oss-cn-hangzhou"),
                ("OSS_ENDPOINT", url.as_str()),
                (
                    "OSS_SIGNATURE_VERSION",
                    if vendor == Vendor::OssV1 { "v1" } else { "v4" },
                ),
            ],
        };
        let (code, out) = verify_with(&app, &vars, 3);
        assert_eq!(code, Some(1), "{vendor:?}: {out}");
        assert!(
            out.contains("music_002 high music/music_002_320k.mp3: missing"),
            "{vendor:?}: {out}"
        );
        assert!(
            out.contains("music_005 standard music/music_005_128k.mp3: size 5, the catalogue says"),
            "{vendor:?}: {out}"
        );
        assert!(
            out.contains("36 assets checked, 2 mismatches"),
            "{vendor:?}: {out}"
        );
        let stats = bucket.stats().await;
        assert_eq!(stats["heads"], 36, "{vendor:?} {stats}");
        assert_eq!(stats["rejected"], 0, "{vendor:?} {stats}");
        let most = stats["max_in_flight"].as_u64().unwrap();
        assert!((2..=3).contains(&most), "{vendor:?} {stats}");

        // The wrong secret: the bucket refuses every HEAD.
        let secret = if vendor == Vendor::Qiniu {
            "QINIU_SECRET_KEY"
        } else {
            "OSS_ACCESS_KEY_SECRET"
        };
        vars.push((secret, "not-the-secret"));
        let (code, out) = verify_with(&app, &vars, 3);
        assert_eq!(code, Some(1), "{vendor:?}: {out}");
        assert_eq!(
            out.matches("could not be checked: the storage answered 403 Forbidden")
                .count(),
            36,
            "{vendor:?}: {out}"
        );
        assert!(out.contains("36 assets checked, 36 mismatches"), "{out}");
        for leak in ["token=", "Signature=", "x-oss-signature", "not-the-secret"] {
            assert!(!out.contains(leak), "{vendor:?}: {out}");
        }
    }
}
