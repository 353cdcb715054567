//! Connector threads: the blocking part of opening a link (DNS, TCP, TLS, HTTP upgrade).

use std::io::ErrorKind;
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::HandshakeError;
use tungstenite::http::HeaderValue;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Connector, WebSocket};

use super::failure::{classify, ConnectError};
use super::waker::Waker;
use super::{ConnectParams, LinkId};
use crate::ocpp::SUBPROTOCOL;
use crate::util::base64;

/// An open, negotiated, non-blocking WebSocket.
pub(super) type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

/// One connection attempt; `attempt` tells a current attempt from an abandoned one.
pub(super) struct Job {
    pub link: LinkId,
    pub attempt: u64,
    pub params: ConnectParams,
}

/// The result of a [`Job`].
pub(super) struct Outcome {
    pub link: LinkId,
    pub attempt: u64,
    pub result: Result<Ws, ConnectError>,
}

/// The connector pool as the shard sees it.
pub(super) struct Connectors {
    pub jobs: Sender<Job>,
    pub outcomes: Receiver<Outcome>,
}

/// Starts `threads` connector threads; they end when the shard drops `jobs`.
pub(super) fn spawn_pool(threads: usize, waker: Arc<Waker>) -> std::io::Result<Connectors> {
    let (jobs_tx, jobs_rx) = crossbeam_channel::bounded::<Job>(4096);
    let (out_tx, out_rx) = crossbeam_channel::bounded::<Outcome>(4096);
    for i in 0..threads.max(1) {
        let jobs = jobs_rx.clone();
        let outcomes = out_tx.clone();
        let waker = Arc::clone(&waker);
        // Detached on purpose: a thread blocked in a connect must not delay shutdown.
        std::thread::Builder::new()
            .name(format!("csms-connect-{i}"))
            .spawn(move || {
                for job in jobs {
                    let result = establish(&job.params);
                    let outcome = Outcome {
                        link: job.link,
                        attempt: job.attempt,
                        result,
                    };
                    if outcomes.send(outcome).is_err() {
                        return;
                    }
                    waker.wake();
                }
            })?;
    }
    Ok(Connectors {
        jobs: jobs_tx,
        outcomes: out_rx,
    })
}

/// Sizes chosen for 1,000 links on a small board: OCPP-J frames are small, so a 4 KiB read
/// buffer per link (instead of tungstenite's 128 KiB) and eager writes are enough.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_write_buffer_size(1 << 20)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// Opens one link, blocking for at most a few `connect_timeout`s.
fn establish(params: &ConnectParams) -> Result<Ws, ConnectError> {
    let url_err = |reason: String| ConnectError::Url {
        url: params.url.clone(),
        reason,
    };
    let mut request = params
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| url_err(e.to_string()))?;
    let headers = request.headers_mut();
    headers.insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    if let Some((user, password)) = &params.basic_auth {
        let token = base64::encode(format!("{user}:{password}").as_bytes());
        let value = HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|_| url_err("credentials contain characters not allowed in HTTP".into()))?;
        headers.insert("Authorization", value);
    }
    let uri = request.uri();
    let host = uri
        .host()
        .ok_or_else(|| url_err("no host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let tls = uri.scheme_str() == Some("wss");
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });

    let stream = tcp_connect(&host, port, params.connect_timeout)?;
    let timeout = Some(params.connect_timeout);
    let setup = |s: &TcpStream| -> std::io::Result<()> {
        s.set_read_timeout(timeout)?;
        s.set_write_timeout(timeout)?;
        s.set_nodelay(true)
    };
    setup(&stream).map_err(|source| ConnectError::Tcp {
        addr: format!("{host}:{port}"),
        source,
    })?;
    let (connector, client_cert) = match (&params.tls, tls) {
        (Some(config), true) => (
            Some(Connector::Rustls(Arc::clone(config))),
            config.client_auth_cert_resolver.has_certs(),
        ),
        _ => (None, false),
    };
    let (ws, _response) =
        tungstenite::client_tls_with_config(request, stream, Some(ws_config()), connector)
            .map_err(|e| match e {
                HandshakeError::Interrupted(_) => ConnectError::Timeout,
                HandshakeError::Failure(e) => classify(e, client_cert),
            })?;
    let sock = match ws.get_ref() {
        MaybeTlsStream::Plain(s) => s,
        MaybeTlsStream::Rustls(s) => s.get_ref(),
        _ => return Err(ConnectError::UnsupportedStream),
    };
    let nonblocking = sock
        .set_read_timeout(None)
        .and_then(|()| sock.set_write_timeout(None))
        .and_then(|()| sock.set_nonblocking(true));
    nonblocking.map_err(|source| ConnectError::Tcp {
        addr: format!("{host}:{port}"),
        source,
    })?;
    Ok(ws)
}

fn tcp_connect(host: &str, port: u16, timeout: Duration) -> Result<TcpStream, ConnectError> {
    let addrs = (host, port)
        .to_socket_addrs()
        .map_err(|source| ConnectError::Resolve {
            host: host.to_string(),
            source,
        })?;
    let mut last = std::io::Error::new(ErrorKind::NotFound, "no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(ConnectError::Tcp {
        addr: format!("{host}:{port}"),
        source: last,
    })
}
