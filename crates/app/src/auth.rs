//! Bearer tokens: HS256 JWTs whose `sub` (or `id`) names the user, with a required `exp`.
//!
//! [`AuthUser`] is the extractor every protected route takes: it verifies the token,
//! then asks the (cached) [`soundshelf_service::AuthService`] whether the user exists and
//! is active. The user of a request comes from here and nowhere else.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use soundshelf_domain::{User, UserId};

use crate::error::ApiError;
use crate::state::AppState;

/// Signs and verifies tokens with one HS256 secret.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JwtKeys(HS256, secret hidden)")
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    sub: Option<Value>,
    id: Option<Value>,
}

#[derive(Debug, Serialize)]
struct MintClaims<'a> {
    sub: &'a str,
    iat: i64,
    exp: i64,
}

impl JwtKeys {
    /// Keys from `secret`.
    pub fn new(secret: &SecretString) -> Result<Self, jsonwebtoken::errors::Error> {
        let bytes = secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_required_spec_claims(&["exp"]);
        validation.validate_exp = true;
        validation.leeway = 0;
        Ok(Self {
            encoding: EncodingKey::from_secret(bytes)?,
            decoding: DecodingKey::from_secret(bytes)?,
            validation,
        })
    }

    /// The user a token names, if the token is valid now.
    pub fn verify(&self, token: &str) -> Result<UserId, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::TokenExpired,
                _ => ApiError::TokenInvalid,
            })?;
        // `sub` wins over `id`; either may be a string or a number.
        let subject = data
            .claims
            .sub
            .or(data.claims.id)
            .and_then(|v| match v {
                Value::String(s) => Some(s),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .ok_or(ApiError::TokenInvalid)?;
        UserId::parse(&subject).map_err(|_| ApiError::TokenInvalid)
    }

    /// A token for `user`, valid for `ttl` from now.
    pub fn mint(
        &self,
        user: &UserId,
        ttl: std::time::Duration,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let exp = now.saturating_add(i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX));
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &MintClaims {
                sub: user.as_str(),
                iat: now,
                exp,
            },
            &self.encoding,
        )
    }
}

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
            Some(c) if c != self.id().as_str() => Err(ApiError::Forbidden),
            _ => Ok(()),
        }
    }
}

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or(ApiError::MissingToken)?
        .to_str()
        .map_err(|_| ApiError::TokenInvalid)?
        .trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::MissingToken);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::MissingToken);
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
