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
    /// 03:00: delete what is older than its retention window ([`RetentionWindows`]).
    Retention,
    /// Every 5 minutes: alert each (address, user) pair newly over the abnormal
    /// threshold (SPEC §12).
    Alerts,
}

impl Job {
    /// Every job.
    pub const ALL: [Job; 6] = [
        Job::TokenCleanup,
        Job::FailedCleanup,
        Job::StatsRefresh,
        Job::DailyReport,
        Job::Retention,
        Job::Alerts,
    ];

    /// Its name, as `soundshelf jobs run <name>` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Job::TokenCleanup => "token-cleanup",
            Job::FailedCleanup => "failed-cleanup",
            Job::StatsRefresh => "stats-refresh",
            Job::DailyReport => "daily-report",
            Job::Retention => "retention",
            Job::Alerts => "alerts",
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
            Job::Retention => "0 0 3 * * *",
            Job::Alerts => "0 */5 * * * *",
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
            Job::Retention => {
                "03:00: delete download logs, per-day grant rows, reports, audit entries and expired records older than their RETENTION_* windows"
            }
            Job::Alerts => {
                "every 5 minutes: alert each address and user pair newly over ABNORMAL_ATTEMPTS_PER_HOUR (once an hour per pair)"
            }
        }
    }
}

/// How long each kind of row is kept (SPEC §12); the retention job deletes what is older.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionWindows {
    /// `download_logs`, by `download_time` (`RETENTION_DOWNLOAD_LOGS`, 90 days).
    pub download_logs: Duration,
    /// Per-day grant rows and counters, by their day in `APP_TIMEZONE`
    /// (`RETENTION_GRANT_DAYS`, 35 days).
    pub grant_days: Duration,
    /// Daily reports (by day) and audit entries (by time) (`RETENTION_REPORTS`, 400 days).
    pub reports: Duration,
    /// Download records in status `expired`, by `download_time`
    /// (`RETENTION_EXPIRED_RECORDS`, 30 days).
    pub expired_records: Duration,
}

impl Default for RetentionWindows {
    fn default() -> Self {
        Self {
            download_logs: Duration::days(90),
            grant_days: Duration::days(35),
            reports: Duration::days(400),
            expired_records: Duration::days(30),
        }
    }
}

/// One kind of row the retention job deletes, with what "too old" means for it: rows
/// strictly before the instant or the day given are deleted, nothing else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// `download_logs` with `download_time` before this.
    DownloadLogs(OffsetDateTime),
    /// `download_grant_days` of a day before this.
    GrantDays(Date),
    /// `daily_grant_counters` of a day before this.
    GrantCounters(Date),
    /// `daily_reports` of a day before this.
    DailyReports(Date),
    /// `audit_log` entries made before this.
    AuditLog(OffsetDateTime),
    /// `expired` download records started before this.
    ExpiredRecords(OffsetDateTime),
    /// Records of alerted pairs made before this (a day ago: the alerts job reads the
    /// last hour only).
    AlertPairs(OffsetDateTime),
}

impl Purge {
    /// The count's name in the job's report.
    pub fn name(self) -> &'static str {
        match self {
            Purge::DownloadLogs(_) => "download_logs_deleted",
            Purge::GrantDays(_) => "grant_days_deleted",
            Purge::GrantCounters(_) => "grant_counters_deleted",
            Purge::DailyReports(_) => "daily_reports_deleted",
            Purge::AuditLog(_) => "audit_entries_deleted",
            Purge::ExpiredRecords(_) => "expired_records_deleted",
            Purge::AlertPairs(_) => "alert_pairs_deleted",
        }
    }
}

impl RetentionWindows {
    /// What the job deletes when run at `now`: instants are `now` minus the window; days
    /// are today in `timezone` minus the window in whole days (a 35-day window keeps today
    /// and the 35 days before it).
    pub fn purges(&self, now: OffsetDateTime, timezone: UtcOffset) -> [Purge; 7] {
        let today = now.to_offset(timezone).date();
        let day_before = |window: Duration| {
            today
                .checked_sub(Duration::days(window.whole_days()))
                .unwrap_or(Date::MIN)
        };
        [
            Purge::DownloadLogs(now - self.download_logs),
            Purge::GrantDays(day_before(self.grant_days)),
            Purge::GrantCounters(day_before(self.grant_days)),
            Purge::DailyReports(day_before(self.reports)),
            Purge::AuditLog(now - self.reports),
            Purge::ExpiredRecords(now - self.expired_records),
            Purge::AlertPairs(now - Duration::days(1)),
        ]
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
    fn retention_cuts_at_the_window_in_the_app_timezone() {
        let w = RetentionWindows::default();
        // 2026-06-01 17:00 UTC is 06-02 01:00 at +08:00: "today" is 06-02 there.
        let now = datetime!(2026-06-01 17:00 UTC);
        let purges = w.purges(now, offset!(+8));
        assert_eq!(
            purges,
            [
                Purge::DownloadLogs(datetime!(2026-03-03 17:00 UTC)),
                Purge::GrantDays(date!(2026 - 04 - 28)),
                Purge::GrantCounters(date!(2026 - 04 - 28)),
                Purge::DailyReports(date!(2025 - 04 - 28)),
                Purge::AuditLog(datetime!(2025-04-27 17:00 UTC)),
                Purge::ExpiredRecords(datetime!(2026-05-02 17:00 UTC)),
                Purge::AlertPairs(datetime!(2026-05-31 17:00 UTC)),
            ]
        );
        // The same instant in UTC: today is 06-01.
        assert_eq!(
            w.purges(now, offset!(UTC))[1],
            Purge::GrantDays(date!(2026 - 04 - 27))
        );
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
