//! Developer and operator tasks: `cargo xtask migrate | seed | token`.
//!
//! Each task calls the server's own library functions and honours the same environment
//! (`DATABASE_URL`, `DATA_DIR`, `JWT_SECRET`, … and a `.env` file), so no external tool is
//! needed and the tasks cannot drift from what the server does.

use std::time::Duration;

mod bench;
mod crash;
mod deploy;
mod e2e;
mod fuzz;
mod image;
mod schemathesis;
mod server;
mod soak;
mod wrk;

use anyhow::Context;
use clap::{Parser, Subcommand};
use soundshelf_app::config::{DataSettings, Settings};
use soundshelf_app::jwt::JwtKeys;
use soundshelf_app::{embedded, startup};
use soundshelf_domain::UserId;

#[derive(Debug, Parser)]
#[command(name = "cargo xtask", about = "soundshelf development tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Create the database if needed and apply pending migrations.
    Migrate,
    /// Migrate, then write the demo users, catalogue and stored objects into an empty database.
    Seed,
    /// Benchmark the release server on MariaDB and write docs/benchmarks.md.
    Bench {
        /// A short run (under two minutes) for development.
        #[arg(long)]
        quick: bool,
        /// Instead: the retention job deleting 1,000,000 old logs under load, written to
        /// docs/benchmarks-retention.md.
        #[arg(long, conflicts_with = "quick")]
        retention: bool,
    },
    /// Write the OpenAPI document the code generates to docs/openapi.json.
    Openapi,
    /// Two release instances on MariaDB and Redis behind nginx (deploy/nginx.conf on
    /// loopback ports) and a scripted user session through nginx, with one instance
    /// stopped mid-run. Stops and removes everything it started.
    E2e {
        /// Use the debug build (what `cargo test` has just built) instead of compiling a
        /// release build: the behaviour checked does not depend on optimisation, and the
        /// test command stays within its time budget.
        #[arg(long)]
        debug: bool,
    },
    /// Build the container image of deploy/Dockerfile (both stages) and run two containers
    /// of it on host networking behind nginx through the e2e session; each must become
    /// healthy and run as a user other than root. Runs a Docker daemon of its own; where
    /// the public registry does not answer, makes the base images from Debian's packages
    /// and this machine's toolchain.
    Image,
    /// Kill the server (SIGKILL) at random moments during a 500-change sync and a burst
    /// of grants, on a fresh MariaDB database, and check after each kill that every
    /// request's effects are all there or all absent.
    Crash {
        /// How many runs, each ended by a kill.
        #[arg(long, default_value_t = 100)]
        kills: usize,
        /// Use the debug build instead of compiling a release build.
        #[arg(long)]
        debug: bool,
    },
    /// Schemathesis (pip install schemathesis) against the server's /api/openapi.json on
    /// a fresh MariaDB database: no 5xx, and every answer as documented.
    Schemathesis {
        /// Test cases generated per operation.
        #[arg(long, default_value_t = 100)]
        max_examples: u32,
        /// Use the debug build instead of compiling a release build.
        #[arg(long)]
        debug: bool,
    },
    /// Mixed traffic against the server on MariaDB and Redis for a while: reports errors
    /// (the run fails on any), latency percentiles over time, and memory growth after
    /// the warm-up (the run fails past a fixed bound).
    Soak {
        /// How long to run.
        #[arg(long, default_value_t = 10.0)]
        minutes: f64,
        /// Use the debug build instead of compiling a release build.
        #[arg(long)]
        debug: bool,
    },
    /// Run the cargo fuzz targets in fuzz/ (cargo install cargo-fuzz), each for a while.
    Fuzz {
        /// Seconds per target.
        #[arg(long, default_value_t = 60)]
        seconds: u32,
        /// Only these targets (default: all).
        targets: Vec<String>,
    },
    /// Everything beyond `cargo test`, in bounded runs on the debug build: the e2e
    /// deployment, 20 crash kills, Schemathesis with 20 cases per operation, a
    /// 20-second soak, 3 seconds per fuzz target, cargo deny, and the container image
    /// built and run.
    Checks,
    /// Check deploy/nginx.conf with the local nginx (`nginx -t`), rendered for loopback
    /// ports, with a throw-away self-signed certificate when openssl is installed.
    NginxCheck,
    /// Print a JWT for a user, signed with the configured secret.
    Token {
        /// The user id (claim `sub`).
        user_id: String,
        /// How long the token is valid: 90s, 30m, 6h, 7d.
        #[arg(long, default_value = "1h", value_parser = ttl)]
        ttl: Duration,
    },
}

/// `cargo xtask checks`: what the test command runs after `cargo test`.
async fn checks() -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let step = |name: &str| println!("== {name} ({:.0?} in)", started.elapsed());
    step("e2e");
    e2e::run(true).await?;
    step("crash");
    crash::run(20, true).await?;
    step("schemathesis");
    schemathesis::run(20, true).await?;
    step("soak");
    soak::run(1.0 / 3.0, true).await?;
    step("fuzz");
    fuzz::run(3, &[])?;
    step("cargo deny");
    deny()?;
    step("image");
    image::run().await?;
    println!("checks passed in {:.0?}", started.elapsed());
    Ok(())
}

/// `cargo deny check licenses bans sources` with deny.toml.
fn deny() -> anyhow::Result<()> {
    let status = std::process::Command::new("cargo")
        .current_dir(deploy::repo_root())
        .args([
            "deny",
            "--log-level",
            "error",
            "check",
            "licenses",
            "bans",
            "sources",
        ])
        .status()
        .context("cargo deny (cargo install --locked cargo-deny)")?;
    anyhow::ensure!(status.success(), "cargo deny found a problem");
    Ok(())
}

fn ttl(raw: &str) -> Result<Duration, String> {
    humantime::parse_duration(raw)
        .map_err(|_| "expected a duration like 90s, 30m, 6h, 7d or 1h 30m".to_owned())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        return Err(e).context("reading .env");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        match cli.task {
            Task::Migrate => {
                let data = DataSettings::from_env()?;
                let applied = startup::migrate(&data).await?;
                println!("{} migration(s) applied", applied.len());
            }
            Task::Seed => {
                let data = DataSettings::from_env()?;
                startup::migrate(&data).await?;
                let store = startup::connect(&data).await?;
                let outcome = startup::seed_demo(&data, &store).await?;
                println!(
                    "{outcome:?}; demo objects in {}",
                    data.local_storage_dir.display()
                );
            }
            Task::Bench {
                retention: true, ..
            } => bench::retention().await?,
            Task::Bench { quick, .. } => bench::run(quick).await?,
            Task::Openapi => {
                let path = deploy::repo_root().join("docs/openapi.json");
                std::fs::write(&path, soundshelf_app::openapi::document())
                    .with_context(|| format!("writing {}", path.display()))?;
                println!("wrote docs/openapi.json");
            }
            Task::E2e { debug } => e2e::run(debug).await?,
            Task::Image => image::run().await?,
            Task::Crash { kills, debug } => crash::run(kills, debug).await?,
            Task::Schemathesis {
                max_examples,
                debug,
            } => schemathesis::run(max_examples, debug).await?,
            Task::Soak { minutes, debug } => soak::run(minutes, debug).await?,
            Task::Fuzz { seconds, targets } => fuzz::run(seconds, &targets)?,
            Task::Checks => checks().await?,
            Task::NginxCheck => deploy::check_shipped_config()?,
            Task::Token { user_id, ttl } => {
                let settings = Settings::from_env()?;
                let user = UserId::parse(&user_id).map_err(|e| anyhow::anyhow!("{e}"))?;
                let keys = JwtKeys::new(&embedded::jwt_secret(&settings)?)?;
                println!("{}", keys.mint(&user, ttl)?);
            }
        }
        Ok(())
    })
}
