//! Counters and gauges for `GET /metrics`, rendered by hand in the Prometheus
//! text exposition format (0.0.4). Rendering never runs a check: it reads what
//! the runner and the server recorded.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds (seconds) of the check duration histogram.
const DURATION_BUCKETS: [f64; 13] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Default)]
struct Histogram {
    buckets: [u64; DURATION_BUCKETS.len()],
    count: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, n) in DURATION_BUCKETS.iter().zip(self.buckets.iter_mut()) {
            if seconds <= *bound {
                *n += 1;
            }
        }
        self.count += 1;
        self.sum += seconds;
    }
}

#[derive(Default)]
struct CheckStats {
    passed: bool,
    duration: Histogram,
    runs: BTreeMap<&'static str, u64>,
    timeouts: u64,
}

#[derive(Default)]
struct Inner {
    checks: BTreeMap<&'static str, CheckStats>,
    requests: BTreeMap<(&'static str, u16), u64>,
}

/// Extra gauges/counters owned by other parts (the node watcher), rendered
/// at scrape time.
pub type ExtraRenderer = Box<dyn Fn(&mut String) + Send + Sync>;

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    extra: Mutex<Vec<ExtraRenderer>>,
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Registers a function that appends more metric families at scrape time.
    pub fn add_renderer(&self, f: ExtraRenderer) {
        self.extra.lock().unwrap_or_else(|p| p.into_inner()).push(f);
    }

    /// One execution of `check` ended: `kind` is its outcome's label (pass,
    /// fail, unknown).
    pub fn check_finished(&self, check: &'static str, passed: bool, kind: &'static str, duration: Duration) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let stats = inner.checks.entry(check).or_default();
        stats.passed = passed;
        stats.duration.observe(duration.as_secs_f64());
        *stats.runs.entry(kind).or_default() += 1;
    }

    /// A request stopped waiting for `check` at its deadline (the execution
    /// itself, if still running, is counted when it ends). The check counts
    /// as failing from now on.
    pub fn check_timed_out(&self, check: &'static str) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let stats = inner.checks.entry(check).or_default();
        stats.passed = false;
        stats.timeouts += 1;
    }

    /// `path` is one of a fixed set of labels (never the raw request path,
    /// which would let a scanner grow the label set without bound).
    pub fn request_served(&self, path: &'static str, code: u16) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *inner.requests.entry((path, code)).or_default() += 1;
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        {
            let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            family(&mut out, "node_readiness_check_passed", "gauge", "1 if the last run of the check passed, else 0.");
            for (name, s) in &inner.checks {
                let _ = writeln!(out, "node_readiness_check_passed{{check=\"{name}\"}} {}", u8::from(s.passed));
            }
            family(&mut out, "node_readiness_check_duration_seconds", "histogram", "Time one check run took.");
            for (name, s) in &inner.checks {
                let h = &s.duration;
                for (bound, n) in DURATION_BUCKETS.iter().zip(h.buckets.iter()) {
                    let _ = writeln!(
                        out,
                        "node_readiness_check_duration_seconds_bucket{{check=\"{name}\",le=\"{bound}\"}} {n}"
                    );
                }
                let _ = writeln!(
                    out,
                    "node_readiness_check_duration_seconds_bucket{{check=\"{name}\",le=\"+Inf\"}} {}",
                    h.count
                );
                let _ = writeln!(out, "node_readiness_check_duration_seconds_sum{{check=\"{name}\"}} {}", h.sum);
                let _ = writeln!(out, "node_readiness_check_duration_seconds_count{{check=\"{name}\"}} {}", h.count);
            }
            family(
                &mut out,
                "node_readiness_check_runs_total",
                "counter",
                "Check runs by outcome (pass, fail, unknown).",
            );
            for (name, s) in &inner.checks {
                for (outcome, n) in &s.runs {
                    let _ =
                        writeln!(out, "node_readiness_check_runs_total{{check=\"{name}\",outcome=\"{outcome}\"}} {n}");
                }
            }
            family(
                &mut out,
                "node_readiness_check_timeouts_total",
                "counter",
                "Requests that got a check's result as timed out (still running at their deadline).",
            );
            for (name, s) in &inner.checks {
                let _ = writeln!(out, "node_readiness_check_timeouts_total{{check=\"{name}\"}} {}", s.timeouts);
            }
            family(
                &mut out,
                "node_readiness_http_requests_total",
                "counter",
                "HTTP requests answered, by path and code.",
            );
            for ((path, code), n) in &inner.requests {
                let _ = writeln!(out, "node_readiness_http_requests_total{{path=\"{path}\",code=\"{code}\"}} {n}");
            }
        }
        for f in self.extra.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            f(&mut out);
        }
        family(&mut out, "node_readiness_build_info", "gauge", "Build information; always 1.");
        let _ = writeln!(
            out,
            "node_readiness_build_info{{version=\"{}\",commit=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION"),
            env!("HNRE_GIT_COMMIT")
        );
        out
    }
}

/// Writes the `# HELP` and `# TYPE` lines of one metric family.
pub fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::new();
        m.check_finished("kubelet", true, "pass", Duration::from_millis(3));
        m.check_finished("kubelet", false, "fail", Duration::from_millis(300));
        let text = m.render();
        assert!(text.contains("node_readiness_check_passed{check=\"kubelet\"} 0"), "{text}");
        assert!(text.contains("node_readiness_check_duration_seconds_bucket{check=\"kubelet\",le=\"0.005\"} 1"));
        assert!(text.contains("node_readiness_check_duration_seconds_bucket{check=\"kubelet\",le=\"0.5\"} 2"));
        assert!(text.contains("node_readiness_check_duration_seconds_count{check=\"kubelet\"} 2"));
        assert!(text.contains("node_readiness_check_runs_total{check=\"kubelet\",outcome=\"fail\"} 1"));
    }

    #[test]
    fn a_timed_out_wait_marks_the_check_failing_without_counting_a_run() {
        let m = Metrics::new();
        m.check_finished("disk_pressure", true, "pass", Duration::from_millis(1));
        m.check_timed_out("disk_pressure");
        m.check_timed_out("disk_pressure");
        let text = m.render();
        assert!(text.contains("node_readiness_check_passed{check=\"disk_pressure\"} 0"), "{text}");
        assert!(text.contains("node_readiness_check_timeouts_total{check=\"disk_pressure\"} 2"));
        assert!(text.contains("node_readiness_check_duration_seconds_count{check=\"disk_pressure\"} 1"));
    }
}
