//! `wss://` for the simulator: rustls server settings, and the handshake done before the
//! WebSocket upgrade so a refused certificate is recorded as such.

use std::io::{self, Read};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ServerConfig, ServerConnection, StreamOwned};

use super::SimTls;

/// How long a refused client gets to finish sending before its socket closes.
const LINGER: Duration = Duration::from_secs(1);
/// How much of a refused client's data is read and dropped at most.
const LINGER_BYTES: usize = 64 * 1024;

/// A TLS session over an accepted socket.
pub(super) type TlsStream = StreamOwned<ServerConnection, TcpStream>;

/// Server settings from `tls`: TLS 1.2 and 1.3, and a mandatory client certificate when
/// `tls.client_ca_pem` is set.
pub(super) fn server_config(tls: &SimTls) -> io::Result<Arc<ServerConfig>> {
    let invalid = |what: &str, e: &dyn std::fmt::Display| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("{what}: {e}"))
    };
    let chain = certificates(&tls.cert_pem).map_err(|e| invalid("server certificate", &e))?;
    let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes())
        .map_err(|e| invalid("server key", &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| invalid("protocol versions", &e))?;
    let builder = match &tls.client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(ca_pem) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(ca_pem).map_err(|e| invalid("client CA", &e))? {
                roots.add(cert).map_err(|e| invalid("client CA", &e))?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| invalid("client CA", &e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let config = builder
        .with_single_cert(chain, key)
        .map_err(|e| invalid("server certificate and key", &e))?;
    Ok(Arc::new(config))
}

fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate in the PEM text".to_owned());
    }
    Ok(certs)
}

/// Runs the TLS handshake on `socket` (blocking, bounded by its timeouts); the error says why
/// it failed, as a refusal reason.
pub(super) fn handshake(
    config: &Arc<ServerConfig>,
    socket: TcpStream,
) -> Result<TlsStream, String> {
    let conn = ServerConnection::new(Arc::clone(config))
        .map_err(|e| format!("TLS session could not start: {e}"))?;
    let mut stream = StreamOwned::new(conn, socket);
    let result = match stream.conn.complete_io(&mut stream.sock) {
        Err(e) => Err(format!("TLS handshake failed: {e}")),
        Ok(_) if stream.conn.is_handshaking() => {
            Err("TLS handshake failed: the client stopped half-way".to_owned())
        }
        Ok(_) => Ok(()),
    };
    match result {
        Ok(()) => Ok(stream),
        Err(reason) => {
            linger(&mut stream.sock);
            Err(reason)
        }
    }
}

/// Closes gently after a failed handshake: a TLS 1.3 client may already have sent its HTTP
/// request, and closing with it unread would reset the connection, so the client might lose
/// the alert that tells it why.
fn linger(socket: &mut TcpStream) {
    // Best effort: any failure here only means the peer is gone already.
    let _ = socket.shutdown(Shutdown::Write);
    let _ = socket.set_read_timeout(Some(LINGER));
    let mut buf = [0u8; 4096];
    let mut left = LINGER_BYTES;
    while left > 0 {
        match socket.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// The DER of the certificate the client presented, if any.
pub(super) fn client_certificate(stream: &TlsStream) -> Option<Vec<u8>> {
    stream
        .conn
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| leaf.as_ref().to_vec())
}
