//! Page cursors, on any text: never panic; what decodes encodes back to a cursor that
//! decodes to the same position, and its time is representable.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soundshelf_domain::favorites::{Cursor, PageRequest};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(cursor) = Cursor::decode(raw) {
        let again = Cursor::decode(&cursor.encode()).expect("an encoded cursor decodes");
        assert_eq!(again, cursor);
        let _ = cursor.created_at();
    }
    // The same text in every query parameter of a page.
    let _ = PageRequest::parse(Some(raw), None, None);
    let _ = PageRequest::parse(None, Some(raw), None);
    let _ = PageRequest::parse(None, None, Some(raw));
});
