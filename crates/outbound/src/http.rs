//! The HTTP(S) client every outbound call is built from.
//!
//! reqwest is built with rustls but without a crypto provider (its default, aws-lc, needs
//! a C toolchain with cmake; ring is already what the signers use). rustls then needs a
//! process-wide provider before the first client is built — a client built without one
//! panics — so every client of the workspace, the server's and the tests', comes from
//! [`client_builder`], which installs ring first. `clippy.toml` refuses
//! `reqwest::Client::new` and `reqwest::Client::builder` everywhere else.

use std::sync::Once;

/// A client builder, with ring installed as rustls's provider (once per process; if the
/// embedding program installed another provider first, that one is used).
#[expect(
    clippy::disallowed_methods,
    reason = "the one place reqwest clients are built"
)]
pub fn client_builder() -> reqwest::ClientBuilder {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(install_ring);
    reqwest::Client::builder()
}

#[expect(
    deprecated,
    reason = "ring offers no post-quantum key exchange, which is why rustls deprecates its \
              provider; aws-lc-rs, which does, needs cmake and a long C build — the trade \
              is written in docs/security.md"
)]
fn install_ring() {
    // An error means a provider is already installed: it stays.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A client with reqwest's defaults.
pub fn client() -> reqwest::Client {
    client_builder()
        .build()
        .unwrap_or_else(|e| panic!("an HTTP client with the default settings: {e}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_client_builds_with_tls() {
        // Before the provider was installed here, building panicked.
        let _client = super::client();
        let _https = super::client_builder()
            .https_only(true)
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
    }
}
