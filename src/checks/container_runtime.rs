//! `container_runtime`: the CRI runtime answers `RuntimeService/Status` with
//! `RuntimeReady=true` and, unless `CONTAINER_RUNTIME_REQUIRE_NETWORK=false`,
//! `NetworkReady=true` — the same conditions the kubelet turns into the
//! node's Ready condition, read straight from the runtime's socket.

use std::path::{Path, PathBuf};
use std::time::Instant;

use super::{Check, CheckId, Ctx, Exec, Outcome};
use crate::cri::{self, CriError, RuntimeStatus};

pub const CHECK: Check = Check { id: CheckId::ContainerRuntime, exec: Exec::Probe, run };

/// Default sockets of containerd, CRI-O and cri-dockerd, in that order.
const DEFAULT_SOCKETS: [&str; 3] =
    ["/run/containerd/containerd.sock", "/var/run/crio/crio.sock", "/run/cri-dockerd.sock"];

fn run(ctx: &Ctx, deadline: Instant) -> Outcome {
    let c = &ctx.config;
    let budget_ms = deadline.saturating_duration_since(Instant::now()).as_millis();
    let socket = match &c.container_runtime_endpoint {
        Some(p) => p.clone(),
        None => match detect(&c.host_root) {
            Ok(p) => p,
            Err(reason) => return Outcome::fail(reason),
        },
    };
    match cri::runtime_status(&socket, deadline) {
        Ok(status) => verdict(&status, c.container_runtime_require_network),
        Err(e) => error_outcome(&socket, &e, budget_ms),
    }
}

/// The first default socket that exists under `host_root`. Looked up at each
/// run: the runtime may start after us.
fn detect(host_root: &Path) -> Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = DEFAULT_SOCKETS.iter().map(|s| under_root(host_root, s)).collect();
    candidates.iter().find(|p| p.exists()).cloned().ok_or_else(|| {
        let looked: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
        format!("no CRI socket found (looked in {})", looked.join(", "))
    })
}

/// `path` as seen through `host_root`. `/var/run` is a symlink to `/run` on
/// every current distribution, and usually an absolute one, which inside a
/// container would resolve to the container's own `/run`: so look in `run/`.
fn under_root(host_root: &Path, path: &str) -> PathBuf {
    let rel = path.trim_start_matches('/');
    let rel = rel.strip_prefix("var/run/").map(|r| format!("run/{r}")).unwrap_or_else(|| rel.to_string());
    if host_root == Path::new("/") { Path::new("/").join(path.trim_start_matches('/')) } else { host_root.join(rel) }
}

/// Pass iff RuntimeReady (and, when required, NetworkReady) is true.
fn verdict(status: &RuntimeStatus, require_network: bool) -> Outcome {
    let required: &[&str] = if require_network { &["RuntimeReady", "NetworkReady"] } else { &["RuntimeReady"] };
    for &kind in required {
        match status.condition(kind) {
            None => return Outcome::fail(format!("runtime reports no {kind} condition")),
            Some(c) if !c.status => {
                let reason = match (c.reason.is_empty(), c.message.is_empty()) {
                    (true, true) => format!("{kind}=false"),
                    (false, true) => format!("{kind}=false {}", c.reason),
                    (true, false) => format!("{kind}=false: {}", c.message),
                    (false, false) => format!("{kind}=false {}: {}", c.reason, c.message),
                };
                return Outcome::fail(reason);
            }
            Some(_) => {}
        }
    }
    Outcome::Pass
}

fn error_outcome(socket: &Path, e: &CriError, budget_ms: u128) -> Outcome {
    let s = socket.display();
    match e {
        CriError::NotFound => Outcome::fail(format!("runtime socket {s} not found")),
        CriError::Timeout => Outcome::unknown(format!("timed out after {budget_ms} ms")),
        CriError::Grpc { .. } => Outcome::fail(e.to_string()),
        _ => Outcome::fail(format!("runtime socket {s}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cri::Condition;

    fn cond(kind: &str, status: bool, reason: &str, message: &str) -> Condition {
        Condition { kind: kind.into(), status, reason: reason.into(), message: message.into() }
    }

    #[test]
    fn verdicts() {
        let ready = cond("RuntimeReady", true, "", "");
        let net_down = cond(
            "NetworkReady",
            false,
            "NetworkPluginNotReady",
            "Network plugin returns error: cni plugin not initialized",
        );
        let st = RuntimeStatus { conditions: vec![ready.clone(), net_down.clone()] };
        assert_eq!(
            verdict(&st, true),
            Outcome::Fail(
                "NetworkReady=false NetworkPluginNotReady: Network plugin returns error: cni plugin not initialized"
                    .into()
            )
        );
        assert_eq!(verdict(&st, false), Outcome::Pass);
        let st = RuntimeStatus { conditions: vec![cond("RuntimeReady", false, "Down", "shim crashed"), net_down] };
        assert_eq!(verdict(&st, false), Outcome::Fail("RuntimeReady=false Down: shim crashed".into()));
        let st = RuntimeStatus { conditions: vec![ready.clone()] };
        assert_eq!(verdict(&st, true), Outcome::Fail("runtime reports no NetworkReady condition".into()));
        let st = RuntimeStatus { conditions: vec![ready, cond("NetworkReady", true, "", "")] };
        assert_eq!(verdict(&st, true), Outcome::Pass);
        let st = RuntimeStatus { conditions: vec![cond("RuntimeReady", false, "", "")] };
        assert_eq!(verdict(&st, true), Outcome::Fail("RuntimeReady=false".into()));
    }

    #[test]
    fn error_reasons() {
        let p = Path::new("/run/containerd/containerd.sock");
        let cases = [
            (CriError::NotFound, "runtime socket /run/containerd/containerd.sock not found"),
            (CriError::Refused, "runtime socket /run/containerd/containerd.sock: connection refused"),
            (
                CriError::Grpc { code: 12, message: "unknown service runtime.v1.RuntimeService".into() },
                "CRI error 12: unknown service runtime.v1.RuntimeService",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(error_outcome(p, &e, 1000), Outcome::Fail(want.into()));
        }
        assert_eq!(error_outcome(p, &CriError::Timeout, 1000), Outcome::Unknown("timed out after 1000 ms".into()));
    }

    #[test]
    fn detection_under_host_root() {
        let tmp = crate::testutil::TempDir::new("cri-detect");
        let dir = tmp.0.join("root");
        let err = detect(&dir).unwrap_err();
        assert!(err.starts_with("no CRI socket found (looked in "), "{err}");
        assert!(err.contains(&format!("{}/run/crio/crio.sock", dir.display())), "{err}");
        // CRI-O's /var/run path is looked up as run/ under the host root.
        std::fs::create_dir_all(dir.join("run/crio")).unwrap();
        std::fs::write(dir.join("run/crio/crio.sock"), b"").unwrap();
        assert_eq!(detect(&dir).unwrap(), dir.join("run/crio/crio.sock"));
        std::fs::create_dir_all(dir.join("run/containerd")).unwrap();
        std::fs::write(dir.join("run/containerd/containerd.sock"), b"").unwrap();
        assert_eq!(detect(&dir).unwrap(), dir.join("run/containerd/containerd.sock"));
        assert_eq!(under_root(Path::new("/"), "/var/run/crio/crio.sock"), PathBuf::from("/var/run/crio/crio.sock"));
    }
}
