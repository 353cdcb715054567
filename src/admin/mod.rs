//! The admin server: REST API under `/api/v1`, the status page at `/` and Prometheus metrics at
//! `/metrics`, on `tiny_http`, over HTTP or HTTPS.
//!
//! Two handler threads take requests from tiny_http's queue, so one slow client cannot stall
//! the API. Everything about devices and stations is asked of the hub ([`crate::hub::Query`])
//! with a deadline; nothing here touches station state. HTTPS is served by a TLS front
//! ([`tls`]) that terminates rustls connections and relays them to tiny_http on loopback.
//!
//! `/`, `/metrics`, `/api/v1/health` and `/api/v1/openapi.json` need no token: the page and the
//! metrics are what an installer's laptop and a Prometheus scraper read, and the server listens
//! on loopback unless configured otherwise. Everything else needs a bearer token.

mod actions;
mod auth;
pub mod client;
pub mod console;
mod page;
mod routes;
mod tls;
mod views;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::config::{AdminConfig, SecurityConfig, TokenConfig};
use crate::hub::Query;

pub use auth::{hex, new_token, sha256, TOKEN_PREFIX};

/// Threads taking requests from tiny_http.
const HANDLER_THREADS: usize = 2;
/// How long `stop` waits for a handler still writing to a slow client.
const STOP_WAIT: Duration = Duration::from_secs(1);

/// Why the admin server could not start.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin server: cannot listen on {addr}: {reason}")]
    Bind { addr: SocketAddr, reason: String },
    #[error("admin server: cannot start thread: {0}")]
    Thread(#[from] std::io::Error),
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

    /// A plain-HTTP `/metrics` listener on every interface at `port`, for remote scrapers.
    pub fn metrics_only(port: u16) -> AdminSettings {
        AdminSettings {
            bind: SocketAddr::from(([0, 0, 0, 0], port)),
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

/// State shared by the handler threads.
struct Context {
    surface: Surface,
    tokens: auth::Tokens,
    limiter: Mutex<auth::FailureLimiter>,
    hub: Sender<Query>,
    csms_url: String,
    config_path: Option<PathBuf>,
    /// For HTTPS: the real client behind each relayed connection.
    peers: Option<Arc<tls::PeerMap>>,
}

impl Context {
    /// The address the request really came from (through the TLS front, its client's).
    fn client_ip(&self, request: &tiny_http::Request) -> IpAddr {
        let seen = request
            .remote_addr()
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        match &self.peers {
            Some(peers) => peers.client_of(seen).unwrap_or(seen).ip(),
            None => seen.ip(),
        }
    }
}

/// A running admin listener.
pub struct AdminServer {
    addr: SocketAddr,
    https: bool,
    server: Arc<tiny_http::Server>,
    stopping: Arc<AtomicBool>,
    handlers: Vec<JoinHandle<()>>,
    /// Disconnects when every handler thread has returned.
    handlers_done: Receiver<()>,
    front: Option<tls::TlsFront>,
}

impl AdminServer {
    /// Binds and starts serving; `hub` takes the questions about devices and stations.
    pub fn start(settings: AdminSettings, hub: Sender<Query>) -> Result<AdminServer, AdminError> {
        let (server, front, peers) = match &settings.tls {
            None => (listen(settings.bind)?, None, None),
            Some(config) => {
                let backend = listen(SocketAddr::from(([127, 0, 0, 1], 0)))?;
                let backend_addr = ip_addr(&backend, settings.bind)?;
                let peers = Arc::new(tls::PeerMap::default());
                let front = tls::TlsFront::start(
                    settings.bind,
                    Arc::clone(config),
                    backend_addr,
                    Arc::clone(&peers),
                )
                .map_err(|e| AdminError::Bind {
                    addr: settings.bind,
                    reason: e.to_string(),
                })?;
                (backend, Some(front), Some(peers))
            }
        };
        let server = Arc::new(server);
        let addr = match &front {
            Some(front) => front.addr(),
            None => ip_addr(&server, settings.bind)?,
        };
        let context = Arc::new(Context {
            surface: settings.surface,
            tokens: auth::Tokens::new(settings.tokens),
            limiter: Mutex::new(auth::FailureLimiter::new(
                settings.max_failed_auth_per_minute,
            )),
            hub,
            csms_url: settings.csms_url,
            config_path: settings.config_path,
            peers,
        });
        let stopping = Arc::new(AtomicBool::new(false));
        let (done_tx, handlers_done) = crossbeam_channel::bounded::<()>(0);
        let mut handlers = Vec::with_capacity(HANDLER_THREADS);
        for i in 0..HANDLER_THREADS {
            let (server, context, stopping) = (
                Arc::clone(&server),
                Arc::clone(&context),
                Arc::clone(&stopping),
            );
            let done = done_tx.clone();
            handlers.push(
                std::thread::Builder::new()
                    .name(format!("admin-{i}"))
                    .spawn(move || {
                        serve(&server, &context, &stopping);
                        drop(done);
                    })?,
            );
        }
        let https = front.is_some();
        log::info!(
            "admin server: {} on {}://{addr}",
            match settings.surface {
                Surface::Full => "API, status page and metrics",
                Surface::MetricsOnly => "metrics",
            },
            if https { "https" } else { "http" },
        );
        Ok(AdminServer {
            addr,
            https,
            server,
            stopping,
            handlers,
            handlers_done,
            front,
        })
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://addr` or `https://addr`.
    pub fn url(&self) -> String {
        format!(
            "{}://{}",
            if self.https { "https" } else { "http" },
            self.addr
        )
    }

    /// Stops accepting, lets the handlers finish the request they are on (for at most a
    /// second: a client that does not read its answer is left to the process exit), and joins
    /// them.
    pub fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        if let Some(front) = self.front {
            front.stop();
        }
        for _ in &self.handlers {
            self.server.unblock();
        }
        match self.handlers_done.recv_deadline(Instant::now() + STOP_WAIT) {
            Err(RecvTimeoutError::Disconnected) => {
                for handler in self.handlers {
                    if handler.join().is_err() {
                        log::error!("admin handler thread panicked");
                    }
                }
            }
            // Nothing is ever sent; only the end of every handler disconnects the channel.
            Ok(()) | Err(RecvTimeoutError::Timeout) => {
                log::warn!("admin server: a handler is still busy with a slow client");
            }
        }
        // Dropping the last reference closes the listener and tiny_http's connections.
    }
}

fn listen(bind: SocketAddr) -> Result<tiny_http::Server, AdminError> {
    tiny_http::Server::http(bind).map_err(|e| AdminError::Bind {
        addr: bind,
        reason: e.to_string(),
    })
}

fn ip_addr(server: &tiny_http::Server, bind: SocketAddr) -> Result<SocketAddr, AdminError> {
    server.server_addr().to_ip().ok_or(AdminError::Bind {
        addr: bind,
        reason: "not an IP listener".into(),
    })
}

fn serve(server: &tiny_http::Server, context: &Context, stopping: &AtomicBool) {
    loop {
        match server.recv() {
            Ok(request) => routes::handle(context, request),
            Err(e) => {
                if !stopping.load(Ordering::SeqCst) {
                    log::error!("admin server stopped accepting connections: {e}");
                }
                return;
            }
        }
    }
}
