//! Who may call the API: the user named by a verified token must exist and be active.
//!
//! Looking the user up on every request would cost a database round trip per call, so
//! the answer is cached in-process for a short time (`ttl`, at most 30 s by default). A
//! user disabled by an operator is therefore locked out at most `ttl` later on every
//! instance. Unknown users are not cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use soundshelf_domain::{User, UserId};
use soundshelf_ports::{Clock, UserStore};
use time::OffsetDateTime;

use crate::InfraError;

/// How many users the cache holds before it drops its oldest half.
const MAX_CACHED_USERS: usize = 100_000;

/// Why a caller is refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token names no user.
    #[error("unknown user")]
    UnknownUser,
    /// The user exists but may not use the service.
    #[error("user inactive")]
    Inactive,
    /// The user could not be looked up.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// Resolves token subjects to active users, with a short-lived cache.
pub struct AuthService {
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
    ttl: Duration,
    cache: Mutex<HashMap<UserId, (OffsetDateTime, User)>>,
}

impl std::fmt::Debug for AuthService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl AuthService {
    /// Resolves users through `users`, caching each answer for `ttl` (zero: no cache).
    pub fn new(users: Arc<dyn UserStore>, clock: Arc<dyn Clock>, ttl: Duration) -> Self {
        Self {
            users,
            clock,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The active user `id`.
    pub async fn active_user(&self, id: &UserId) -> Result<User, AuthError> {
        let now = self.clock.now();
        let user = match self.cached(id, now) {
            Some(user) => user,
            None => {
                let user = self
                    .users
                    .find_user(id)
                    .await
                    .map_err(InfraError::from_store)?
                    .ok_or(AuthError::UnknownUser)?;
                self.remember(user.clone(), now);
                user
            }
        };
        if user.is_active() {
            Ok(user)
        } else {
            Err(AuthError::Inactive)
        }
    }

    /// Forgets what the cache holds of user `id`, so the next request reads the user
    /// again: called when the user changed (here, or on another instance).
    pub fn forget(&self, id: &UserId) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.remove(id);
    }

    fn cached(&self, id: &UserId, now: OffsetDateTime) -> Option<User> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(id)
            .filter(|(at, _)| now - *at < self.ttl && now >= *at)
            .map(|(_, user)| user.clone())
    }

    fn remember(&self, user: User, now: OffsetDateTime) {
        if self.ttl.is_zero() {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= MAX_CACHED_USERS {
            let ttl = self.ttl;
            cache.retain(|_, (at, _)| now - *at < ttl);
            if cache.len() >= MAX_CACHED_USERS {
                cache.clear();
            }
        }
        cache.insert(user.id.clone(), (now, user));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use soundshelf_domain::{Plan, Role, UserStatus};
    use soundshelf_ports::{MockClock, MockUserStore};
    use std::sync::atomic::{AtomicI64, Ordering};
    use time::macros::datetime;

    fn user(status: UserStatus) -> User {
        User {
            id: UserId::parse("u1").unwrap(),
            nickname: "n".into(),
            status,
            plan: Plan::Free,
            has_premium_access: false,
            role: Role::User,
            created_at: datetime!(2026-01-01 00:00 UTC),
        }
    }

    /// A clock that the test moves forward.
    struct StepClock(AtomicI64);
    impl Clock for StepClock {
        fn now(&self) -> OffsetDateTime {
            datetime!(2026-01-01 00:00 UTC) + time::Duration::seconds(self.0.load(Ordering::SeqCst))
        }
    }

    #[tokio::test]
    async fn active_users_pass_and_are_cached_for_the_ttl() {
        let mut store = MockUserStore::new();
        let mut seq = mockall::Sequence::new();
        store
            .expect_find_user()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(user(UserStatus::Active))));
        store
            .expect_find_user()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|_| Ok(Some(user(UserStatus::Disabled))));
        let clock = Arc::new(StepClock(AtomicI64::new(0)));
        let svc = AuthService::new(Arc::new(store), clock.clone(), Duration::from_secs(30));
        let id = UserId::parse("u1").unwrap();
        svc.active_user(&id).await.unwrap();
        clock.0.store(29, Ordering::SeqCst);
        svc.active_user(&id).await.unwrap();
        // After the TTL the store is asked again and the disabled status takes effect.
        clock.0.store(30, Ordering::SeqCst);
        assert!(matches!(
            svc.active_user(&id).await,
            Err(AuthError::Inactive)
        ));
    }

    #[tokio::test]
    async fn inactive_and_unknown_users_are_refused() {
        for (found, banned) in [
            (None, false),
            (Some(UserStatus::Disabled), true),
            (Some(UserStatus::Banned), true),
        ] {
            let mut store = MockUserStore::new();
            store
                .expect_find_user()
                .returning(move |_| Ok(found.map(user)));
            let mut clock = MockClock::new();
            clock
                .expect_now()
                .return_const(datetime!(2026-01-01 00:00 UTC));
            let svc = AuthService::new(Arc::new(store), Arc::new(clock), Duration::from_secs(30));
            let err = svc
                .active_user(&UserId::parse("u1").unwrap())
                .await
                .unwrap_err();
            if banned {
                assert!(matches!(err, AuthError::Inactive));
            } else {
                assert!(matches!(err, AuthError::UnknownUser));
            }
        }
    }

    #[tokio::test]
    async fn a_zero_ttl_asks_every_time() {
        let mut store = MockUserStore::new();
        store
            .expect_find_user()
            .times(3)
            .returning(|_| Ok(Some(user(UserStatus::Active))));
        let mut clock = MockClock::new();
        clock
            .expect_now()
            .return_const(datetime!(2026-01-01 00:00 UTC));
        let svc = AuthService::new(Arc::new(store), Arc::new(clock), Duration::ZERO);
        for _ in 0..3 {
            svc.active_user(&UserId::parse("u1").unwrap())
                .await
                .unwrap();
        }
    }
}
