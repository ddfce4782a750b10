//! The value forms settings use: durations (`90s`, `30m`, `6h`, `7d`) and fixed UTC
//! offsets (`+08:00`).

use std::time::Duration;

use time::UtcOffset;

/// Parses a duration of the form `<digits><unit>`, unit one of `s`, `m`, `h`, `d`.
///
/// ```
/// use std::time::Duration;
/// use soundshelf_domain::settings::parse_duration;
///
/// assert_eq!(parse_duration("6h"), Some(Duration::from_secs(6 * 3600)));
/// assert_eq!(parse_duration("6"), None);
/// ```
pub fn parse_duration(raw: &str) -> Option<Duration> {
    let unit = raw.chars().last()?;
    let digits = &raw[..raw.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return None,
    };
    n.checked_mul(factor).map(Duration::from_secs)
}

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
    if h.len() != 2 || m.len() != 2 {
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
    fn durations() {
        let ok = [
            ("90s", 90),
            ("30m", 1_800),
            ("6h", 21_600),
            ("7d", 604_800),
            ("0s", 0),
        ];
        for (raw, secs) in ok {
            assert_eq!(
                parse_duration(raw),
                Some(Duration::from_secs(secs)),
                "{raw}"
            );
        }
        for bad in [
            "",
            "s",
            "6",
            "6H",
            "1.5h",
            "-1h",
            "+1h",
            " 1h",
            "1h ",
            "1w",
            "１h",
            "99999999999999999999d",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

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
        ] {
            assert_eq!(parse_utc_offset(bad), None, "{bad:?}");
        }
    }
}
