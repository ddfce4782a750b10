//! The value forms of the settings (numbers in a range, booleans, durations) and the
//! error that names the variable whose value is bad. Durations are parsed by `humantime`.

use std::time::Duration;

/// A variable with a bad value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration variable {var}: {reason}")]
pub struct ConfigError {
    /// The variable.
    pub var: &'static str,
    /// What is wrong with it (never its value, which may be a secret).
    pub reason: String,
}

pub(crate) fn bad(var: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        var,
        reason: reason.into(),
    }
}

pub(crate) fn number<T>(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    match get(var) {
        None => Ok(default),
        Some(v) => v
            .parse::<T>()
            .ok()
            .filter(|n| *n >= min && *n <= max)
            .ok_or_else(|| bad(var, format!("must be an integer from {min} to {max}"))),
    }
}

pub(crate) fn boolean(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(var).as_deref() {
        None => Ok(default),
        Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(_) => Err(bad(var, "must be true or false")),
    }
}

/// A duration setting that must be longer than zero.
pub(crate) fn positive_duration(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    let d = duration(get, var, default)?;
    if d.is_zero() {
        return Err(bad(var, "must be longer than zero"));
    }
    Ok(d)
}

pub(crate) fn duration(
    get: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match get(var) {
        None => Ok(default),
        Some(v) => humantime::parse_duration(v.trim()).map_err(|_| {
            bad(
                var,
                "must be a duration like 500ms, 90s, 30m, 6h, 7d or 1h 30m",
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Duration, ConfigError> {
        duration(&|_| Some(raw.to_owned()), "DB_TIMEOUT", Duration::ZERO)
    }

    #[test]
    fn durations_are_humantime_and_name_their_variable() {
        for (raw, want) in [
            ("90s", Duration::from_secs(90)),
            ("30m", Duration::from_secs(1_800)),
            ("6h", Duration::from_secs(21_600)),
            ("7d", Duration::from_secs(604_800)),
            ("0s", Duration::ZERO),
            ("500ms", Duration::from_millis(500)),
            ("1h 30m", Duration::from_secs(5_400)),
            ("1.5h", Duration::from_secs(5_400)),
            (" 2s ", Duration::from_secs(2)),
        ] {
            assert_eq!(parse(raw), Ok(want), "{raw:?}");
        }
        for raw in [
            "",
            "s",
            "6",
            "-1h",
            "+1h",
            "１h",
            "99999999999999999999d",
            "soon",
        ] {
            let e = parse(raw).unwrap_err();
            assert_eq!(e.var, "DB_TIMEOUT", "{raw:?}");
        }
        let zero = positive_duration(
            &|_| Some("0s".to_owned()),
            "HTTP_HEADER_TIMEOUT",
            Duration::ZERO,
        );
        assert_eq!(zero.unwrap_err().var, "HTTP_HEADER_TIMEOUT");
    }
}
