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

/// A user of the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The id tokens carry.
    pub id: UserId,
    /// Display name.
    pub nickname: String,
    /// Whether the user may use the service.
    pub status: UserStatus,
    /// The subscription plan.
    pub plan: Plan,
    /// Whether premium tracks may be downloaded.
    pub has_premium_access: bool,
    /// User or admin.
    pub role: Role,
    /// When the user was created.
    pub created_at: OffsetDateTime,
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
