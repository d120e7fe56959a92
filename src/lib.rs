//! harmony-node-readiness-endpoint: answers `GET /health` on every node with
//! 200 (send traffic here) or 503 (take me out of the pool).
//!
//! The library holds everything; `main.rs` only calls [`app::run`]. The fuzz
//! crate (`fuzz/`) depends on it for the parsers. Layers point one way:
//! app → server → runner → checks → {kube, host, cri, net} → {config, log,
//! metrics} → {sys, timefmt}: no module imports one above it (tests/layers.rs).
#![deny(unsafe_code)]

pub mod app;
pub mod checks;
pub mod config;
pub mod cri;
pub mod host;
pub mod kube;
pub mod log;
pub mod metrics;
pub mod net;
pub mod runner;
pub mod server;
pub mod status_cli;
pub mod sys;
#[doc(hidden)]
pub mod testutil;
pub mod timefmt;
