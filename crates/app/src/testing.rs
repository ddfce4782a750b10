//! Test support (feature `test-support`): the real app on port 0 over a fresh database
//! of either backend, tokens good and bad, and a client that reads the envelope.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers fail loudly on any unexpected error"
)]

use std::collections::HashMap;

use crate::{Application, Settings};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use soundshelf_store::testing::TestDb;
use soundshelf_store::{Backend, DbConfig, Store};

pub const SECRET: &str = "test-secret-0123456789-abcdefghijklmnop";

/// A running app and what a test needs to poke at it.
#[derive(Debug)]
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub db: TestDb,
    pub store: Store,
    /// The data folder (`DATA_DIR`); local storage is `storage/` inside it.
    pub dir: std::sync::Arc<tempfile::TempDir>,
    /// The environment the app was started with.
    pub env: HashMap<String, String>,
    /// Its scheduled jobs, to run one now.
    pub jobs: std::sync::Arc<soundshelf_service::jobs::JobsService>,
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// Starts the app with extra environment `vars`.
pub async fn spawn_app_with(backend: Backend, vars: &[(&str, &str)]) -> TestApp {
    spawn_app_on(TestDb::empty(backend).await, vars).await
}

/// Starts the app on the (empty) database `db` with extra environment `vars`.
pub async fn spawn_app_on(db: TestDb, vars: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let database_url = match &db.config {
        DbConfig::Mysql { url } => url.clone(),
        DbConfig::Sqlite { path } => format!("sqlite://{}", path.display()),
    };
    let mut env: HashMap<String, String> = [
        ("DATABASE_URL", database_url.as_str()),
        ("JWT_SECRET", SECRET),
        ("BIND", "127.0.0.1:0"),
        ("AUTO_MIGRATE", "true"),
        ("SEED_DEMO", "true"),
        ("WORKERS", "1"),
        ("DB_POOL_SIZE", "4"),
        ("LOG_LEVEL", "warn"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    env.insert("DATA_DIR".into(), dir.path().to_string_lossy().into_owned());
    for (k, v) in vars {
        env.insert((*k).to_owned(), (*v).to_owned());
    }
    // Every test that uses Redis gets its own key prefix.
    if env.contains_key("REDIS_URL") && !env.contains_key("REDIS_KEY_PREFIX") {
        let prefix = format!("soundshelf-test:{}:", ulid::Ulid::generate());
        env.insert("REDIS_KEY_PREFIX".into(), prefix);
    }
    start(db, std::sync::Arc::new(dir), env).await
}

async fn start(
    db: TestDb,
    dir: std::sync::Arc<tempfile::TempDir>,
    env: HashMap<String, String>,
) -> TestApp {
    let settings = Settings::from_lookup(|k| env.get(k).cloned()).unwrap();
    let app = Application::build(&settings).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    let jobs = app.jobs();
    tokio::spawn(app.run());
    let store = Store::connect(&db.config, Default::default())
        .await
        .unwrap();
    TestApp {
        base,
        client: soundshelf_outbound::http::client(),
        db,
        store,
        dir,
        env,
        jobs,
    }
}

/// A valid token for `user` (claim `sub`, one hour).
pub fn token(user: &str) -> String {
    sign(
        json!({"sub": user, "exp": now() + 3600}),
        SECRET,
        Algorithm::HS256,
    )
}

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn sign(claims: Value, secret: &str, alg: Algorithm) -> String {
    jsonwebtoken::encode(
        &Header::new(alg),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// An unsigned token (`alg: none`).
pub fn unsigned(claims: Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{body}.")
}

pub fn item(id: &str, title: &str) -> Value {
    json!({
        "item_id": id,
        "item_type": "music",
        "item_data": {"title": title, "cover": "/images/c.jpg", "duration": 360}
    })
}

impl TestApp {
    /// A second instance of the app on the same database, data folder and Redis prefix.
    pub async fn another_instance(&self) -> TestApp {
        start(self.db.shared(), self.dir.clone(), self.env.clone()).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn get(&self, path: &str, user: &str) -> (u16, Value) {
        let res = self
            .client
            .get(self.url(path))
            .bearer_auth(token(user))
            .send()
            .await
            .unwrap();
        read(res).await
    }

    pub async fn get_with_token(&self, path: &str, token: &str) -> (u16, Value) {
        let res = self
            .client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        read(res).await
    }

    pub async fn post(&self, path: &str, user: &str, body: &Value) -> (u16, Value) {
        let res = self
            .client
            .post(self.url(path))
            .bearer_auth(token(user))
            .json(body)
            .send()
            .await
            .unwrap();
        read(res).await
    }

    pub async fn put(&self, path: &str, user: &str, body: &Value) -> (u16, Value) {
        let res = self
            .client
            .put(self.url(path))
            .bearer_auth(token(user))
            .json(body)
            .send()
            .await
            .unwrap();
        read(res).await
    }

    pub async fn delete(&self, path: &str, user: &str) -> (u16, Value) {
        let res = self
            .client
            .delete(self.url(path))
            .bearer_auth(token(user))
            .send()
            .await
            .unwrap();
        read(res).await
    }

    /// Adds a favorite and returns it.
    pub async fn add(&self, user: &str, id: &str, title: &str) -> Value {
        let (status, body) = self.post("/api/favorites", user, &item(id, title)).await;
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    }
}

pub async fn read(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
    };
    (status, body)
}

/// Asserts the failure envelope with `status` and `code`.
#[track_caller]
pub fn assert_error(got: &(u16, Value), status: u16, code: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["success"], false, "{}", got.1);
    assert_eq!(got.1["code"], code, "{}", got.1);
    assert!(
        got.1["error"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        got.1
    );
}
