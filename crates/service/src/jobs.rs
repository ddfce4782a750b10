//! Running a job once across every instance: the job runs only while its lock is held.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use soundshelf_domain::UserId;
use soundshelf_domain::alerts::{Alert, may_alert_again};
use soundshelf_domain::jobs::{
    BATCH, FAILED_RECORD_RETENTION, Job, RetentionWindows, TOMBSTONE_RETENTION, report_window,
};
use soundshelf_domain::users::{UserChange, UserStatus};
use soundshelf_ports::{AlertSink, Clock, JobLock, MaintenanceStore, MonitoringStore, StoreError};
use time::UtcOffset;

use crate::InfraError;
use crate::accounts::{AccountsError, AccountsService};
use crate::monitoring::ABNORMAL_WINDOW;

/// What the alerts job works with (SPEC §12).
#[derive(Clone)]
pub struct AlertJob {
    /// Where pairs over the threshold are found, and when each was last alerted.
    pub monitoring: Arc<dyn MonitoringStore>,
    /// Where alerts go (queued; delivered in the background).
    pub sink: Arc<dyn AlertSink>,
    /// `ABNORMAL_ATTEMPTS_PER_HOUR`.
    pub threshold: u64,
    /// With `ALERT_AUTO_DISABLE`: the accounts use cases (the admin route's) that
    /// disable an offending user, audited with actor `system`.
    pub auto_disable: Option<AccountsService>,
}

impl std::fmt::Debug for AlertJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertJob")
            .field("threshold", &self.threshold)
            .field("auto_disable", &self.auto_disable.is_some())
            .finish_non_exhaustive()
    }
}

/// How long a job run may hold its lock.
pub const JOB_LOCK_TTL: Duration = Duration::from_secs(15 * 60);

/// What a job run did: named counts, for the log and the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobReport {
    /// The job.
    pub job: Job,
    /// What it counted, e.g. `("tokens_deleted", 12)`.
    pub counts: Vec<(&'static str, u64)>,
}

/// The least the retention job rests between two batched deletes. It rests at least
/// twice as long as the batch took, too, so it keeps the database busy a third of the
/// time at most and normal traffic finds the rows and index pages free.
pub const RETENTION_PAUSE: Duration = Duration::from_millis(20);

/// The scheduled jobs as use cases.
#[derive(Clone)]
pub struct JobsService {
    store: Arc<dyn MaintenanceStore>,
    lock: Arc<dyn JobLock>,
    clock: Arc<dyn Clock>,
    timezone: UtcOffset,
    retention: RetentionWindows,
    pause: Duration,
    alerts: Option<AlertJob>,
}

impl std::fmt::Debug for JobsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobsService").finish_non_exhaustive()
    }
}

impl JobsService {
    /// The jobs over `store`, each run guarded by `lock`, "today" in `timezone`.
    pub fn new(
        store: Arc<dyn MaintenanceStore>,
        lock: Arc<dyn JobLock>,
        clock: Arc<dyn Clock>,
        timezone: UtcOffset,
    ) -> Self {
        Self {
            store,
            lock,
            clock,
            timezone,
            retention: RetentionWindows::default(),
            pause: RETENTION_PAUSE,
            alerts: None,
        }
    }

    /// The same jobs with alerting: the `alerts` job sends, and so does `daily-report`
    /// once its report is written. Without it both find and write as usual and send
    /// nothing.
    pub fn with_alerts(mut self, alerts: AlertJob) -> Self {
        self.alerts = Some(alerts);
        self
    }

    /// Waits until the alerts queued so far have been delivered or given up on,
    /// `within` at most (for a command that exits after running a job).
    pub async fn flush_alerts(&self, within: Duration) -> bool {
        match &self.alerts {
            Some(a) => a.sink.flush(within).await,
            None => true,
        }
    }

    /// The alerts job: each pair over the threshold in the last hour that was not
    /// alerted in the last hour is recorded, disabled when asked, and sent.
    async fn alert_pairs(
        &self,
        now: time::OffsetDateTime,
    ) -> Result<Vec<(&'static str, u64)>, InfraError> {
        let Some(job) = &self.alerts else {
            return Ok(vec![("pairs_over_threshold", 0), ("alerts_sent", 0)]);
        };
        let e = InfraError::from_store;
        let found = job
            .monitoring
            .abnormal(now - ABNORMAL_WINDOW, job.threshold)
            .await
            .map_err(e)?;
        let (mut sent, mut disabled) = (0, 0);
        for pair in &found {
            let last = job
                .monitoring
                .last_alerted(&pair.ip_address, &pair.user_id)
                .await
                .map_err(e)?;
            if !may_alert_again(last, now) {
                continue;
            }
            let mut user_disabled = false;
            if let (Some(accounts), Ok(id)) = (&job.auto_disable, UserId::parse(&pair.user_id)) {
                let change = UserChange {
                    status: Some(UserStatus::Disabled),
                    ..UserChange::default()
                };
                match accounts
                    .change_user(&accounts.system(), &id, change, false, None)
                    .await
                {
                    Ok((user, changed)) => {
                        user_disabled = user.status != UserStatus::Active;
                        disabled += u64::from(changed);
                    }
                    Err(AccountsError::NotFound) => {}
                    Err(AccountsError::Infra(err)) => return Err(err),
                    Err(other) => return Err(InfraError::Internal(other.to_string().into())),
                }
            }
            job.monitoring
                .record_alert(&pair.ip_address, &pair.user_id, now)
                .await
                .map_err(e)?;
            job.sink.send(Alert::Abnormal {
                ip_address: pair.ip_address.clone(),
                user_id: pair.user_id.clone(),
                attempts: pair.attempts,
                threshold: job.threshold,
                at: now,
                user_disabled,
            });
            sent += 1;
        }
        let mut counts = vec![
            ("pairs_over_threshold", found.len() as u64),
            ("alerts_sent", sent),
        ];
        if job.auto_disable.is_some() {
            counts.push(("users_disabled", disabled));
        }
        Ok(counts)
    }

    /// The same jobs with these retention windows (the default is SPEC's).
    pub fn with_retention(mut self, retention: RetentionWindows) -> Self {
        self.retention = retention;
        self
    }

    /// The same jobs resting `pause` between the retention job's batches.
    pub fn with_retention_pause(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }

    /// Runs `job` now, once across every instance (skipped when another holds it).
    #[tracing::instrument(skip(self), fields(job = job.name()))]
    pub async fn run(&self, job: Job) -> Result<JobRun<JobReport>, InfraError> {
        let started = std::time::Instant::now();
        let run = run_exclusive(self.lock.as_ref(), job.name(), JOB_LOCK_TTL, || {
            self.work(job)
        })
        .await
        .map_err(InfraError::from_store)?;
        let run = match run {
            JobRun::Ran(result) => JobRun::Ran(result?),
            JobRun::Skipped => JobRun::Skipped,
        };
        if let JobRun::Ran(report) = &run {
            tracing::info!(
                job = job.name(),
                counts = ?report.counts,
                took_ms = started.elapsed().as_millis() as u64,
                "job ran"
            );
        }
        Ok(run)
    }

    async fn work(&self, job: Job) -> Result<JobReport, InfraError> {
        let now = self.clock.now();
        let s = self.store.as_ref();
        let e = InfraError::from_store;
        let counts = match job {
            Job::TokenCleanup => vec![
                (
                    "tokens_deleted",
                    s.delete_expired_tokens(now, BATCH).await.map_err(e)?,
                ),
                (
                    "downloads_expired",
                    s.expire_stale_downloads(now, BATCH).await.map_err(e)?,
                ),
            ],
            Job::FailedCleanup => vec![
                (
                    "failed_records_deleted",
                    s.delete_failed_downloads(now - FAILED_RECORD_RETENTION, BATCH)
                        .await
                        .map_err(e)?,
                ),
                (
                    "tombstones_purged",
                    s.purge_tombstones(now - TOMBSTONE_RETENTION, BATCH)
                        .await
                        .map_err(e)?,
                ),
            ],
            Job::StatsRefresh => vec![(
                "tracks_refreshed",
                s.refresh_download_stats(now).await.map_err(e)?,
            )],
            Job::DailyReport => {
                let (day, from, to) = report_window(now, self.timezone);
                let r = s.write_daily_report(day, from, to, now).await.map_err(e)?;
                if let Some(alerts) = &self.alerts {
                    alerts.sink.send(Alert::DailyReport {
                        day,
                        downloads: r.downloads_total,
                        completed: r.completed,
                        failed: r.failed,
                        expired: r.expired,
                        downloading: r.downloading,
                        completed_bytes: r.completed_bytes,
                        new_favorites: r.new_favorites,
                    });
                }
                vec![
                    ("downloads", r.downloads_total),
                    ("completed", r.completed),
                    ("failed", r.failed),
                    ("completed_bytes", r.completed_bytes),
                    ("new_favorites", r.new_favorites),
                ]
            }
            Job::Alerts => self.alert_pairs(now).await?,
            Job::Retention => {
                let mut counts = Vec::new();
                for purge in self.retention.purges(now, self.timezone) {
                    let mut deleted = 0;
                    loop {
                        let started = std::time::Instant::now();
                        let n = s.purge_batch(purge, BATCH).await.map_err(e)?;
                        deleted += n;
                        if n < u64::from(BATCH) {
                            break;
                        }
                        tokio::time::sleep(self.pause.max(started.elapsed() * 2)).await;
                    }
                    counts.push((purge.name(), deleted));
                }
                counts
            }
        };
        Ok(JobReport { job, counts })
    }
}

/// What became of an attempt to run a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobRun<T> {
    /// This instance held the lock and ran the job.
    Ran(T),
    /// Another instance holds the lock: the job was not run here.
    Skipped,
}

/// Runs `job` if this instance can take the lock `name` (held for at most `ttl`, released
/// after the run). A lock that cannot be reached is an error: the job does not run.
pub async fn run_exclusive<T, F, Fut>(
    lock: &dyn JobLock,
    name: &str,
    ttl: Duration,
    job: F,
) -> Result<JobRun<T>, StoreError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = T>,
{
    let Some(token) = lock.try_acquire(name, ttl).await? else {
        tracing::info!(job = name, "another instance runs this job");
        return Ok(JobRun::Skipped);
    };
    let result = job().await;
    if !lock.release(name, &token).await? {
        tracing::warn!(job = name, ?ttl, "the job outlived its lock");
    }
    Ok(JobRun::Ran(result))
}

#[cfg(test)]
mod tests {
    use super::*;
    use soundshelf_ports::{LockToken, MockJobLock};

    #[tokio::test]
    async fn runs_only_with_the_lock_and_releases_it() {
        let mut lock = MockJobLock::new();
        lock.expect_try_acquire()
            .times(1)
            .returning(|_, _| Ok(Some(LockToken("t".into()))));
        lock.expect_release()
            .withf(|name, token| name == "cleanup" && token.0 == "t")
            .times(1)
            .returning(|_, _| Ok(true));
        let run = run_exclusive(&lock, "cleanup", Duration::from_secs(60), || async { 7 }).await;
        assert_eq!(run.unwrap(), JobRun::Ran(7));

        let mut held = MockJobLock::new();
        held.expect_try_acquire().returning(|_, _| Ok(None));
        held.expect_release().never();
        let run = run_exclusive(&held, "cleanup", Duration::from_secs(60), || async {
            panic!("must not run")
        })
        .await;
        assert_eq!(run.unwrap(), JobRun::<()>::Skipped);
    }
}
