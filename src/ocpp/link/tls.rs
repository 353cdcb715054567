//! rustls client settings for `wss://` links (security profiles 2 and 3): TLS 1.2 and 1.3 only,
//! the cipher suites OCPP 2.0.1 names (A00.FR.318), the CSMS checked against the configured CA
//! and the URL's host name, and the station's client certificate when it has one.

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CipherSuite, SupportedCipherSuite};

/// TLS 1.2 suites offered: the ECDHE AES-GCM suites of A00.FR.318 that rustls implements
/// (it has no static-RSA key exchange, which OCPP also lists).
const TLS12_SUITES: [CipherSuite; 4] = [
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
];

/// Why a TLS client configuration could not be built; each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The file could not be read or is not PEM.
    #[error("{path}: cannot read {what}: {source}")]
    Pem {
        path: String,
        what: &'static str,
        source: pem::Error,
    },
    /// The CA file holds no certificate rustls can use as a trust anchor.
    #[error("{path}: no usable CA certificate in the file")]
    NoCa { path: String },
    /// The client certificate file holds no certificate.
    #[error("{path}: no certificate in the file")]
    NoCert { path: String },
    /// The key file holds no PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key.
    #[error("{path}: no private key in the file (PKCS#8, RSA or SEC1 PEM expected)")]
    NoKey { path: String },
    /// The certificate and key do not belong together, or the key type is not supported.
    #[error("{cert} with {key}: unusable client certificate: {source}")]
    ClientCert {
        cert: String,
        key: String,
        source: rustls::Error,
    },
    /// A client certificate was given without a CA; only tungstenite's own settings carry the
    /// web roots, and they cannot carry a client certificate.
    #[error("a client certificate needs the CA that signed the CSMS certificate")]
    ClientCertWithoutCa,
    /// rustls refused the protocol settings.
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The PEM files a station's TLS settings come from.
#[derive(Debug, Clone, Copy, Default)]
pub struct TlsFiles<'a> {
    /// CA certificates trusted for the CSMS; `None` trusts the public web roots.
    pub ca_certs: Option<&'a Path>,
    /// Certificate chain (leaf first) and private key presented to the CSMS (profile 3).
    pub client_cert: Option<(&'a Path, &'a Path)>,
}

/// The client configuration for `files`, or `None` when nothing is configured, in which case
/// the link uses the public web roots with rustls' defaults (also TLS 1.2 and 1.3 only).
pub fn client_config(files: &TlsFiles<'_>) -> Result<Option<Arc<rustls::ClientConfig>>, TlsError> {
    let Some(ca) = files.ca_certs else {
        return match files.client_cert {
            Some(_) => Err(TlsError::ClientCertWithoutCa),
            None => Ok(None),
        };
    };
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_root_certificates(roots(ca)?);
    let config = match files.client_cert {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = certificates(cert)?;
            let key_der = private_key(key)?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|source| TlsError::ClientCert {
                    cert: cert.display().to_string(),
                    key: key.display().to_string(),
                    source,
                })?
        }
    };
    Ok(Some(Arc::new(config)))
}

/// ring with the TLS 1.2 suites cut down to OCPP's list; every TLS 1.3 suite stays.
fn provider() -> CryptoProvider {
    let mut provider = rustls::crypto::ring::default_provider();
    provider.cipher_suites.retain(|suite| match suite {
        SupportedCipherSuite::Tls13(_) => true,
        SupportedCipherSuite::Tls12(_) => TLS12_SUITES.contains(&suite.suite()),
    });
    provider
}

fn roots(path: &Path) -> Result<rustls::RootCertStore, TlsError> {
    let certs = read_certificates(path, "CA certificates")?;
    let mut roots = rustls::RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(certs);
    if ignored > 0 {
        log::warn!(
            "{}: {ignored} certificate(s) could not be used as a CA and are ignored",
            path.display()
        );
    }
    if added == 0 {
        return Err(TlsError::NoCa {
            path: path.display().to_string(),
        });
    }
    Ok(roots)
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let chain = read_certificates(path, "the client certificate")?;
    if chain.is_empty() {
        return Err(TlsError::NoCert {
            path: path.display().to_string(),
        });
    }
    Ok(chain)
}

fn read_certificates(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Pem {
            path: path.display().to_string(),
            what,
            source,
        })
}

/// The first private key in the file, whichever of PKCS#8, PKCS#1 and SEC1 it is.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| match source {
        pem::Error::NoItemsFound => TlsError::NoKey {
            path: path.display().to_string(),
        },
        source => TlsError::Pem {
            path: path.display().to_string(),
            what: "the private key",
            source,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls12_is_cut_to_the_ocpp_suites_and_tls13_kept() {
        let suites: Vec<CipherSuite> = provider().cipher_suites.iter().map(|s| s.suite()).collect();
        for suite in TLS12_SUITES {
            assert!(suites.contains(&suite), "{suite:?}");
        }
        assert!(suites.contains(&CipherSuite::TLS13_AES_128_GCM_SHA256));
        assert!(!suites.contains(&CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256));
    }

    #[test]
    fn nothing_configured_leaves_the_defaults() {
        assert!(matches!(client_config(&TlsFiles::default()), Ok(None)));
        let files = TlsFiles {
            ca_certs: None,
            client_cert: Some((Path::new("a.crt"), Path::new("a.key"))),
        };
        assert!(matches!(
            client_config(&files),
            Err(TlsError::ClientCertWithoutCa)
        ));
    }
}
