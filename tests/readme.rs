//! The README stays true: every knob the binary knows is documented in the
//! configuration table, every registered check has a row in the checks
//! table marked implemented, and the code layout names every part of `src/`.

mod support;

use support::run_check_cli;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

fn help() -> String {
    let (code, out, _) = run_check_cli(&["--help"], &[]);
    assert_eq!(code, 0);
    out
}

#[test]
fn every_knob_is_in_the_configuration_table() {
    let readme = readme();
    let knobs: Vec<String> = help()
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("--"))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    assert!(knobs.len() > 5, "parsed no knobs from --help");
    for knob in knobs {
        assert!(readme.contains(&format!("| `{knob}` |")), "README configuration table lacks {knob}");
    }
}

#[test]
fn every_check_is_in_the_checks_table_as_implemented() {
    let readme = readme();
    let help = help();
    let names = help.lines().find_map(|l| l.strip_prefix("Checks: ")).expect("--help lists checks");
    for name in names.split(", ") {
        let row = readme
            .lines()
            .find(|l| l.starts_with(&format!("| `{name}` |")))
            .unwrap_or_else(|| panic!("README checks table lacks {name}"));
        assert!(row.trim_end().ends_with("| implemented |"), "{name} row: {row}");
    }
}

#[test]
fn the_code_layout_names_everything_in_src() {
    let readme = readme();
    let layout = &readme[readme.find("Code layout:").expect("README has a code layout")..];
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().into_string().unwrap();
        let shown = if entry.path().is_dir() { format!("`src/{name}/`") } else { format!("`src/{name}`") };
        assert!(layout.contains(&shown), "the README's code layout does not name {shown}");
    }
}
