//! Benchmark, not a test (`cargo bench --bench cluster`, run by
//! `scripts/cluster-bench`): on the
//! real cluster of scripts/cluster, measured at the API server,
//! - the service's API requests per hour per node (audit log, by its user
//!   agent) over CLUSTER_BENCH_MINUTES (default 10) with a quiet Node;
//! - reaction p50/p99 from a Ready flip (PATCH of the status subresource,
//!   timed from before the request) to /health, over CLUSTER_BENCH_FLIPS (50);
//! - and from such a flip to a real HAProxy's DOWN and back UP
//!   (`inter 200ms fall 2 rise 2`, as scripts/lb-reaction).
//!
//! Prints figures; asserts nothing about them.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::bench::selected;
use support::haproxy::{Haproxy, free_port};
use support::kube_env::as_env;
use support::reaction::{ms, percentile, until_status};
use support::real_cluster::{Cluster, cluster, serial};
use support::{Service, TempDir};

const UA: &str = "harmony-node-readiness-endpoint/";
const NODE: &str = "hnre-bench-node";

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn service(c: &Cluster, node: &str) -> (Service, TempDir) {
    let deploy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy");
    for f in ["namespace.yaml", "rbac.yaml"] {
        c.kubectl(&["apply", "-f", deploy.join(f).to_str().unwrap()]);
    }
    let sa = TempDir::new("bench-sa");
    let token = c.token("harmony-node-readiness", "harmony-node-readiness-endpoint", &[]);
    let mut env = c.in_cluster_env(sa.path(), &token);
    env.retain(|(k, _)| k != "NODE_NAME");
    env.push(("NODE_NAME".into(), node.into()));
    (Service::start(&as_env(&env)), sa)
}

fn line(name: &str, mut v: Vec<Duration>) {
    v.sort();
    println!(
        "cluster-bench {name}: n={} p50={:.1} ms p99={:.1} ms max={:.1} ms",
        v.len(),
        ms(percentile(&v, 50)),
        ms(percentile(&v, 99)),
        ms(v[v.len() - 1])
    );
}

fn reaction_to_ready_flips() {
    let Some(c) = cluster() else { return };
    let _turn = serial();
    c.create_api_node(NODE);
    let (svc, _sa) = service(c, NODE);
    let step = Duration::from_millis(1);
    until_status(&svc, 200, Instant::now(), step);
    let flips = env_num("CLUSTER_BENCH_FLIPS", 50) as usize;
    let mut samples = vec![];
    for i in 0..flips {
        std::thread::sleep(Duration::from_millis(37 * (i as u64 % 17)));
        let ready = i % 2 == 1;
        let t0 = Instant::now();
        c.set_ready_fast(NODE, ready);
        samples.push(until_status(&svc, if ready { 200 } else { 503 }, t0, step));
    }
    line("API flip -> /health", samples);

    // A real HAProxy health-checking the service.
    let app = support::fake_http::FakeHttp::start(support::lb_rig::ok());
    let frontend = format!("127.0.0.1:{}", free_port());
    let haproxy = Haproxy::start(&format!(
        "defaults\n    mode http\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout check 1s\n\n\
         frontend fe\n    bind {frontend}\n    default_backend be\n\n\
         backend be\n    option httpchk GET /health?check=node_ready\n    \
         server node1 {} check port {} inter 200ms fall 2 rise 2\n",
        app.addr,
        svc.port()
    ));
    haproxy.wait_status("be", "node1", "UP", Duration::from_secs(30));
    let rounds = env_num("CLUSTER_BENCH_LB_ROUNDS", 20) as usize;
    let (mut down, mut up) = (vec![], vec![]);
    for i in 0..rounds {
        std::thread::sleep(Duration::from_millis(((i as u64) * 7919 + 131) % 600));
        let t0 = Instant::now();
        c.set_ready_fast(NODE, false);
        haproxy.wait_status("be", "node1", "DOWN", Duration::from_secs(30));
        down.push(t0.elapsed());
        std::thread::sleep(Duration::from_millis(((i as u64) * 104729 + 17) % 600));
        let t0 = Instant::now();
        c.set_ready_fast(NODE, true);
        haproxy.wait_status("be", "node1", "UP", Duration::from_secs(30));
        up.push(t0.elapsed());
    }
    line("API flip -> HAProxy DOWN", down);
    line("API flip -> HAProxy UP", up);
    drop(haproxy);
    c.kubectl(&["delete", "node", NODE]);
}

fn api_requests_per_hour() {
    let Some(c) = cluster() else { return };
    let _turn = serial();
    let minutes = env_num("CLUSTER_BENCH_MINUTES", 10);
    let node = c.node.clone();
    let skip = c.audit_lines();
    let (svc, _sa) = service(c, &node);
    until_status(&svc, 200, Instant::now(), Duration::from_millis(10));
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(minutes * 60) {
        std::thread::sleep(Duration::from_secs(5));
        assert_eq!(svc.get("/health").status, 200, "{}", svc.log());
    }
    let events = c.audit(UA, skip);
    let requests = events.iter().filter(|e| e["stage"] == "ResponseStarted" || e["verb"] != "watch").count();
    let hours = t0.elapsed().as_secs_f64() / 3600.0;
    let by_verb =
        |v: &str| events.iter().filter(|e| e["verb"] == v && (e["stage"] == "ResponseStarted" || v != "watch")).count();
    println!(
        "cluster-bench API requests: {requests} in {:.1} min ({} list, {} watch, {} get) = {:.0} per hour per node (kubelet node, quiet)",
        t0.elapsed().as_secs_f64() / 60.0,
        by_verb("list"),
        by_verb("watch"),
        by_verb("get"),
        requests as f64 / hours
    );
}

fn main() {
    for part in selected(&["reaction_to_ready_flips", "api_requests_per_hour"]) {
        match part.as_str() {
            "reaction_to_ready_flips" => reaction_to_ready_flips(),
            "api_requests_per_hour" => api_requests_per_hour(),
            _ => unreachable!(),
        }
    }
}
