//! Packaging and deployment, tested as a user meets them: the static binary
//! (no interpreter, no shared libraries, serves from an empty chroot), the
//! FROM-scratch image, the rendered manifests, the systemd unit with
//! sd_notify, the LB examples validated by the real HAProxy and keepalived,
//! the F5 receive string against real answers, and a zero-failure handover
//! between two instances on one port (the DaemonSet's surge update).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::fake_apiserver::FakeApiServer;
use support::fake_http::{FakeHttp, Mode};
use support::kube_env::{Creds, as_env, env_for};
use support::service::{BIN, exchange};
use support::{Response, Service, TempDir, skip, skip_unless_program, skip_unless_root, wait_for};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const NAME: &str = "harmony-node-readiness-endpoint";
const MUSL_TARGET: &str = "x86_64-unknown-linux-musl";

fn repo(path: &str) -> PathBuf {
    Path::new(ROOT).join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

/// Runs a command to completion; returns (success, stdout, stderr).
fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// A `make` child of this test, without the outer `make test`'s jobserver.
fn make(args: &[&str]) -> Command {
    let mut cmd = Command::new("make");
    cmd.current_dir(ROOT).args(args);
    for var in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CARGO_MAKEFLAGS"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Builds the static binary with `make static` once per test process and
/// returns its path; `Err` only when the musl target cannot be installed
/// here (the reason is the toolchain script's message).
fn static_binary() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let (ok, _, err) = run(Command::new(repo("scripts/static-toolchain.sh")).current_dir(ROOT));
            if !ok {
                return Err(format!("the {MUSL_TARGET} toolchain cannot be installed here: {}", err.trim()));
            }
            let (ok, out, err) = run(&mut make(&["static"]));
            assert!(ok, "make static failed:\n{out}\n{err}");
            let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or(repo("target"));
            let bin = target_dir.join(MUSL_TARGET).join("release").join(NAME);
            assert!(bin.is_file(), "make static did not produce {}", bin.display());
            Ok(bin)
        })
        .clone()
}

/// The static binary, or `None` after reporting why the test skips.
fn static_binary_or_skip() -> Option<PathBuf> {
    match static_binary() {
        Ok(bin) => Some(bin),
        Err(reason) => {
            skip(&reason);
            None
        }
    }
}

// ---------------------------------------------------------------- ELF

/// What the program headers of an x86_64 ELF executable say about linking.
#[derive(Debug)]
struct Linking {
    interpreter: Option<String>,
    needed: usize,
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// Reads the ELF64 program headers: PT_INTERP names the dynamic loader a
/// dynamically linked program needs; PT_DYNAMIC lists DT_NEEDED libraries.
fn elf_linking(b: &[u8]) -> Linking {
    const PT_DYNAMIC: u32 = 2;
    const PT_INTERP: u32 = 3;
    const DT_NEEDED: u64 = 1;
    assert_eq!(&b[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(b[4], 2, "not ELF64");
    assert_eq!(b[5], 1, "not little-endian");
    assert_eq!(u16_at(b, 0x12), 0x3e, "not x86_64");
    let (phoff, phentsize, phnum) = (u64_at(b, 0x20) as usize, u16_at(b, 0x36) as usize, u16_at(b, 0x38) as usize);
    let mut linking = Linking { interpreter: None, needed: 0 };
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let (p_type, offset, filesz) = (u32_at(b, ph), u64_at(b, ph + 8) as usize, u64_at(b, ph + 32) as usize);
        match p_type {
            PT_INTERP => {
                let raw = &b[offset..offset + filesz];
                linking.interpreter = Some(String::from_utf8_lossy(raw).trim_end_matches('\0').to_string());
            }
            PT_DYNAMIC => {
                for entry in b[offset..offset + filesz].chunks_exact(16) {
                    match u64_at(entry, 0) {
                        0 => break,
                        DT_NEEDED => linking.needed += 1,
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    linking
}

#[test]
fn elf_reader_sees_the_loader_and_libraries_of_a_dynamic_program() {
    // The test binary itself is dynamically linked against glibc.
    let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
    let linking = elf_linking(&me);
    assert!(linking.interpreter.as_deref().is_some_and(|i| i.contains("ld-linux")), "{linking:?}");
    assert!(linking.needed >= 1, "{linking:?}");
}

#[test]
fn make_static_builds_a_fully_static_stripped_binary() {
    let Some(bin) = static_binary_or_skip() else { return };
    let bytes = std::fs::read(&bin).unwrap();
    let linking = elf_linking(&bytes);
    assert_eq!(linking.interpreter, None, "the static binary asks for a dynamic loader");
    assert_eq!(linking.needed, 0, "the static binary needs shared libraries");
    if let Some(ldd) = support::which("ldd") {
        let (_, out, err) = run(Command::new(ldd).arg(&bin));
        let said = format!("{out}{err}");
        assert!(said.contains("not a dynamic executable") || said.contains("statically linked"), "ldd: {said}");
    }
    // Stripped: no .symtab section name left in the file.
    assert!(!bytes.windows(8).any(|w| w == b".symtab\0"), "not stripped");
    let (ok, out, _) = run(Command::new(&bin).arg("--version"));
    assert!(ok && out.contains(env!("CARGO_PKG_VERSION")), "--version: {out}");
    eprintln!("static binary: {} bytes", bytes.len());
}

// ---------------------------------------------------------------- chroot

/// A process of ours whose stderr is collected; killed (by pid) on drop.
struct Proc {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Proc {
    /// Spawns `cmd` and waits until the service logs its listening address.
    fn start(mut cmd: Command) -> (Proc, SocketAddr) {
        let mut child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let (stderr, sink) = (child.stderr.take().unwrap(), log.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split(" listening on ").nth(1) {
                    let _ = tx.send(rest.split(';').next().unwrap_or("").to_string());
                }
                sink.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        let mut proc = Proc { child, log };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(addr) => (proc, addr.parse().expect("listening address")),
            Err(_) => {
                let _ = proc.child.kill();
                let _ = proc.child.wait();
                panic!("service did not start; log:\n{}", proc.log.lock().unwrap());
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The image has nothing but the binary; this runs the static binary the same
/// way without a container engine: chroot into a directory holding only the
/// binary, with a fake host root and the real /proc bind-mounted where the
/// DaemonSet mounts them (in a private mount namespace that vanishes with it).
#[test]
fn static_binary_serves_from_an_empty_chroot() {
    if skip_unless_root("chroot and bind mounts") || skip_unless_program("unshare") || skip_unless_program("mount") {
        return;
    }
    let Some(bin) = static_binary_or_skip() else { return };
    let tmp = TempDir::new("chroot");
    let (jail, host) = (tmp.path().join("jail"), tmp.path().join("fake-host"));
    let only_on_fake_host = host.join("only-on-the-fake-host");
    for dir in [jail.join("host/root"), jail.join("host/proc"), host.join("var/lib/kubelet"), only_on_fake_host] {
        std::fs::create_dir_all(dir).unwrap();
    }
    std::fs::copy(&bin, jail.join(NAME)).unwrap();
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let script = r#"set -e
mount --bind "$1/fake-host" "$1/jail/host/root"
mount --bind /proc "$1/jail/host/proc"
exec chroot "$1/jail" /harmony-node-readiness-endpoint"#;
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", script, "sh"]).arg(tmp.path());
    cmd.env_clear().envs([
        ("NODE_NAME", "test-node"),
        ("LISTEN_ADDRESS", "127.0.0.1"),
        ("LISTEN_PORT", "0"),
        ("HOST_ROOT", "/host/root"),
        ("HOST_PROC", "/host/proc"),
        ("KUBELET_HEALTHZ_URL", &kubelet.url("/healthz")),
        ("FILESYSTEM_RO_PATHS", "/var/lib/kubelet"),
        // A path that exists only below the fake HOST_ROOT (absent paths are
        // skipped), and a threshold no file system meets: disk_pressure must
        // fail naming it, which proves it looked through HOST_ROOT.
        ("DISK_PRESSURE_PATHS", "/only-on-the-fake-host"),
        ("MIN_FREE_PERCENT", "100"),
    ]);
    let (proc, addr) = Proc::start(cmd);
    // Nothing but the binary (and the two empty mount points) in its root.
    let mut entries: Vec<String> =
        std::fs::read_dir(&jail).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    entries.sort();
    assert_eq!(entries, ["harmony-node-readiness-endpoint", "host"]);

    let live = support::service::get(addr, "/livez");
    assert_eq!(live.status, 200, "{live:?}");
    let kubelet_check = support::service::get(addr, "/health?check=kubelet");
    assert_eq!(kubelet_check.status, 200, "{kubelet_check:?}");
    assert_eq!(kubelet_check.json()["status"], "ready");
    // The host checks work inside the chroot through HOST_ROOT / HOST_PROC:
    // filesystem_ro reads the host's mount table (/host/proc/1/mountinfo) and
    // judges /var/lib/kubelet; disk_pressure measures the fake host's path.
    let host = support::service::get(addr, "/health?check=filesystem_ro,disk_pressure");
    assert_eq!(host.status, 503, "{host:?}");
    let v = host.json();
    assert_eq!(v["status"], "not-ready");
    let checks = v["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["filesystem_ro", "disk_pressure"]);
    let fs = &checks[0];
    // Passes unless the host really mounts /var/lib/kubelet read-only; never
    // an error reading the mount table.
    assert!(fs["passed"] == true || fs["reason"].as_str().unwrap().contains("read-only"), "{fs}");
    let disk = &checks[1];
    assert_eq!(disk["passed"], false, "{disk}");
    let reason = disk["reason"].as_str().unwrap();
    assert!(reason.contains("/only-on-the-fake-host") && reason.contains("free"), "{reason}");
    drop(proc);
}

// ---------------------------------------------------------------- image

/// The engine `make image` will pick, and how it exports an OCI layout.
fn image_engine() -> Option<&'static str> {
    ["podman", "buildah"].into_iter().find(|e| support::which(e).is_some())
}

fn json_file(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout.join("blobs").join(digest.replacen(':', "/", 1))
}

#[test]
fn make_image_builds_a_scratch_image_with_only_the_binary() {
    let Some(engine) = image_engine() else {
        skip("neither podman nor buildah is installed (`make test` installs buildah as root on Debian)");
        return;
    };
    let Some(bin) = static_binary_or_skip() else { return };
    let tag = format!("localhost/hnre-packaging-test:{}", std::process::id());
    let (ok, out, err) =
        run(make(&["image", &format!("IMAGE={tag}"), &format!("ENGINE={engine}")]).stdin(Stdio::null()));
    assert!(ok, "make image failed:\n{out}\n{err}");
    let tmp = TempDir::new("oci");
    let layout = tmp.path().join("layout");
    let exported = match engine {
        "buildah" => run(Command::new("buildah").args(["push", &tag]).arg(format!("oci:{}", layout.display()))),
        _ => run(Command::new("podman").args(["save", "--format", "oci-dir", "-o"]).arg(&layout).arg(&tag)),
    };
    let _ = run(Command::new(engine).args(["rmi", &tag]));
    assert!(exported.0, "export failed: {}", exported.2);

    let index = json_file(&layout.join("index.json"));
    let manifest = json_file(&blob(&layout, index["manifests"][0]["digest"].as_str().unwrap()));
    let config = json_file(&blob(&layout, manifest["config"]["digest"].as_str().unwrap()));
    let c = &config["config"];
    assert_eq!(c["Entrypoint"], json!(["/harmony-node-readiness-endpoint"]), "{c}");
    assert_eq!(c["User"], "65534:65534", "{c}");
    assert!(c["ExposedPorts"].get("25001/tcp").is_some(), "{c}");
    assert!(c.get("Env").is_none_or(|e| !e.to_string().contains("SHELL")), "{c}");
    let labels = &c["Labels"];
    assert_eq!(labels["org.opencontainers.image.version"], env!("CARGO_PKG_VERSION"), "{labels}");
    for key in ["source", "licenses", "title"] {
        let v = labels[format!("org.opencontainers.image.{key}")].as_str().unwrap_or("");
        assert!(!v.is_empty(), "label {key} missing: {labels}");
    }

    // The file system: every layer together holds exactly the one binary.
    let mut files = Vec::new();
    let extract = tmp.path().join("rootfs");
    std::fs::create_dir_all(&extract).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        let path = blob(&layout, layer["digest"].as_str().unwrap());
        let (ok, list, err) = run(Command::new("tar").arg("-tf").arg(&path));
        assert!(ok, "tar -tf: {err}");
        files.extend(list.lines().map(|l| l.trim_start_matches("./").to_string()).filter(|l| !l.is_empty()));
        let (ok, _, err) = run(Command::new("tar").arg("-xf").arg(&path).arg("-C").arg(&extract));
        assert!(ok, "tar -xf: {err}");
    }
    assert_eq!(files, ["harmony-node-readiness-endpoint"], "image files");
    assert_eq!(std::fs::read(extract.join(NAME)).unwrap(), std::fs::read(&bin).unwrap(), "not the static binary");
}

// ---------------------------------------------------------------- manifests

fn yaml_to_json(y: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(s) => s.parse::<f64>().map(Value::from).unwrap_or(Value::String(s.clone())),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter().map(|(k, v)| (k.as_str().expect("string keys").to_string(), yaml_to_json(v))).collect(),
        ),
        Yaml::Null => Value::Null,
        other => panic!("unexpected YAML node {other:?}"),
    }
}

/// Parses a multi-document YAML stream into JSON objects.
fn parse_yaml(text: &str) -> Vec<Value> {
    let docs = yaml_rust2::YamlLoader::load_from_str(text).unwrap_or_else(|e| panic!("invalid YAML: {e}\n{text}"));
    docs.iter().map(yaml_to_json).filter(|d| !d.is_null()).collect()
}

/// `kubectl kustomize <dir>`, parsed; `None` (after the skip line) without kubectl.
fn kustomize(dir: &str) -> Option<Vec<Value>> {
    if skip_unless_program("kubectl") {
        return None;
    }
    let (ok, out, err) = run(Command::new("kubectl").arg("kustomize").arg(repo(dir)));
    assert!(ok, "kubectl kustomize {dir} failed: {err}");
    Some(parse_yaml(&out))
}

fn find<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == kind).collect()
}

fn one<'a>(docs: &'a [Value], kind: &str) -> &'a Value {
    let found = find(docs, kind);
    assert_eq!(found.len(), 1, "expected one {kind}");
    found[0]
}

fn env_of<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"].as_array().unwrap().iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("no env {name}"))
}

#[test]
fn deploy_renders_and_the_daemonset_fixes_the_original_readme() {
    let Some(docs) = kustomize("deploy") else { return };
    let ns = one(&docs, "Namespace");
    let namespace = ns["metadata"]["name"].as_str().unwrap();
    assert_eq!(ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"], "privileged");

    let sa = one(&docs, "ServiceAccount");
    let role = one(&docs, "ClusterRole");
    let binding = one(&docs, "ClusterRoleBinding");
    let rules = role["rules"].as_array().unwrap();
    assert_eq!(rules.len(), 1, "nodes only: {rules:?}");
    assert_eq!(rules[0]["apiGroups"], json!([""]));
    assert_eq!(rules[0]["resources"], json!(["nodes"]));
    assert_eq!(rules[0]["verbs"], json!(["get", "list", "watch"]));
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["name"], sa["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["namespace"], namespace);

    let ds = one(&docs, "DaemonSet");
    let spec = &ds["spec"];
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], sa["metadata"]["name"]);
    // Every namespaced object names its namespace itself, so that
    // `kubectl apply -f deploy/<file>.yaml` works without kustomize.
    for d in [sa, ds] {
        assert_eq!(d["metadata"]["namespace"], namespace, "{}", d["kind"]);
    }
    // Surge update: the new pod starts next to the old one (SO_REUSEPORT).
    assert_eq!(spec["updateStrategy"]["type"], "RollingUpdate");
    assert_eq!(spec["updateStrategy"]["rollingUpdate"]["maxSurge"], 1);
    assert_eq!(spec["updateStrategy"]["rollingUpdate"]["maxUnavailable"], 0);
    // Without a readinessProbe the new pod is "available" once it runs; this
    // margin lets it bind the port before the old one is told to stop.
    assert!(spec["minReadySeconds"].as_i64().is_some_and(|s| s >= 1), "minReadySeconds");
    assert_eq!(spec["selector"]["matchLabels"], spec["template"]["metadata"]["labels"]);

    assert_eq!(pod["hostNetwork"], true, "local probes to 127.0.0.1 need the host network");
    assert_eq!(pod["dnsPolicy"], "ClusterFirstWithHostNet");
    assert_eq!(pod["hostPID"], true, "/proc/1/mountinfo must be the host's");
    assert_eq!(pod["tolerations"], json!([{"operator": "Exists"}]));
    assert_eq!(pod["priorityClassName"], "system-node-critical");

    let containers = pod["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    // The original README took the pod's name for the node's.
    assert_eq!(env_of(c, "NODE_NAME")["valueFrom"]["fieldRef"]["fieldPath"], "spec.nodeName");
    assert_eq!(env_of(c, "LISTEN_PORT")["value"], "25001");
    assert_eq!(env_of(c, "HOST_ROOT")["value"], "/host/root");
    assert_eq!(env_of(c, "HOST_PROC")["value"], "/host/proc");
    // No declared ports: with hostNetwork they become hostPorts, which keep the
    // surge pod from being scheduled next to the old one.
    assert!(c.get("ports").is_none(), "ports would block the surge update: {}", c["ports"]);

    let mounts = c["volumeMounts"].as_array().unwrap();
    let volumes = pod["volumes"].as_array().unwrap();
    let host_path_of = |mount_path: &str| -> (&Value, String) {
        let m = mounts.iter().find(|m| m["mountPath"] == mount_path).unwrap_or_else(|| panic!("no mount {mount_path}"));
        let v = volumes.iter().find(|v| v["name"] == m["name"]).unwrap();
        (m, v["hostPath"]["path"].as_str().unwrap_or("").to_string())
    };
    let (root, root_src) = host_path_of("/host/root");
    assert_eq!(root_src, "/");
    assert_eq!(root["readOnly"], true);
    assert_eq!(root["mountPropagation"], "HostToContainer");
    let (proc_mount, proc_src) = host_path_of("/host/proc");
    assert_eq!(proc_src, "/proc");
    assert_eq!(proc_mount["readOnly"], true);
    assert_eq!(mounts.len(), 2, "only the two host mounts: {mounts:?}");

    let sc = &c["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], true);
    assert_eq!(sc["allowPrivilegeEscalation"], false);
    assert_ne!(sc["privileged"], true);
    assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(sc["capabilities"]["add"], json!(["NET_RAW"]));
    assert_eq!(sc["runAsUser"], 0);
    let daemonset_yaml = read("deploy/daemonset.yaml");
    assert!(daemonset_yaml.contains("cannot bypass file permissions"), "runAsUser 0 must say why");

    // Liveness on /livez; never a probe on /health (a not-ready node must
    // still answer 503, neither restarted nor hidden).
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/livez");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], 25001);
    for probe in ["readinessProbe", "startupProbe", "livenessProbe"] {
        assert!(!c[probe].to_string().contains("/health"), "{probe} tied to /health");
    }
    assert!(c.get("readinessProbe").is_none());

    let res = &c["resources"];
    assert_eq!(res["requests"]["cpu"], "10m");
    assert_eq!(res["requests"]["memory"], "16Mi");
    assert_eq!(res["limits"]["memory"], "64Mi");
}

#[test]
fn each_deploy_file_applies_on_its_own() {
    if skip_unless_program("kubectl") {
        return;
    }
    let kustomization = parse_yaml(&read("deploy/kustomization.yaml"));
    let resources = kustomization[0]["resources"].as_array().unwrap();
    let mut from_files = Vec::new();
    for r in resources {
        let file = r.as_str().unwrap();
        assert!(!file.contains('/'), "{file}: the base lists only its own files");
        from_files.extend(parse_yaml(&read(&format!("deploy/{file}"))));
    }
    // The kustomization adds nothing: `kubectl apply -f` of each file gives
    // the same objects as `kubectl apply -k deploy/` (in whatever order).
    let key = |d: &Value| format!("{}/{}", d["kind"], d["metadata"]["name"]);
    let mut rendered = kustomize("deploy").unwrap();
    from_files.sort_by_key(key);
    rendered.sort_by_key(key);
    assert_eq!(from_files, rendered);
}

#[test]
fn openshift_additions_render_alone_and_allow_exactly_what_the_daemonset_uses() {
    let Some(docs) = kustomize("deploy/openshift") else { return };
    let kustomization = read("deploy/openshift/kustomization.yaml");
    assert!(!kustomization.lines().any(|l| l.trim_start().starts_with("- ..")), "nested overlay on ../");
    let base = kustomize("deploy").unwrap();
    let ds = one(&base, "DaemonSet");
    let pod = &ds["spec"]["template"]["spec"];
    let sc = &pod["containers"][0]["securityContext"];
    let sa = one(&base, "ServiceAccount");

    let scc = one(&docs, "SecurityContextConstraints");
    assert_eq!(scc["apiVersion"], "security.openshift.io/v1");
    assert_eq!(scc["allowHostNetwork"], true);
    assert_eq!(scc["allowHostPID"], true);
    assert_eq!(scc["allowHostDirVolumePlugin"], true);
    assert_eq!(scc["allowHostIPC"], false);
    assert_eq!(scc["allowHostPorts"], false);
    assert_eq!(scc["allowPrivilegedContainer"], false);
    assert_eq!(scc["allowPrivilegeEscalation"], false);
    assert_eq!(scc["readOnlyRootFilesystem"], true);
    assert_eq!(scc["allowedCapabilities"], sc["capabilities"]["add"]);
    assert_eq!(scc["allowedCapabilities"], json!(["NET_RAW"]));
    assert_eq!(scc["runAsUser"]["type"], "RunAsAny", "the pod runs as uid 0");
    assert_eq!(scc["seLinuxContext"]["type"], "RunAsAny", "the pod asks for spc_t");
    // Volume types: the DaemonSet's hostPath volumes and the projected
    // ServiceAccount token the API server adds.
    assert_eq!(scc["volumes"], json!(["hostPath", "projected"]));
    for v in pod["volumes"].as_array().unwrap() {
        assert!(v.get("hostPath").is_some(), "volume type not allowed by the SCC: {v}");
    }

    let role = one(&docs, "ClusterRole");
    assert_eq!(role["rules"][0]["apiGroups"], json!(["security.openshift.io"]));
    assert_eq!(role["rules"][0]["resources"], json!(["securitycontextconstraints"]));
    assert_eq!(role["rules"][0]["resourceNames"], json!([scc["metadata"]["name"]]));
    assert_eq!(role["rules"][0]["verbs"], json!(["use"]));
    let binding = one(&docs, "RoleBinding");
    assert_eq!(binding["metadata"]["namespace"], sa["metadata"]["namespace"]);
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": sa["metadata"]["namespace"]}])
    );
}

// ---------------------------------------------------------------- systemd

/// `key=value` lines of a unit file.
fn unit_settings(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn systemd_unit_is_valid_and_hardened() {
    let unit = read("packaging/systemd/harmony-node-readiness-endpoint.service");
    let settings = unit_settings(&unit);
    let has = |k: &str, v: &str| settings.iter().any(|(a, b)| a == k && b == v);
    for (k, v) in [
        ("Type", "notify"),
        ("ExecStart", "/usr/local/bin/harmony-node-readiness-endpoint"),
        ("Environment", "KUBECONFIG=/etc/kubernetes/kubelet.conf"),
        ("EnvironmentFile", "-/etc/default/harmony-node-readiness-endpoint"),
        ("Restart", "always"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("PrivateTmp", "yes"),
        ("AmbientCapabilities", "CAP_NET_RAW"),
        ("CapabilityBoundingSet", "CAP_NET_RAW"),
        ("MemoryMax", "64M"),
    ] {
        assert!(has(k, v), "unit lacks {k}={v}");
    }
    assert!(settings.iter().any(|(k, _)| k == "ProtectHome"), "unit lacks ProtectHome");
    // Every VAR=value of the env example (commented ones too) is a real knob.
    // KUBECONFIG is the standard client variable, whatever --help says.
    let (_, help, _) = support::run_check_cli(&["--help"], &[]);
    let help = help + " KUBECONFIG";
    for line in read("packaging/systemd/harmony-node-readiness-endpoint.env").lines() {
        let line = line.trim_start_matches('#').trim();
        if let Some((var, _)) =
            line.split_once('=').filter(|(v, _)| v.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
        {
            assert!(help.contains(var), "env example sets {var}, which --help does not know");
        }
    }

    if skip_unless_program("systemd-analyze") {
        return;
    }
    // verify checks that ExecStart exists: point it at the built binary.
    let tmp = TempDir::new("unit");
    let copy = tmp.path().join("harmony-node-readiness-endpoint.service");
    std::fs::write(
        &copy,
        unit.replace("ExecStart=/usr/local/bin/harmony-node-readiness-endpoint", &format!("ExecStart={BIN}")),
    )
    .unwrap();
    let (ok, out, err) = run(Command::new("systemd-analyze").arg("verify").arg(&copy));
    assert!(ok && err.trim().is_empty(), "systemd-analyze verify:\n{out}\n{err}");
}

/// What systemd's `Type=notify` waits for: READY=1 on $NOTIFY_SOCKET once
/// the service answers.
fn assert_ready_notification(socket_env: &str, socket: &UnixDatagram) {
    socket.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let svc = Service::start(&[("NOTIFY_SOCKET", socket_env)]);
    let mut buf = [0u8; 256];
    let n = socket.recv(&mut buf).expect("no READY=1 datagram");
    let msg = String::from_utf8_lossy(&buf[..n]);
    assert!(msg.lines().any(|l| l == "READY=1"), "notification: {msg:?}");
    // Ready means serving.
    assert_eq!(svc.get("/livez").status, 200);
}

#[test]
fn sd_notify_ready_reaches_a_path_socket() {
    let tmp = TempDir::new("notify");
    let path = tmp.path().join("notify.sock");
    let socket = UnixDatagram::bind(&path).unwrap();
    assert_ready_notification(path.to_str().unwrap(), &socket);
}

#[test]
fn sd_notify_ready_reaches_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    let name = format!("hnre-packaging-notify-{}", std::process::id());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
    let socket = UnixDatagram::bind_addr(&addr).unwrap();
    assert_ready_notification(&format!("@{name}"), &socket);
}

// ---------------------------------------------------------------- LB examples

#[test]
fn haproxy_accepts_the_example() {
    if skip_unless_program("haproxy") {
        return;
    }
    let (ok, out, err) = run(Command::new("haproxy").arg("-c").arg("-f").arg(repo("examples/haproxy.cfg")));
    assert!(ok, "haproxy -c:\n{out}\n{err}");
    assert!(!format!("{out}{err}").contains("WARNING"), "haproxy warns:\n{out}\n{err}");
    let cfg = read("examples/haproxy.cfg");
    assert!(cfg.contains("option httpchk GET /health?check=node_ready,kubelet"));
    assert!(cfg.contains("http-check expect status 200"));
    assert!(cfg.contains("inter 5s fall 3 rise 2"));
}

#[test]
fn keepalived_accepts_the_example() {
    if skip_unless_program("keepalived") {
        return;
    }
    let (ok, out, err) =
        run(Command::new("keepalived").arg("--config-test").arg("-f").arg(repo("examples/keepalived.conf")));
    assert!(ok && err.trim().is_empty(), "keepalived --config-test:\n{out}\n{err}");
    let cfg = read("examples/keepalived.conf");
    assert!(cfg.contains("path /health?check=node_ready,kubelet") && cfg.contains("connect_port 25001"));
}

/// A double-quoted tmsh string value of `key` in the F5 example, unescaped.
fn tmsh_string(text: &str, key: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with(&format!("{key} \"")))
        .unwrap_or_else(|| panic!("no {key} in f5-monitor.tmsh"));
    let quoted = &line[key.len() + 2..line.len() - 1];
    let mut out = String::new();
    let mut chars = quoted.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => panic!("dangling backslash in {key}"),
        }
    }
    out
}

/// A service on node `n1` of a fake API server, its kubelet check pointed at
/// `kubelet`: the real inputs of the examples' `node_ready,kubelet`.
fn service_behind_an_lb(api: &FakeApiServer, kubelet: &FakeHttp) -> Service {
    api.add_node("n1");
    let mut env = env_for(api, "n1", Creds::KubeconfigTokenFile);
    env.push(("KUBELET_HEALTHZ_URL".into(), kubelet.url("/healthz")));
    env.push(("CHECK_MIN_INTERVAL_MS".into(), "0".into()));
    Service::start(&as_env(&env))
}

#[test]
fn f5_receive_string_matches_ready_answers_and_never_not_ready_ones() {
    let text = read("examples/f5-monitor.tmsh");
    let send = tmsh_string(&text, "send");
    let recv = tmsh_string(&text, "recv");
    // F5 treats recv as a regular expression: this one has no operator in it,
    // so a plain substring search is the same match.
    assert!(!recv.contains(['.', '[', ']', '(', ')', '*', '+', '?', '{', '}', '|', '^', '$', '\\']), "{recv}");
    assert!(send.ends_with("\r\n\r\n") && send.contains("\r\nHost: ") && send.contains("\r\nConnection: close\r\n"));
    assert!(send.starts_with("GET /health?check=node_ready,kubelet HTTP/1.1\r\n"), "{send:?}");

    let api = FakeApiServer::start();
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let svc = service_behind_an_lb(&api, &kubelet);
    // The monitor's exact request; F5 reads until the server closes.
    let answer_with = |status: u16| -> String {
        wait_for(&format!("a {status} answer to the F5 send string"), Duration::from_secs(10), || {
            let raw = exchange(svc.addr, send.as_bytes(), Duration::from_secs(10));
            let (resp, _) = Response::parse(&raw)?;
            (resp.status == status).then(|| String::from_utf8_lossy(&raw).into_owned())
        })
    };
    let ready = answer_with(200);
    assert!(ready.contains(&recv), "recv {recv:?} does not match a 200 answer:\n{ready}");
    // Node NotReady in the API: 503, and the receive string must not match.
    api.set_ready("n1", "False", "KubeletNotReady", "container runtime is down");
    let not_ready = answer_with(503);
    assert!(not_ready.contains("not-ready") && not_ready.contains("KubeletNotReady"), "{not_ready}");
    assert!(!not_ready.contains(&recv), "recv {recv:?} matches a 503 answer:\n{not_ready}");
    // Node Ready again but the kubelet down: 503 too.
    api.set_ready("n1", "True", "KubeletReady", "kubelet is posting ready status");
    answer_with(200);
    kubelet.set(Mode::Answer(500, "down".into()));
    let kubelet_down = answer_with(503);
    assert!(!kubelet_down.contains(&recv), "recv {recv:?} matches a 503 answer:\n{kubelet_down}");
}

#[test]
fn every_example_says_which_checks_it_selects_and_why() {
    for file in ["haproxy.cfg", "f5-monitor.tmsh", "keepalived.conf", "opnsense.md"] {
        let text = read(&format!("examples/{file}"));
        assert!(text.contains("Checks selected"), "{file} does not say which checks it selects");
        assert!(text.contains("node_ready") && text.contains("kubelet"), "{file}");
    }
}

// ---------------------------------------------------------------- upgrade

/// One probe the way an LB sends it: new connection, HTTP/1.0, read to close.
fn probe(addr: SocketAddr) -> Result<u16, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /health?check=kubelet HTTP/1.0\r\n\r\n").map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    Response::parse(&raw).map(|(r, _)| r.status).ok_or_else(|| format!("incomplete answer {raw:?}"))
}

/// Moves the calling thread (and the threads and processes it starts) into a
/// new network namespace with loopback up and `net.ipv4.tcp_migrate_req=1`,
/// the host setting the README (Deploy › Upgrades) asks for: when the old instance closes its
/// listener, connections the kernel already queued on it move to the new
/// instance's listener instead of being reset.
fn private_network_with_request_migration() {
    // SAFETY: unshare(2) with CLONE_NEWNET touches no memory; it only moves
    // this thread into a new network namespace.
    let rc = unsafe { libc::unshare(libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "unshare(CLONE_NEWNET): {}", std::io::Error::last_os_error());
    let (ok, _, err) = run(Command::new("ip").args(["link", "set", "lo", "up"]));
    assert!(ok, "ip link set lo up: {err}");
    // /proc/sys/net is the namespace of the thread that opens it.
    std::fs::write("/proc/sys/net/ipv4/tcp_migrate_req", "1").expect("set net.ipv4.tcp_migrate_req");
}

/// The DaemonSet's surge update on one node: the new instance binds the same
/// port (SO_REUSEPORT) while the old one runs; the old one gets SIGTERM and
/// exits. A client probing all the while never sees a failure.
#[test]
fn surge_handover_on_one_port_loses_no_probe() {
    if skip_unless_root("a network namespace with net.ipv4.tcp_migrate_req=1") || skip_unless_program("ip") {
        return;
    }
    private_network_with_request_migration();
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let url = kubelet.url("/healthz");
    let mut old = Service::start(&[("KUBELET_HEALTHZ_URL", url.as_str())]);
    let port = old.port().to_string();
    let new = Service::start(&[("KUBELET_HEALTHZ_URL", url.as_str()), ("LISTEN_PORT", port.as_str())]);
    let addr = old.addr;

    let (done, probes) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)));
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let prober = {
        let (done, probes, failures) = (done.clone(), probes.clone(), failures.clone());
        std::thread::spawn(move || {
            let limit = Instant::now() + Duration::from_secs(60);
            while !done.load(Ordering::SeqCst) && Instant::now() < limit {
                match probe(addr) {
                    Ok(200) => {}
                    Ok(other) => failures.lock().unwrap().push(format!("status {other}")),
                    Err(e) => failures.lock().unwrap().push(e),
                }
                probes.fetch_add(1, Ordering::SeqCst);
            }
        })
    };
    wait_for("probes before the handover", Duration::from_secs(20), || {
        (probes.load(Ordering::SeqCst) >= 300).then_some(())
    });
    old.signal(libc::SIGTERM);
    let status = old.wait_exit(Duration::from_secs(3)).expect("old instance did not exit within 3 s of SIGTERM");
    assert!(status.success(), "old instance exited with {status}");
    let at_exit = probes.load(Ordering::SeqCst);
    wait_for("probes after the handover", Duration::from_secs(20), || {
        (probes.load(Ordering::SeqCst) >= at_exit + 300).then_some(())
    });
    done.store(true, Ordering::SeqCst);
    prober.join().unwrap();
    let failures = failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} probes failed during the handover, e.g. {:?}",
        failures.len(),
        probes.load(Ordering::SeqCst),
        &failures[..failures.len().min(5)]
    );
    assert_eq!(new.get("/livez").status, 200);
}

// ---------------------------------------------------------------- live HAProxy

/// The state HAProxy's stats socket reports for `backend/server` (`UP`,
/// `DOWN`, `UP 1/2`, ...) and its last check status (`L7OK`, `L7STS`, ...).
fn haproxy_server_state(socket: &Path, backend: &str, server: &str) -> Option<(String, String)> {
    let mut s = std::os::unix::net::UnixStream::connect(socket).ok()?;
    s.write_all(b"show stat\n").ok()?;
    let mut csv = String::new();
    s.read_to_string(&mut csv).ok()?;
    let header: Vec<&str> = csv.lines().next()?.trim_start_matches("# ").split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let (status, check) = (col("status")?, col("check_status")?);
    csv.lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f[0] == backend && f[1] == server)
        .map(|f| (f[status].to_string(), f[check].to_string()))
}

/// A real HAProxy with the example's health-check lines (faster interval)
/// takes a node out when the API says NotReady or its kubelet dies, and puts
/// it back when the endpoint answers 200 again.
#[test]
fn haproxy_with_the_example_check_follows_the_endpoint() {
    if skip_unless_program("haproxy") {
        return;
    }
    let example = read("examples/haproxy.cfg");
    let line = |prefix: &str| -> String {
        example
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}"))
            .to_string()
    };
    let httpchk = line("option httpchk");
    let expect = line("http-check expect");

    let api = FakeApiServer::start();
    let kubelet = FakeHttp::start(Mode::Answer(200, "ok".into()));
    let svc = service_behind_an_lb(&api, &kubelet);
    let traffic = FakeHttp::start(Mode::Answer(200, "the service behind the LB".into()));
    let tmp = TempDir::new("haproxy");
    let socket = tmp.path().join("stats.sock");
    let cfg = format!(
        "global\n    stats socket {sock} mode 600 level admin\n\
         defaults\n    mode tcp\n    timeout connect 1s\n    timeout client 5s\n    timeout server 5s\n    timeout check 1s\n\
         backend ingress\n    {httpchk}\n    {expect}\n    \
         server node1 {traffic} check port {port} inter 100ms fall 3 rise 2\n",
        sock = socket.display(),
        traffic = traffic.addr,
        port = svc.port(),
    );
    let cfg_path = tmp.path().join("haproxy.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let log = std::fs::File::create(tmp.path().join("haproxy.log")).unwrap();
    struct Kill(Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _haproxy = Kill(
        Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&cfg_path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start haproxy"),
    );
    let state = |want: &'static str| {
        wait_for(&format!("HAProxy to report node1 {want}"), Duration::from_secs(20), || {
            let state = haproxy_server_state(&socket, "ingress", "node1");
            state.filter(|(s, _)| s == want)
        })
    };
    let (_, check) = state("UP");
    assert_eq!(check, "L7OK");
    // The API marks the node NotReady: HAProxy takes it out on the 503.
    api.set_ready("n1", "False", "KubeletNotReady", "container runtime is down");
    let (_, check) = state("DOWN");
    assert_eq!(check, "L7STS", "taken out for the 503 status");
    api.set_ready("n1", "True", "KubeletReady", "kubelet is posting ready status");
    state("UP");
    // The kubelet dies (the API does not know yet): out again.
    kubelet.set(Mode::Answer(500, "kubelet down".into()));
    state("DOWN");
}

/// Connections waiting in the accept queue of the IPv4 listener on `port`
/// (the rx_queue of a LISTEN socket in /proc/net/tcp).
fn accept_queue_len(port: u16) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        let local_port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
        (local_port == port && f.get(3) == Some(&"0A"))
            .then(|| u64::from_str_radix(f.get(4)?.split(':').nth(1)?, 16).ok())
            .flatten()
    })
}

/// The old instance's half of the handover, deterministic: a probe whose
/// connection was accepted just before SIGTERM but whose request arrives
/// after it is still answered before the process exits.
#[test]
fn sigterm_answers_a_probe_connected_just_before() {
    let mut svc = Service::start(&[]);
    let mut conn = TcpStream::connect(svc.addr).unwrap();
    wait_for("the service to accept the connection", Duration::from_secs(10), || {
        (accept_queue_len(svc.port()) == Some(0)).then_some(())
    });
    svc.signal(libc::SIGTERM);
    wait_for("the service to stop accepting", Duration::from_secs(10), || {
        svc.log().contains("no longer accepting").then_some(())
    });
    conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    conn.write_all(b"GET /livez HTTP/1.0\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    let read = conn.read_to_end(&mut raw);
    let answer = Response::parse(&raw).map(|(r, _)| r.status);
    assert_eq!(answer, Some(200), "no answer ({read:?}): {:?}", String::from_utf8_lossy(&raw));
    let status = svc.wait_exit(Duration::from_secs(3)).expect("exit within 3 s of SIGTERM");
    assert!(status.success(), "{status}");
}

#[test]
fn the_service_endpoints_component_grants_list_and_watch_on_endpointslices_in_one_namespace() {
    if skip_unless_program("kubectl") {
        return;
    }
    // An overlay of the user's own, outside deploy/, as the component's
    // header shows (kustomize wants relative paths).
    let dir = support::TempDir::new("kustomize-overlay");
    let up = "../".repeat(dir.path().components().count() - 1);
    let deploy = format!("{up}{}", repo("deploy").display().to_string().trim_start_matches('/'));
    std::fs::write(
        dir.path().join("kustomization.yaml"),
        format!("resources:\n  - {deploy}\ncomponents:\n  - {deploy}/components/service-endpoints\n"),
    )
    .unwrap();
    let (ok, out, err) = run(Command::new("kubectl").arg("kustomize").arg(dir.path()));
    assert!(ok, "kubectl kustomize with the component failed: {err}");
    let docs = parse_yaml(&out);
    let role = one(&docs, "Role");
    assert_eq!(role["metadata"]["name"], "harmony-node-readiness-endpoint-endpointslices");
    assert_eq!(role["metadata"]["namespace"], "ingress-nginx");
    assert_eq!(
        role["rules"],
        json!([{"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}])
    );
    let binding = one(&docs, "RoleBinding");
    assert_eq!(binding["metadata"]["namespace"], "ingress-nginx");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    let sa = one(&docs, "ServiceAccount");
    assert_eq!(binding["subjects"][0]["name"], sa["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["namespace"], sa["metadata"]["namespace"]);
    let ds = one(&docs, "DaemonSet");
    let container = &ds["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(env_of(container, "SERVICE_ENDPOINTS")["value"], "ingress-nginx/ingress-nginx-controller");
    assert_eq!(env_of(container, "DEFAULT_CHECKS")["value"], "node_ready,service_endpoints");
    let n = container["env"].as_array().unwrap().iter().filter(|e| e["name"] == "DEFAULT_CHECKS").count();
    assert_eq!(n, 1, "the patch replaces the base's DEFAULT_CHECKS");
    // The base alone grants nothing on EndpointSlices.
    let base = kustomize("deploy").unwrap();
    assert!(find(&base, "Role").is_empty() && !serde_json::to_string(&base).unwrap().contains("endpointslices"));
}
