//! What every request handler can reach: the use cases, and the few settings the HTTP
//! layer itself needs.

use std::path::PathBuf;
use std::sync::Arc;

use ipnet::IpNet;
use soundshelf_service::accounts::AccountsService;
use soundshelf_service::catalog::CatalogService;
use soundshelf_service::health::HealthService;
use soundshelf_service::monitoring::MonitoringService;
use soundshelf_service::{AuthService, DownloadsService, FavoritesService};

use crate::jwt::JwtKeys;

/// The shared state of the app: the use cases and the token keys.
pub struct AppState {
    /// Token verification.
    pub jwt: JwtKeys,
    /// Active-user checks (shared with the accounts use cases, which tell it of changes).
    pub auth: Arc<AuthService>,
    /// Favorites use cases.
    pub favorites: FavoritesService,
    /// Downloads use cases.
    pub downloads: DownloadsService,
    /// Operators' changes to users, and the audit log.
    pub accounts: AccountsService,
    /// Operators' catalogue.
    pub catalog: CatalogService,
    /// Monitoring use cases (admin API).
    pub monitoring: MonitoringService,
    /// Readiness of the dependencies.
    pub health: HealthService,
    /// Where the local storage backend keeps objects.
    pub storage_dir: PathBuf,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("storage_dir", &self.storage_dir)
            .finish_non_exhaustive()
    }
}
