//! The jobs' settings: retention windows (`RETENTION_*`, SPEC §12).

use std::time::Duration;

use soundshelf_domain::jobs::RetentionWindows;

use super::values::{ConfigError, bad, duration};

const DAY: Duration = Duration::from_secs(86_400);

/// Reads `RETENTION_DOWNLOAD_LOGS` (90d; at least 30d, since the download statistics
/// read 30 days of logs), `RETENTION_GRANT_DAYS` (35d), `RETENTION_REPORTS` (400d) and
/// `RETENTION_EXPIRED_RECORDS` (30d), each at least a day.
pub(crate) fn retention(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<RetentionWindows, ConfigError> {
    let defaults = RetentionWindows::default();
    let window = |var: &'static str, default: time::Duration, least: Duration| {
        let d = duration(get, var, Duration::from_secs(default.whole_seconds().unsigned_abs()))?;
        if d < least {
            return Err(bad(
                var,
                format!("must be at least {}", humantime::format_duration(least)),
            ));
        }
        time::Duration::try_from(d).map_err(|_| bad(var, "is too long"))
    };
    Ok(RetentionWindows {
        download_logs: window("RETENTION_DOWNLOAD_LOGS", defaults.download_logs, 30 * DAY)?,
        grant_days: window("RETENTION_GRANT_DAYS", defaults.grant_days, DAY)?,
        reports: window("RETENTION_REPORTS", defaults.reports, DAY)?,
        expired_records: window("RETENTION_EXPIRED_RECORDS", defaults.expired_records, DAY)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<RetentionWindows, ConfigError> {
        retention(&|k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn defaults_are_specs_and_each_window_is_checked() {
        assert_eq!(read(&[]).unwrap(), RetentionWindows::default());
        let w = read(&[("RETENTION_GRANT_DAYS", "7d"), ("RETENTION_REPORTS", "2y")]).unwrap();
        assert_eq!(w.grant_days, time::Duration::days(7));
        assert!(w.reports > time::Duration::days(700));
        for (var, value) in [
            ("RETENTION_DOWNLOAD_LOGS", "29d"),
            ("RETENTION_GRANT_DAYS", "23h"),
            ("RETENTION_REPORTS", "0s"),
            ("RETENTION_EXPIRED_RECORDS", "soon"),
        ] {
            let err = read(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{err}");
        }
    }
}
