//! harmony-node-readiness-endpoint: answers `GET /health` on every node with
//! 200 (send traffic here) or 503 (take me out of the pool).

mod checks;
mod config;
mod kube;
mod log;

fn main() {
    let raw = config::Raw::new(|k| std::env::var(k).ok(), &[]);
    match raw.and_then(|r| config::Config::from_raw(&r)) {
        Ok(c) => println!("{c:?}"),
        Err(e) => {
            eprintln!("harmony-node-readiness-endpoint: {e}");
            std::process::exit(2);
        }
    }
}
