//! `cargo xtask schemathesis [--max-examples N] [--debug]`: Schemathesis (from PyPI)
//! generates requests from the server's own `/api/openapi.json` and checks every answer:
//! no 5xx, a documented status code, the documented content type and headers, and a
//! body that matches the documented schema. The server runs on a fresh MariaDB database
//! with the demo data, as the admin demo user (who may call every route).

use std::process::Command;

use anyhow::{Context, bail, ensure};
use soundshelf_store::migrations;

use crate::server::{self, Proc};

/// The checks run on every answer.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";

pub async fn run(max_examples: u32, debug: bool) -> anyhow::Result<()> {
    let probe = Command::new("schemathesis").arg("--version").output();
    if !probe.is_ok_and(|o| o.status.success()) {
        bail!("schemathesis is not installed: pip install schemathesis");
    }
    let profile = server::profile(debug);
    server::build(profile)?;
    let (url, _) = server::fresh_database("st").await?;
    let dir = server::scratch_dir("schemathesis")?;
    let result = fuzz(&url, &dir, max_examples, profile).await;
    let dropped = migrations::drop_database(&url).await;
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!(
            "schemathesis reports and the server log kept in {}",
            dir.display()
        );
    }
    result?;
    dropped?;
    Ok(())
}

async fn fuzz(
    url: &str,
    dir: &std::path::Path,
    max_examples: u32,
    profile: &str,
) -> anyhow::Result<()> {
    let port = server::free_port()?;
    let log = std::fs::File::create(dir.join("server.log"))?;
    let mut cmd = server::command(profile, url, port);
    cmd.env("DATA_DIR", dir.join("data"))
        .env("AUTO_MIGRATE", "true")
        .env("SEED_DEMO", "true")
        .env("WORKERS", "2")
        .env("RATE_LIMIT_DOWNLOADS_PER_MINUTE", "1000000")
        .env("PLAN_VIP_DAILY_DOWNLOADS", "1000000")
        .stdout(log.try_clone()?)
        .stderr(log);
    let mut app = Proc::spawn("soundshelf", &mut cmd)?;
    let base = format!("http://127.0.0.1:{port}");
    server::wait_healthy("soundshelf", &format!("{base}/health")).await?;
    let token = server::token("user_admin")?;
    let status = Command::new("schemathesis")
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .args(["run", &format!("{base}/api/openapi.json")])
        .args(["--url", &base])
        .args(["--checks", CHECKS])
        .args(["--max-examples", &max_examples.to_string()])
        // One worker: Hypothesis' internals are not thread-safe, and two workers now and
        // then end a run with an error of Hypothesis' own.
        .args(["--workers", "1"])
        .args(["--seed", &seed().to_string()])
        .args(["--generation-database", "none"])
        .args(["--request-timeout", "30"])
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--report", "junit", "--report-dir", "reports"])
        .args(["--no-color"])
        .status()
        .context("running schemathesis")?;
    app.stop()?;
    ensure!(status.success(), "schemathesis found failures (see above)");
    Ok(())
}

/// A seed for this run, printed by schemathesis so that a failure can be replayed.
fn seed() -> u32 {
    u32::try_from(ulid::Ulid::generate().random() & 0x7fff_ffff).unwrap_or(0)
}
