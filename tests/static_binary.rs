//! The static binary as a user meets it: no interpreter, no shared
//! libraries (read from its ELF headers), stripped, and serving from an
//! empty chroot.
mod support;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::fake_http::{FakeHttp, Mode};
use support::{TempDir, skip_unless_program, skip_unless_root};

use support::repo::{NAME, run, static_binary_or_skip};

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
