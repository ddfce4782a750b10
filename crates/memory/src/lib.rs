//! In-process adapters of soundshelf's ports, for one instance and as the fallbacks of
//! the shared (Redis) ones: a GCRA rate limiter through `governor` and a bounded page
//! cache. Nothing here is shared between instances.

mod cache;
mod limiter;

pub use cache::MemoryPageCache;
pub use limiter::GovernorLimiter;
