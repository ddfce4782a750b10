//! The one error a validating constructor returns.

use std::fmt;

/// A value was refused by a validating constructor.
///
/// `field` names the input (as the API spells it) and `reason` says what is wrong in
/// words a client developer can act on; neither ever contains the rejected value itself
/// beyond what the caller already sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// The name of the offending field, e.g. `item_id`.
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl ValidationError {
    /// A refusal of `field` for `reason`.
    pub fn new(field: &'static str, reason: impl Into<String>) -> Self {
        Self {
            field,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ValidationError {}
