//! The soundshelf server: actix-web routes over the use cases, configuration, wiring,
//! and the operator commands of the `soundshelf` binary.
//!
//! Only this crate knows HTTP: it turns requests into validated domain values, calls
//! the use cases, and turns their results and errors into the JSON envelope.

pub mod auth;
pub mod bodies;
pub mod catalog_file;
pub mod config;
pub mod embedded;
pub mod envelope;
pub mod error;
pub mod jwt;
pub mod observability;
pub mod openapi;
pub mod routes;
pub mod scheduler;
pub mod startup;
pub mod state;
pub mod telemetry;
#[cfg(feature = "test-support")]
pub mod testing;

pub use config::Settings;
pub use startup::Application;
