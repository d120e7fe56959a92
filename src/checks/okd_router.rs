//! `okd_router_1936`: GET `OKD_ROUTER_HEALTHZ_URL` on this node must answer 200.

use std::time::Instant;

use super::{Check, Ctx, Exec, Outcome, local_http};

pub const CHECK: Check = Check { name: "okd_router_1936", exec: Exec::Probe, run };

fn run(ctx: &Ctx, deadline: Instant) -> Outcome {
    let c = &ctx.config;
    local_http::probe(
        "OKD router healthz",
        &c.okd_router_healthz_url,
        c.local_http_ca_file.as_deref(),
        c.timeout_for("okd_router_1936"),
        deadline,
    )
}
