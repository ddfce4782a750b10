//! `Range` headers, on any text and file length: never panic, and a satisfiable range
//! lies inside the file, first byte before last.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soundshelf_domain::downloads::parse_range;

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (len, header) = data.split_at(8);
    let len = u64::from_le_bytes(len.try_into().expect("eight bytes"));
    let Ok(header) = std::str::from_utf8(header) else {
        return;
    };
    if let Some(range) = parse_range(header) {
        if let Some((first, last)) = range.resolve(len) {
            assert!(
                first <= last && last < len,
                "{header:?} on {len}: {first}-{last}"
            );
        }
    }
});
