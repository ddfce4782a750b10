//! The signed HEAD against a stand-in bucket per vendor: the stand-in checks every
//! signature with its own implementation of the vendor's algorithm (checked against the
//! vendors' vectors before it listens), so a URL the vendor would refuse is refused here.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use soundshelf_domain::catalog::ObjectKey;
use soundshelf_outbound::SignedObjects;
use soundshelf_outbound::testing::{StandIn, Vendor};
use soundshelf_ports::{Clock, ObjectSizes, SystemClock, UrlSigner};
use soundshelf_signers::cdn::{OssUrls, OssVersion, QiniuUrls};
use soundshelf_signers::oss::{OssCredentials, OssTarget};
use soundshelf_signers::qiniu::QiniuSigner;
use time::OffsetDateTime;

const AK: &str = "standin-ak";
const SECRET: &str = "standin-secret-0123456789";
const BUCKET: &str = "soundshelf-audio";

const OBJECTS: &[(&str, u64)] = &[
    ("music/music_001_128k.mp3", 1_048_576),
    ("music/Deep_Relax-(live)~1.flac", 2_000),
    ("a+b&c=d?#x|y.mp3", 3),
];

fn start(vendor: Vendor, extra: serde_json::Value) -> Option<StandIn> {
    let mut config = json!({
        "access_key": AK,
        "secret": SECRET,
        "bucket": BUCKET,
        "region": "cn-hangzhou",
        "objects": OBJECTS.iter().map(|(k, n)| ((*k).to_owned(), json!(n))).collect::<serde_json::Map<_, _>>(),
    });
    for (k, v) in extra.as_object().unwrap() {
        config[k] = v.clone();
    }
    match StandIn::start(vendor, &config) {
        Ok(s) => Some(s),
        Err(_) => {
            soundshelf_store::testing::missing_tool("python3 (the stand-in bucket)");
            None
        }
    }
}

fn signer(vendor: Vendor, url: &str, secret: &str) -> Arc<dyn UrlSigner> {
    let oss = |version| {
        Arc::new(OssUrls {
            credentials: OssCredentials {
                access_key_id: AK.into(),
                access_key_secret: secret.into(),
            },
            target: OssTarget::new(url, BUCKET, "oss-cn-hangzhou"),
            version,
        }) as Arc<dyn UrlSigner>
    };
    match vendor {
        Vendor::Qiniu => Arc::new(QiniuUrls(QiniuSigner::new(AK, secret, url))),
        Vendor::OssV1 => oss(OssVersion::V1),
        Vendor::OssV4 => oss(OssVersion::V4),
    }
}

/// `vendor`'s objects at `url`, signed with `secret` at `clock`'s time.
fn signed_objects(
    vendor: Vendor,
    url: &str,
    secret: &str,
    clock: Arc<dyn Clock>,
    timeout: Duration,
) -> SignedObjects {
    SignedObjects::new(signer(vendor, url, secret), clock, timeout).unwrap()
}

fn key(k: &str) -> ObjectKey {
    ObjectKey::parse(k).unwrap()
}

const VENDORS: [Vendor; 3] = [Vendor::Qiniu, Vendor::OssV1, Vendor::OssV4];

#[tokio::test]
async fn every_vendor_gives_sizes_and_absences() {
    for vendor in VENDORS {
        let Some(bucket) = start(vendor, json!({})) else {
            return;
        };
        let objects = signed_objects(
            vendor,
            &bucket.url(),
            SECRET,
            Arc::new(SystemClock),
            Duration::from_secs(5),
        );
        for (k, size) in OBJECTS {
            assert_eq!(
                objects.size_of(&key(k)).await.unwrap(),
                Some(*size),
                "{vendor:?} {k}"
            );
        }
        assert_eq!(
            objects.size_of(&key("music/absent.mp3")).await.unwrap(),
            None,
            "{vendor:?}"
        );
        let stats = bucket.stats().await;
        assert_eq!(stats["heads"], 4, "{vendor:?} {stats}");
        assert_eq!(stats["rejected"], 0, "{vendor:?} {stats}");
    }
}

#[tokio::test]
async fn a_refused_signature_is_an_error_that_does_not_show_the_url() {
    for vendor in VENDORS {
        let Some(bucket) = start(vendor, json!({})) else {
            return;
        };
        let objects = signed_objects(
            vendor,
            &bucket.url(),
            "not-the-secret",
            Arc::new(SystemClock),
            Duration::from_secs(5),
        );
        let err = objects
            .size_of(&key("music/music_001_128k.mp3"))
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("403"), "{vendor:?}: {err}");
        for secret_part in ["token=", "Signature=", "x-oss-signature", "127.0.0.1"] {
            assert!(!err.contains(secret_part), "{vendor:?}: {err}");
        }
        let stats = bucket.stats().await;
        assert_eq!(stats["rejected"], 1, "{vendor:?} {stats}");
        assert!(
            stats["reasons"][0].as_str().unwrap().contains("bad token")
                || stats["reasons"][0]
                    .as_str()
                    .unwrap()
                    .contains("bad signature"),
            "{stats}"
        );
    }
}

/// A clock two hours behind: every URL it signs has expired by the time it is used.
#[derive(Debug)]
struct Behind;

impl Clock for Behind {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() - time::Duration::hours(2)
    }
}

#[tokio::test]
async fn an_expired_url_is_refused() {
    for vendor in VENDORS {
        let Some(bucket) = start(vendor, json!({})) else {
            return;
        };
        let objects = signed_objects(
            vendor,
            &bucket.url(),
            SECRET,
            Arc::new(Behind),
            Duration::from_secs(5),
        );
        let err = objects
            .size_of(&key("music/music_001_128k.mp3"))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("403"), "{vendor:?}: {err}");
        let stats = bucket.stats().await;
        assert!(
            stats["reasons"][0].as_str().unwrap().contains("expired"),
            "{vendor:?} {stats}"
        );
    }
}

#[tokio::test]
async fn a_slow_bucket_is_given_up_on_at_the_timeout() {
    let Some(bucket) = start(
        Vendor::OssV4,
        json!({"slow": {"music/music_001_128k.mp3": 5}}),
    ) else {
        return;
    };
    let objects = signed_objects(
        Vendor::OssV4,
        &bucket.url(),
        SECRET,
        Arc::new(SystemClock),
        Duration::from_millis(300),
    );
    let started = Instant::now();
    let err = objects
        .size_of(&key("music/music_001_128k.mp3"))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert!(!err.to_string().contains("x-oss-signature"), "{err}");
    // The other objects still answer.
    assert_eq!(
        objects.size_of(&key("a+b&c=d?#x|y.mp3")).await.unwrap(),
        Some(3)
    );
}

#[tokio::test]
async fn a_dead_bucket_is_an_error() {
    // A port nobody listens on: bind, note it, close.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let objects = signed_objects(
        Vendor::Qiniu,
        &format!("http://127.0.0.1:{port}"),
        SECRET,
        Arc::new(SystemClock),
        Duration::from_secs(2),
    );
    let err = objects
        .size_of(&key("music/music_001_128k.mp3"))
        .await
        .unwrap_err()
        .to_string();
    assert!(!err.contains("token="), "{err}");
}
