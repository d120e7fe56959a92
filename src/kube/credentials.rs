//! Where the API server is and how to authenticate: `KUBECONFIG` when set,
//! otherwise in-cluster (`KUBERNETES_SERVICE_HOST/PORT` + the service
//! account folder). Files that rotate (token, client certificate) are kept
//! as paths so the client can re-read them; everything else is read once.
//!
//! kubeconfig files are YAML (or JSON, which is YAML too) parsed with
//! yaml-rust2; only the fields below are read:
//! clusters[].cluster: server, certificate-authority(-data),
//! insecure-skip-tls-verify, tls-server-name; users[].user: token, tokenFile,
//! client-certificate(-data), client-key(-data). exec / auth-provider plugins
//! and basic auth are refused with a reason (a node agent cannot run them).

use std::path::{Path, PathBuf};

use base64::Engine;
use yaml_rust2::{Yaml, YamlLoader};

use crate::config::Config;

/// PEM bytes given inline (`*-data`) or as a file re-read when it changes.
#[derive(Debug, Clone, PartialEq)]
pub enum PemSource {
    Data(Vec<u8>),
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq)]
pub enum TokenSource {
    Inline(String),
    /// Re-read at least every minute and after a 401 (projected tokens rotate).
    File(PathBuf),
}

/// Client certificate and key; both may be the same combined PEM file
/// (kubelet's `kubelet-client-current.pem`).
#[derive(Debug, Clone, PartialEq)]
pub struct ClientCertSource {
    pub cert: PemSource,
    pub key: PemSource,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ApiConfig {
    /// `https://host:port[/prefix]`, no trailing slash.
    pub server: String,
    /// Cluster CA bundle; `None` = the built-in web roots.
    pub ca_pem: Option<Vec<u8>>,
    pub insecure_skip_tls_verify: bool,
    pub tls_server_name: Option<String>,
    pub token: Option<TokenSource>,
    pub client_cert: Option<ClientCertSource>,
    /// Where this came from, for the startup log line (no secrets).
    pub origin: String,
}

/// Finds credentials per the configuration; `Err` says why there are none.
pub fn discover(cfg: &Config) -> Result<ApiConfig, String> {
    if let Some(list) = &cfg.kubeconfig {
        return from_kubeconfig(list);
    }
    match &cfg.kubernetes_service_host {
        Some(host) => in_cluster(host, cfg.kubernetes_service_port, &cfg.serviceaccount_dir),
        None => Err("KUBECONFIG is not set and KUBERNETES_SERVICE_HOST is not set (not in a pod)".into()),
    }
}

/// In-cluster: the API service address plus the mounted service account.
pub fn in_cluster(host: &str, port: u16, sa_dir: &Path) -> Result<ApiConfig, String> {
    let host = host.trim();
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host.to_string() };
    let ca_path = sa_dir.join("ca.crt");
    let ca = std::fs::read(&ca_path).map_err(|e| format!("cannot read {}: {}", ca_path.display(), io_reason(&e)))?;
    let token_path = sa_dir.join("token");
    if !token_path.is_file() {
        return Err(format!("no service account token at {}", token_path.display()));
    }
    Ok(ApiConfig {
        server: format!("https://{host}:{port}"),
        ca_pem: Some(ca),
        insecure_skip_tls_verify: false,
        tls_server_name: None,
        token: Some(TokenSource::File(token_path)),
        client_cert: None,
        origin: format!("in-cluster ({})", sa_dir.display()),
    })
}

/// One or more kubeconfig files (`:`-separated, as kubectl takes them). For
/// each value the first file that sets it wins, like kubectl's merge.
pub fn from_kubeconfig(list: &str) -> Result<ApiConfig, String> {
    let mut docs = Vec::new();
    for path in std::env::split_paths(list).filter(|p| !p.as_os_str().is_empty()) {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("KUBECONFIG {}: cannot read: {}", path.display(), io_reason(&e)))?;
        let doc = YamlLoader::load_from_str(&text)
            .map_err(|e| format!("KUBECONFIG {}: not YAML/JSON: {e}", path.display()))?
            .into_iter()
            .next()
            .unwrap_or(Yaml::Null);
        docs.push(Kubeconfig { dir: path.parent().map(Path::to_path_buf).unwrap_or_default(), path, doc });
    }
    if docs.is_empty() {
        return Err("KUBECONFIG names no file".into());
    }
    resolve(&docs)
}

struct Kubeconfig {
    path: PathBuf,
    /// Relative paths inside the file are relative to its folder.
    dir: PathBuf,
    doc: Yaml,
}

fn resolve(docs: &[Kubeconfig]) -> Result<ApiConfig, String> {
    let files = docs.iter().map(|d| d.path.display().to_string()).collect::<Vec<_>>().join(":");
    let ctx_name = docs
        .iter()
        .find_map(|d| scalar(&d.doc["current-context"]))
        .ok_or_else(|| format!("kubeconfig {files}: current-context is not set"))?;
    let (_, ctx) = named(docs, "contexts", "context", &ctx_name)
        .ok_or_else(|| format!("kubeconfig {files}: context {ctx_name:?} not found"))?;
    let cluster_name =
        scalar(&ctx["cluster"]).ok_or_else(|| format!("kubeconfig {files}: context {ctx_name:?} names no cluster"))?;
    let (cdir, cluster) = named(docs, "clusters", "cluster", &cluster_name)
        .ok_or_else(|| format!("kubeconfig {files}: cluster {cluster_name:?} not found"))?;
    let user = match scalar(&ctx["user"]) {
        Some(u) => {
            Some(named(docs, "users", "user", &u).ok_or_else(|| format!("kubeconfig {files}: user {u:?} not found"))?)
        }
        None => None,
    };
    let err = |what: String| format!("kubeconfig {files}: {what}");

    let server = scalar(&cluster["server"]).ok_or_else(|| err(format!("cluster {cluster_name:?} has no server")))?;
    if !(server.starts_with("https://") || server.starts_with("http://")) {
        return Err(err(format!("cluster {cluster_name:?}: server {server:?} is not an http(s) URL")));
    }
    let ca_pem = match pem_field(cdir, cluster, "certificate-authority").map_err(&err)? {
        None => None,
        Some(PemSource::Data(d)) => Some(d),
        Some(PemSource::File(p)) => {
            Some(std::fs::read(&p).map_err(|e| err(format!("cannot read {}: {}", p.display(), io_reason(&e))))?)
        }
    };
    let insecure_skip_tls_verify = match &cluster["insecure-skip-tls-verify"] {
        Yaml::Boolean(b) => *b,
        y => scalar(y).is_some_and(|s| s == "true"),
    };

    let (mut token, mut client_cert) = (None, None);
    if let Some((udir, user)) = user {
        for plugin in ["exec", "auth-provider"] {
            if !user[plugin].is_badvalue() && !user[plugin].is_null() {
                return Err(err(format!(
                    "user uses an {plugin} credential plugin, which this service does not run; \
                     use a token, tokenFile or client certificate (on a node: /etc/kubernetes/kubelet.conf)"
                )));
            }
        }
        if scalar(&user["username"]).is_some() || scalar(&user["password"]).is_some() {
            return Err(err(
                "basic auth (username/password) is not supported; use a token or client certificate".into()
            ));
        }
        token = match (scalar(&user["token"]), scalar(&user["tokenFile"])) {
            (Some(t), _) => Some(TokenSource::Inline(t)),
            (None, Some(f)) => Some(TokenSource::File(udir.join(f))),
            (None, None) => None,
        };
        let cert = pem_field(udir, user, "client-certificate").map_err(&err)?;
        let key = pem_field(udir, user, "client-key").map_err(&err)?;
        client_cert = match (cert, key) {
            (Some(cert), Some(key)) => Some(ClientCertSource { cert, key }),
            // A combined PEM named once holds the key too.
            (Some(cert @ PemSource::File(_)), None) => Some(ClientCertSource { key: cert.clone(), cert }),
            (None, None) => None,
            _ => return Err(err("client-certificate and client-key must be given together".into())),
        };
    }
    Ok(ApiConfig {
        server: server.trim_end_matches('/').to_string(),
        ca_pem,
        insecure_skip_tls_verify,
        tls_server_name: scalar(&cluster["tls-server-name"]),
        token,
        client_cert,
        origin: format!("kubeconfig {files} (context {ctx_name:?})"),
    })
}

/// `NAME` (a file path, relative to the kubeconfig) or `NAME-data` (base64).
fn pem_field(dir: &Path, obj: &Yaml, name: &str) -> Result<Option<PemSource>, String> {
    if let Some(data) = scalar(&obj[format!("{name}-data").as_str()]) {
        let compact: String = data.split_whitespace().collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| format!("{name}-data is not valid base64"))?;
        return Ok(Some(PemSource::Data(bytes)));
    }
    Ok(scalar(&obj[name]).map(|p| PemSource::File(dir.join(p))))
}

/// Finds `name` in the list `section` (`clusters`, `users`, `contexts`) of
/// the first file that has it; returns that file's folder and the inner map.
fn named<'a>(docs: &'a [Kubeconfig], section: &str, inner: &str, name: &str) -> Option<(&'a Path, &'a Yaml)> {
    docs.iter().find_map(|d| {
        d.doc[section]
            .as_vec()?
            .iter()
            .find(|e| scalar(&e["name"]).as_deref() == Some(name))
            .map(|e| (d.dir.as_path(), &e[inner]))
    })
}

/// A non-empty scalar as a string (YAML may type `1234` as an integer).
fn scalar(y: &Yaml) -> Option<String> {
    let s = match y {
        Yaml::String(s) | Yaml::Real(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        _ => return None,
    };
    let s = s.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::testutil::TempDir;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn kubelet_conf_with_relative_combined_pem() {
        let d = TempDir::new("kubeconfig-kubelet");
        d.write("pki/ca.crt", "CA PEM");
        let path = d.write(
            "kubelet.conf",
            "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: pki/ca.crt\n    \
             server: https://10.0.0.1:6443/\n  name: default-cluster\ncontexts:\n- context:\n    cluster: default-cluster\n    \
             namespace: default\n    user: default-auth\n  name: default-context\ncurrent-context: default-context\n\
             preferences: {}\nusers:\n- name: default-auth\n  user:\n    \
             client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n    \
             client-key: /var/lib/kubelet/pki/kubelet-client-current.pem\n",
        );
        let c = from_kubeconfig(path.to_str().unwrap()).unwrap();
        assert_eq!(c.server, "https://10.0.0.1:6443");
        assert_eq!(c.ca_pem.as_deref(), Some(&b"CA PEM"[..]));
        let combined = PemSource::File("/var/lib/kubelet/pki/kubelet-client-current.pem".into());
        assert_eq!(c.client_cert, Some(ClientCertSource { cert: combined.clone(), key: combined }));
        assert_eq!(c.token, None);
    }

    #[test]
    fn data_fields_token_file_and_tls_server_name() {
        let d = TempDir::new("kubeconfig-data");
        let path = d.write(
            "sub/config",
            &format!(
                "clusters:\n- name: c\n  cluster:\n    server: https://api.example:6443\n    \
                 certificate-authority-data: {}\n    tls-server-name: kubernetes.default\n\
                 users:\n- name: u\n  user:\n    tokenFile: tok\n    client-certificate-data: {}\n    client-key-data: {}\n\
                 contexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n",
                b64("CA"),
                b64("CERT"),
                b64("KEY")
            ),
        );
        let c = from_kubeconfig(path.to_str().unwrap()).unwrap();
        assert_eq!(c.ca_pem.as_deref(), Some(&b"CA"[..]));
        assert_eq!(c.tls_server_name.as_deref(), Some("kubernetes.default"));
        assert_eq!(c.token, Some(TokenSource::File(d.0.join("sub/tok"))));
        assert_eq!(
            c.client_cert,
            Some(ClientCertSource { cert: PemSource::Data(b"CERT".to_vec()), key: PemSource::Data(b"KEY".to_vec()) })
        );
    }

    #[test]
    fn json_kubeconfig_and_inline_token_and_insecure() {
        let d = TempDir::new("kubeconfig-json");
        let path = d.write(
            "config.json",
            r#"{"apiVersion":"v1","kind":"Config","current-context":"x",
               "clusters":[{"name":"c","cluster":{"server":"https://[fd00::1]:6443","insecure-skip-tls-verify":true}}],
               "users":[{"name":"u","user":{"token":"abc.def"}}],
               "contexts":[{"name":"x","context":{"cluster":"c","user":"u"}}]}"#,
        );
        let c = from_kubeconfig(path.to_str().unwrap()).unwrap();
        assert_eq!(c.server, "https://[fd00::1]:6443");
        assert!(c.insecure_skip_tls_verify);
        assert_eq!(c.ca_pem, None);
        assert_eq!(c.token, Some(TokenSource::Inline("abc.def".into())));
    }

    #[test]
    fn several_files_first_value_wins() {
        let d = TempDir::new("kubeconfig-merge");
        let a = d.write("a", "current-context: x\n");
        let b = d.write(
            "b",
            "current-context: other\nclusters:\n- name: c\n  cluster: {server: 'https://b:1'}\n\
             contexts:\n- name: x\n  context: {cluster: c}\n",
        );
        let c = from_kubeconfig(&format!("{}:{}", a.display(), b.display())).unwrap();
        assert_eq!(c.server, "https://b:1");
        assert_eq!(c.token, None);
    }

    #[test]
    fn clear_errors() {
        let d = TempDir::new("kubeconfig-errors");
        let base = "clusters:\n- name: c\n  cluster: {server: 'https://s:1'}\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\n";
        let cases = [
            (format!("{base}users:\n- name: u\n  user: {{token: t}}\n"), "current-context is not set"),
            (format!("{base}current-context: y\n"), "context \"y\" not found"),
            (format!("{base}current-context: x\n"), "user \"u\" not found"),
            (
                format!("{base}current-context: x\nusers:\n- name: u\n  user:\n    exec:\n      command: aws\n"),
                "exec credential plugin",
            ),
            (
                format!("{base}current-context: x\nusers:\n- name: u\n  user:\n    auth-provider:\n      name: gcp\n"),
                "auth-provider credential plugin",
            ),
            (
                format!("{base}current-context: x\nusers:\n- name: u\n  user: {{client-key-data: {}}}\n", b64("K")),
                "must be given together",
            ),
            (
                format!("{base}current-context: x\nusers:\n- name: u\n  user: {{client-certificate-data: '%%%'}}\n"),
                "not valid base64",
            ),
            ("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: c\n  cluster: {server: 's:1'}\n".into(), "not an http(s) URL"),
            ("clusters: [\n".into(), "not YAML/JSON"),
        ];
        for (i, (text, want)) in cases.iter().enumerate() {
            let p = d.write(&format!("c{i}"), text);
            let e = from_kubeconfig(p.to_str().unwrap()).unwrap_err();
            assert!(e.contains(want), "case {i}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        let e = from_kubeconfig(d.0.join("missing").to_str().unwrap()).unwrap_err();
        assert!(e.contains("no such file"), "{e}");
    }

    #[test]
    fn in_cluster_brackets_ipv6_and_needs_ca_and_token() {
        let d = TempDir::new("kubeconfig-incluster");
        assert!(in_cluster("10.96.0.1", 443, &d.0).unwrap_err().contains("ca.crt"));
        d.write("ca.crt", "CA");
        assert!(in_cluster("10.96.0.1", 443, &d.0).unwrap_err().contains("token"));
        d.write("token", "T");
        for (host, want) in [
            ("10.96.0.1", "https://10.96.0.1:443"),
            ("fd00:10:96::1", "https://[fd00:10:96::1]:443"),
            ("[fd00::1]", "https://[fd00::1]:443"),
        ] {
            let c = in_cluster(host, 443, &d.0).unwrap();
            assert_eq!(c.server, want);
            assert_eq!(c.token, Some(TokenSource::File(d.0.join("token"))));
            assert_eq!(c.ca_pem.as_deref(), Some(&b"CA"[..]));
        }
    }
}
