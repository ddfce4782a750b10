//! `item_data` validation, on any bytes taken as JSON: never panics; what it accepts
//! keeps the stated limits and reads back unchanged from its stored form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soundshelf_domain::favorites::ItemData;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(item) = ItemData::parse(value) else {
        return;
    };
    let stored = item.to_json_string();
    assert!(stored.len() <= 8 * 1024, "over 8 KiB accepted");
    let title = item.title();
    assert!(!title.trim().is_empty() && title.chars().count() <= 200);
    let again = ItemData::from_json_str(stored).expect("the stored form reads back");
    assert_eq!(again.to_json_string(), stored);
    let _ = item.search_key();
    let _ = item.item_type();
});
