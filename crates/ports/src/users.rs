//! Where users are kept.

use async_trait::async_trait;
use soundshelf_domain::{User, UserId};

use crate::StoreError;

/// Where users are kept.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UserStore: Send + Sync {
    /// The user `id`, or `None` when there is none.
    async fn find_user(&self, id: &UserId) -> Result<Option<User>, StoreError>;
}
