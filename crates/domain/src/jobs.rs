//! The scheduled jobs: their names, schedules, retention rules and report windows.

use time::{Date, Duration, OffsetDateTime, Time, UtcOffset};

/// `failed` download records older than this are deleted.
pub const FAILED_RECORD_RETENTION: Duration = Duration::days(7);
/// Tombstones recorded longer ago than this are purged.
pub const TOMBSTONE_RETENTION: Duration = Duration::days(30);
/// Rows deleted or changed per statement, so a large clean-up never holds long locks.
pub const BATCH: u32 = 1000;

/// A scheduled job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Job {
    /// Every hour: delete expired tokens, mark stale `downloading` records `expired`.
    TokenCleanup,
    /// 02:00: delete `failed` records older than 7 days and tombstones older than 30.
    FailedCleanup,
    /// Every 6 hours: refresh the download statistics.
    StatsRefresh,
    /// 09:00: write yesterday's report.
    DailyReport,
}

impl Job {
    /// Every job.
    pub const ALL: [Job; 4] = [
        Job::TokenCleanup,
        Job::FailedCleanup,
        Job::StatsRefresh,
        Job::DailyReport,
    ];

    /// Its name, as `soundshelf jobs run <name>` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Job::TokenCleanup => "token-cleanup",
            Job::FailedCleanup => "failed-cleanup",
            Job::StatsRefresh => "stats-refresh",
            Job::DailyReport => "daily-report",
        }
    }

    /// The job of `name`.
    pub fn parse(name: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.name() == name)
    }

    /// When it runs, as a cron expression with seconds (in `APP_TIMEZONE`).
    pub fn schedule(self) -> &'static str {
        match self {
            Job::TokenCleanup => "0 0 * * * *",
            Job::FailedCleanup => "0 0 2 * * *",
            Job::StatsRefresh => "0 0 */6 * * *",
            Job::DailyReport => "0 0 9 * * *",
        }
    }

    /// What it does.
    pub fn description(self) -> &'static str {
        match self {
            Job::TokenCleanup => {
                "every hour: delete expired download tokens, mark stale downloading records expired"
            }
            Job::FailedCleanup => {
                "02:00: delete failed records older than 7 days and tombstones older than 30 days"
            }
            Job::StatsRefresh => "every 6 hours: refresh the per-track download statistics",
            Job::DailyReport => {
                "09:00: write yesterday's report (downloads by status, bytes, new favorites)"
            }
        }
    }
}

/// Yesterday in `timezone`, seen from `now`: the day and its `[start, end)` instants.
pub fn report_window(
    now: OffsetDateTime,
    timezone: UtcOffset,
) -> (Date, OffsetDateTime, OffsetDateTime) {
    let today = now.to_offset(timezone).date();
    let day = today.previous_day().unwrap_or(today);
    let start = day.with_time(Time::MIDNIGHT).assume_offset(timezone);
    (day, start, start + Duration::days(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime, offset};

    #[test]
    fn names_round_trip() {
        for job in Job::ALL {
            assert_eq!(Job::parse(job.name()), Some(job));
        }
        assert_eq!(Job::parse("nope"), None);
    }

    #[test]
    fn yesterday_in_the_app_timezone() {
        // 2026-06-02 00:30 in +08:00 is still 06-01 16:30 UTC.
        let (day, start, end) = report_window(datetime!(2026-06-01 16:30 UTC), offset!(+8));
        assert_eq!(day, date!(2026 - 06 - 01));
        assert_eq!(start, datetime!(2026-05-31 16:00 UTC));
        assert_eq!(end, datetime!(2026-06-01 16:00 UTC));
    }
}

/// The ranges of the admin download statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatsRange {
    /// The last hour.
    Hour,
    /// The last 24 hours.
    Day,
    /// The last 7 days.
    Week,
    /// The last 30 days.
    Month,
}

impl StatsRange {
    /// `1h`, `24h`, `7d` or `30d`; none means `24h`.
    pub fn parse(raw: Option<&str>) -> Result<Self, crate::ValidationError> {
        match raw {
            None | Some("24h") => Ok(Self::Day),
            Some("1h") => Ok(Self::Hour),
            Some("7d") => Ok(Self::Week),
            Some("30d") => Ok(Self::Month),
            Some(_) => Err(crate::ValidationError::new(
                "range",
                "必须是 1h、24h、7d 或 30d",
            )),
        }
    }

    /// How far back it reaches.
    pub fn duration(self) -> Duration {
        match self {
            Self::Hour => Duration::hours(1),
            Self::Day => Duration::hours(24),
            Self::Week => Duration::days(7),
            Self::Month => Duration::days(30),
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "1h",
            Self::Day => "24h",
            Self::Week => "7d",
            Self::Month => "30d",
        }
    }
}
