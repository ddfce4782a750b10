//! Isolated databases for tests: a fresh SQLite file in a temporary folder, or a fresh
//! `test_<random>` MySQL database that is dropped when the guard goes away. Tests using
//! them share nothing and may run in parallel.
//!
//! The MySQL server is `TEST_MYSQL_URL` (a URL without a database name), by default
//! `mysql://root@127.0.0.1:3306`.

use crate::migrations::{create_database_if_missing, drop_database, run_pending};
use crate::{Backend, DbConfig, PoolOptions, Store};

/// Defines, for each named `async fn(Backend)`, a module with one test per backend:
/// `name::sqlite` and `name::mysql`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        $(mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::Backend::Sqlite).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                super::$name($crate::Backend::Mysql).await;
            }
        })+
    };
}

/// The MySQL server tests use.
pub fn mysql_server_url() -> String {
    std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
        .trim_end_matches('/')
        .to_owned()
}

/// Runs raw SQL on `config`'s database, outside the store (to set up states the API
/// cannot create, such as corrupt rows).
pub async fn execute_sql(config: &DbConfig, sql: &str) {
    use diesel_async::{AsyncConnection, SimpleAsyncConnection};
    let result = match config {
        DbConfig::Mysql { url } => {
            let mut conn = diesel_async::AsyncMysqlConnection::establish(url)
                .await
                .unwrap_or_else(|e| panic!("connect: {e}"));
            conn.batch_execute(sql).await
        }
        DbConfig::Sqlite { path } => {
            let mut conn = crate::database::SqliteConn::establish(&path.to_string_lossy())
                .await
                .unwrap_or_else(|e| panic!("connect: {e}"));
            conn.batch_execute(sql).await
        }
    };
    result.unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// The first column of the first row of `sql` as text (`SELECT … AS value …`), or `None`
/// when there is no row.
pub async fn query_text(config: &DbConfig, sql: &str) -> Option<String> {
    use diesel::QueryableByName;
    use diesel_async::{AsyncConnection, RunQueryDsl};

    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let query = diesel::sql_query(sql);
    let result = match config {
        DbConfig::Mysql { url } => {
            let mut conn = diesel_async::AsyncMysqlConnection::establish(url)
                .await
                .unwrap_or_else(|e| panic!("connect: {e}"));
            query.get_results::<Row>(&mut conn).await
        }
        DbConfig::Sqlite { path } => {
            let mut conn = crate::database::SqliteConn::establish(&path.to_string_lossy())
                .await
                .unwrap_or_else(|e| panic!("connect: {e}"));
            query.get_results::<Row>(&mut conn).await
        }
    };
    result
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .next()
        .map(|r| r.value)
}

/// Holds SQLite's write lock (an open `BEGIN EXCLUSIVE`) until dropped.
pub struct SqliteWriteLock(diesel::SqliteConnection);

impl std::fmt::Debug for SqliteWriteLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SqliteWriteLock")
    }
}

impl SqliteWriteLock {
    /// Takes the write lock of the database file at `path`.
    pub fn take(path: &std::path::Path) -> Self {
        use diesel::Connection;
        use diesel::connection::SimpleConnection;
        let mut conn = diesel::SqliteConnection::establish(&path.to_string_lossy())
            .unwrap_or_else(|e| panic!("connect: {e}"));
        conn.batch_execute("BEGIN EXCLUSIVE")
            .unwrap_or_else(|e| panic!("lock: {e}"));
        Self(conn)
    }
}

impl Drop for SqliteWriteLock {
    fn drop(&mut self) {
        use diesel::connection::SimpleConnection;
        let _ = self.0.batch_execute("ROLLBACK");
    }
}

/// A database that exists only for one test.
#[derive(Debug)]
pub struct TestDb {
    /// How to reach it.
    pub config: DbConfig,
    _dir: Option<tempfile::TempDir>,
    /// Whether dropping this handle drops the database.
    owned: bool,
}

impl TestDb {
    /// A fresh, empty (unmigrated) database on `backend`.
    pub async fn empty(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
                let path = dir.path().join("test.db");
                Self {
                    config: DbConfig::Sqlite { path },
                    _dir: Some(dir),
                    owned: true,
                }
            }
            Backend::Mysql => {
                let name = format!("test_{}", ulid::Ulid::generate().to_string().to_lowercase());
                let url = format!("{}/{name}", mysql_server_url());
                create_database_if_missing(&url)
                    .await
                    .unwrap_or_else(|e| panic!("create test database: {e}"));
                Self {
                    config: DbConfig::Mysql { url },
                    _dir: None,
                    owned: true,
                }
            }
        }
    }

    /// A handle on the same database that does not drop it (a second app instance).
    pub fn shared(&self) -> Self {
        Self {
            config: self.config.clone(),
            _dir: None,
            owned: false,
        }
    }

    /// A fresh, migrated database on `backend`, and a store on it.
    pub async fn migrated(backend: Backend) -> (Self, Store) {
        let db = Self::empty(backend).await;
        run_pending(&db.config)
            .await
            .unwrap_or_else(|e| panic!("migrate test database: {e}"));
        let store = Store::connect(&db.config, PoolOptions::default())
            .await
            .unwrap_or_else(|e| panic!("connect test database: {e}"));
        (db, store)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if !self.owned {
            return;
        }
        if let DbConfig::Mysql { url } = &self.config {
            let url = url.clone();
            // Drop runs outside any async context we can await in: use a thread with its
            // own small runtime.
            let dropped = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?
                    .block_on(drop_database(&url))
                    .map_err(|e| e.to_string())
            })
            .join();
            if let Ok(Err(e)) = dropped {
                eprintln!("could not drop test database: {e}");
            }
        }
    }
}

/// A MariaDB server of the test's own: a data folder made by `mariadb-install-db` in a
/// temporary folder, `mariadbd` on a free loopback port. It can be killed and started
/// again on the same data and port, to test what the app does while its database is
/// gone. Everything is removed when the guard is dropped.
#[derive(Debug)]
pub struct OwnMariaDb {
    port: u16,
    dir: tempfile::TempDir,
    child: Option<std::process::Child>,
}

/// A tool a test needs is missing: under CI (`CI` set, where `.ci/run` installs every
/// tool) that fails the test; elsewhere the test is skipped with a message.
pub fn missing_tool(what: &str) {
    if std::env::var_os("CI").is_some() {
        panic!("{what}: .ci/run installs it, so under CI this is a failure, not a skip");
    }
    eprintln!("SKIPPED: {what}");
}

impl OwnMariaDb {
    /// Installs a data folder and starts the server on it (about 3 s). `None`, with a
    /// message, when the MariaDB server programs are not installed (a failure under CI:
    /// see [`missing_tool`]).
    pub fn start() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
        // Its own temporary folder too: servers installed at the same moment would
        // otherwise collide on temporary table names in /tmp.
        std::fs::create_dir(dir.path().join("tmp")).unwrap_or_else(|e| panic!("tmp: {e}"));
        let installed = std::process::Command::new("mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", dir.path().join("data").display()))
            .arg(format!("--tmpdir={}", dir.path().join("tmp").display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--user=root",
            ])
            .output();
        match installed {
            Err(e) => {
                missing_tool(&format!("mariadb-install-db could not run ({e})"));
                return None;
            }
            Ok(out) if !out.status.success() => panic!(
                "mariadb-install-db failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
            Ok(_) => {}
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap_or_else(|e| panic!("free port: {e}"))
            .port();
        let mut this = Self {
            port,
            dir,
            child: None,
        };
        this.restart();
        Some(this)
    }

    /// The server's URL without a database name.
    pub fn server_url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    /// Starts the server (again) on the same data and port, and waits until it accepts
    /// connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let path = self.dir.path();
        let child = std::process::Command::new("mariadbd")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", path.join("data").display()))
            .arg(format!("--socket={}", path.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", path.join("mysqld.pid").display()))
            .arg(format!("--log-error={}", path.join("error.log").display()))
            .arg(format!("--tmpdir={}", path.join("tmp").display()))
            .arg(format!("--port={}", self.port))
            .args([
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("mariadbd: {e}"));
        self.child = Some(child);
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let log = std::fs::read_to_string(path.join("error.log")).unwrap_or_default();
        panic!("mariadbd did not start on {}:\n{log}", self.port);
    }

    /// Kills the server at once (SIGKILL: no goodbye to its clients), and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // A frozen process dies of SIGKILL too; it is woken so that it goes at once.
            let _ = std::process::Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers — a database
    /// host that hangs or a network that drops packets.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Lets a frozen server go on (SIGCONT).
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().unwrap_or_else(|| panic!("not running"));
        let status = std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("kill: {e}"));
        assert!(status.success(), "kill {signal} failed");
    }

    /// A fresh database on this server, dropped with the server.
    pub async fn database(&self) -> TestDb {
        let url = format!("{}/app", self.server_url());
        create_database_if_missing(&url)
            .await
            .unwrap_or_else(|e| panic!("create database: {e}"));
        TestDb {
            config: DbConfig::Mysql { url },
            _dir: None,
            owned: false,
        }
    }
}

impl Drop for OwnMariaDb {
    fn drop(&mut self) {
        self.kill();
    }
}
