//! Credentials pointing the binary at a FakeApiServer: a kubeconfig file
//! (token file or client certificate) or an in-cluster service-account
//! folder, as environment pairs for `Service::start`.

use crate::support::fake_apiserver::FakeApiServer;
use std::path::PathBuf;

/// How the binary authenticates to the fake.
pub enum Creds {
    /// kubeconfig with `tokenFile:` = the fake's token file (rotation is visible to both).
    KubeconfigTokenFile,
    /// kubeconfig with `client-certificate:` and `client-key:` both naming one
    /// combined PEM, like kubelet's `kubelet-client-current.pem`.
    KubeconfigCombinedPem { user: String },
    /// `KUBERNETES_SERVICE_HOST/PORT` + a service-account folder (token, ca.crt);
    /// the fake must have been built with `token_file(<dir>/token)`.
    InCluster { sa_dir: PathBuf },
}

/// Environment for `Service::start` (owned strings; borrow with `as_env`).
pub fn env_for(api: &FakeApiServer, node: &str, creds: Creds) -> Vec<(String, String)> {
    let mut env = vec![("NODE_NAME".to_string(), node.to_string())];
    match creds {
        Creds::KubeconfigTokenFile => {
            let user = format!("    tokenFile: {}\n", api.token_path().display());
            env.push(("KUBECONFIG".into(), write_kubeconfig(api, &user)));
        }
        Creds::KubeconfigCombinedPem { user } => {
            let cert = api.issue_client_cert(&user, Some("system:nodes"));
            let pem = api.dir().join("kubelet-client-current.pem");
            std::fs::write(&pem, cert.combined_pem()).unwrap();
            let user = format!("    client-certificate: {p}\n    client-key: {p}\n", p = pem.display());
            env.push(("KUBECONFIG".into(), write_kubeconfig(api, &user)));
        }
        Creds::InCluster { sa_dir } => {
            std::fs::write(sa_dir.join("ca.crt"), api.ca_pem()).unwrap();
            env.push(("KUBERNETES_SERVICE_HOST".into(), api.addr().ip().to_string()));
            env.push(("KUBERNETES_SERVICE_PORT".into(), api.addr().port().to_string()));
            env.push(("KUBERNETES_SERVICEACCOUNT_DIR".into(), sa_dir.display().to_string()));
        }
    }
    env
}

/// Borrows owned pairs as `Service::start` wants them.
pub fn as_env(owned: &[(String, String)]) -> Vec<(&str, &str)> {
    owned.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

/// A kubeconfig as `kubectl config view --raw` writes it, with the given user block.
fn write_kubeconfig(api: &FakeApiServer, user_block: &str) -> String {
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority: {ca}\n    server: {url}\n  name: fake\n\
         contexts:\n- context:\n    cluster: fake\n    user: tester\n  name: fake\ncurrent-context: fake\n\
         preferences: {{}}\nusers:\n- name: tester\n  user:\n{user_block}",
        ca = api.ca_path().display(),
        url = api.url(),
    );
    let path = api.dir().join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}
