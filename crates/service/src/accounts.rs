//! Operators' changes to users — plans, status, role, nickname, today's count — made by
//! an admin or by the main backend, each recorded in the audit log in the change's own
//! transaction; and the audit log itself.

use std::sync::Arc;

use soundshelf_domain::audit::{Action, Actor, AuditEntry, quota_state, user_state, user_target};
use soundshelf_domain::downloads::quota_day;
use soundshelf_domain::time::to_storage_precision;
use soundshelf_domain::users::{UserChange, revokes_links};
use soundshelf_domain::{AuditId, Cursor, PageRequest, User, UserId};
use soundshelf_ports::{
    Clock, IdGenerator, RandomIds, StoreError, UserEdit, UserEvents, UserStore,
};
use time::UtcOffset;

use crate::{AuthService, InfraError};

/// Who makes a change, proven: an active admin ([`AccountsService::operator`]), the
/// main backend whose request signature was verified ([`AccountsService::backend`]), or
/// the server itself ([`AccountsService::system`]).
#[derive(Debug, Clone)]
pub struct Operator {
    actor: Actor,
}

impl Operator {
    /// Who it is, for the audit log.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

/// Why an accounts use case failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// The caller may not administer.
    #[error("not an administrator")]
    Forbidden,
    /// No such user.
    #[error("user not found")]
    NotFound,
    /// An admin may not disable, ban or demote their own account; names the field.
    #[error("an admin may not lock themselves out ({0})")]
    SelfLockout(&'static str),
    /// The infrastructure failed.
    #[error(transparent)]
    Infra(#[from] InfraError),
}

impl From<StoreError> for AccountsError {
    fn from(e: StoreError) -> Self {
        Self::Infra(InfraError::from_store(e))
    }
}

/// A page of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditList {
    /// Newest first.
    pub items: Vec<AuditEntry>,
    /// The cursor of the next page.
    pub next_cursor: Option<Cursor>,
}

/// The accounts use cases.
#[derive(Clone)]
pub struct AccountsService {
    users: Arc<dyn UserStore>,
    clock: Arc<dyn Clock>,
    ids: Arc<dyn IdGenerator>,
    timezone: UtcOffset,
    auth: Option<Arc<AuthService>>,
    events: Option<Arc<dyn UserEvents>>,
}

impl std::fmt::Debug for AccountsService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountsService")
            .field("timezone", &self.timezone)
            .finish_non_exhaustive()
    }
}

impl AccountsService {
    /// The use cases over `users`; "today" is the day at `timezone`.
    pub fn new(users: Arc<dyn UserStore>, clock: Arc<dyn Clock>, timezone: UtcOffset) -> Self {
        Self {
            users,
            clock,
            ids: Arc::new(RandomIds),
            timezone,
            auth: None,
            events: None,
        }
    }

    /// The same use cases telling `auth` (this instance's cache of active users) and
    /// `events` (every other instance, with Redis) when a change has been committed, so
    /// a disabled or banned user is refused at once here and within moments elsewhere.
    pub fn with_invalidation(
        mut self,
        auth: Option<Arc<AuthService>>,
        events: Option<Arc<dyn UserEvents>>,
    ) -> Self {
        self.auth = auth;
        self.events = events;
        self
    }

    /// The server itself (a job), for changes it makes on its own.
    pub fn system(&self) -> Operator {
        Operator {
            actor: Actor::System,
        }
    }

    async fn user_changed(&self, id: &UserId) {
        if let Some(auth) = &self.auth {
            auth.forget(id);
        }
        if let Some(events) = &self.events {
            events.user_changed(id).await;
        }
    }

    /// The proof that `caller` may administer, or `Forbidden`.
    pub fn operator(&self, caller: &User) -> Result<Operator, AccountsError> {
        if caller.may_administer() {
            Ok(Operator {
                actor: Actor::Admin(caller.id.clone()),
            })
        } else {
            Err(AccountsError::Forbidden)
        }
    }

    /// The main backend, for a request whose signature the caller has verified.
    pub fn backend(&self) -> Operator {
        Operator {
            actor: Actor::Internal,
        }
    }

    /// The user `id`.
    pub async fn user(&self, _by: &Operator, id: &UserId) -> Result<User, AccountsError> {
        self.users
            .find_user(id)
            .await?
            .ok_or(AccountsError::NotFound)
    }

    /// Applies `change` to user `id`; with `create`, a missing user is created (the main
    /// backend's create-or-update), else it is `NotFound`. A change that changes nothing
    /// writes nothing (a replay is harmless). A user who stops being active loses every
    /// live download link in the same transaction. Once committed, the change is told to
    /// the caches (`with_invalidation`). Returns the user as it now is and whether
    /// anything changed.
    pub async fn change_user(
        &self,
        by: &Operator,
        id: &UserId,
        change: UserChange,
        create: bool,
        request_id: Option<String>,
    ) -> Result<(User, bool), AccountsError> {
        if let Actor::Admin(admin) = &by.actor
            && admin == id
            && let Some(field) = change.locks_out_self()
        {
            return Err(AccountsError::SelfLockout(field));
        }
        // Two creations of one new user at once: the loser retries and sees the user.
        for _ in 0..2 {
            let now = to_storage_precision(self.clock.now());
            let entry_id = AuditId::from_ulid(self.ids.ulid(now));
            let (actor, change, target, request_id, id2) = (
                by.actor.clone(),
                change.clone(),
                user_target(id),
                request_id.clone(),
                id.clone(),
            );
            let edit = Box::new(move |before: Option<&User>| {
                let after = match before {
                    Some(user) => change.applied_to(user),
                    None if create => change.created(id2, now),
                    None => return UserEdit::Missing,
                };
                if before == Some(&after) {
                    return UserEdit::Unchanged(after);
                }
                let revoke = before.is_some_and(|b| revokes_links(b, &after));
                UserEdit::Changed {
                    audit: Box::new(AuditEntry {
                        id: entry_id,
                        at: now,
                        actor,
                        action: if before.is_some() {
                            Action::UserUpdate
                        } else {
                            Action::UserCreate
                        },
                        target,
                        before: before.map(user_state),
                        after: Some(user_state(&after)),
                        request_id,
                    }),
                    revoke_links_at: revoke.then_some(now),
                    user: after,
                }
            });
            match self.users.edit_user(id, edit).await {
                Ok(UserEdit::Missing) => return Err(AccountsError::NotFound),
                Ok(UserEdit::Unchanged(user)) => return Ok((user, false)),
                Ok(UserEdit::Changed { user, .. }) => {
                    self.user_changed(id).await;
                    return Ok((user, true));
                }
                Err(StoreError::Conflict) if create => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AccountsError::Infra(InfraError::Internal(
            "a user created concurrently could not be read".into(),
        )))
    }

    /// Sets user `id`'s count of today's downloads back to zero; returns the count
    /// before. Recorded in the audit log when there was anything to reset.
    pub async fn reset_today(
        &self,
        by: &Operator,
        id: &UserId,
        request_id: Option<String>,
    ) -> Result<u32, AccountsError> {
        let now = to_storage_precision(self.clock.now());
        let day = quota_day(now, self.timezone);
        let entry_id = AuditId::from_ulid(self.ids.ulid(now));
        let (actor, target) = (by.actor.clone(), user_target(id));
        let record = Box::new(move |before: u32| {
            (before > 0).then(|| AuditEntry {
                id: entry_id,
                at: now,
                actor,
                action: Action::QuotaReset,
                target,
                before: Some(quota_state(day, before)),
                after: Some(quota_state(day, 0)),
                request_id,
            })
        });
        self.users
            .reset_day(id, day, record)
            .await?
            .ok_or(AccountsError::NotFound)
    }

    /// A page of the audit log, of one user's account or of everything.
    pub async fn audit(
        &self,
        _by: &Operator,
        user: Option<&UserId>,
        page: &PageRequest,
    ) -> Result<AuditList, AccountsError> {
        let found = self.users.audit(user.map(user_target), page).await?;
        let next_cursor = found
            .has_more
            .then(|| found.items.last())
            .flatten()
            .map(|e| Cursor::new(e.at, e.id.to_string()));
        Ok(AuditList {
            items: found.items,
            next_cursor,
        })
    }
}
