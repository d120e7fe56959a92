//! The FROM-scratch image: `make image` builds a multi-arch OCI image index
//! of an amd64 and an arm64 image, each holding only its static binary;
//! `make image-archive` the host's image alone, as a file `ctr` imports.
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use support::{TempDir, skip};

use support::repo::{MUSL_TARGET, NAME, ROOT, make, run, static_binary_or_skip};

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

/// The static binary `make static` built for `target`.
fn static_binary_for(target: &str) -> PathBuf {
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or(Path::new(ROOT).join("target"));
    target_dir.join(target).join("release").join(NAME)
}

/// What one image manifest of an OCI layout holds: its config and the files
/// of all its layers, extracted under `into`.
fn image_contents(layout: &Path, manifest: &Value, into: &Path) -> (Value, Vec<String>) {
    let config = json_file(&blob(layout, manifest["config"]["digest"].as_str().unwrap()));
    let mut files = Vec::new();
    std::fs::create_dir_all(into).unwrap();
    for layer in manifest["layers"].as_array().unwrap() {
        let path = blob(layout, layer["digest"].as_str().unwrap());
        let (ok, list, err) = run(Command::new("tar").arg("-tf").arg(&path));
        assert!(ok, "tar -tf: {err}");
        files.extend(list.lines().map(|l| l.trim_start_matches("./").to_string()).filter(|l| !l.is_empty()));
        let (ok, _, err) = run(Command::new("tar").arg("-xf").arg(&path).arg("-C").arg(into));
        assert!(ok, "tar -xf: {err}");
    }
    (config, files)
}

fn assert_image_config(config: &Value) {
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
}

/// `make image`: one multi-arch OCI image index, pushed the way the README
/// says (`manifest push --all --format oci`), here into an OCI layout: an
/// amd64 and an arm64 image, each FROM scratch with only its own binary.
#[test]
fn make_image_builds_a_multi_arch_index_of_scratch_images() {
    let Some(engine) = image_engine() else {
        skip("neither podman nor buildah is installed (`make test` installs buildah as root on Debian)");
        return;
    };
    let Some(_) = static_binary_or_skip() else { return };
    let tag = format!("localhost/hnre-packaging-test:{}", std::process::id());
    let (ok, out, err) =
        run(make(&["image", &format!("IMAGE={tag}"), &format!("ENGINE={engine}")]).stdin(Stdio::null()));
    assert!(ok, "make image failed:\n{out}\n{err}");
    let tmp = TempDir::new("oci");
    let layout = tmp.path().join("layout");
    let exported = run(Command::new(engine)
        .args(["manifest", "push", "--all", "--format", "oci", &tag])
        .arg(format!("oci:{}", layout.display())));
    for name in [format!("{tag}-amd64"), format!("{tag}-arm64")] {
        let _ = run(Command::new(engine).args(["rmi", &name]));
    }
    let _ = run(Command::new(engine).args(["manifest", "rm", &tag]));
    assert!(exported.0, "manifest push failed: {}", exported.2);

    let top = json_file(&layout.join("index.json"));
    assert_eq!(top["manifests"].as_array().unwrap().len(), 1, "{top}");
    assert_eq!(top["manifests"][0]["mediaType"], "application/vnd.oci.image.index.v1+json", "{top}");
    let index = json_file(&blob(&layout, top["manifests"][0]["digest"].as_str().unwrap()));
    let mut platforms = Vec::new();
    for entry in index["manifests"].as_array().unwrap() {
        let arch = entry["platform"]["architecture"].as_str().unwrap().to_string();
        assert_eq!(entry["platform"]["os"], "linux", "{entry}");
        let manifest = json_file(&blob(&layout, entry["digest"].as_str().unwrap()));
        let rootfs = tmp.path().join(format!("rootfs-{arch}"));
        let (config, files) = image_contents(&layout, &manifest, &rootfs);
        assert_image_config(&config);
        assert_eq!(config["architecture"], arch.as_str(), "config and index disagree");
        // The file system: every layer together holds exactly the one binary,
        // the static binary of this image's CPU.
        assert_eq!(files, ["harmony-node-readiness-endpoint"], "{arch} image files");
        let target = if arch == "arm64" { "aarch64-unknown-linux-musl" } else { MUSL_TARGET };
        let want = std::fs::read(static_binary_for(target)).unwrap();
        assert!(std::fs::read(rootfs.join(NAME)).unwrap() == want, "{arch} image: not the {target} binary");
        platforms.push(arch);
    }
    platforms.sort();
    assert_eq!(platforms, ["amd64", "arm64"]);
}

/// `make image-archive`: the host's image alone as a docker-archive file
/// that `ctr -n k8s.io images import` reads: tagged with the image name,
/// one layer holding the host's static binary.
#[test]
fn make_image_archive_writes_one_importable_single_arch_image() {
    let Some(engine) = image_engine() else {
        skip("neither podman nor buildah is installed (`make test` installs buildah as root on Debian)");
        return;
    };
    let Some(bin) = static_binary_or_skip() else { return };
    let tag = format!("localhost/hnre-archive-test:{}", std::process::id());
    let tmp = TempDir::new("archive");
    let archive = tmp.path().join("image.tar");
    let (ok, out, err) = run(make(&[
        "image-archive",
        &format!("IMAGE={tag}"),
        &format!("ENGINE={engine}"),
        &format!("IMAGE_ARCHIVE={}", archive.display()),
    ])
    .stdin(Stdio::null()));
    let _ = run(Command::new(engine).args(["rmi", &tag]));
    assert!(ok, "make image-archive failed:\n{out}\n{err}");
    let unpacked = tmp.path().join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    let (ok, _, err) = run(Command::new("tar").arg("-xf").arg(&archive).arg("-C").arg(&unpacked));
    assert!(ok, "tar -xf: {err}");
    let manifest = json_file(&unpacked.join("manifest.json"));
    let image = &manifest[0];
    assert_eq!(manifest.as_array().unwrap().len(), 1, "{manifest}");
    assert_eq!(image["RepoTags"], json!([tag]), "{manifest}");
    let config = json_file(&unpacked.join(image["Config"].as_str().unwrap()));
    assert_image_config(&config);
    assert_eq!(config["architecture"], "amd64");
    let layers = image["Layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{manifest}");
    let layer = unpacked.join(layers[0].as_str().unwrap());
    let (ok, list, _) = run(Command::new("tar").arg("-tf").arg(&layer));
    assert!(ok);
    assert_eq!(list.lines().map(|l| l.trim_start_matches("./")).collect::<Vec<_>>(), [NAME]);
    let rootfs = tmp.path().join("rootfs");
    std::fs::create_dir_all(&rootfs).unwrap();
    assert!(run(Command::new("tar").arg("-xf").arg(&layer).arg("-C").arg(&rootfs)).0);
    assert!(std::fs::read(rootfs.join(NAME)).unwrap() == std::fs::read(&bin).unwrap(), "not the static binary");
}
