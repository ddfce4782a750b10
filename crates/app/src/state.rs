//! What every request handler can reach.

use std::path::PathBuf;

use ipnet::IpNet;
use soundshelf_service::{AuthService, DownloadsService, FavoritesService};

use crate::auth::JwtKeys;

/// The shared state of the app: the use cases and the token keys.
#[derive(Debug)]
pub struct AppState {
    /// Token verification.
    pub jwt: JwtKeys,
    /// Active-user checks.
    pub auth: AuthService,
    /// Favorites use cases.
    pub favorites: FavoritesService,
    /// Downloads use cases.
    pub downloads: DownloadsService,
    /// Where the local storage backend keeps objects.
    pub storage_dir: PathBuf,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}
