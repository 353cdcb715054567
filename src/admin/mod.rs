//! The admin server: REST API under `/api/v1`, the status page at `/` and Prometheus metrics at
//! `/metrics`, over HTTP or HTTPS, on a small blocking HTTP/1.1 server of our own ([`server`]).
//!
//! No listener can take the daemon down or silence it: connections are capped per listener and
//! per client address, a reserve of descriptors is kept for the stations, and each connection
//! has total deadlines for its head, body and answer on its own thread (see [`server`]).
//! Everything about devices and stations is asked of the hub ([`crate::hub::Query`]) with a
//! deadline; nothing here touches station state.
//!
//! `/`, `/metrics`, `/api/v1/health` and `/api/v1/openapi.json` need no token: the page and the
//! metrics are what an installer's laptop and a Prometheus scraper read, and the server listens
//! on loopback unless configured otherwise. Everything else needs a bearer token.

mod actions;
mod auth;
pub mod client;
mod conn;
pub mod console;
mod http;
mod page;
mod routes;
mod server;
mod views;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::Sender;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{AdminConfig, SecurityConfig, TokenConfig};
use crate::hub::Query;

pub use auth::{hex, new_token, sha256, TOKEN_PREFIX};
pub use server::{FD_RESERVE, MAX_CONNECTIONS, MAX_PER_CLIENT};

/// How long `stop` waits for a connection still writing to a slow client.
const STOP_WAIT: Duration = Duration::from_secs(1);

/// Why the admin server could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin server: cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error("admin server: {path}: {reason}")]
    Pem { path: String, reason: String },
    #[error("admin server: TLS settings: {0}")]
    Tls(#[from] rustls::Error),
    #[error("admin server: https needs system.security.tls_cert_path and tls_key_path")]
    NoCertificate,
}

/// What the server offers on its address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// API, status page and metrics.
    Full,
    /// `/metrics` only (the `system.metrics.prometheus_port` listener).
    MetricsOnly,
}

/// How to run one admin listener.
#[derive(Clone)]
pub struct AdminSettings {
    pub bind: SocketAddr,
    pub surface: Surface,
    /// Serve HTTPS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    pub tokens: Vec<TokenConfig>,
    pub max_failed_auth_per_minute: u32,
    /// Shown by the status route.
    pub csms_url: String,
    /// The config file POST reload loads; `None` serves no reload.
    pub config_path: Option<PathBuf>,
}

impl AdminSettings {
    /// The full admin server of `[system.admin]`, loading the certificate when `https` is on.
    pub fn from_config(
        admin: &AdminConfig,
        security: &SecurityConfig,
        csms_url: &str,
    ) -> Result<AdminSettings, AdminError> {
        let tls = match (admin.https, &security.tls_cert_path, &security.tls_key_path) {
            (false, _, _) => None,
            (true, Some(cert), Some(key)) => Some(server_config(cert, key)?),
            (true, _, _) => return Err(AdminError::NoCertificate),
        };
        Ok(AdminSettings {
            bind: admin.bind,
            surface: Surface::Full,
            tls,
            tokens: admin.tokens.clone(),
            max_failed_auth_per_minute: admin.max_failed_auth_per_minute,
            csms_url: csms_url.to_string(),
            config_path: None,
        })
    }

    /// A plain-HTTP `/metrics` listener on `ip` (loopback unless configured otherwise) at
    /// `port`, for scrapers.
    pub fn metrics_only(ip: IpAddr, port: u16) -> AdminSettings {
        AdminSettings {
            bind: SocketAddr::new(ip, port),
            surface: Surface::MetricsOnly,
            tls: None,
            tokens: Vec::new(),
            max_failed_auth_per_minute: 1,
            csms_url: String::new(),
            config_path: None,
        }
    }
}

/// A rustls server configuration from PEM files (TLS 1.2 and 1.3, no client certificates).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, AdminError> {
    let pem_error = |path: &Path, reason: String| AdminError::Pem {
        path: path.display().to_string(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| pem_error(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(pem_error(cert, "no certificate in the file".into()));
    }
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(key, e.to_string()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(chain, key_der)?;
    Ok(Arc::new(config))
}

/// State shared by the connection threads.
struct Context {
    surface: Surface,
    tokens: auth::Tokens,
    limiter: Mutex<auth::FailureLimiter>,
    hub: Sender<Query>,
    csms_url: String,
    config_path: Option<PathBuf>,
}

/// A running admin listener.
pub struct AdminServer {
    https: bool,
    listener: server::Listener,
}

impl AdminServer {
    /// Binds and starts serving; `hub` takes the questions about devices and stations.
    pub fn start(settings: AdminSettings, hub: Sender<Query>) -> Result<AdminServer, AdminError> {
        let context = Arc::new(Context {
            surface: settings.surface,
            tokens: auth::Tokens::new(settings.tokens),
            limiter: Mutex::new(auth::FailureLimiter::new(
                settings.max_failed_auth_per_minute,
            )),
            hub,
            csms_url: settings.csms_url,
            config_path: settings.config_path,
        });
        let https = settings.tls.is_some();
        let listener =
            server::Listener::start(settings.bind, settings.tls, context).map_err(|e| {
                AdminError::Bind {
                    addr: settings.bind,
                    reason: e.to_string(),
                }
            })?;
        log::info!(
            "admin server: {} on {}://{}",
            match settings.surface {
                Surface::Full => "API, status page and metrics",
                Surface::MetricsOnly => "metrics",
            },
            if https { "https" } else { "http" },
            listener.addr(),
        );
        Ok(AdminServer { https, listener })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.listener.addr()
    }

    /// `http://addr` or `https://addr`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.addr()
        )
    }

    /// Stops accepting and lets the connections in progress finish (for at most a second: a
    /// client that does not read its answer is left to its write deadline).
    pub fn stop(self) {
        self.listener.stop(STOP_WAIT);
    }
}
