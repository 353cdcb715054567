//! Why opening a link failed, worded for the gateway log and the station's security events:
//! a refused TLS handshake or HTTP 401/403 says which side refused what.

use std::io::ErrorKind;

use rustls::{AlertDescription, CertificateError};

/// Why a connection attempt failed.
#[derive(Debug, thiserror::Error)]
pub(super) enum ConnectError {
    #[error("bad CSMS URL {url}: {reason}")]
    Url { url: String, reason: String },
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        host: String,
        source: std::io::Error,
    },
    #[error("TCP connect to {addr} failed: {source}")]
    Tcp {
        addr: String,
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(TlsFailure),
    #[error("{}", http_reason(*status))]
    Http { status: u16 },
    #[error("WebSocket handshake timed out")]
    Timeout,
    #[error("WebSocket handshake: {0}")]
    Handshake(tungstenite::Error),
    #[error("tungstenite returned a stream type this build does not handle")]
    UnsupportedStream,
}

impl ConnectError {
    /// True when the CSMS refused our credentials or we refused its certificate.
    pub fn is_auth(&self) -> bool {
        match self {
            ConnectError::Tls(_) => true,
            ConnectError::Http { status } => *status == 401 || *status == 403,
            _ => false,
        }
    }
}

fn http_reason(status: u16) -> String {
    match status {
        401 => "the CSMS refused the credentials (HTTP 401)".to_owned(),
        403 => "the CSMS refused the station (HTTP 403)".to_owned(),
        _ => format!("the CSMS refused the upgrade with HTTP {status}"),
    }
}

/// A failed TLS handshake, by who refused what.
#[derive(Debug, thiserror::Error)]
pub(super) enum TlsFailure {
    /// We refused the CSMS certificate.
    #[error("{}", csms_certificate(.0))]
    CsmsCertificate(CertificateError),
    /// The CSMS asked for a client certificate and the station has none.
    #[error("the CSMS requires a client certificate and this station has none")]
    ClientCertificateRequired,
    /// The CSMS refused the station's client certificate.
    #[error("the CSMS refused the client certificate (alert {0:?})")]
    ClientCertificateRefused(AlertDescription),
    /// The CSMS ended the handshake with `handshake_failure` and the station has no client
    /// certificate: either the CSMS wants one or the two share no version or cipher suite.
    #[error(
        "the CSMS ended the handshake (alert HandshakeFailure): it may require a client \
         certificate, which this station has none of, or share no TLS version or cipher suite"
    )]
    HandshakeFailureWithoutClientCertificate,
    /// The CSMS ended the handshake for another reason (e.g. no common version or suite).
    #[error("the CSMS ended the handshake (alert {0:?})")]
    Alert(AlertDescription),
    /// Anything else rustls reports.
    #[error("handshake failed: {0}")]
    Other(rustls::Error),
}

impl TlsFailure {
    /// Classifies a rustls error; `sent_client_cert` tells whether the station has a client
    /// certificate, which decides what a `handshake_failure` alert most likely means.
    fn from_rustls(e: rustls::Error, sent_client_cert: bool) -> TlsFailure {
        match e {
            rustls::Error::InvalidCertificate(e) => TlsFailure::CsmsCertificate(e),
            rustls::Error::AlertReceived(alert) => match alert {
                AlertDescription::CertificateRequired => TlsFailure::ClientCertificateRequired,
                // Many TLS 1.2 servers answer a missing client certificate this way.
                AlertDescription::HandshakeFailure if !sent_client_cert => {
                    TlsFailure::HandshakeFailureWithoutClientCertificate
                }
                AlertDescription::BadCertificate
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateRevoked
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnknownCA
                | AlertDescription::AccessDenied
                    if sent_client_cert =>
                {
                    TlsFailure::ClientCertificateRefused(alert)
                }
                alert => TlsFailure::Alert(alert),
            },
            other => TlsFailure::Other(other),
        }
    }
}

/// Words for a refused CSMS certificate; rustls' own text follows for the details.
fn csms_certificate(e: &CertificateError) -> String {
    let what = match e {
        CertificateError::UnknownIssuer => "is not signed by a trusted CA",
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => "has expired",
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            "is not valid yet"
        }
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
            "is not valid for the host name"
        }
        CertificateError::Revoked => "is revoked",
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            "is not a TLS server certificate"
        }
        _ => "is invalid",
    };
    format!("the CSMS certificate {what} ({e})")
}

/// Turns a failed tungstenite client handshake into a [`ConnectError`]; TLS errors arrive
/// wrapped in I/O errors because rustls runs inside the stream.
pub(super) fn classify(e: tungstenite::Error, sent_client_cert: bool) -> ConnectError {
    match e {
        tungstenite::Error::Http(response) => ConnectError::Http {
            status: response.status().as_u16(),
        },
        tungstenite::Error::Tls(tungstenite::error::TlsError::Rustls(e)) => {
            ConnectError::Tls(TlsFailure::from_rustls(*e, sent_client_cert))
        }
        tungstenite::Error::Io(io) => {
            let tls = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>());
            if let Some(tls) = tls {
                ConnectError::Tls(TlsFailure::from_rustls(tls.clone(), sent_client_cert))
            } else if matches!(io.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) {
                ConnectError::Timeout
            } else {
                ConnectError::Handshake(tungstenite::Error::Io(io))
            }
        }
        other => ConnectError::Handshake(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    fn wrapped(e: rustls::Error) -> tungstenite::Error {
        tungstenite::Error::Io(io::Error::new(ErrorKind::InvalidData, e))
    }

    fn reason(e: rustls::Error, sent_client_cert: bool) -> (String, bool) {
        let e = classify(wrapped(e), sent_client_cert);
        (e.to_string(), e.is_auth())
    }

    #[test]
    fn refused_csms_certificates_say_why() {
        let cases = [
            (
                CertificateError::UnknownIssuer,
                "not signed by a trusted CA",
            ),
            (CertificateError::Expired, "has expired"),
            (
                CertificateError::NotValidForName,
                "not valid for the host name",
            ),
            (CertificateError::NotValidYet, "not valid yet"),
        ];
        for (error, words) in cases {
            let (text, auth) = reason(rustls::Error::InvalidCertificate(error), false);
            assert!(text.starts_with("TLS: the CSMS certificate "), "{text}");
            assert!(text.contains(words), "{text}");
            assert!(auth);
        }
    }

    #[test]
    fn client_certificate_refusals_are_told_apart() {
        let required = rustls::Error::AlertReceived(AlertDescription::CertificateRequired);
        let (text, auth) = reason(required, false);
        assert!(text.contains("requires a client certificate"), "{text}");
        assert!(auth);
        let unknown_ca = rustls::Error::AlertReceived(AlertDescription::UnknownCA);
        let (text, _) = reason(unknown_ca.clone(), true);
        assert!(text.contains("refused the client certificate"), "{text}");
        let (text, _) = reason(unknown_ca, false);
        assert!(text.contains("ended the handshake"), "{text}");
    }

    #[test]
    fn http_refusals_are_auth_failures_only_for_401_and_403() {
        for (status, auth, words) in [
            (401, true, "refused the credentials"),
            (403, true, "refused the station"),
            (404, false, "HTTP 404"),
        ] {
            let e = ConnectError::Http { status };
            assert_eq!(e.is_auth(), auth);
            assert!(e.to_string().contains(words), "{e}");
        }
    }

    #[test]
    fn timeouts_and_plain_io_errors_are_not_auth_failures() {
        let timeout = classify(
            tungstenite::Error::Io(io::Error::from(ErrorKind::WouldBlock)),
            false,
        );
        assert!(matches!(timeout, ConnectError::Timeout));
        let reset = classify(
            tungstenite::Error::Io(io::Error::from(ErrorKind::ConnectionReset)),
            false,
        );
        assert!(matches!(reset, ConnectError::Handshake(_)));
        assert!(!reset.is_auth());
    }
}
