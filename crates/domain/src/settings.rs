//! The value form of the day's offset setting: fixed UTC offsets (`+08:00`), which
//! decide what "today" is for the daily quota. (Durations are parsed where settings are
//! read, by `humantime`.)

use time::UtcOffset;

/// Parses a fixed offset `+HH:MM` / `-HH:MM` (also `Z` and `UTC` for zero).
pub fn parse_utc_offset(raw: &str) -> Option<UtcOffset> {
    if raw == "Z" || raw == "UTC" {
        return Some(UtcOffset::UTC);
    }
    let (sign, rest) = match raw.as_bytes().first()? {
        b'+' => (1, &raw[1..]),
        b'-' => (-1, &raw[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':')?;
    // Two digits each, nothing else: `str::parse` would also take a sign (`-+3:23`).
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return None;
    }
    let h: i8 = h.parse().ok()?;
    let m: i8 = m.parse().ok()?;
    if !(0..=23).contains(&h) || !(0..=59).contains(&m) {
        return None;
    }
    UtcOffset::from_hms(sign * h, sign * m, 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert_eq!(parse_utc_offset("+08:00").unwrap().whole_hours(), 8);
        assert_eq!(parse_utc_offset("-05:30").unwrap().whole_minutes(), -330);
        assert_eq!(parse_utc_offset("Z"), Some(UtcOffset::UTC));
        for bad in [
            "",
            "8",
            "+8:00",
            "+08",
            "+24:00",
            "+08:60",
            "Asia/Shanghai",
            "+08:00:00",
            "-+3:23",
            "+-8:00",
            "++8:00",
        ] {
            assert_eq!(parse_utc_offset(bad), None, "{bad:?}");
        }
    }
}
