//! Running a job once across every instance: the job runs only while its lock is held.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use soundshelf_domain::jobs::{
    BATCH, FAILED_RECORD_RETENTION, Job, RetentionWindows, TOMBSTONE_RETENTION, report_window,
};
use soundshelf_ports::{Clock, JobLock, MaintenanceStore, StoreError};
use time::UtcOffset;

use crate::InfraError;

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

/// How long the retention job rests between two batched deletes, so that the rows and
/// index pages it touches are free for normal traffic most of the time.
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
        }
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
                vec![
                    ("downloads", r.downloads_total),
                    ("completed", r.completed),
                    ("failed", r.failed),
                    ("completed_bytes", r.completed_bytes),
                    ("new_favorites", r.new_favorites),
                ]
            }
            Job::Retention => {
                let mut counts = Vec::new();
                for purge in self.retention.purges(now, self.timezone) {
                    let mut deleted = 0;
                    loop {
                        let n = s.purge_batch(purge, BATCH).await.map_err(e)?;
                        deleted += n;
                        if n < u64::from(BATCH) {
                            break;
                        }
                        tokio::time::sleep(self.pause).await;
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
