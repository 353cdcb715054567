//! A small blocking HTTP/1.1 client for `ocpp-gw status`: one GET per connection, over TCP, or
//! over TLS trusting exactly the gateway's own configured certificate.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Largest response read.
const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("bad URL {0:?}: expected http://host:port or https://host:port")]
    Url(String),
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("{path}: cannot read the gateway certificate: {reason}")]
    Certificate { path: String, reason: String },
    #[error("https needs the gateway's certificate (its config's tls_cert_path) to trust")]
    NoPin,
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    #[error("not an HTTP response: {0}")]
    Http(String),
}

/// A status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub body: String,
}

/// `GET base_url + path`, with a bearer token when given; for `https://` the server must
/// present the certificate in `pinned_cert`.
pub fn get(
    base_url: &str,
    path: &str,
    token: Option<&str>,
    pinned_cert: Option<&Path>,
    timeout: Duration,
) -> Result<Response, ClientError> {
    let (https, authority) = split_url(base_url)?;
    let addr = authority
        .to_socket_addrs()
        .map_err(|source| ClientError::Connect {
            addr: authority.to_string(),
            source,
        })?
        .next()
        .ok_or_else(|| ClientError::Url(base_url.to_string()))?;
    let stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|source| ClientError::Connect {
            addr: addr.to_string(),
            source,
        })?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: application/json\r\nConnection: close\r\n"
    );
    if let Some(token) = token {
        request.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    request.push_str("\r\n");
    let raw = if https {
        let config = pinned_config(pinned_cert.ok_or(ClientError::NoPin)?)?;
        // The pin replaces name checks, so any valid name will do.
        let name = ServerName::try_from("gateway").map_err(|e| ClientError::Url(e.to_string()))?;
        let conn = rustls::ClientConnection::new(config, name)?;
        let mut tls = rustls::StreamOwned::new(conn, stream);
        tls.write_all(request.as_bytes())?;
        read_all(&mut tls)?
    } else {
        let mut stream = stream;
        stream.write_all(request.as_bytes())?;
        read_all(&mut stream)?
    };
    parse(&raw)
}

/// `(https, "host:port")`.
fn split_url(url: &str) -> Result<(bool, &str), ClientError> {
    let bad = || ClientError::Url(url.to_string());
    let (https, rest) = if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else {
        return Err(bad());
    };
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') || !authority.contains(':') {
        return Err(bad());
    }
    Ok((https, authority))
}

fn read_all(stream: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut raw = Vec::new();
    match stream.take(MAX_RESPONSE).read_to_end(&mut raw) {
        Ok(_) => Ok(raw),
        // Some servers close TLS without close_notify after a complete answer.
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && !raw.is_empty() => Ok(raw),
        Err(e) => Err(e),
    }
}

fn parse(raw: &[u8]) -> Result<Response, ClientError> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| ClientError::Http("no end of headers".into()))?;
    let status = head
        .lines()
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| ClientError::Http("no status line".into()))?;
    let chunked = head.lines().any(|l| {
        l.split_once(':').is_some_and(|(k, v)| {
            k.trim().eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")
        })
    });
    if chunked {
        return Err(ClientError::Http(
            "chunked responses are not supported".into(),
        ));
    }
    Ok(Response {
        status,
        body: body.to_string(),
    })
}

fn pinned_config(path: &Path) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let cert_error = |reason: String| ClientError::Certificate {
        path: path.display().to_string(),
        reason,
    };
    let cert = CertificateDer::pem_file_iter(path)
        .map_err(|e| cert_error(e.to_string()))?
        .next()
        .ok_or_else(|| cert_error("no certificate in the file".into()))?
        .map_err(|e| cert_error(e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = Arc::new(Pinned {
        cert,
        algorithms: provider.signature_verification_algorithms,
    });
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Trusts one certificate, byte for byte: the CLI talks to its own gateway, whose certificate
/// is in the config it reads, and whose name may not match the address it connects to.
#[derive(Debug)]
struct Pinned {
    cert: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.cert.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server's certificate is not the gateway's configured one".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            split_url("http://127.0.0.1:8080").unwrap(),
            (false, "127.0.0.1:8080")
        );
        assert_eq!(
            split_url("https://[::1]:8443/").unwrap(),
            (true, "[::1]:8443")
        );
        for bad in ["ftp://x:1", "http://", "http://host", "http://h:1/api"] {
            assert!(split_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn responses() {
        let r = parse(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\n\r\n{}").unwrap();
        assert_eq!((r.status, r.body.as_str()), (401, "{}"));
        assert!(parse(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}").is_err());
        assert!(parse(b"garbage").is_err());
    }
}
