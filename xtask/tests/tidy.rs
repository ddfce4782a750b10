//! Repository rules that no compiler checks: module docs everywhere, and a domain crate
//! that stays pure.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly on any unexpected error"
)]

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_starts_with_a_module_doc() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    rust_files(&root().join("xtask"), &mut files);
    assert!(files.len() > 10);
    let undocumented: Vec<_> = files
        .iter()
        .filter(|f| !fs::read_to_string(f).unwrap().starts_with("//!"))
        .collect();
    assert!(
        undocumented.is_empty(),
        "no `//!` first line: {undocumented:?}"
    );
}

/// The `[dependencies]` names of a manifest (not dev-dependencies).
fn dependencies(manifest: &str) -> Vec<String> {
    let mut in_deps = false;
    let mut names = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap().trim();
            names.push(name.to_owned());
        }
    }
    names
}

#[test]
fn the_domain_crate_depends_on_no_workspace_crate_and_nothing_that_does_io() {
    let manifest = fs::read_to_string(root().join("crates/domain/Cargo.toml")).unwrap();
    // Pure libraries only: data formats, errors, time arithmetic, id encoding.
    let allowed = ["serde", "serde_json", "thiserror", "time", "ulid", "base64"];
    let deps = dependencies(&manifest);
    assert!(!deps.is_empty());
    for dep in &deps {
        assert!(!dep.starts_with("soundshelf"), "domain depends on {dep}");
        assert!(
            allowed.contains(&dep.as_str()),
            "domain depends on {dep}: is it pure?"
        );
    }
    let workspace = fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let ulid = workspace.lines().find(|l| l.starts_with("ulid ")).unwrap();
    assert!(
        ulid.contains("default-features = false"),
        "ulid without its random generator in the domain"
    );
}
