//! Download tokens: made and hashed.

use crate::BoxError;

/// A fresh download token and its hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token, for the client only (URL-safe, ≥ 43 characters).
    pub token: String,
    /// Its SHA-256 in hex, the only form stored.
    pub hash: String,
}

/// Makes and hashes download tokens.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait TokenIssuer: Send + Sync {
    /// A new token of 256 random bits; an error when the system's random generator fails.
    fn issue(&self) -> Result<IssuedToken, BoxError>;
    /// The stored form of `token`.
    fn hash(&self, token: &str) -> String;
}
