//! Running a job once across every instance: the job runs only while its lock is held.

use std::future::Future;
use std::time::Duration;

use soundshelf_ports::{JobLock, StoreError};

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
