//! Users as the server knows them: status, plan and role.

use serde::Serialize;
use time::OffsetDateTime;

use crate::ValidationError;
use crate::ids::UserId;

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The exact lowercase name; anything else is refused.
            pub fn parse(raw: &str) -> Result<Self, ValidationError> {
                match raw {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ValidationError::new($field, "取值无效")),
                }
            }

            /// The name as stored.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }
    };
}

text_enum!(
    /// Whether a user may use the service.
    UserStatus, "status" {
        /// May use the service.
        Active = "active",
        /// Switched off by an operator.
        Disabled = "disabled",
        /// Banned for abuse.
        Banned = "banned",
    }
);

text_enum!(
    /// The subscription plan, which sets the download quotas.
    Plan, "subscription_type" {
        /// No subscription.
        Free = "free",
        /// A trial.
        Trial = "trial",
        /// Premium.
        Premium = "premium",
        /// VIP (the only plan with lossless downloads).
        Vip = "vip",
    }
);

text_enum!(
    /// What a user may administer.
    Role, "role" {
        /// An ordinary user.
        User = "user",
        /// An operator with access to the admin API.
        Admin = "admin",
    }
);

/// A user of the service. Serialized as the admin API and the audit log show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// The id tokens carry.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub id: UserId,
    /// Display name.
    pub nickname: String,
    /// Whether the user may use the service.
    pub status: UserStatus,
    /// The subscription plan.
    #[serde(rename = "subscription_type")]
    pub plan: Plan,
    /// Whether premium tracks may be downloaded.
    pub has_premium_access: bool,
    /// User or admin.
    pub role: Role,
    /// When the user was created.
    #[serde(with = "crate::time::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: OffsetDateTime,
}

/// The longest nickname, in characters.
pub const MAX_NICKNAME_CHARS: usize = 64;

/// A change to a user's account; a field left `None` is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChange {
    /// `subscription_type`.
    pub plan: Option<Plan>,
    /// `has_premium_access`.
    pub has_premium_access: Option<bool>,
    /// `status`.
    pub status: Option<UserStatus>,
    /// `role`.
    pub role: Option<Role>,
    /// `nickname`.
    pub nickname: Option<String>,
}

impl UserChange {
    /// A nickname: at most 64 characters, no control characters.
    pub fn nickname(raw: &str) -> Result<String, ValidationError> {
        if raw.chars().count() > MAX_NICKNAME_CHARS {
            return Err(ValidationError::new(
                "nickname",
                format!("不能超过 {MAX_NICKNAME_CHARS} 个字符"),
            ));
        }
        if raw.chars().any(char::is_control) {
            return Err(ValidationError::new("nickname", "不能包含控制字符"));
        }
        Ok(raw.to_owned())
    }

    /// Whether an admin applying it to their own account would lock themselves out
    /// (status other than `active`, or role `user`): refused, so that the operators can
    /// never all lose the console by their own hand. Returns the field at fault.
    pub fn locks_out_self(&self) -> Option<&'static str> {
        if self.status.is_some_and(|s| s != UserStatus::Active) {
            Some("status")
        } else if self.role == Some(Role::User) {
            Some("role")
        } else {
            None
        }
    }

    /// Whether it changes nothing whatever the user.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// `user` with this change applied.
    pub fn applied_to(&self, user: &User) -> User {
        User {
            id: user.id.clone(),
            nickname: self
                .nickname
                .clone()
                .unwrap_or_else(|| user.nickname.clone()),
            status: self.status.unwrap_or(user.status),
            plan: self.plan.unwrap_or(user.plan),
            has_premium_access: self.has_premium_access.unwrap_or(user.has_premium_access),
            role: self.role.unwrap_or(user.role),
            created_at: user.created_at,
        }
    }

    /// The user `id` this change creates at `now`: what it does not say is an active
    /// `free` user without premium access, role `user`, no nickname.
    pub fn created(&self, id: UserId, now: OffsetDateTime) -> User {
        self.applied_to(&User {
            id,
            nickname: String::new(),
            status: UserStatus::Active,
            plan: Plan::Free,
            has_premium_access: false,
            role: Role::User,
            created_at: now,
        })
    }
}

/// Whether going from `before` to `after` revokes the user's live download links: the
/// user stops being active (disabled or banned).
pub fn revokes_links(before: &User, after: &User) -> bool {
    before.is_active() && !after.is_active()
}

impl User {
    /// Only active users may call the API.
    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }

    /// Only active users whose role is `admin` may use the operators' routes. The role
    /// is the stored one, never a claim of the token.
    pub fn may_administer(&self) -> bool {
        self.is_active() && self.role == Role::Admin
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_and_refuse_other_text() {
        for s in UserStatus::ALL {
            assert_eq!(UserStatus::parse(s.as_str()).unwrap(), *s);
        }
        for p in Plan::ALL {
            assert_eq!(Plan::parse(p.as_str()).unwrap(), *p);
        }
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()).unwrap(), *r);
        }
        assert!(Plan::parse("VIP").is_err());
        assert!(UserStatus::parse("").is_err());
        assert!(Role::parse("root").is_err());
    }

    #[test]
    fn changes_apply_field_by_field_and_deactivation_revokes_links() {
        let now = time::OffsetDateTime::UNIX_EPOCH;
        let id = crate::UserId::parse("u1").unwrap();
        let created = UserChange {
            plan: Some(Plan::Vip),
            has_premium_access: Some(true),
            ..UserChange::default()
        }
        .created(id, now);
        assert_eq!(
            (
                created.plan,
                created.status,
                created.role,
                created.nickname.as_str()
            ),
            (Plan::Vip, UserStatus::Active, Role::User, "")
        );
        let ban = UserChange {
            status: Some(UserStatus::Banned),
            ..UserChange::default()
        };
        let banned = ban.applied_to(&created);
        assert_eq!(
            (banned.status, banned.plan),
            (UserStatus::Banned, Plan::Vip)
        );
        assert!(revokes_links(&created, &banned));
        assert!(!revokes_links(&banned, &banned), "already inactive");
        assert!(!revokes_links(&banned, &created), "reactivation");
        assert!(UserChange::default().is_empty() && !ban.is_empty());
        assert_eq!(ban.locks_out_self(), Some("status"));
        let demote = UserChange {
            role: Some(Role::User),
            ..UserChange::default()
        };
        assert_eq!(demote.locks_out_self(), Some("role"));
        assert_eq!(UserChange::default().locks_out_self(), None);
        assert_eq!(UserChange::nickname("小明").unwrap(), "小明");
        assert!(UserChange::nickname(&"a".repeat(65)).is_err());
        assert!(UserChange::nickname("a\nb").is_err());
        let json = serde_json::to_value(&created).unwrap();
        assert_eq!(json["subscription_type"], "vip");
        assert_eq!(json["created_at"], "1970-01-01T00:00:00Z");
    }

    #[test]
    fn only_active_admins_administer() {
        let user = |role, status| User {
            id: crate::UserId::parse("u").unwrap(),
            nickname: String::new(),
            status,
            plan: Plan::Free,
            has_premium_access: false,
            role,
            created_at: time::OffsetDateTime::UNIX_EPOCH,
        };
        assert!(user(Role::Admin, UserStatus::Active).may_administer());
        assert!(!user(Role::User, UserStatus::Active).may_administer());
        for status in UserStatus::ALL.iter().filter(|s| **s != UserStatus::Active) {
            assert!(!user(Role::Admin, *status).may_administer(), "{status:?}");
        }
    }
}
