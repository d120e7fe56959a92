//! kubeconfig `tls-server-name`: verify the API server's certificate (and
//! send SNI) for a name other than the host in `server`. ureq takes both
//! from the URL host, so requests go to `https://<tls-server-name>:<port>`
//! and a resolver maps that name back to the real server's address, like
//! curl's `--connect-to`. (Uses ureq's `unversioned` resolver API; the
//! version is pinned in Cargo.lock.)

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// Resolves `name` as if it were the host of `real`; other hosts normally.
#[derive(Debug, Clone)]
pub struct ConnectTo {
    name: String,
    real: Uri,
}

impl Resolver for ConnectTo {
    fn resolve(&self, uri: &Uri, config: &Config, timeout: NextTimeout) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let target = if uri.host().is_some_and(|h| h.eq_ignore_ascii_case(&self.name)) { &self.real } else { uri };
        DefaultResolver::default().resolve(target, config, timeout)
    }
}

/// The URL base to send requests to and the resolver that makes it reach
/// `server`. `Err` when `server` is not a URL.
pub fn rewrite(server: &str, name: &str) -> Result<(String, ConnectTo), String> {
    let real: Uri = server.parse().map_err(|_| format!("server {server:?} is not a URL"))?;
    let scheme = real.scheme_str().ok_or_else(|| format!("server {server:?} has no scheme"))?;
    let port = real.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
    let path = real.path().trim_end_matches('/');
    let base = format!("{scheme}://{name}{port}{path}");
    Ok((base, ConnectTo { name: name.to_string(), real }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_the_host_and_keeps_port_and_prefix() {
        for (server, want) in [
            ("https://10.0.0.1:6443", "https://kubernetes.default:6443"),
            ("https://[fd00::1]:6443", "https://kubernetes.default:6443"),
            ("https://api.example/k8s/clusters/c-1", "https://kubernetes.default/k8s/clusters/c-1"),
        ] {
            let (base, to) = rewrite(server, "kubernetes.default").unwrap();
            assert_eq!(base, want);
            assert_eq!(to.real.to_string().trim_end_matches('/'), server);
        }
    }

    #[test]
    fn the_name_resolves_to_the_real_server() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (base, to) = rewrite(&format!("http://127.0.0.1:{port}"), "api.invalid").unwrap();
        let uri: Uri = base.parse().unwrap();
        let addrs = to.resolve(&uri, &Config::default(), NextTimeout::default()).unwrap();
        assert_eq!(addrs.iter().next().unwrap().to_string(), format!("127.0.0.1:{port}"));
    }
}
