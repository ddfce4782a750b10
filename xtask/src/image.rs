//! `cargo xtask image`: the container image of `deploy/Dockerfile`, built (both stages)
//! and run. Two containers of it, on host networking against the local MariaDB and
//! Redis, behind the e2e's nginx, go through the e2e's whole session; each must become
//! `healthy` by its own HEALTHCHECK and run as a user other than root.
//!
//! It runs a Docker daemon of its own, all of whose state (images, BuildKit's cache,
//! sockets) lives in one temporary directory, with no bridge network and no iptables
//! rules: containers use the host's network only. At the end, pass or fail, the
//! containers are removed, the daemon is stopped, its mounts are undone and the directory
//! is deleted: every run starts from nothing and leaves nothing.
//!
//! The base images come from the public registry when it answers. Where it does not, they
//! are made here without changing what the Dockerfile does: `debian:bookworm-slim` from
//! Debian's packages (`mmdebstrap --variant=minbase bookworm`, `docker import`), and
//! `rust:1.95.0-slim-bookworm` from that base with `gcc`/`libc6-dev`, this machine's Rust
//! toolchain (the one `rust-toolchain.toml` pins) and this machine's extra CA
//! certificates (so cargo reaches crates.io the way this machine does).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};

use crate::deploy;
use crate::e2e::{self, Launch};

/// The tag the built image gets.
const IMAGE: &str = "soundshelf:check";
/// The Dockerfile's runtime base.
const RUNTIME_BASE: &str = "debian:bookworm-slim";
/// The Dockerfile's build base.
const BUILD_BASE: &str = "rust:1.95.0-slim-bookworm";

/// Builds the image, runs the e2e session on two containers of it, and reports the build
/// time and the image's size.
pub async fn run() -> anyhow::Result<()> {
    let daemon = Daemon::start()?;
    let result = async {
        ensure_base(&daemon, RUNTIME_BASE, || make_debian_base(&daemon))?;
        ensure_base(&daemon, BUILD_BASE, || make_rust_base(&daemon))?;
        let started = Instant::now();
        let log = daemon.dir.join("build.log");
        let status = daemon
            .docker()
            .env("DOCKER_BUILDKIT", "1")
            .current_dir(deploy::repo_root())
            .args(["build", "--network", "host", "--progress", "plain"])
            .args(["-f", "deploy/Dockerfile", "-t", IMAGE, "."])
            .stdout(std::fs::File::create(&log)?)
            .stderr(std::fs::File::create(daemon.dir.join("build.err"))?)
            .status()?;
        if !status.success() {
            let text = std::fs::read_to_string(daemon.dir.join("build.err")).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            bail!(
                "docker build of deploy/Dockerfile failed:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        let built = started.elapsed();
        let size = daemon.output(&["image", "inspect", "-f", "{{.Size}}", IMAGE])?;
        let size: u64 = size.trim().parse().context("image size")?;
        println!(
            "image: {IMAGE} built from deploy/Dockerfile in {built:.0?}, {:.1} MB",
            size as f64 / 1e6
        );
        e2e::run_with(Launch::Image {
            docker: daemon.docker.clone(),
            image: IMAGE.to_owned(),
        })
        .await?;
        println!("image: passed");
        anyhow::Ok(())
    }
    .await;
    daemon.stop();
    result
}

/// A docker client talking to one daemon.
#[derive(Debug, Clone)]
pub(crate) struct Docker {
    client: PathBuf,
    host: String,
}

impl Docker {
    /// `docker …` for this daemon.
    pub(crate) fn command(&self) -> Command {
        let mut cmd = Command::new(&self.client);
        cmd.env("DOCKER_HOST", &self.host);
        cmd
    }
}

/// A Docker daemon of this command's own.
struct Daemon {
    /// Sockets, pid file, logs, and the daemon's data.
    dir: PathBuf,
    docker: Docker,
    child: std::process::Child,
}

impl Daemon {
    fn start() -> anyhow::Result<Self> {
        let dockerd = deploy::find_program("dockerd")
            .context("dockerd is not installed (apt-get install docker.io)")?;
        // Debian's client matches Debian's daemon; another client on PATH may want plugins.
        let client = [PathBuf::from("/usr/bin/docker")]
            .into_iter()
            .find(|p| p.exists())
            .or_else(|| deploy::find_program("docker"))
            .context("no docker client (apt-get install docker.io)")?;
        let dir = std::env::temp_dir().join(format!(
            "sd-{}",
            &ulid::Ulid::generate().to_string().to_lowercase()[18..]
        ));
        std::fs::create_dir_all(&dir)?;
        let data = dir.join("data");
        std::fs::create_dir_all(&data)?;
        let child = Command::new(dockerd)
            .args([
                "--storage-driver",
                "vfs",
                "--bridge",
                "none",
                "--iptables=false",
            ])
            .args(["--ip-masq=false", "--ip-forward=false"])
            .arg("--data-root")
            .arg(&data)
            .arg("--exec-root")
            .arg(dir.join("x"))
            .arg("--pidfile")
            .arg(dir.join("pid"))
            .arg("--host")
            .arg(format!("unix://{}", dir.join("docker.sock").display()))
            .stdout(std::fs::File::create(dir.join("dockerd.log"))?)
            .stderr(std::fs::File::create(dir.join("dockerd.err"))?)
            .spawn()
            .context("starting dockerd")?;
        let docker = Docker {
            client,
            host: format!("unix://{}", dir.join("docker.sock").display()),
        };
        let daemon = Self { dir, docker, child };
        let deadline = Instant::now() + Duration::from_secs(60);
        while daemon
            .output(&["version", "--format", "{{.Server.Version}}"])
            .is_err()
        {
            if Instant::now() > deadline {
                let err =
                    std::fs::read_to_string(daemon.dir.join("dockerd.err")).unwrap_or_default();
                let tail: Vec<&str> = err.lines().rev().take(10).collect();
                daemon.stop();
                bail!("dockerd did not answer within 60 s: {tail:?}");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        Ok(daemon)
    }

    /// The client, pointed at this daemon.
    fn docker(&self) -> Command {
        self.docker.command()
    }

    /// What `docker args…` prints, or an error with what it said.
    fn output(&self, args: &[&str]) -> anyhow::Result<String> {
        let out = self.docker().args(args).output()?;
        ensure!(
            out.status.success(),
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// SIGTERM, then a bounded wait; then the daemon's mounts (its network namespace) are
    /// undone and the temporary directory is removed.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let under = self.dir.to_string_lossy().into_owned();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(1))
            .filter(|p| p.starts_with(&under))
            .collect();
        // Deepest first.
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for point in points {
            let _ = Command::new("umount").args(["-l", point]).status();
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("image: could not remove {}: {e}", self.dir.display());
        }
    }
}

/// `name` present, pulled, or made by `make`.
fn ensure_base(
    daemon: &Daemon,
    name: &str,
    make: impl FnOnce() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    if daemon.output(&["image", "inspect", name]).is_ok() {
        return Ok(());
    }
    let pulled = daemon
        .docker()
        .args(["pull", "--quiet", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if pulled {
        println!("image: pulled {name}");
        return Ok(());
    }
    println!("image: the registry does not answer; making {name} here");
    make()?;
    daemon
        .output(&["image", "inspect", name])
        .with_context(|| format!("{name} was not made"))?;
    Ok(())
}

/// `debian:bookworm-slim` from Debian's packages.
fn make_debian_base(daemon: &Daemon) -> anyhow::Result<()> {
    let mmdebstrap = deploy::find_program("mmdebstrap")
        .context("mmdebstrap is not installed (apt-get install mmdebstrap)")?;
    let tar = daemon.dir.join("bookworm.tar");
    let status = Command::new(mmdebstrap)
        .args(["--variant=minbase", "--quiet", "bookworm"])
        .arg(&tar)
        .status()?;
    ensure!(status.success(), "mmdebstrap failed");
    let status = daemon
        .docker()
        .args(["import"])
        .arg(&tar)
        .arg(RUNTIME_BASE)
        .stdout(Stdio::null())
        .status()?;
    ensure!(status.success(), "docker import failed");
    let _ = std::fs::remove_file(&tar);
    Ok(())
}

/// `rust:1.95.0-slim-bookworm` from the Debian base, this machine's toolchain and CAs.
fn make_rust_base(daemon: &Daemon) -> anyhow::Result<()> {
    let context = daemon.dir.join("rust-base");
    let toolchain = context.join("toolchain");
    std::fs::create_dir_all(&toolchain)?;
    let sysroot = Command::new("rustc")
        .current_dir(deploy::repo_root())
        .args(["--print", "sysroot"])
        .output()?;
    ensure!(sysroot.status.success(), "rustc --print sysroot failed");
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    // The compiler and the standard library; not the documentation.
    for part in ["bin", "lib", "libexec"] {
        if sysroot.join(part).exists() {
            let status = Command::new("cp")
                .arg("-a")
                .arg(sysroot.join(part))
                .arg(&toolchain)
                .status()?;
            ensure!(status.success(), "copying the toolchain's {part}");
        }
    }
    let cas = context.join("ca");
    std::fs::create_dir_all(&cas)?;
    copy_certificates(Path::new("/usr/local/share/ca-certificates"), &cas)?;
    std::fs::write(
        context.join("Dockerfile"),
        format!(
            "FROM {RUNTIME_BASE}\n\
             RUN apt-get update \\\n \
                 && apt-get install -y --no-install-recommends ca-certificates gcc libc6-dev \\\n \
                 && rm -rf /var/lib/apt/lists/*\n\
             COPY ca/ /usr/local/share/ca-certificates/\n\
             RUN update-ca-certificates\n\
             COPY toolchain /usr/local/rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu\n\
             ENV RUSTUP_HOME=/usr/local/rustup CARGO_HOME=/usr/local/cargo \\\n \
                 PATH=/usr/local/cargo/bin:/usr/local/rustup/toolchains/1.95.0-x86_64-unknown-linux-gnu/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
        ),
    )?;
    let status = daemon
        .docker()
        .env("DOCKER_BUILDKIT", "1")
        .args(["build", "--quiet", "--network", "host", "-t", BUILD_BASE])
        .arg(&context)
        .stdout(Stdio::null())
        .status()?;
    ensure!(status.success(), "building {BUILD_BASE} here failed");
    let _ = std::fs::remove_dir_all(&context);
    Ok(())
}

/// The `.crt` files of `from` (this machine's own additions to the CA store), copied.
fn copy_certificates(from: &Path, to: &Path) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "crt")
            && let Some(name) = path.file_name()
        {
            std::fs::copy(&path, to.join(name))?;
        }
    }
    Ok(())
}
