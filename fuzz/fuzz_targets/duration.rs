//! Durations in settings (`90s`, `30m`, `6h`, `7d`), on any text: never panic, and what
//! parses prints back in whole units of what was written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use soundshelf_domain::settings::{parse_duration, parse_utc_offset};

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(d) = parse_duration(raw) {
        assert_eq!(d.subsec_nanos(), 0, "{raw:?}");
    }
    let _ = parse_utc_offset(raw);
});
