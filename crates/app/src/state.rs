//! What every request handler can reach.

use std::path::PathBuf;

use std::sync::Arc;

use ipnet::IpNet;
use soundshelf_ports::PageCache;
use soundshelf_redis::Redis;
use soundshelf_service::monitoring::MonitoringService;
use soundshelf_service::{AuthService, DownloadsService, FavoritesService};
use soundshelf_store::Store;

use crate::shared::SharedLimiter;

use crate::auth::JwtKeys;

/// The shared state of the app: the use cases and the token keys.
pub struct AppState {
    /// Token verification.
    pub jwt: JwtKeys,
    /// Active-user checks.
    pub auth: AuthService,
    /// Favorites use cases.
    pub favorites: FavoritesService,
    /// Downloads use cases.
    pub downloads: DownloadsService,
    /// Monitoring use cases (admin API).
    pub monitoring: MonitoringService,
    /// Where the local storage backend keeps objects.
    pub storage_dir: PathBuf,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
    /// Cached favorites pages (Redis, or this process).
    pub pages: Arc<dyn PageCache>,
    /// How long a page stays cached; zero: no cache.
    pub page_ttl: std::time::Duration,
    /// The database, for `/ready`.
    pub store: Store,
    /// Redis when configured, for `/ready`.
    pub redis: Option<Redis>,
    /// The shared limiter when Redis is configured, for its fallback count.
    pub shared_limiter: Option<Arc<SharedLimiter>>,
    /// The longest a request may take to be answered (`HTTP_REQUEST_TIMEOUT`).
    pub request_timeout: std::time::Duration,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("storage_dir", &self.storage_dir)
            .field("redis", &self.redis)
            .finish_non_exhaustive()
    }
}
