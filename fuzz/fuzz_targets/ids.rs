//! Every id parser, on any text: never panics, and what it accepts is safe to put in a
//! path, a query or an object key, and reads back as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soundshelf_domain::{CatalogId, DownloadId, FavoriteId, ItemId, LogId, TokenId, UserId};

fn safe(id: &str) {
    assert!(!id.is_empty() && id.len() <= 36, "{id:?}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'),
        "{id:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = CatalogId::parse_field("id", raw) {
        safe(id.as_str());
        assert_eq!(id.as_str(), raw);
    }
    if let Ok(id) = ItemId::parse(raw) {
        assert_eq!(id.as_str(), raw);
    }
    if let Ok(id) = UserId::parse(raw) {
        safe(id.as_str());
        assert_eq!(id.as_str(), raw);
    }
    for shown in [
        FavoriteId::parse(raw).map(|id| id.to_string()),
        DownloadId::parse(raw).map(|id| id.to_string()),
        TokenId::parse(raw).map(|id| id.to_string()),
        LogId::parse(raw).map(|id| id.to_string()),
    ]
    .into_iter()
    .flatten()
    {
        safe(&shown);
        assert_eq!(shown, raw, "a prefixed ULID reads back as itself");
    }
});
