//! Running the server binary from xtask commands (bench, e2e, crash, soak, schemathesis):
//! the binary of a profile, a clean environment, waiting for `/health`, stopping with
//! SIGTERM or SIGKILL, and reading its memory.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use soundshelf_app::jwt::JwtKeys;
use soundshelf_domain::UserId;

use crate::deploy;

/// The secret every server started here signs tokens with.
pub(crate) const SECRET: &str = "xtask-secret-0123456789-abcdefghijklmnopq";

/// The MariaDB server the xtask commands create their databases on.
pub(crate) fn server_url() -> String {
    std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
        .trim_end_matches('/')
        .to_owned()
}

/// A fresh, empty database `{task}_<ulid>` on the MariaDB server: its URL and name.
pub(crate) async fn fresh_database(task: &str) -> anyhow::Result<(String, String)> {
    let name = format!(
        "{task}_{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    let url = format!("{}/{name}", server_url());
    soundshelf_store::migrations::create_database_if_missing(&url).await?;
    Ok((url, name))
}

/// The local Redis the xtask commands use (each with its own key prefix).
pub(crate) fn redis_url() -> String {
    std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// `release` or `debug`.
pub(crate) fn profile(debug: bool) -> &'static str {
    if debug { "debug" } else { "release" }
}

/// Builds the server binary of `profile` (a no-op when it is up to date). The debug
/// build asks for the workspace's binaries, the same units `cargo test --workspace`
/// builds, so right after the tests it links nothing new (`-p soundshelf-app` alone
/// resolves features differently and rebuilt the app: over a minute of the test
/// command).
pub(crate) fn build(profile: &str) -> anyhow::Result<()> {
    let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cargo
        .current_dir(deploy::repo_root())
        .args(["build", "--quiet"]);
    if profile == "release" {
        cargo.args(["--release", "-p", "soundshelf-app"]);
    } else {
        cargo.args(["--workspace", "--bins"]);
    }
    ensure!(cargo.status()?.success(), "cargo build failed");
    Ok(())
}

/// A free loopback port.
pub(crate) fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The server binary of `profile`, with nothing of the caller's environment but `PATH`,
/// and the database, secret, address and log level set.
pub(crate) fn command(profile: &str, database_url: &str, port: u16) -> Command {
    let mut cmd = Command::new(deploy::repo_root().join(format!("target/{profile}/soundshelf")));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(settings(database_url, port))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// The settings every server these commands start gets: the database, the secret the
/// tokens are signed with, the address, the log level.
pub(crate) fn settings(database_url: &str, port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("DATABASE_URL", database_url.to_owned()),
        ("JWT_SECRET", SECRET.to_owned()),
        ("BIND", format!("127.0.0.1:{port}")),
        ("LOG_LEVEL", "warn".to_owned()),
    ]
}

/// A token for `user`, valid for an hour, signed with [`SECRET`].
pub(crate) fn token(user: &str) -> anyhow::Result<String> {
    let keys = JwtKeys::new(&secrecy::SecretString::from(SECRET.to_owned()))?;
    Ok(keys.mint(
        &UserId::parse(user).map_err(|e| anyhow::anyhow!("{user}: {e}"))?,
        Duration::from_secs(3600),
    )?)
}

/// A child process, killed when dropped.
pub(crate) struct Proc {
    pub(crate) name: String,
    pub(crate) child: Child,
}

impl Proc {
    /// Starts `cmd` under `name`.
    pub(crate) fn spawn(name: &str, cmd: &mut Command) -> anyhow::Result<Self> {
        let child = cmd.spawn().with_context(|| format!("starting {name}"))?;
        Ok(Self {
            name: name.to_owned(),
            child,
        })
    }

    /// SIGTERM, as `docker stop` sends, then waits for the exit.
    pub(crate) fn stop(&mut self) -> anyhow::Result<()> {
        self.signal("-TERM")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("{} did not stop within 30 s of SIGTERM", self.name)
    }

    /// SIGKILL: the process gets no chance to finish anything.
    pub(crate) fn kill(&mut self) -> anyhow::Result<()> {
        self.child.kill()?;
        self.child.wait()?;
        Ok(())
    }

    fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()?;
        ensure!(status.success(), "could not signal {}", self.name);
        Ok(())
    }

    /// Resident memory now, and at its peak so far, in kB.
    pub(crate) fn rss_kb(&self) -> Option<(u64, u64)> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        };
        Some((field("VmRSS:")?, field("VmHWM:")?))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Waits until `url` answers 200 (30 s at most).
pub(crate) async fn wait_healthy(name: &str, url: &str) -> anyhow::Result<()> {
    let client = soundshelf_outbound::http::client();
    for _ in 0..600 {
        if let Ok(r) = client.get(url).send().await
            && r.status() == 200
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("{name} did not answer {url} within 30 s")
}

/// Where a command keeps its logs: a fresh folder under `target/`.
pub(crate) fn scratch_dir(task: &str) -> anyhow::Result<PathBuf> {
    let dir = deploy::repo_root().join("target").join(format!(
        "{task}-{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    ));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
