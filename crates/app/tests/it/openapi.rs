//! The OpenAPI document: 3.1, every route of SPEC with its methods, every `$ref`
//! resolves, every error code is described, and the committed `docs/openapi.json` is what
//! the code generates.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use serde_json::Value;
use soundshelf_app::testing::*;
use soundshelf_store::Backend;

fn document() -> Value {
    serde_json::from_str(&soundshelf_app::openapi::document()).unwrap()
}

#[test]
fn the_committed_document_is_what_the_code_generates() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let committed = std::fs::read_to_string(&path).unwrap();
    assert!(
        committed == soundshelf_app::openapi::document(),
        "docs/openapi.json is stale: run `cargo xtask openapi`"
    );
}

#[test]
fn every_route_of_spec_is_described() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let routes: &[(&str, &[&str])] = &[
        ("/api/favorites", &["get", "post"]),
        ("/api/favorites/{favorite_id}", &["delete"]),
        ("/api/favorites/items/{item_id}", &["delete"]),
        ("/api/favorites/contains", &["get"]),
        ("/api/favorites/sync", &["put"]),
        ("/api/music/download-url/{music_id}", &["get"]),
        ("/files/{token}", &["get", "head"]),
        ("/api/downloads", &["get", "post"]),
        ("/api/downloads/{download_id}", &["delete"]),
        ("/api/admin/stats/downloads", &["get"]),
        ("/api/admin/downloads/popular", &["get"]),
        ("/api/admin/downloads/abnormal", &["get"]),
        ("/api/admin/reports/daily", &["get"]),
        ("/health", &["get"]),
        ("/ready", &["get"]),
        ("/metrics", &["get"]),
        ("/api/openapi.json", &["get"]),
    ];
    for (path, methods) in routes {
        for method in *methods {
            assert!(doc["paths"][path][method].is_object(), "{method} {path}");
        }
    }
    // Every reference points at a schema that exists.
    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| refs(v, out));
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut all = Vec::new();
    refs(&doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/components/schemas/").unwrap();
        assert!(doc["components"]["schemas"][name].is_object(), "{r}");
    }
    // Every error code of the API is in the document.
    let codes = doc["components"]["schemas"]["ErrorCode"]["enum"]
        .as_array()
        .unwrap();
    for code in [
        "INVALID_REQUEST",
        "TOKEN_EXPIRED",
        "VIP_REQUIRED",
        "DAILY_LIMIT_REACHED",
        "DOWNLOAD_USES_EXCEEDED",
        "RATE_LIMITED",
        "UNAVAILABLE",
        "ALREADY_FAVORITED",
    ] {
        assert!(codes.iter().any(|c| c == code), "{code}");
    }
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_serves_the_document() {
    let app = spawn_app(Backend::Sqlite).await;
    let res = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let served: Value = res.json().await.unwrap();
    assert_eq!(served, document());
}
