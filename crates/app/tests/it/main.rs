//! The app's integration tests, one binary with a module per area (linking the whole
//! stack once instead of once per area): HTTP tests of the real app on port 0 over a
//! fresh database on both backends, the binary itself, Redis, outages and attacks.

mod accounts;
mod admin;
mod alerts;
mod api;
mod binary;
mod catalog;
mod catalog_import;
mod cdn;
mod client;
mod downloads;
mod jobs;
mod observability;
mod openapi;
mod outage;
mod redis;
mod security;
mod sync;
