//! The architecture stays as drawn: every `crate::` path in `src/` points to
//! a module of a lower layer (or stays inside its own module), so there is
//! no import cycle among the top-level modules. The layers, top to bottom:
//! Entry → Server → Runner → Checks → {Kube, Host, Cri, Net} → {Config, Log,
//! Metrics} → {Sys, timefmt}, the unit-test helpers under all. A new
//! top-level module must be placed in [`LAYERS`], or this test fails.

use std::path::{Path, PathBuf};

/// Top-level module → layer (higher imports lower, never the reverse nor
/// sideways).
const LAYERS: &[(&str, u8)] = &[
    ("app", 8),
    // The `status` subcommand: a client of a running instance.
    ("status_cli", 7),
    ("server", 6),
    ("runner", 5),
    ("checks", 4),
    ("kube", 3),
    ("host", 3),
    ("cri", 3),
    ("net", 3),
    ("config", 2),
    ("log", 2),
    ("metrics", 2),
    ("sys", 1),
    ("timefmt", 1),
    // Unit-test helpers: usable by every layer.
    ("testutil", 0),
];

fn layer(module: &str) -> Option<u8> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|&(_, l)| l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// `src/kube/watch.rs` → `kube`, `src/runner.rs` → `runner`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next().unwrap().as_os_str().to_str().unwrap();
    first.trim_end_matches(".rs").to_string()
}

/// The top-level modules a source text names through `crate::`, comments
/// left out: `crate::a::b` and `crate::{a, b::c}`.
fn crate_references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let code = match line.find("//") {
            Some(i) => &line[..i],
            None => line,
        };
        let mut rest = code;
        while let Some(i) = rest.find("crate::") {
            let after = &rest[i + "crate::".len()..];
            let boundary = i == 0 || !rest[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_');
            if boundary {
                if let Some(group) = after.strip_prefix('{') {
                    let inner = &group[..group.find('}').unwrap_or(group.len())];
                    out.extend(inner.split(',').map(|p| p.trim().split("::").next().unwrap().to_string()));
                } else {
                    let name: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    out.push(name);
                }
            }
            rest = after;
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out
}

#[test]
fn every_crate_path_points_down_the_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    for file in &files {
        let from = module_of(&src, file);
        if from == "lib" || from == "main" {
            continue;
        }
        let Some(from_layer) = layer(&from) else {
            problems.push(format!("{}: module {from} has no layer in tests/layers.rs", file.display()));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for to in crate_references(&text) {
            if to == from {
                continue;
            }
            match layer(&to) {
                Some(to_layer) if to_layer < from_layer => {}
                Some(_) => problems.push(format!("{}: {from} uses crate::{to}, which is not below it", file.display())),
                None => problems.push(format!("{}: crate::{to} is not a module with a layer", file.display())),
            }
        }
    }
    assert!(problems.is_empty(), "layering broken:\n{}", problems.join("\n"));
}

#[test]
fn lib_declares_exactly_the_layered_modules() {
    let lib = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let mut declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.trim().strip_prefix("pub mod ").or_else(|| l.trim().strip_prefix("mod ")))
        .map(|m| m.trim_end_matches(';'))
        .collect();
    declared.sort();
    let mut layered: Vec<&str> = LAYERS.iter().map(|&(m, _)| m).collect();
    layered.sort();
    assert_eq!(declared, layered);
}

#[test]
fn references_are_read_like_the_compiler_reads_them() {
    let text = "use crate::config::Config;\nuse crate::{log, sys};\n// crate::server in a comment\n\
                let x = crate::kube::start(&c); // crate::app\nlet y = notcrate::runner;\n";
    assert_eq!(crate_references(text), ["config", "log", "sys", "kube"]);
}
