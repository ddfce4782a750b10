//! What every request handler can reach: the use cases, and the few settings the HTTP
//! layer itself needs.

use std::path::PathBuf;
use std::sync::Arc;

use ipnet::IpNet;
use soundshelf_ports::UserEvents;
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
    /// Active-user checks.
    pub auth: AuthService,
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
    /// With Redis: tells the other instances that a user changed.
    pub user_events: Option<Arc<dyn UserEvents>>,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl AppState {
    /// User `id` changed here: this instance forgets what it cached of the user at once,
    /// and, with Redis, every other instance as soon as the message reaches it.
    pub async fn user_changed(&self, id: &soundshelf_domain::UserId) {
        self.auth.forget(id);
        if let Some(events) = &self.user_events {
            events.user_changed(id).await;
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("storage_dir", &self.storage_dir)
            .finish_non_exhaustive()
    }
}
