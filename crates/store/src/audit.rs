//! The audit log's table: entries written inside the transaction of the change they
//! record (`insert_audit!`), and read newest first.

use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use soundshelf_domain::audit::{Action, Actor, AuditEntry};
use soundshelf_domain::time::{from_primitive_utc, to_primitive_utc};
use soundshelf_domain::{AuditId, PageRequest, UserId};
use soundshelf_ports::{AuditPage, StoreError};
use time::PrimitiveDateTime;

use crate::database::{Store, page_start, split_page, with_conn};
use crate::error::{corrupt, query_error};
use crate::schema::audit_log;

/// An entry as stored.
#[derive(Debug, Insertable, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub(crate) struct AuditRow {
    id: String,
    at: PrimitiveDateTime,
    actor: String,
    action: String,
    target: String,
    before_state: Option<String>,
    after_state: Option<String>,
    request_id: Option<String>,
}

impl AuditRow {
    pub(crate) fn from_domain(e: &AuditEntry) -> Self {
        Self {
            id: e.id.to_string(),
            at: to_primitive_utc(e.at),
            actor: e.actor.as_str().to_owned(),
            action: e.action.as_str().to_owned(),
            target: e.target.clone(),
            before_state: e.before.as_ref().map(ToString::to_string),
            after_state: e.after.as_ref().map(ToString::to_string),
            request_id: e.request_id.clone(),
        }
    }

    fn into_domain(self) -> Result<AuditEntry, StoreError> {
        let bad = |e: String| corrupt("audit_log", e);
        let json = |raw: Option<String>| {
            raw.map(|s| serde_json::from_str(&s).map_err(|e| bad(e.to_string())))
                .transpose()
        };
        let actor = match self.actor.as_str() {
            "internal" => Actor::Internal,
            "system" => Actor::System,
            id => Actor::Admin(UserId::parse(id).map_err(|e| bad(e.to_string()))?),
        };
        Ok(AuditEntry {
            id: AuditId::parse(&self.id).map_err(|e| bad(e.to_string()))?,
            at: from_primitive_utc(self.at),
            actor,
            action: Action::parse(&self.action).ok_or_else(|| bad(self.action.clone()))?,
            target: self.target,
            before: json(self.before_state)?,
            after: json(self.after_state)?,
            request_id: self.request_id,
        })
    }
}

/// Inserts `$entry` (an `&AuditEntry`) on `$conn`, inside the caller's transaction.
macro_rules! insert_audit {
    ($conn:expr, $entry:expr) => {
        diesel::insert_into($crate::schema::audit_log::table)
            .values($crate::audit::AuditRow::from_domain($entry))
            .execute($conn)
            .await
    };
}
pub(crate) use insert_audit;

impl Store {
    pub(crate) async fn audit_page(
        &self,
        target: Option<String>,
        page: &PageRequest,
    ) -> Result<AuditPage, StoreError> {
        let limit = i64::from(page.limit.get());
        let rows: Vec<AuditRow> = with_conn!(self, conn => {
            let mut q = audit_log::table
                .select(AuditRow::as_select())
                .order((audit_log::at.desc(), audit_log::id.desc()))
                .limit(limit + 1)
                .into_boxed();
            if let Some(target) = &target {
                q = q.filter(audit_log::target.eq(target.as_str()));
            }
            page_start!(q, page, audit_log::at, audit_log::id);
            q.load(conn).await.map_err(query_error)?
        });
        let (rows, has_more) = split_page(rows, page.limit.get());
        Ok(AuditPage {
            items: rows
                .into_iter()
                .map(AuditRow::into_domain)
                .collect::<Result<_, _>>()?,
            has_more,
        })
    }
}
