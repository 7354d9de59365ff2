//! Provider endpoints: parsed base URLs, addresses resolved off the request
//! path, and the Pingora peers built from them.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::HeaderValue;
use pingora::protocols::l4::ext::TcpKeepalive;
use pingora::upstreams::peer::HttpPeer;
use pingora::utils::tls::WrappedX509;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// How long an idle pooled upstream connection is kept. Below the idle
/// timeouts providers' load balancers use, so a pooled connection is rarely
/// closed under a request.
const POOL_IDLE: Duration = Duration::from_secs(50);
/// Concurrent requests multiplexed on one HTTP/2 upstream connection.
const H2_STREAMS: usize = 100;

/// How long the gateway waits on a provider (`network_config`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Timeouts {
    pub(crate) connect: Duration,
    /// Time to the first byte of the response.
    pub(crate) first_byte: Duration,
    /// Longest silence between two reads of a streamed response.
    pub(crate) stream_idle: Duration,
    /// Whole non-streaming call, from the request to the last byte.
    pub(crate) total: Option<Duration>,
}

pub(crate) struct Upstream {
    pub(crate) tls: bool,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Path of the base URL without a trailing `/`, prepended to every request.
    pub(crate) base_path: String,
    /// `Host` header value sent upstream.
    pub(crate) authority: HeaderValue,
    /// Trust roots for this upstream when `ca_cert_pem` is set: the system
    /// roots plus the configured ones (Pingora takes a per-peer list instead
    /// of the system store, not in addition to it).
    ca: Option<Arc<[WrappedX509]>>,
    /// Speak HTTP/2 without TLS (`network_config.h2c`): many requests share
    /// a connection, as they do over TLS.
    pub(crate) h2c: bool,
    addrs: ArcSwap<Vec<SocketAddr>>,
}

impl Upstream {
    /// Parses `http(s)://host[:port][/base/path]`. The address of an IP host
    /// is known at once; a DNS name is resolved by [`Upstream::resolve`].
    pub(crate) fn parse(
        url: &str,
        extra_ca: Option<&[CertificateDer<'static>]>,
    ) -> Result<Self, String> {
        let uri: http::Uri = url
            .parse()
            .map_err(|e| format!("invalid URL {url:?}: {e}"))?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(format!("URL {url:?} must start with http:// or https://")),
        };
        let auth = uri
            .authority()
            .ok_or_else(|| format!("URL {url:?} has no host"))?;
        if auth.as_str().contains('@') {
            return Err(format!("URL {url:?} must not carry credentials"));
        }
        if uri.query().is_some() {
            return Err(format!("URL {url:?} must not have a query"));
        }
        let host = auth.host().trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("URL {url:?} has no host"));
        }
        let port = auth.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let base_path = uri.path().trim_end_matches('/').to_string();
        let authority = HeaderValue::from_str(auth.as_str())
            .map_err(|_| format!("URL {url:?} has an invalid host"))?;
        let addrs = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => Vec::new(),
        };
        let ca = match extra_ca {
            Some(extra) if tls => Some(trust_roots(extra)?),
            _ => None,
        };
        Ok(Upstream {
            tls,
            host: host.to_string(),
            port,
            base_path,
            authority,
            ca,
            h2c: false,
            addrs: ArcSwap::from_pointee(addrs),
        })
    }

    pub(crate) fn needs_resolution(&self) -> bool {
        self.host.parse::<IpAddr>().is_err()
    }

    /// Blocking DNS lookup; runs on the resolver thread, never on a request.
    pub(crate) fn resolve(&self) -> Result<(), String> {
        let found: Vec<SocketAddr> = (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {}: {e}", self.host))?
            .collect();
        if found.is_empty() {
            return Err(format!("{} resolved to no address", self.host));
        }
        if **self.addrs.load() != found {
            self.addrs.store(Arc::new(found));
        }
        Ok(())
    }

    /// Copies the addresses of an upstream from the previous config, so a
    /// reload does not wait for DNS.
    pub(crate) fn adopt_addresses(&self, previous: &Upstream) {
        if self.host == previous.host && self.port == previous.port {
            self.addrs.store(previous.addrs.load_full());
        }
    }

    /// The Pingora peer for one request; `None` while the host is unresolved.
    pub(crate) fn peer(&self, timeouts: &Timeouts) -> Option<Box<HttpPeer>> {
        let addrs = self.addrs.load();
        let addr = *addrs.first()?;
        // SNI is always the configured host: an empty SNI would make rustls
        // skip certificate verification.
        let mut peer = HttpPeer::new(addr, self.tls, self.host.clone());
        let o = &mut peer.options;
        o.connection_timeout = Some(timeouts.connect);
        o.total_connection_timeout = Some(timeouts.connect);
        // Pingora applies one timeout to every read, the response header
        // included: the larger of the two limits bounds both.
        o.read_timeout = Some(timeouts.first_byte.max(timeouts.stream_idle));
        o.write_timeout = Some(timeouts.first_byte);
        o.idle_timeout = Some(POOL_IDLE);
        o.tcp_keepalive = Some(TcpKeepalive {
            idle: Duration::from_secs(30),
            interval: Duration::from_secs(10),
            count: 3,
            #[cfg(target_os = "linux")]
            user_timeout: Duration::ZERO,
        });
        if self.tls {
            o.set_http_version(2, 1);
            o.max_h2_streams = H2_STREAMS;
            o.ca = self.ca.clone();
        } else if self.h2c {
            o.set_http_version(2, 2);
            o.max_h2_streams = H2_STREAMS;
        }
        Some(Box::new(peer))
    }
}

/// Parses PEM text into certificates; at least one is required.
pub(crate) fn parse_pem_certs(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("invalid PEM certificate: {e}"))?;
    if certs.is_empty() {
        return Err("no PEM certificate found".into());
    }
    Ok(certs)
}

fn trust_roots(extra: &[CertificateDer<'static>]) -> Result<Arc<[WrappedX509]>, String> {
    let mut store = pingora::tls::RootCertStore::empty();
    // An unreadable system store leaves the configured roots alone in force.
    let native = pingora::tls::load_native_certs().unwrap_or_default();
    let mut all: Vec<Vec<u8>> = Vec::new();
    for cert in native.into_iter().chain(extra.iter().cloned()) {
        // Adding to a rustls store parses the certificate, so nothing that
        // later fails to parse reaches Pingora.
        if store.add(cert.clone()).is_ok() {
            all.push(cert.to_vec());
        } else if extra.contains(&cert) {
            return Err(
                "ca_cert_pem holds a certificate that cannot be used as a trust root".into(),
            );
        }
    }
    Ok(all
        .into_iter()
        .map(|der| WrappedX509::new(der, pingora::utils::tls::parse_x509))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timeouts = Timeouts {
        connect: Duration::from_secs(1),
        first_byte: Duration::from_secs(2),
        stream_idle: Duration::from_secs(3),
        total: None,
    };

    #[test]
    fn parses_base_urls() {
        let u = Upstream::parse("https://api.openai.com", None).unwrap();
        assert!(u.tls && u.port == 443 && u.base_path.is_empty() && u.needs_resolution());
        let u = Upstream::parse("http://127.0.0.1:8081/base/", None).unwrap();
        assert!(!u.tls && u.port == 8081 && u.base_path == "/base" && !u.needs_resolution());
        assert_eq!(u.authority, "127.0.0.1:8081");
        assert!(u.peer(&T).is_some());
        for bad in [
            "ftp://x",
            "https://user:pw@x",
            "https://x/?a=1",
            "nonsense",
            "http:///x",
        ] {
            assert!(Upstream::parse(bad, None).is_err(), "{bad}");
        }
    }

    #[test]
    fn unresolved_hosts_have_no_peer() {
        let u = Upstream::parse("https://example.invalid", None).unwrap();
        assert!(u.peer(&T).is_none());
    }
}
