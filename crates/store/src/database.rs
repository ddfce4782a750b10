//! Connecting: configuration, pools with timeouts, per-connection setup.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use diesel::SqliteConnection;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::sync_connection_wrapper::SyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::{Instrumentation, InstrumentationEvent};
use soundshelf_ports::{BoxError, Clock, Probe, StoreError, SystemClock};

use crate::error::pool_error;

pub(crate) type SqliteConn = SyncConnectionWrapper<SqliteConnection>;
pub(crate) type MysqlPool = Pool<AsyncMysqlConnection>;
pub(crate) type SqlitePool = Pool<SqliteConn>;

/// Which database to use.
#[derive(Clone, PartialEq, Eq)]
pub enum DbConfig {
    /// MariaDB ≥ 10.6 (tested) or MySQL 8 (untested), by `mysql://user:password@host:port/database` URL.
    Mysql {
        /// The URL, password included: never printed (see the `Debug` impl).
        url: String,
    },
    /// An SQLite database file, created when missing.
    Sqlite {
        /// The file.
        path: PathBuf,
    },
}

impl DbConfig {
    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            DbConfig::Mysql { .. } => Backend::Mysql,
            DbConfig::Sqlite { .. } => Backend::Sqlite,
        }
    }
}

impl fmt::Debug for DbConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbConfig::Mysql { url } => {
                f.write_str("Mysql { url: ")?;
                f.write_str(&redact_url(url))?;
                f.write_str(" }")
            }
            DbConfig::Sqlite { path } => f.debug_struct("Sqlite").field("path", path).finish(),
        }
    }
}

/// `url` with any password replaced by `***`, for logs.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "***".to_owned();
    };
    match rest.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

/// The two supported databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// MySQL or MariaDB.
    Mysql,
    /// SQLite.
    Sqlite,
}

/// Pool sizing and the bound on waiting for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// The most connections held open.
    pub max_size: usize,
    /// How long an operation waits for a connection, all told (for a free slot, for a
    /// new connection to open or a pooled one to answer its check), before the store
    /// answers `Unavailable`.
    pub timeout: Duration,
    /// How long a caller waits for a whole operation before the store answers
    /// `Unavailable`. The operation itself is not cut off: it commits or rolls back on
    /// its own, so its effects are all there or none are.
    pub query_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            timeout: Duration::from_secs(5),
            query_timeout: Duration::from_secs(30),
        }
    }
}

/// Statements run on every new SQLite connection. `busy_timeout` is how long a statement
/// waits for another connection's write lock: the pool's own wait bound, so that one
/// setting bounds how long a request can wait on the database.
pub(crate) fn sqlite_pragmas(busy_timeout: Duration) -> String {
    format!(
        "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
         PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        busy_timeout.as_millis()
    )
}

/// Statements run on every new MySQL connection: utf8mb4 and UTC.
pub(crate) const MYSQL_SESSION_SETUP: &str = "SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci; SET time_zone = '+00:00'; \
     SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED;";

pub(crate) enum Db {
    Mysql(MysqlPool),
    Sqlite(SqlitePool),
}

/// The adapter of every store port, over one pool.
#[derive(Clone)]
pub struct Store {
    pub(crate) db: Arc<Db>,
    /// Tells the time of writes made under a lock (tombstones, sync time).
    pub(crate) clock: Arc<dyn Clock>,
    /// Statements sent on this store's connections, for tests and metrics.
    statements: Arc<AtomicU64>,
    /// The runtime the store was opened on. Every operation runs there, so the pool's
    /// connections belong to one runtime that outlives the HTTP workers: a connection
    /// opened on a worker's runtime would fail ("the Tokio context is being shut down")
    /// when that worker stops before the others during a graceful shutdown.
    pub(crate) runtime: tokio::runtime::Handle,
    /// The bounds on waiting for a connection and for an operation.
    pub(crate) options: PoolOptions,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend())
            .finish_non_exhaustive()
    }
}

/// Runs `$body` with `$conn` bound to a pooled connection of whichever backend the store
/// has; the body is compiled once per backend.
macro_rules! with_conn {
    ($store:expr, $conn:ident => $body:expr) => {
        match &*$store.db {
            $crate::database::Db::Mysql(pool) => {
                let mut guard = $crate::database::checkout(pool, $store.options.timeout).await?;
                let $conn: &mut diesel_async::AsyncMysqlConnection = &mut guard;
                $body
            }
            $crate::database::Db::Sqlite(pool) => {
                let mut guard = $crate::database::checkout(pool, $store.options.timeout).await?;
                let $conn: &mut $crate::database::SqliteConn = &mut guard;
                $body
            }
        }
    };
}
pub(crate) use with_conn;

/// A connection from `pool`, waiting `timeout` at most all told: the pool bounds each
/// step (a free slot, opening a connection, checking a pooled one) by it, and a
/// database that hangs would otherwise cost a caller two or three of them.
pub(crate) async fn checkout<M: deadpool::managed::Manager>(
    pool: &deadpool::managed::Pool<M>,
    timeout: Duration,
) -> Result<deadpool::managed::Object<M>, StoreError>
where
    deadpool::managed::PoolError<M::Error>: std::error::Error + Send + Sync + 'static,
{
    match tokio::time::timeout(timeout, pool.get()).await {
        Ok(conn) => conn.map_err(pool_error),
        Err(elapsed) => Err(pool_error(elapsed)),
    }
}

/// Takes `$user`'s lock: a write to the user's row, which MySQL locks until the
/// transaction ends and SQLite answers by taking its write lock. `$bump` adds to the
/// user's favorites version (1 when the transaction writes favorites, 0 to only lock).
macro_rules! lock_user {
    ($conn:expr, $user:expr, $bump:expr) => {
        diesel::update($crate::schema::users::table.find($user.as_str()))
            .set(
                $crate::schema::users::favorites_version
                    .eq($crate::schema::users::favorites_version + $bump),
            )
            .execute($conn)
            .await
    };
}
pub(crate) use lock_user;

/// Starts the newest-first query `$q` (ordered by `$time` desc, then `$id` desc) where
/// `$page` says: after `offset` rows, or strictly after the cursor's `(time, id)`.
macro_rules! page_start {
    ($q:ident, $page:expr, $time:expr, $id:expr) => {
        match &$page.start {
            soundshelf_domain::favorites::PageStart::Offset(offset) => {
                $q = $q.offset(i64::try_from(*offset).unwrap_or(i64::MAX));
            }
            soundshelf_domain::favorites::PageStart::After(cursor) => {
                let at = soundshelf_domain::time::to_primitive_utc(cursor.created_at());
                let id = cursor.id.clone();
                $q = $q.filter($time.lt(at).or($time.eq(at).and($id.lt(id))));
            }
        }
    };
}
pub(crate) use page_start;

/// Splits the `limit + 1` rows a page query loads into the page and whether more follow.
pub(crate) fn split_page<T>(mut rows: Vec<T>, limit: u32) -> (Vec<T>, bool) {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    (rows, more)
}

/// A deadpool pool over `manager` with every wait bounded by `options.timeout`.
/// (A macro rather than a generic function: the pool's bounds differ per connection type.)
macro_rules! build_pool {
    ($manager:expr, $options:expr) => {
        Pool::builder($manager)
            .max_size($options.max_size)
            .wait_timeout(Some($options.timeout))
            .create_timeout(Some($options.timeout))
            .recycle_timeout(Some($options.timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(pool_error)
    };
}

/// Runs `$call` (an async expression over `$store`) as its own task, with the named
/// arguments cloned in, and waits for it.
///
/// Every store operation goes through this, so that a request future dropped half-way
/// (a client that disconnects, a sibling extractor that fails) never cancels a database
/// operation in flight: the operation finishes on its own, and its effects are complete
/// or absent, never cut off. (It also keeps the SQLite wrapper's blocking task from
/// being cancelled on a single-threaded runtime, which that wrapper does not allow.)
macro_rules! detached {
    ($self:ident as $store:ident, ($($arg:ident),*) => $call:expr) => {{
        $(let $arg = $arg.to_owned();)*
        let $store = $self.clone();
        let task = $self.runtime.spawn(async move {
            $(let $arg = &$arg;)*
            $call.await
        });
        match tokio::time::timeout($self.options.query_timeout, task).await {
            Ok(done) => done.map_err(|e| soundshelf_ports::StoreError::Internal(Box::new(e)))?,
            Err(elapsed) => Err(soundshelf_ports::StoreError::Unavailable(Box::new(elapsed))),
        }
    }};
}
pub(crate) use detached;

impl Store {
    /// Opens a pool on `config`. The first connection is opened at once, so a database that
    /// cannot be reached is reported here rather than on the first request.
    pub async fn connect(config: &DbConfig, options: PoolOptions) -> Result<Self, StoreError> {
        let statements = Arc::new(AtomicU64::new(0));
        let counter = statements.clone();
        let db = match config {
            DbConfig::Mysql { url } => {
                let mut manager_config = ManagerConfig::<AsyncMysqlConnection>::default();
                manager_config.custom_setup = Box::new(move |url| {
                    let counter = counter.clone();
                    Box::pin(async move {
                        let mut conn = AsyncMysqlConnection::establish(url).await?;
                        conn.set_instrumentation(count_statements(counter));
                        conn.batch_execute(MYSQL_SESSION_SETUP)
                            .await
                            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        Ok(conn)
                    })
                });
                let manager = AsyncDieselConnectionManager::new_with_config(url, manager_config);
                Db::Mysql(build_pool!(manager, options)?)
            }
            DbConfig::Sqlite { path } => {
                let mut manager_config = ManagerConfig::<SqliteConn>::default();
                let busy_timeout = options.timeout;
                manager_config.custom_setup = Box::new(move |url| {
                    let counter = counter.clone();
                    Box::pin(async move {
                        let mut conn = SqliteConn::establish(url).await?;
                        conn.set_instrumentation(count_statements(counter));
                        conn.batch_execute(&sqlite_pragmas(busy_timeout))
                            .await
                            .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                        Ok(conn)
                    })
                });
                let manager = AsyncDieselConnectionManager::new_with_config(
                    path.to_string_lossy(),
                    manager_config,
                );
                Db::Sqlite(build_pool!(manager, options)?)
            }
        };
        let store = Self {
            db: Arc::new(db),
            clock: Arc::new(SystemClock),
            statements,
            runtime: tokio::runtime::Handle::current(),
            options,
        };
        store.ping().await?;
        Ok(store)
    }

    /// The store telling time by `clock` (tests; the default is the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// How many SQL statements this store has sent so far.
    pub fn statements_executed(&self) -> u64 {
        self.statements.load(Ordering::Relaxed)
    }

    /// Which backend the store runs on.
    pub fn backend(&self) -> Backend {
        match &*self.db {
            Db::Mysql(_) => Backend::Mysql,
            Db::Sqlite(_) => Backend::Sqlite,
        }
    }

    /// Checks that a connection can be had and answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        with_conn!(self, conn => {
            conn.batch_execute("SELECT 1").await.map_err(crate::error::query_error)
        })
    }
}

impl Store {
    async fn ping_detached(&self) -> Result<(), StoreError> {
        detached!(self as store, () => store.ping())
    }
}

#[async_trait::async_trait]
impl Probe for Store {
    async fn ping(&self) -> Result<(), BoxError> {
        self.ping_detached()
            .await
            .map_err(|e| Box::new(e) as BoxError)
    }
}

/// Counts every statement a connection starts.
fn count_statements(counter: Arc<AtomicU64>) -> impl Instrumentation {
    move |event: InstrumentationEvent<'_>| {
        if matches!(event, InstrumentationEvent::StartQuery { .. }) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("mysql://root:s3cret@db:3306/app"),
            "mysql://root:***@db:3306/app"
        );
        let cfg = DbConfig::Mysql {
            url: "mysql://u:p%40ss@h/d".into(),
        };
        assert!(!format!("{cfg:?}").contains("p%40ss"));
    }
}
