//! The user directory adapter.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use soundshelf_domain::{Plan, Role, User, UserId, UserStatus};
use soundshelf_ports::{StoreError, UserStore};
use time::PrimitiveDateTime;

use crate::database::{Store, detached, with_conn};
use crate::error::{corrupt, query_error};
use crate::schema::users;

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
struct UserRow {
    id: String,
    nickname: String,
    status: String,
    subscription_type: String,
    has_premium_access: bool,
    role: String,
    created_at: PrimitiveDateTime,
}

impl UserRow {
    fn into_domain(self) -> Result<User, StoreError> {
        let bad = |e| corrupt("users", e);
        Ok(User {
            id: UserId::parse(&self.id).map_err(bad)?,
            nickname: self.nickname,
            status: UserStatus::parse(&self.status).map_err(bad)?,
            plan: Plan::parse(&self.subscription_type).map_err(bad)?,
            has_premium_access: self.has_premium_access,
            role: Role::parse(&self.role).map_err(bad)?,
            created_at: soundshelf_domain::time::from_primitive_utc(self.created_at),
        })
    }
}

/// A user to create (demo data and tests).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = users)]
pub(crate) struct NewUserRow {
    pub id: String,
    pub nickname: String,
    pub status: String,
    pub subscription_type: String,
    pub has_premium_access: bool,
    pub role: String,
    pub created_at: PrimitiveDateTime,
}

impl NewUserRow {
    pub(crate) fn from_domain(u: &User) -> Self {
        Self {
            id: u.id.as_str().to_owned(),
            nickname: u.nickname.clone(),
            status: u.status.as_str().to_owned(),
            subscription_type: u.plan.as_str().to_owned(),
            has_premium_access: u.has_premium_access,
            role: u.role.as_str().to_owned(),
            created_at: soundshelf_domain::time::to_primitive_utc(u.created_at),
        }
    }
}

#[async_trait]
impl UserStore for Store {
    async fn find_user(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        detached!(self as store, (id) => store.user_by_id(id))
    }
}

impl Store {
    async fn user_by_id(&self, id: &UserId) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = with_conn!(self, conn => {
            users::table
                .find(id.as_str())
                .select(UserRow::as_select())
                .first(conn)
                .await
                .optional()
                .map_err(query_error)?
        });
        row.map(UserRow::into_domain).transpose()
    }

    /// Creates `user`; `Conflict` when the id is taken.
    pub async fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let row = NewUserRow::from_domain(user);
        with_conn!(self, conn => {
            diesel::insert_into(users::table)
                .values(&row)
                .execute(conn)
                .await
                .map_err(query_error)?;
        });
        Ok(())
    }

    /// Sets a user's status (operators; tests).
    pub async fn set_user_status(
        &self,
        id: &UserId,
        status: UserStatus,
    ) -> Result<bool, StoreError> {
        let n = with_conn!(self, conn => {
            diesel::update(users::table.find(id.as_str()))
                .set(users::status.eq(status.as_str()))
                .execute(conn)
                .await
                .map_err(query_error)?
        });
        Ok(n > 0)
    }

    /// How many users exist.
    pub async fn count_users(&self) -> Result<u64, StoreError> {
        let n: i64 = with_conn!(self, conn => {
            users::table.count().get_result(conn).await.map_err(query_error)?
        });
        crate::error::size(n)
    }
}
