//! In-process adapters of soundshelf's ports, for one instance and as the fallbacks of
//! the shared (Redis) ones: a GCRA rate limiter through `governor`, a bounded page
//! cache, and the catalogue read through a short-lived cache. Nothing here is shared
//! between instances.

mod cache;
mod catalog;
mod limiter;

pub use cache::MemoryPageCache;
pub use catalog::CachedCatalog;
pub use limiter::GovernorLimiter;
