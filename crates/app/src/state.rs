//! What every request handler can reach.

use soundshelf_service::{AuthService, FavoritesService};

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
}
