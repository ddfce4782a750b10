//! The traits soundshelf's core needs from the world, each documented as a contract that
//! every adapter keeps (and that the store contract tests check). One module per port;
//! everything is re-exported here.
//!
//! With the `mock` feature, every trait has a mockall mock (`MockFavoriteStore`, …) for
//! use-case tests.

mod alerts;
mod cache;
mod catalog;
mod clock;
mod downloads;
mod error;
mod favorites;
mod limiter;
mod lock;
mod maintenance;
mod monitoring;
mod probe;
mod signer;
mod tokens;
mod users;

pub use alerts::*;
pub use cache::*;
pub use catalog::*;
pub use clock::*;
pub use downloads::*;
pub use error::*;
pub use favorites::*;
pub use limiter::*;
pub use lock::*;
pub use maintenance::*;
pub use monitoring::*;
pub use probe::*;
pub use signer::*;
pub use tokens::*;
pub use users::*;
