//! soundshelf's adapters for what it reaches outside itself.
//!
//! - [`http`]: the one place HTTP(S) clients are built (rustls on ring; no C TLS stack).
//! - [`objects`]: object storage as the catalogue's verification sees it — the size of
//!   the object under a key, from the local folder ([`LocalObjects`]) or by a signed
//!   `HEAD` to the CDN bucket ([`SignedObjects`], through the same signers as downloads).
//! - [`alerts`]: alert delivery to webhooks (json, WeCom, DingTalk, Feishu) and mail,
//!   on background tasks with retries ([`AlertDispatcher`], the `AlertSink` port).
//! - `testing` (feature `test-support`): a stand-in Qiniu/OSS bucket that checks each
//!   request's signature with its own implementation of the vendors' algorithms.

pub mod alerts;
pub mod http;
pub mod objects;
#[cfg(feature = "test-support")]
pub mod testing;

pub use alerts::AlertDispatcher;
pub use objects::{LocalObjects, SignedObjects};
