//! HS256 JWTs: whose `sub` (or `id`) names the user, with a required `exp`; verified
//! here, and minted for operators and the demo.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use soundshelf_domain::UserId;

use crate::error::ApiError;

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
                ErrorKind::ExpiredSignature => ApiError::TOKEN_EXPIRED,
                _ => ApiError::TOKEN_INVALID,
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
            .ok_or(ApiError::TOKEN_INVALID)?;
        UserId::parse(&subject).map_err(|_| ApiError::TOKEN_INVALID)
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
