//! harmony-node-readiness-endpoint: answers `GET /health` on every node with
//! 200 (send traffic here) or 503 (take me out of the pool).
#![deny(unsafe_code)]

mod agent;
mod app;
mod checks;
mod chunked;
mod config;
mod cri;
mod dns;
mod gateways;
mod host;
mod http;
mod icmp;
mod kube;
mod log;
mod metrics;
mod mountinfo;
mod report;
mod resolv_conf;
mod routes;
mod runner;
mod sd_notify;
mod server;
mod sys;
#[cfg(test)]
mod testutil;
mod timefmt;
mod tls;

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
