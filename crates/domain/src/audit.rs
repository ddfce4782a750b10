//! The audit log: who changed what on a user's account or in the catalogue, with the
//! state before and after. An entry is written in the transaction of the change it
//! records, so there is never a change without its entry nor an entry without its change.

use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::ids::{AuditId, UserId};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// An admin, through the admin API or the console.
    Admin(UserId),
    /// The main backend or payment system, through `/internal/…`.
    Internal,
    /// The server itself (a job, an operator command).
    System,
}

impl Actor {
    /// As stored and shown: the admin's user id, `internal` or `system`.
    pub fn as_str(&self) -> &str {
        match self {
            Actor::Admin(id) => id.as_str(),
            Actor::Internal => "internal",
            Actor::System => "system",
        }
    }
}

/// What a change did, as stored in `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A user was created (by `/internal/users`).
    UserCreate,
    /// A user's plan, status, role or nickname changed.
    UserUpdate,
    /// A user's count of today's downloads was set back to zero.
    QuotaReset,
    /// A track was created or replaced.
    MusicPut,
    /// A track was retired.
    MusicRetire,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 5] = [
        Action::UserCreate,
        Action::UserUpdate,
        Action::QuotaReset,
        Action::MusicPut,
        Action::MusicRetire,
    ];

    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::UserCreate => "user.create",
            Action::UserUpdate => "user.update",
            Action::QuotaReset => "quota.reset",
            Action::MusicPut => "music.put",
            Action::MusicRetire => "music.retire",
        }
    }

    /// The stored name back; `None` for anything else.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == raw)
    }
}

/// One entry of the audit log.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// `aud_…`.
    pub id: AuditId,
    /// When the change was made.
    pub at: OffsetDateTime,
    /// Who made it.
    pub actor: Actor,
    /// What it did.
    pub action: Action,
    /// What it was made to: `user:<id>` or `music:<id>`.
    pub target: String,
    /// The state before (`None` when the thing did not exist).
    pub before: Option<Value>,
    /// The state after.
    pub after: Option<Value>,
    /// The `X-Request-Id` of the request that made it, if any.
    pub request_id: Option<String>,
}

/// How a user's state is recorded: as the admin API shows the user.
pub fn user_state(user: &crate::User) -> Value {
    serde_json::to_value(user).unwrap_or(Value::Null)
}

/// How a track's state is recorded: as the admin API shows it.
pub fn track_state(track: &crate::catalog::CatalogTrack) -> Value {
    serde_json::to_value(track).unwrap_or(Value::Null)
}

/// How a day's count is recorded.
pub fn quota_state(day: time::Date, used_today: u32) -> Value {
    serde_json::json!({"day": day.to_string(), "used_today": used_today})
}

/// The target text of a user.
pub fn user_target(id: &UserId) -> String {
    format!("user:{}", id.as_str())
}

/// The target text of a track.
pub fn music_target(id: &crate::CatalogId) -> String {
    format!("music:{}", id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_and_actors_round_trip() {
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("user.delete"), None);
        let admin = Actor::Admin(UserId::parse("user_admin").unwrap());
        assert_eq!(admin.as_str(), "user_admin");
        assert_eq!(Actor::Internal.as_str(), "internal");
        assert_eq!(Actor::System.as_str(), "system");
    }
}
