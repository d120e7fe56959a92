//! `kubelet`: GET `KUBELET_HEALTHZ_URL` on this node must answer 200.

use std::time::Instant;

use super::{Check, Ctx, Exec, Outcome, local_http};

pub const CHECK: Check = Check { name: "kubelet", exec: Exec::Probe, run };

fn run(ctx: &Ctx, deadline: Instant) -> Outcome {
    let c = &ctx.config;
    local_http::probe(
        "kubelet healthz",
        &c.kubelet_healthz_url,
        c.local_http_ca_file.as_deref(),
        c.timeout_for("kubelet"),
        deadline,
    )
}
