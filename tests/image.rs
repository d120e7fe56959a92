//! The FROM-scratch image: `make image` builds one that holds only the
//! static binary.
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use support::{TempDir, skip};

use support::repo::{NAME, make, run, static_binary_or_skip};

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
