//! What every `harness = false` benchmark under benches/ shares: which of
//! its parts to run.

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs a bench
/// binary without it, and then it only says how to run it. Other arguments
/// pick parts by name.
pub fn selected(parts: &[&str]) -> Vec<String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("benchmark, not a test: run it with `cargo bench --bench {}`", env!("CARGO_CRATE_NAME"));
        return Vec::new();
    }
    let named: Vec<String> = args.into_iter().filter(|a| !a.starts_with('-')).collect();
    parts.iter().map(|p| p.to_string()).filter(|p| named.is_empty() || named.contains(p)).collect()
}
