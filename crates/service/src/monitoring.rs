//! Monitoring: live download figures from the logs, and the stored daily reports.

use std::sync::Arc;

use soundshelf_domain::User;
use soundshelf_domain::jobs::StatsRange;
use soundshelf_ports::{
    AbnormalActivity, Clock, DailyReport, MonitoringStore, PopularTrack, StatusCount,
};
use time::{Date, Duration, OffsetDateTime};

use crate::InfraError;

/// Why a monitoring use case failed.
#[derive(Debug, thiserror::Error)]
pub enum MonitoringError {
    /// The caller may not administer.
    #[error("not an administrator")]
    Forbidden,
    /// The infrastructure failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Proof that the caller may administer (`User::may_administer`), asked for first so a
/// caller who may not learns nothing else; every monitoring use case takes it.
#[derive(Debug, Clone, Copy)]
pub struct Admin {
    _only_from_admin: (),
}

/// How far back the popular list looks.
pub const POPULAR_WINDOW: Duration = Duration::days(7);
/// How far back abnormal activity is counted.
pub const ABNORMAL_WINDOW: Duration = Duration::hours(1);

/// The monitoring use cases.
#[derive(Clone)]
pub struct MonitoringService {
    store: Arc<dyn MonitoringStore>,
    clock: Arc<dyn Clock>,
    abnormal_threshold: u64,
}

impl std::fmt::Debug for MonitoringService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MonitoringService")
            .field("abnormal_threshold", &self.abnormal_threshold)
            .finish_non_exhaustive()
    }
}

impl MonitoringService {
    /// Monitoring over `store`; more than `abnormal_threshold` attempts an hour from one
    /// address and user is abnormal.
    pub fn new(
        store: Arc<dyn MonitoringStore>,
        clock: Arc<dyn Clock>,
        abnormal_threshold: u64,
    ) -> Self {
        Self {
            store,
            clock,
            abnormal_threshold,
        }
    }

    /// The proof that `caller` may administer, or `Forbidden`.
    pub fn admin(&self, caller: &User) -> Result<Admin, MonitoringError> {
        if caller.may_administer() {
            Ok(Admin {
                _only_from_admin: (),
            })
        } else {
            Err(MonitoringError::Forbidden)
        }
    }

    /// Attempts by status over `range`, and the instant it starts at.
    pub async fn stats(
        &self,
        _admin: &Admin,
        range: StatsRange,
    ) -> Result<(OffsetDateTime, Vec<StatusCount>), MonitoringError> {
        let since = self.clock.now() - range.duration();
        let counts = self
            .store
            .attempts_by_status(since)
            .await
            .map_err(InfraError::from_store)?;
        Ok((since, counts))
    }

    /// The `limit` most downloaded tracks of the last 7 days.
    pub async fn popular(
        &self,
        _admin: &Admin,
        limit: u32,
    ) -> Result<Vec<PopularTrack>, MonitoringError> {
        let since = self.clock.now() - POPULAR_WINDOW;
        Ok(self
            .store
            .popular(since, limit)
            .await
            .map_err(InfraError::from_store)?)
    }

    /// Address and user pairs over the threshold in the last hour, and the threshold.
    pub async fn abnormal(
        &self,
        _admin: &Admin,
    ) -> Result<(u64, Vec<AbnormalActivity>), MonitoringError> {
        let since = self.clock.now() - ABNORMAL_WINDOW;
        let found = self
            .store
            .abnormal(since, self.abnormal_threshold)
            .await
            .map_err(InfraError::from_store)?;
        if !found.is_empty() {
            tracing::warn!(
                pairs = found.len(),
                threshold = self.abnormal_threshold,
                "abnormal download activity"
            );
        }
        Ok((self.abnormal_threshold, found))
    }

    /// The report of `day`, or the 30 latest.
    pub async fn reports(
        &self,
        _admin: &Admin,
        day: Option<Date>,
    ) -> Result<Vec<DailyReport>, MonitoringError> {
        Ok(match day {
            Some(day) => self
                .store
                .daily_report(day)
                .await
                .map_err(InfraError::from_store)?
                .into_iter()
                .collect(),
            None => self
                .store
                .recent_reports(30)
                .await
                .map_err(InfraError::from_store)?,
        })
    }
}
