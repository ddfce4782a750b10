//! The `soundshelf` binary: `serve` (the default) runs the HTTP server.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use soundshelf_app::{Application, Settings, telemetry};
use soundshelf_domain::catalog::object_key;
use soundshelf_domain::jobs::Job;
use soundshelf_domain::{CatalogId, Quality, UserId};
use soundshelf_service::jobs::JobRun;

#[derive(Debug, Parser)]
#[command(
    name = "soundshelf",
    version,
    about = "Favorites and downloads server of a music-therapy mini-program"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Create the MySQL database if missing and apply pending migrations, then exit
    /// (what a deployment runs once before starting new instances).
    Migrate,
    /// Exit 0 when the server at BIND answers `GET /health` with 200 within 3 s, else 1
    /// (the container HEALTHCHECK; the runtime image carries no curl).
    Healthcheck,
    /// Print the signed CDN URL the configured backend (qiniu or oss) would redirect a
    /// download of this track to, to check the CDN set-up with a browser or curl.
    SignUrl {
        /// The track, e.g. music_001.
        #[arg(long)]
        music_id: String,
        /// standard, high or lossless.
        #[arg(long)]
        quality: String,
        /// When the URL expires, in Unix seconds (default: now + DOWNLOAD_REDIRECT_TTL);
        /// fixes the output for a reproducible check.
        #[arg(long)]
        expires_at: Option<i64>,
    },
    /// The catalogue: import a file of tracks.
    Catalog {
        #[command(subcommand)]
        command: CatalogCommand,
    },
    /// The scheduled jobs: list them, or run one now.
    Jobs {
        #[command(subcommand)]
        command: JobsCommand,
    },
}

#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// Check every row of FILE (CSV with a header row, or a JSON array; docs/catalog.md),
    /// then, when all are good, create or replace every track, 1,000 per transaction.
    /// With a bad row, each is printed and nothing is applied (exit 1).
    Import {
        /// The file.
        file: std::path::PathBuf,
        /// Check only; apply nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Check that every asset of every live track exists in the storage backend with
    /// the catalogue's size; print each mismatch; exit 1 if there is any.
    Verify {
        /// How many objects to check at once.
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
        /// How long one check may take (Qiniu/OSS: the signed HEAD, connection included).
        #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
        timeout: std::time::Duration,
    },
}

#[derive(Debug, Subcommand)]
enum JobsCommand {
    /// List the jobs and when they run.
    List,
    /// Run a job now (once across instances: it waits for no one, and is skipped if
    /// another instance is running it).
    Run {
        /// token-cleanup, failed-cleanup, stats-refresh or daily-report.
        name: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("error: cannot read .env: {e}");
        return ExitCode::from(2);
    }
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(Command::SignUrl {
        music_id,
        quality,
        expires_at,
    }) = &cli.command
    {
        return sign_url(&settings, music_id, quality, *expires_at);
    }
    if let Some(Command::Jobs {
        command: JobsCommand::List,
    }) = &cli.command
    {
        for job in Job::ALL {
            println!(
                "{:<16} {:<16} {}",
                job.name(),
                job.schedule(),
                job.description()
            );
        }
        return ExitCode::SUCCESS;
    }
    if let Some(Command::Healthcheck) = &cli.command {
        return healthcheck(settings.bind);
    }
    let run_job = match &cli.command {
        Some(Command::Jobs {
            command: JobsCommand::Run { name },
        }) => match Job::parse(name) {
            Some(job) => Some(job),
            None => {
                eprintln!("error: no job named {name:?}; `soundshelf jobs list` names them");
                return ExitCode::from(2);
            }
        },
        _ => None,
    };
    if let Some(Command::Catalog {
        command: CatalogCommand::Import { file, dry_run },
    }) = &cli.command
    {
        return catalog_import(settings, file, *dry_run);
    }
    if let Some(Command::Catalog {
        command: CatalogCommand::Verify {
            concurrency,
            timeout,
        },
    }) = &cli.command
    {
        return catalog_verify(settings, *concurrency, *timeout);
    }
    telemetry::init(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let migrate_only = matches!(cli.command, Some(Command::Migrate));
    let result = runtime.block_on(async {
        match run_job {
            Some(job) => run_job_now(settings, job).await,
            None if migrate_only => migrate_now(settings).await,
            None => serve(settings).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "soundshelf stopped");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(&settings).await?;
    let base = format!("http://{}", app.addr());
    tracing::info!(addr = %app.addr(), database = ?settings.data.database, "soundshelf listening");
    println!("soundshelf is listening on {base}");
    // A ready-made token is a convenience of the embedded default only: a server on a
    // real database never prints a credential.
    if settings.seed_demo && settings.data.embedded {
        let user = UserId::parse("user_free")?;
        let token = app.jwt().mint(&user, Duration::from_secs(24 * 3600))?;
        println!("A demo token for user_free (valid 24 h). Try:");
        println!("  curl -s -H 'Authorization: Bearer {token}' {base}/api/favorites");
    }
    app.run_until_stopped().await?;
    Ok(())
}

/// `soundshelf migrate`.
async fn migrate_now(settings: Settings) -> anyhow::Result<()> {
    let applied = soundshelf_app::startup::migrate(&settings.data).await?;
    if applied.is_empty() {
        println!("migrations: the database is up to date");
    } else {
        println!("migrations applied: {}", applied.join(", "));
    }
    Ok(())
}

/// `soundshelf healthcheck`: a plain HTTP/1.0 `GET /health` to the configured address.
fn healthcheck(bind: std::net::SocketAddr) -> ExitCode {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};

    let timeout = Duration::from_secs(3);
    let probe = || -> std::io::Result<bool> {
        let mut addr = bind;
        // A server bound to every interface is reached on loopback.
        if addr.ip().is_unspecified() {
            addr.set_ip(match addr {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let mut stream = TcpStream::connect_timeout(&addr, timeout)?;
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.write_all(b"GET /health HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.starts_with(b"HTTP/1.") && &head[9..12] == b"200")
    };
    match probe() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("unhealthy: /health did not answer 200");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `soundshelf jobs run <name>`.
async fn run_job_now(settings: Settings, job: Job) -> anyhow::Result<()> {
    if settings.auto_migrate {
        soundshelf_app::startup::migrate(&settings.data).await?;
    }
    let store = soundshelf_app::startup::connect(&settings.data).await?;
    let redis = soundshelf_app::startup::redis(&settings)?;
    // A change made here reaches the servers through Redis (their caches of users).
    let accounts = soundshelf_service::accounts::AccountsService::new(
        std::sync::Arc::new(store.clone()),
        std::sync::Arc::new(soundshelf_ports::SystemClock),
        settings.app_timezone,
    )
    .with_invalidation(
        None,
        redis.clone().map(|r| {
            std::sync::Arc::new(soundshelf_redis::RedisUserEvents(r))
                as std::sync::Arc<dyn soundshelf_ports::UserEvents>
        }),
    );
    let jobs = soundshelf_app::startup::jobs_service(&settings, &store, redis.as_ref(), accounts)?;
    let ran = jobs.run(job).await;
    // Alerts the run queued are delivered before the command exits (or given up on).
    let deadline = settings.alerts.timeout * (settings.alerts.attempts + 1)
        + settings.alerts.backoff * 2u32.saturating_pow(settings.alerts.attempts);
    if !jobs.flush_alerts(deadline).await {
        eprintln!(
            "{}: some alerts were still undelivered when the command gave up",
            job.name()
        );
    }
    match ran? {
        JobRun::Ran(report) => {
            let counts: Vec<String> = report
                .counts
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            println!("{}: {}", job.name(), counts.join(" "));
        }
        JobRun::Skipped => println!("{}: skipped, another instance is running it", job.name()),
    }
    Ok(())
}

/// Runs `work` on the catalogue use cases over the configured database (migrated first
/// when `AUTO_MIGRATE` is set), on a runtime of its own.
fn with_catalog<T>(
    settings: &Settings,
    work: impl AsyncFnOnce(soundshelf_service::catalog::CatalogService) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            if settings.auto_migrate {
                soundshelf_app::startup::migrate(&settings.data).await?;
            }
            let store = soundshelf_app::startup::connect(&settings.data).await?;
            work(soundshelf_service::catalog::CatalogService::new(
                std::sync::Arc::new(store),
                std::sync::Arc::new(soundshelf_ports::SystemClock),
            ))
            .await
        })
}

/// `soundshelf catalog import`: 0 when every row is good (and, without `--dry-run`,
/// applied), 1 when a row is bad (nothing applied), 2 when the database fails.
fn catalog_import(settings: Settings, file: &std::path::Path, dry_run: bool) -> ExitCode {
    let tracks = match soundshelf_app::catalog_file::read(file) {
        Ok(tracks) => tracks,
        Err(errors) => {
            for e in &errors {
                eprintln!("{e}");
            }
            eprintln!(
                "catalog import: {} bad row(s); nothing applied",
                errors.len()
            );
            return ExitCode::FAILURE;
        }
    };
    println!("catalog import: {} rows checked, all good", tracks.len());
    if dry_run {
        println!("catalog import: --dry-run, nothing applied");
        return ExitCode::SUCCESS;
    }
    telemetry::init(&settings);
    let applied = with_catalog(&settings, async |catalog| {
        Ok(catalog.import(&tracks).await?)
    });
    match applied {
        Ok(c) => {
            println!(
                "catalog import: created {}, updated {}, unchanged {}",
                c.created, c.updated, c.unchanged
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// `soundshelf catalog verify`: 0 when every live asset is as the catalogue says, 1 when
/// one is not (each printed), 2 when it cannot check.
fn catalog_verify(
    settings: Settings,
    concurrency: usize,
    timeout: std::time::Duration,
) -> ExitCode {
    use soundshelf_service::catalog::Problem;
    telemetry::init(&settings);
    let storage = match soundshelf_app::startup::object_sizes(&settings, timeout) {
        Ok(storage) => storage,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let found = with_catalog(&settings, async |catalog| {
        Ok(catalog.verify(storage, concurrency).await?)
    });
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    for m in &found.mismatches {
        let problem = match &m.problem {
            Problem::Missing => "missing".to_owned(),
            Problem::WrongSize { expected, found } => {
                format!("size {found}, the catalogue says {expected}")
            }
            Problem::Unreachable(why) => format!("could not be checked: {why}"),
        };
        println!(
            "{} {} {}: {problem}",
            m.music_id.as_str(),
            m.quality,
            m.object_key
        );
    }
    println!(
        "catalog verify: {} assets checked, {} mismatches",
        found.checked,
        found.mismatches.len()
    );
    if found.mismatches.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// `soundshelf sign-url`: prints the signed URL, or refuses with exit code 2.
fn sign_url(
    settings: &Settings,
    music_id: &str,
    quality: &str,
    expires_at: Option<i64>,
) -> ExitCode {
    let refuse = |message: String| {
        eprintln!("error: {message}");
        ExitCode::from(2)
    };
    let music_id = match CatalogId::parse_field("music_id", music_id) {
        Ok(id) => id,
        Err(e) => return refuse(format!("--music-id: {}", e.reason)),
    };
    let quality = match Quality::parse(Some(quality)) {
        Ok(q) => q,
        Err(e) => return refuse(format!("--quality: {}", e.reason)),
    };
    let Some(signer) = soundshelf_app::startup::url_signer(&settings.downloads.backend) else {
        return refuse(
            "STORAGE_BACKEND is local: the server streams files itself, there is no CDN URL to sign"
                .to_owned(),
        );
    };
    let ttl = time::Duration::try_from(settings.downloads.redirect_ttl)
        .unwrap_or(time::Duration::minutes(5));
    let expires_at = match expires_at {
        None => time::OffsetDateTime::now_utc() + ttl,
        Some(unix) => match time::OffsetDateTime::from_unix_timestamp(unix) {
            Ok(t) => t,
            Err(_) => return refuse("--expires-at: not a valid Unix time".to_owned()),
        },
    };
    let key = object_key(&music_id, quality);
    println!("{}", signer.sign(&key, false, expires_at - ttl, expires_at));
    ExitCode::SUCCESS
}
