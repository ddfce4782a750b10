//! The HTTP routes. Each module exposes `configure`, wired in `startup`.

pub mod accounts;
pub mod admin;
pub mod catalog;
pub mod client;
pub mod downloads;
pub mod favorites;
pub mod files;
pub mod health;

use actix_web::web;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    favorites::configure(cfg);
    downloads::configure(cfg);
    client::configure(cfg);
    files::configure(cfg);
    admin::configure(cfg);
    accounts::configure(cfg);
    catalog::configure(cfg);
}
