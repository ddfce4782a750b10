//! The `APP_TIMEZONE` offset form (`+08:00`, `-05:30`, `Z`, `UTC`), on any text: never
//! panic, and what parses is a valid offset that prints back as written (for the
//! `±HH:MM` form).
#![no_main]

use libfuzzer_sys::fuzz_target;
use soundshelf_domain::settings::parse_utc_offset;

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(offset) = parse_utc_offset(raw)
        && raw.len() == 6
    {
        let (h, m, _) = offset.as_hms();
        let sign = if raw.starts_with('-') { '-' } else { '+' };
        assert_eq!(
            format!("{sign}{:02}:{:02}", h.abs(), m.abs()),
            raw,
            "{raw:?}"
        );
    }
});
