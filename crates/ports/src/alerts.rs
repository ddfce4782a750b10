//! Where alerts go.

use std::time::Duration;

use async_trait::async_trait;
use soundshelf_domain::alerts::Alert;

/// The receivers of alerts, behind a queue that a background task delivers from (with
/// retries), so that sending never waits on a receiver.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AlertSink: Send + Sync {
    /// Queues `alert` for every configured receiver; returns at once.
    fn send(&self, alert: Alert);
    /// Waits until everything queued has been delivered or given up on, `within` at
    /// most; whether it all was (a command that exits after a job waits here).
    async fn flush(&self, within: Duration) -> bool;
}
