//! The caller of a request, from its bearer token (see [`crate::jwt`]).
//!
//! [`AuthUser`] is the extractor every protected route takes: it verifies the token,
//! then asks the (cached) [`soundshelf_service::AuthService`] whether the user exists and
//! is active. The user of a request comes from here and nowhere else.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use soundshelf_domain::{User, UserId};

use crate::error::ApiError;
use crate::state::AppState;

/// The authenticated, active caller of a request.
#[derive(Debug, Clone)]
pub struct AuthUser(pub User);

impl AuthUser {
    /// The caller's id.
    pub fn id(&self) -> &UserId {
        &self.0.id
    }

    /// Refuses a client-sent `user_id` that is not the caller's (403), never obeying it.
    pub fn check_claimed(&self, claimed: Option<&str>) -> Result<(), ApiError> {
        match claimed {
            Some(c) if c != self.id().as_str() => Err(ApiError::FORBIDDEN),
            _ => Ok(()),
        }
    }
}

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::MISSING_TOKEN)?
        .to_str()
        .map_err(|_| ApiError::TOKEN_INVALID)?
        .trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::MISSING_TOKEN);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::MISSING_TOKEN);
    }
    Ok(token.to_owned())
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("app state missing".into()))?;
            let user_id = state.jwt.verify(&token?)?;
            let user = state.auth.active_user(&user_id).await?;
            Ok(AuthUser(user))
        })
    }
}
