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
        Ok(JobRun::Ran(report)) => {
            // What each run did, e.g. job_items_total{task="alerts",item="alerts_sent"}. The
            // label is `task`: Prometheus keeps `job` for the scrape job.
            for (item, n) in report.counts {
                metrics::counter!("job_items_total", "task" => job.name(), "item" => item)
                    .increment(n);
            }
            "ran"
        }
        Ok(JobRun::Skipped) => {
            tracing::debug!(job = job.name(), "skipped: another instance runs it");
            "skipped"
        }
        Err(e) => {
            tracing::error!(job = job.name(), error = %e, "job failed");
            "failed"
        }
    };
    metrics::counter!("job_runs_total", "task" => job.name(), "outcome" => outcome).increment(1);
    metrics::histogram!("job_duration_seconds", "task" => job.name())
        .record(started.elapsed().as_secs_f64());
}

/// Creates every job series at zero, so that `increase()` in an alert rule sees the
/// first failed run or the first alert (a series born at 1 shows no increase).
pub fn register_metrics() {
    for job in Job::ALL {
        for outcome in ["ran", "skipped", "failed"] {
            metrics::counter!("job_runs_total", "task" => job.name(), "outcome" => outcome)
                .increment(0);
        }
    }
    for item in ["pairs_over_threshold", "alerts_sent"] {
        metrics::counter!("job_items_total", "task" => Job::Alerts.name(), "item" => item)
            .increment(0);
    }
}

/// Starts the scheduler with every job; it runs until the process ends.
pub async fn start(jobs: Arc<JobsService>, timezone: UtcOffset) -> anyhow::Result<JobScheduler> {
    register_metrics();
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
