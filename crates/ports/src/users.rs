//! Where users are kept, changed, and the audit log of the changes.

use async_trait::async_trait;
use soundshelf_domain::audit::AuditEntry;
use soundshelf_domain::favorites::PageRequest;
use soundshelf_domain::{User, UserId};
use time::{Date, OffsetDateTime};

use crate::StoreError;

/// What an editor decides for a user, from its stored state.
#[derive(Debug, Clone, PartialEq)]
pub enum UserEdit {
    /// There is no such user and none is created: nothing is written.
    Missing,
    /// Nothing changes: nothing is written.
    Unchanged(User),
    /// Write `user` (create it when there was none) and `audit`; when `revoke_links_at`
    /// is set, every live download token of the user expires at that time.
    Changed {
        /// The new state.
        user: User,
        /// The entry recording the change.
        audit: Box<AuditEntry>,
        /// Expire the user's live links now.
        revoke_links_at: Option<OffsetDateTime>,
    },
}

/// Decides a user's new state from the stored one (`None`: no such user), inside the
/// store's transaction under the user's lock.
pub type UserEditor = Box<dyn FnOnce(Option<&User>) -> UserEdit + Send>;

/// Builds the audit entry of a reset of today's count from the count before (`None`:
/// nothing to record).
pub type ResetRecorder = Box<dyn FnOnce(u32) -> Option<AuditEntry> + Send>;

/// A page of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditPage {
    /// Newest first (`at` desc, then id desc).
    pub items: Vec<AuditEntry>,
    /// Whether more follow.
    pub has_more: bool,
}

/// Where users are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The user `id`, or `None` when there is none.
    async fn find_user(&self, id: &UserId) -> Result<Option<User>, StoreError>;

    /// Changes (or creates) user `id` in one transaction: locks the user's row, reads
    /// it, asks `edit`, and writes what it returns — the user, its audit entry and, when
    /// asked, the expiry of the user's live tokens — all or none. Returns the decision.
    ///
    /// Two creations of one new user at once: one creates, the other answers
    /// `StoreError::Conflict` (a retry then sees the user).
    async fn edit_user(&self, id: &UserId, edit: UserEditor) -> Result<UserEdit, StoreError>;

    /// Sets user `id`'s count of grants on `day` back to zero (its counted files count
    /// again if granted again), writing the entry `record` makes from the count before,
    /// in one transaction. `None` when there is no such user.
    async fn reset_day(
        &self,
        id: &UserId,
        day: Date,
        record: ResetRecorder,
    ) -> Result<Option<u32>, StoreError>;

    /// A page of the audit log, newest first, of one target (`user:<id>`, …) or all.
    async fn audit(
        &self,
        target: Option<String>,
        page: &PageRequest,
    ) -> Result<AuditPage, StoreError>;
}

/// Tells the other instances that a user changed, so that they stop trusting what they
/// cached of it (best effort: an instance that misses it waits out its cache's lifetime).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UserEvents: Send + Sync {
    /// User `id` changed.
    async fn user_changed(&self, id: &UserId);
}
