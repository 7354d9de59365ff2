//! A throwaway certificate for `localhost` / 127.0.0.1, written to files.

use std::path::PathBuf;

use super::TempDir;

pub struct Cert {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub pem: String,
}

pub fn self_signed(dir: &TempDir, name: &str) -> Cert {
    let ck =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .expect("a certificate");
    let pem = ck.cert.pem();
    Cert {
        cert: dir.write(&format!("{name}.crt"), &pem),
        key: dir.write(&format!("{name}.key"), &ck.key_pair.serialize_pem()),
        pem,
    }
}
