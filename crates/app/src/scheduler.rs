//! The in-process scheduler: each job at its SPEC time in `APP_TIMEZONE`, every run
//! through `JobsService::run`, which takes the job lock, so with many instances each run
//! happens once.

use std::sync::Arc;

use anyhow::Context;
use soundshelf_domain::jobs::Job;
use soundshelf_service::jobs::{JobRun, JobsService};
use time::UtcOffset;
use tokio_cron_scheduler::{Job as CronJob, JobScheduler};

/// Runs `job` through its lock, counting the run and timing it in the metrics.
pub async fn run_and_record(jobs: &JobsService, job: Job) {
    let started = std::time::Instant::now();
    let outcome = match jobs.run(job).await {
        Ok(JobRun::Ran(_)) => "ran",
        Ok(JobRun::Skipped) => {
            tracing::debug!(job = job.name(), "skipped: another instance runs it");
            "skipped"
        }
        Err(e) => {
            tracing::error!(job = job.name(), error = %e, "job failed");
            "failed"
        }
    };
    metrics::counter!("job_runs_total", "job" => job.name(), "outcome" => outcome).increment(1);
    metrics::histogram!("job_duration_seconds", "job" => job.name())
        .record(started.elapsed().as_secs_f64());
}

/// Starts the scheduler with every job; it runs until the process ends.
pub async fn start(jobs: Arc<JobsService>, timezone: UtcOffset) -> anyhow::Result<JobScheduler> {
    let tz = chrono::FixedOffset::east_opt(timezone.whole_seconds())
        .context("APP_TIMEZONE out of range")?;
    let scheduler = JobScheduler::new()
        .await
        .context("starting the scheduler")?;
    for job in Job::ALL {
        let jobs = jobs.clone();
        let cron = CronJob::new_async_tz(job.schedule(), tz, move |_id, _scheduler| {
            let jobs = jobs.clone();
            Box::pin(async move { run_and_record(&jobs, job).await })
        })
        .with_context(|| format!("scheduling {}", job.name()))?;
        scheduler
            .add(cron)
            .await
            .with_context(|| format!("scheduling {}", job.name()))?;
    }
    scheduler.start().await.context("starting the scheduler")?;
    Ok(scheduler)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schedule_parses() {
        let tz = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
        for job in Job::ALL {
            assert!(
                CronJob::new_async_tz(job.schedule(), tz, |_, _| Box::pin(async {})).is_ok(),
                "{}",
                job.name()
            );
        }
    }
}
