//! `cargo xtask fuzz [--seconds N] [TARGET …]`: runs the `cargo fuzz` targets in `fuzz/`
//! (libFuzzer, without a sanitizer, so the stable toolchain builds them), each for N
//! seconds. A crash leaves its input in `fuzz/artifacts/<target>/`; the run fails and
//! names it, and the input becomes a regression test in the crate it broke.

use std::process::Command;

use anyhow::{Context, bail, ensure};

use crate::deploy;

/// Every target in `fuzz/Cargo.toml`.
pub(crate) const TARGETS: &[&str] = &[
    "ids",
    "item_data",
    "cursor",
    "range",
    "utc_offset",
    "sync_merge",
];

pub fn run(seconds: u32, only: &[String]) -> anyhow::Result<()> {
    let probe = Command::new("cargo").args(["fuzz", "--version"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        bail!("cargo-fuzz is not installed: cargo install --locked cargo-fuzz");
    }
    let dir = deploy::repo_root().join("fuzz");
    let targets: Vec<&str> = if only.is_empty() {
        TARGETS.to_vec()
    } else {
        for t in only {
            ensure!(
                TARGETS.contains(&t.as_str()),
                "no fuzz target {t}; there are {TARGETS:?}"
            );
        }
        only.iter().map(String::as_str).collect()
    };
    let built = Command::new("cargo")
        .current_dir(&dir)
        .args(["fuzz", "build", "--sanitizer", "none"])
        .status()
        .context("cargo fuzz build")?;
    ensure!(built.success(), "cargo fuzz build failed");
    for target in targets {
        let out = Command::new("cargo")
            .current_dir(&dir)
            .args(["fuzz", "run", "--sanitizer", "none", target, "--"])
            .arg(format!("-max_total_time={seconds}"))
            .output()
            .with_context(|| format!("cargo fuzz run {target}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            eprintln!("{log}");
            bail!("fuzz target {target} failed: its input is in fuzz/artifacts/{target}/");
        }
        let runs = log
            .lines()
            .rev()
            .find(|l| l.starts_with("Done "))
            .unwrap_or("(no summary)");
        println!("fuzz {target}: {runs}");
    }
    Ok(())
}
