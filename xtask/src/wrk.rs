//! The bench's load generator: `wrk` (Debian's package), a C event loop that reaches
//! tens of thousands of requests a second on two cores, where a generator in this
//! process would be the ceiling it measures. Each scenario is a Lua script of
//! `xtask/bench/` after the shared prelude (tokens, threads, a summary line).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, bail};

/// Threads and connections of every run (as the side-by-side comparison uses).
pub(crate) const THREADS: usize = 2;
/// Connections of every run.
pub(crate) const CONNECTIONS: usize = 64;

/// A scenario's script: the prelude, then its own `request`.
pub(crate) fn script(name: &str) -> anyhow::Result<String> {
    let dir = crate::deploy::repo_root().join("xtask/bench");
    let prelude = std::fs::read_to_string(dir.join("prelude.lua"))?;
    let own = std::fs::read_to_string(dir.join(format!("{name}.lua")))
        .with_context(|| format!("xtask/bench/{name}.lua"))?;
    Ok(format!("{prelude}\n{own}"))
}

/// What one wrk run measured.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measured {
    pub(crate) requests: u64,
    pub(crate) seconds: f64,
    /// Non-2xx/3xx answers and socket errors.
    pub(crate) errors: u64,
    pub(crate) p50_us: u64,
    pub(crate) p99_us: u64,
    pub(crate) p999_us: u64,
}

/// Whether wrk is installed (`.ci/run` installs it; a bench refuses to run without it).
pub(crate) fn available() -> bool {
    Command::new("wrk")
        .arg("--version")
        .output()
        .is_ok_and(|o| !o.stdout.is_empty() || !o.stderr.is_empty())
}

/// Runs `script` (written to `dir`) against `base` for `duration`, the tokens of
/// `tokens_file` in reach of the script.
pub(crate) fn run(
    dir: &Path,
    name: &str,
    base: &str,
    tokens_file: &Path,
    duration: Duration,
) -> anyhow::Result<Measured> {
    if !available() {
        bail!("wrk is not installed (apt-get install wrk)");
    }
    let path = dir.join(format!("{name}.lua"));
    std::fs::write(&path, script(name)?)?;
    let out = Command::new("wrk")
        .arg(format!("-t{THREADS}"))
        .arg(format!("-c{CONNECTIONS}"))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg("--timeout")
        .arg("10s")
        .arg("-s")
        .arg(&path)
        .arg(base)
        .env("TOKENS_FILE", tokens_file)
        .env("THREADS", THREADS.to_string())
        .output()
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    anyhow::ensure!(
        out.status.success(),
        "wrk failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse(&stdout).with_context(|| format!("wrk's output: {stdout}"))
}

fn parse(stdout: &str) -> anyhow::Result<Measured> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .context("no RESULT line")?;
    let field = |name: &str| -> anyhow::Result<u64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
            .context(name.to_owned())?
            .parse()
            .with_context(|| name.to_owned())
    };
    Ok(Measured {
        requests: field("requests")?,
        seconds: field("duration_us")? as f64 / 1e6,
        errors: field("status_errors")? + field("socket_errors")?,
        p50_us: field("p50")?,
        p99_us: field("p99")?,
        p999_us: field("p999")?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_summary_line_parses() {
        let m = super::parse(
            "Running 1s test\nRESULT requests=1200 duration_us=1000000 status_errors=1 socket_errors=2 p50=100 p99=900 p999=2000\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.requests, 1200);
        assert_eq!(m.errors, 3);
        assert_eq!(m.p999_us, 2000);
        assert!((m.seconds - 1.0).abs() < 1e-9);
    }
}
