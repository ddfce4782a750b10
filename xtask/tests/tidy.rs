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
    // Optional, behind the `openapi` feature: schema descriptions of the values for an
    // HTTP layer, no I/O. A service embedding the domain does not build it.
    let optional = ["utoipa"];
    for dep in &deps {
        assert!(!dep.starts_with("soundshelf"), "domain depends on {dep}");
        if optional.contains(&dep.as_str()) {
            let line = manifest
                .lines()
                .find(|l| l.trim_start().starts_with(dep.as_str()))
                .unwrap();
            assert!(line.contains("optional = true"), "{dep} must stay optional");
            continue;
        }
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

/// The modules of one crate's `src`, by path (`""` for the root, `routes::files`), with
/// their source (unit tests left out).
fn crate_modules(src: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files
        .into_iter()
        .map(|f| {
            let rel = f.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts.last().is_some_and(|p| p == "mod") {
                parts.pop();
            }
            if parts == ["lib"] || parts == ["main"] {
                parts.clear();
            }
            let text = fs::read_to_string(&f).unwrap();
            let text = match text.find("#[cfg(test)]\nmod ") {
                Some(at) => text[..at].to_owned(),
                None => text,
            };
            (parts.join("::"), text)
        })
        .collect()
}

/// The module paths that `text` names after `prefix` (`crate::`, `super::`, or a child's
/// own name), as runs of lower-case path segments.
fn paths_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let before = rest[..at].chars().next_back();
        let after = &rest[at + prefix.len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == ':'))
            .unwrap_or(after.len());
        if !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            found.push(after[..end].trim_end_matches(':'));
        }
        rest = &after[end..];
    }
    found
}

#[test]
fn no_two_modules_of_a_crate_import_each_other() {
    let mut cycles = Vec::new();
    for entry in fs::read_dir(root().join("crates")).unwrap() {
        let src = entry.unwrap().path().join("src");
        if !src.is_dir() {
            continue;
        }
        let modules = crate_modules(&src);
        let names: Vec<&str> = modules.iter().map(|(m, _)| m.as_str()).collect();
        // The most specific module a path names.
        let resolve = |path: &str| -> Option<String> {
            let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            (1..=segs.len())
                .rev()
                .map(|n| segs[..n].join("::"))
                .find(|m| names.contains(&m.as_str()))
        };
        let mut refs: Vec<(String, String)> = Vec::new();
        for (module, text) in &modules {
            let parent = module.rsplit_once("::").map_or("", |(p, _)| p);
            let crate_paths = paths_after(text, "crate::");
            let mut named: Vec<String> = crate_paths.iter().copied().filter_map(&resolve).collect();
            // `use crate::a::b;` then `b::c::…` names `a::b::c`.
            for imported in &crate_paths {
                let alias = imported.rsplit("::").next().unwrap_or(imported);
                if names.contains(imported) && !alias.is_empty() {
                    for path in paths_after(text, &format!("{alias}::")) {
                        named.extend(resolve(&format!("{imported}::{path}")));
                    }
                }
            }
            for path in paths_after(text, "super::") {
                let full = if parent.is_empty() {
                    path.to_owned()
                } else {
                    format!("{parent}::{path}")
                };
                named.push(resolve(&full).unwrap_or_else(|| parent.to_owned()));
            }
            for child in names.iter().filter(|c| {
                c.rsplit_once("::")
                    .map_or(!c.is_empty() && module.is_empty(), |(p, _)| p == module)
            }) {
                let own = child.rsplit("::").next().unwrap_or(child);
                if !paths_after(text, &format!("{own}::")).is_empty() {
                    named.push((*child).to_owned());
                }
            }
            for other in named {
                if &other != module {
                    refs.push((module.clone(), other));
                }
            }
        }
        for (a, b) in &refs {
            if a < b && refs.contains(&(b.clone(), a.clone())) {
                cycles.push(format!("{}: {a} <-> {b}", src.display()));
            }
        }
    }
    cycles.sort();
    cycles.dedup();
    assert!(
        cycles.is_empty(),
        "modules importing each other: {cycles:#?}"
    );
}
