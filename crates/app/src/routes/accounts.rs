//! Operators' account routes: `/api/admin/users/…` and `/api/admin/audit` for admins, and
//! `PUT /internal/users/{user_id}` for the main backend (a signed request; registered only
//! when `INTERNAL_API_SECRET` is set).

use actix_web::http::header::HeaderMap;
use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use soundshelf_domain::audit::AuditEntry;
use soundshelf_domain::downloads::plan_qualities;
use soundshelf_domain::{PageRequest, Quality, User, UserId};
use soundshelf_signers::internal::{HEADER, RequestSigner};
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::auth::AuthUser;
use crate::bodies::{InternalUserBody, Object, PatchUserBody};
use crate::envelope::{envelope, resource};
use crate::error::ApiError;
use crate::observability::RequestId;
use crate::routes::client::{DailyDownloads, Storage};
use crate::state::AppState;
use soundshelf_domain::ErrorCode;

/// Registers the admin account routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/api/admin/users/{user_id}/quota/today").route(web::delete().to(reset_today)),
    )
    .service(
        resource("/api/admin/users/{user_id}")
            .route(web::get().to(user))
            .route(web::patch().to(patch_user)),
    )
    .service(resource("/api/admin/audit").route(web::get().to(audit)));
}

/// Registers `/internal/users/{user_id}`, verifying requests with `signer`.
pub fn configure_internal(cfg: &mut web::ServiceConfig, signer: RequestSigner) {
    cfg.app_data(web::Data::new(signer))
        .service(resource("/internal/users/{user_id}").route(web::put().to(put_internal_user)));
}

envelope!(
    /// A user, enveloped.
    UserBody(User)
);

/// A user with the figures `/api/me` would show them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct UserView {
    user: User,
    qualities: Vec<Quality>,
    downloads: DailyDownloads,
    storage: Storage,
}

envelope!(
    /// A user with its quota figures, enveloped.
    UserViewBody(UserView)
);

fn user_id(raw: &str) -> Result<UserId, ApiError> {
    Ok(UserId::parse(raw)?)
}

#[utoipa::path(get, path = "/api/admin/users/{user_id}", tag = "admin", params(("user_id" = String, Path, pattern = "^[A-Za-z0-9_-]{1,36}$")), security(("bearer" = [])), responses((status = 200, description = "The user and its `/api/me` figures", body = UserViewBody)))]
pub(crate) async fn user(
    caller: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let by = state.accounts.operator(&caller.0)?;
    let id = user_id(&path)?;
    let user = state.accounts.user(&by, &id).await?;
    let a = state.downloads.allowance(&user).await?;
    Ok(UserViewBody::ok(UserView {
        qualities: plan_qualities(user.plan),
        downloads: DailyDownloads::from(&a),
        storage: Storage::from(&a),
        user,
    }))
}

#[utoipa::path(patch, path = "/api/admin/users/{user_id}", tag = "admin", request_body = PatchUserBody, params(("user_id" = String, Path, pattern = "^[A-Za-z0-9_-]{1,36}$")), security(("bearer" = [])), responses((status = 200, description = "The user as it now is", body = UserBody)))]
pub(crate) async fn patch_user(
    caller: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    request_id: RequestId,
    body: web::Json<Object<PatchUserBody>>,
) -> Result<HttpResponse, ApiError> {
    let by = state.accounts.operator(&caller.0)?;
    let id = user_id(&path)?;
    let Object(body) = body.into_inner();
    let change = body.try_into()?;
    let (user, _) = state
        .accounts
        .change_user(&by, &id, change, false, Some(request_id.0))
        .await?;
    Ok(UserBody::ok(user))
}

/// The count before the reset.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct QuotaReset {
    /// Today's count before it was set back to zero.
    used_today_before: u32,
}

envelope!(
    /// A reset of today's count, enveloped.
    QuotaResetBody(QuotaReset)
);

#[utoipa::path(delete, path = "/api/admin/users/{user_id}/quota/today", tag = "admin", params(("user_id" = String, Path, pattern = "^[A-Za-z0-9_-]{1,36}$")), security(("bearer" = [])), responses((status = 200, description = "Today's count is zero again", body = QuotaResetBody)))]
pub(crate) async fn reset_today(
    caller: AuthUser,
    state: web::Data<AppState>,
    path: web::Path<String>,
    request_id: RequestId,
) -> Result<HttpResponse, ApiError> {
    let by = state.accounts.operator(&caller.0)?;
    let id = user_id(&path)?;
    let before = state
        .accounts
        .reset_today(&by, &id, Some(request_id.0))
        .await?;
    Ok(QuotaResetBody::ok(QuotaReset {
        used_today_before: before,
    }))
}

#[derive(Debug, Deserialize)]
pub(crate) struct AuditParams {
    user_id: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

/// An audit entry as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditItem {
    /// `aud_` and a ULID.
    id: String,
    #[serde(with = "soundshelf_domain::time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    at: OffsetDateTime,
    /// An admin's user id, `internal` or `system`.
    actor: String,
    /// `user.create`, `user.update`, `quota.reset`, `music.put` or `music.retire`.
    action: &'static str,
    /// `user:<id>` or `music:<id>`.
    target: String,
    #[schema(value_type = Option<Object>)]
    before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    after: Option<serde_json::Value>,
    request_id: Option<String>,
}

impl From<AuditEntry> for AuditItem {
    fn from(e: AuditEntry) -> Self {
        Self {
            id: e.id.to_string(),
            at: e.at,
            actor: e.actor.as_str().to_owned(),
            action: e.action.as_str(),
            target: e.target,
            before: e.before,
            after: e.after,
            request_id: e.request_id,
        }
    }
}

/// A page of the audit log.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AuditListBody {
    success: bool,
    data: Vec<AuditItem>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/api/admin/audit", tag = "admin", params(("user_id" = Option<String>, Query, description = "only the entries about this user"), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100, description = "1–100, default 50"), ("cursor" = Option<String>, Query, description = "`next_cursor` of the previous page")), security(("bearer" = [])), responses((status = 200, description = "The audit log, newest first", body = AuditListBody)))]
pub(crate) async fn audit(
    caller: AuthUser,
    state: web::Data<AppState>,
    params: web::Query<AuditParams>,
) -> Result<HttpResponse, ApiError> {
    let by = state.accounts.operator(&caller.0)?;
    let user = params.user_id.as_deref().map(user_id).transpose()?;
    let page = PageRequest::parse(params.limit.as_deref(), None, params.cursor.as_deref())?;
    let list = state.accounts.audit(&by, user.as_ref(), &page).await?;
    Ok(HttpResponse::Ok().json(AuditListBody {
        success: true,
        data: list.items.into_iter().map(AuditItem::from).collect(),
        next_cursor: list.next_cursor.map(|c| c.encode()),
    }))
}

/// Unix seconds now, for the signature window.
fn unix_now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn signature(headers: &HeaderMap) -> Option<&str> {
    headers.get(HEADER).and_then(|v| v.to_str().ok())
}

#[utoipa::path(put, path = "/internal/users/{user_id}", tag = "internal", request_body = InternalUserBody, params(("user_id" = String, Path, pattern = "^[A-Za-z0-9_-]{1,36}$"), ("X-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256(INTERNAL_API_SECRET, \"<t>.<raw body>\")>`; docs/integration.md")), responses((status = 200, description = "The user as it now is (created or updated; a replay changes nothing)", body = UserBody)))]
pub(crate) async fn put_internal_user(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    signer: web::Data<RequestSigner>,
    path: web::Path<String>,
    request_id: RequestId,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // The signature first, over the raw bytes: nothing is read from an unsigned body.
    if !signer.verify(signature(req.headers()), &body, unix_now()) {
        return Err(ApiError::Code(ErrorCode::SignatureInvalid));
    }
    let id = user_id(&path)?;
    let Object(parsed) = serde_json::from_slice::<Object<InternalUserBody>>(&body)
        .map_err(|e| crate::error::json_body_error(&e))?;
    let change = parsed.try_into()?;
    let by = state.accounts.backend();
    let (user, _) = state
        .accounts
        .change_user(&by, &id, change, true, Some(request_id.0))
        .await?;
    Ok(UserBody::ok(user))
}
