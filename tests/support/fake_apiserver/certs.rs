//! Test PKI made at test time: a CA, the API server's certificate (SANs as a
//! kubeadm apiserver certificate has them for loopback), and client
//! certificates whose CN is the user name (as kube-apiserver's x509
//! authenticator reads it: CN = user, O = groups).

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct Pki {
    ca: CertifiedIssuer<'static, KeyPair>,
    pub server_cert: CertificateDer<'static>,
    pub server_key_der: Vec<u8>,
}

/// A client certificate and its key, PEM (for kubeconfig files) and DER.
#[derive(Clone)]
pub struct ClientCert {
    pub cert_pem: String,
    pub key_pem: String,
    pub cert_der: CertificateDer<'static>,
    pub key_der: Vec<u8>,
}

impl ClientCert {
    /// Certificate then key in one PEM, like kubelet's `kubelet-client-current.pem`.
    pub fn combined_pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.key_pem)
    }
}

impl Pki {
    pub fn new() -> Pki {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn("fake-kubernetes-ca", None);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().expect("ca key")).expect("ca cert");

        let mut params = CertificateParams::default();
        params.distinguished_name = dn("kube-apiserver", None);
        params.subject_alt_names = vec![
            SanType::IpAddress("127.0.0.1".parse().unwrap()),
            SanType::IpAddress("::1".parse().unwrap()),
            SanType::DnsName("localhost".try_into().unwrap()),
            SanType::DnsName("kubernetes".try_into().unwrap()),
            SanType::DnsName("kubernetes.default.svc".try_into().unwrap()),
        ];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &ca).expect("server cert");
        Pki { server_cert: cert.der().clone(), server_key_der: key.serialize_der(), ca }
    }

    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.ca.der().clone()
    }

    pub fn server_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key_der.clone()))
    }

    /// A client certificate for `user` (e.g. `system:node:n1`, O `system:nodes`).
    pub fn issue_client(&self, user: &str, group: Option<&str>) -> ClientCert {
        let mut params = CertificateParams::default();
        params.distinguished_name = dn(user, group);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().expect("client key");
        let cert = params.signed_by(&key, &self.ca).expect("client cert");
        ClientCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        }
    }

    /// A client certificate from a CA the server does not trust (handshake must fail).
    pub fn issue_untrusted_client(user: &str) -> ClientCert {
        Pki::new().issue_client(user, None)
    }
}

fn dn(cn: &str, org: Option<&str>) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    if let Some(o) = org {
        dn.push(DnType::OrganizationName, o);
    }
    dn
}
