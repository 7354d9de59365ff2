//! Throwaway certificates for `localhost` / 127.0.0.1, written to files, and
//! the address of a gateway's TLS listener.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
    KeyUsagePurpose,
};

use super::{find_addr, Gateway, TempDir};

pub struct Cert {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub pem: String,
}

const NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

pub fn self_signed(dir: &TempDir, name: &str) -> Cert {
    let ck = rcgen::generate_simple_self_signed(NAMES.map(String::from)).expect("a certificate");
    let pem = ck.cert.pem();
    Cert {
        cert: dir.write(&format!("{name}.crt"), &pem),
        key: dir.write(&format!("{name}.key"), &ck.key_pair.serialize_pem()),
        pem,
    }
}

/// A server certificate issued by a throwaway test CA, and the CA's
/// certificate file, for clients that are given a CA to trust (Python's
/// `SSL_CERT_FILE`), as in a real deployment. The CA's key is not kept.
pub fn ca_signed(dir: &TempDir, name: &str) -> (Cert, PathBuf) {
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "strait test CA");
    let ca_key = KeyPair::generate().expect("a CA key");
    let ca = ca_params.self_signed(&ca_key).expect("the CA certificate");

    let mut params = CertificateParams::new(NAMES.map(String::from)).expect("server params");
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let key = KeyPair::generate().expect("a server key");
    let server = params
        .signed_by(&key, &ca, &ca_key)
        .expect("the server certificate");
    let server = Cert {
        cert: dir.write(&format!("{name}.crt"), &server.pem()),
        key: dir.write(&format!("{name}.key"), &key.serialize_pem()),
        pem: server.pem(),
    };
    (server, dir.write(&format!("{name}-ca.crt"), &ca.pem()))
}

/// The `tls_listen:` config lines for one listener on a free port with `cert`.
pub fn listen_config(cert: &Cert) -> String {
    format!(
        "tls_listen:\n  - {{ addr: \"127.0.0.1:0\", cert: \"{}\", key: \"{}\" }}\n",
        cert.cert.display(),
        cert.key.display()
    )
}

/// Where the gateway's (first) TLS listener listens. It is announced just
/// after the plain listener `Gateway::start` waits for.
pub fn listen_addr(gw: &Gateway) -> SocketAddr {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(addr) = find_addr(&gw.stderr.lock().unwrap(), "gateway TLS listening on ") {
            return addr;
        }
        assert!(
            Instant::now() < deadline,
            "no TLS listener announced:\n{}",
            gw.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
