//! Time as the product stores and shows it: UTC, microsecond precision, RFC 3339 with `Z`.

use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// `t` in UTC, cut to whole microseconds: the precision both databases keep, so a value
/// read back equals the value written.
pub fn to_storage_precision(t: OffsetDateTime) -> OffsetDateTime {
    let t = t.to_offset(UtcOffset::UTC);
    let micros = t.microsecond();
    t.replace_microsecond(micros).unwrap_or(t)
}

/// The UTC wall-clock of `t`, as a `DATETIME` column holds it.
pub fn to_primitive_utc(t: OffsetDateTime) -> PrimitiveDateTime {
    let t = to_storage_precision(t);
    PrimitiveDateTime::new(t.date(), t.time())
}

/// The instant of a UTC wall-clock read from a `DATETIME` column.
pub fn from_primitive_utc(t: PrimitiveDateTime) -> OffsetDateTime {
    t.assume_utc()
}

/// Parses an RFC 3339 time (any offset), refusing anything else; `field` names it in the
/// error.
pub fn parse_rfc3339(
    field: &'static str,
    raw: &str,
) -> Result<OffsetDateTime, crate::ValidationError> {
    OffsetDateTime::parse(raw, &time::format_description::well_known::Rfc3339)
        .map(to_storage_precision)
        .map_err(|_| {
            crate::ValidationError::new(field, "必须是 RFC 3339 时间，如 2026-01-15T10:30:00Z")
        })
}

/// `t` as RFC 3339 in UTC (`2026-06-10T12:00:00Z`).
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    t.to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// RFC 3339 serialization with `Z`, for serde's `with`.
pub mod rfc3339 {
    use serde::Serializer;
    use time::format_description::well_known::Rfc3339;
    use time::{OffsetDateTime, UtcOffset};

    /// Writes `t` as RFC 3339 in UTC.
    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = t
            .to_offset(UtcOffset::UTC)
            .format(&Rfc3339)
            .map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }
}

/// RFC 3339 serialization in the value's own offset (`2026-03-02T00:00:00+08:00`), for
/// serde's `with`: for times that belong to `APP_TIMEZONE`, such as when a quota resets.
pub mod rfc3339_offset {
    use serde::Serializer;
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    /// Writes `t` as RFC 3339 in its own offset.
    pub fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let text = t.format(&Rfc3339).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn rfc3339_times() {
        assert_eq!(
            parse_rfc3339("t", "2026-01-15T18:30:00.5+08:00").unwrap(),
            datetime!(2026-01-15 10:30:00.5 UTC)
        );
        for bad in [
            "",
            "2026-01-15",
            "2026-01-15 10:30:00",
            "yesterday",
            "2026-13-01T00:00:00Z",
        ] {
            assert_eq!(parse_rfc3339("t", bad).unwrap_err().field, "t", "{bad:?}");
        }
    }

    #[test]
    fn precision_is_microseconds_in_utc() {
        let t = datetime!(2024-01-15 18:30:00.123456789 +08:00);
        let s = to_storage_precision(t);
        assert_eq!(s.offset(), UtcOffset::UTC);
        assert_eq!(s.nanosecond(), 123_456_000);
        assert_eq!(s, datetime!(2024-01-15 10:30:00.123456 UTC));
        assert_eq!(from_primitive_utc(to_primitive_utc(t)), s);
    }
}
