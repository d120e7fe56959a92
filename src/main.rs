//! The binary: runs the service (or a subcommand) and maps an error to its
//! exit code. Everything else lives in the library (`src/lib.rs`).
#![deny(unsafe_code)]

use harmony_node_readiness_endpoint::app;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match app::run(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("harmony-node-readiness-endpoint: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
