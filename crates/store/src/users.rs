//! The user directory adapter.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::AsyncConnection;
use diesel_async::RunQueryDsl;
use soundshelf_domain::time::to_primitive_utc;
use soundshelf_domain::{PageRequest, Plan, Role, User, UserId, UserStatus};
use soundshelf_ports::{AuditPage, ResetRecorder, StoreError, UserEdit, UserEditor, UserStore};
use time::{Date, PrimitiveDateTime};

use crate::audit::insert_audit;
use crate::database::{Store, detached, lock_user, with_conn};
use crate::error::{TxError, corrupt, query_error};
use crate::schema::{daily_grant_counters, download_grant_days, download_tokens, users};

#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users)]
pub(crate) struct UserRow {
    id: String,
    nickname: String,
    status: String,
    subscription_type: String,
    has_premium_access: bool,
    role: String,
    created_at: PrimitiveDateTime,
}

impl UserRow {
    pub(crate) fn into_domain(self) -> Result<User, StoreError> {
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

    async fn edit_user(&self, id: &UserId, edit: UserEditor) -> Result<UserEdit, StoreError> {
        detached!(self as store, (id) => store.edit_user_now(id, edit))
    }

    async fn reset_day(
        &self,
        id: &UserId,
        day: Date,
        record: ResetRecorder,
    ) -> Result<Option<u32>, StoreError> {
        detached!(self as store, (id) => store.reset_day_now(id, day, record))
    }

    async fn audit(
        &self,
        target: Option<String>,
        page: &PageRequest,
    ) -> Result<AuditPage, StoreError> {
        detached!(self as store, (page) => store.audit_page(target, page))
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

    async fn edit_user_now(&self, id: &UserId, edit: UserEditor) -> Result<UserEdit, StoreError> {
        let outcome = with_conn!(self, conn => {
            conn.transaction(async |conn| {
                lock_user!(conn, id, 0i64)?;
                let row: Option<UserRow> = users::table
                    .find(id.as_str())
                    .select(UserRow::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                let before = row
                    .map(UserRow::into_domain)
                    .transpose()
                    .map_err(TxError::Store)?;
                let decided = edit(before.as_ref());
                if let UserEdit::Changed { user, audit, revoke_links_at } = &decided {
                    let row = NewUserRow::from_domain(user);
                    if before.is_some() {
                        diesel::update(users::table.find(id.as_str()))
                            .set((
                                users::nickname.eq(&row.nickname),
                                users::status.eq(&row.status),
                                users::subscription_type.eq(&row.subscription_type),
                                users::has_premium_access.eq(row.has_premium_access),
                                users::role.eq(&row.role),
                            ))
                            .execute(conn)
                            .await?;
                    } else {
                        diesel::insert_into(users::table).values(&row).execute(conn).await?;
                    }
                    if let Some(at) = revoke_links_at {
                        let at = to_primitive_utc(*at);
                        diesel::update(
                            download_tokens::table
                                .filter(download_tokens::user_id.eq(id.as_str()))
                                .filter(download_tokens::expires_at.gt(at)),
                        )
                        .set(download_tokens::expires_at.eq(at))
                        .execute(conn)
                        .await?;
                    }
                    insert_audit!(conn, audit)?;
                }
                Ok::<_, TxError>(decided)
            })
            .await?
        });
        Ok(outcome)
    }

    async fn reset_day_now(
        &self,
        id: &UserId,
        day: Date,
        record: ResetRecorder,
    ) -> Result<Option<u32>, StoreError> {
        let outcome = with_conn!(self, conn => {
            conn.transaction(async |conn| {
                if lock_user!(conn, id, 0i64)? == 0 {
                    return Ok::<_, TxError>(None);
                }
                let counted: Option<i32> = daily_grant_counters::table
                    .find((id.as_str(), day))
                    .select(daily_grant_counters::grants)
                    .first(conn)
                    .await
                    .optional()?;
                let before = u32::try_from(counted.unwrap_or(0))
                    .map_err(|e| TxError::Store(corrupt("daily_grant_counters", e)))?;
                diesel::delete(
                    download_grant_days::table
                        .filter(download_grant_days::user_id.eq(id.as_str()))
                        .filter(download_grant_days::day.eq(day)),
                )
                .execute(conn)
                .await?;
                diesel::delete(daily_grant_counters::table.find((id.as_str(), day)))
                    .execute(conn)
                    .await?;
                if let Some(entry) = record(before) {
                    insert_audit!(conn, &entry)?;
                }
                Ok(Some(before))
            })
            .await?
        });
        Ok(outcome)
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
