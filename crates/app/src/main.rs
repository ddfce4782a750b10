//! The `soundshelf` binary: `serve` (the default) runs the HTTP server.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use soundshelf_app::{Application, Settings, telemetry};
use soundshelf_domain::UserId;

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
    let result = runtime.block_on(async {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings).await,
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
    if settings.seed_demo {
        let user = UserId::parse("user_free")?;
        let token = app.jwt().mint(&user, Duration::from_secs(24 * 3600))?;
        println!("A demo token for user_free (valid 24 h). Try:");
        println!("  curl -s -H 'Authorization: Bearer {token}' {base}/api/favorites");
    }
    app.run_until_stopped().await?;
    Ok(())
}
