//! One connection attempt as a non-blocking state machine under one overall deadline: name
//! lookup, TCP connect, TLS and the HTTP upgrade. A connector thread drives many at once, so a
//! CSMS that accepts and then drips its answer holds no thread, only its own attempt, and only
//! until the deadline.

use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crossbeam_channel::{Receiver, TryRecvError};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use tungstenite::client::IntoClientRequest;
use tungstenite::handshake::client::{ClientHandshake, Request};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::http::HeaderValue;
use tungstenite::protocol::WebSocketConfig;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::Connector;

use super::connect::Ws;
use super::failure::{classify, ConnectError};
use super::ConnectParams;
use crate::ocpp::SUBPROTOCOL;
use crate::util::base64;

/// Name lookups running at once over the process. `getaddrinfo` cannot be cancelled, so a
/// lookup that outlives its attempt's deadline keeps its thread; this bounds how many can.
const MAX_LOOKUPS: usize = 8;
static LOOKUPS: AtomicUsize = AtomicUsize::new(0);

/// One attempt in progress.
pub(super) struct Attempt {
    deadline: Instant,
    state: State,
    /// A client certificate is offered: a refused handshake is then told apart.
    client_cert: bool,
    /// `host:port`, for errors.
    addr: String,
}

/// What a name lookup thread hands back.
type Lookup = std::io::Result<Vec<SocketAddr>>;

enum State {
    /// A helper thread looks the host name up.
    Resolving {
        rx: Receiver<Lookup>,
        host: String,
        request: Box<Request>,
        connector: Option<Connector>,
    },
    /// Non-blocking TCP connect to `addrs[0]` in progress; the rest are tried after it.
    Tcp {
        socket: Socket,
        addrs: Vec<SocketAddr>,
        request: Box<Request>,
        connector: Option<Connector>,
    },
    Upgrade {
        fd: RawFd,
        mid: Box<MidHandshake<ClientHandshake<MaybeTlsStream<TcpStream>>>>,
    },
    /// Taken out while a step runs.
    Gone,
}

/// The result of one step.
pub(super) enum Step {
    Pending(Attempt),
    /// Boxed: an open WebSocket is large, and a step is moved often.
    Done(Result<Box<Ws>, ConnectError>),
}

impl Attempt {
    /// Starts an attempt for `params` that must be done by `deadline`.
    pub fn start(params: &ConnectParams, deadline: Instant) -> Step {
        match Self::begin(params, deadline) {
            Ok(step) => step,
            Err(e) => Step::Done(Err(e)),
        }
    }

    fn begin(params: &ConnectParams, deadline: Instant) -> Result<Step, ConnectError> {
        let url_err = |reason: String| ConnectError::Url {
            url: params.url.clone(),
            reason,
        };
        let request = upgrade_request(params).map_err(url_err)?;
        let uri = request.uri();
        let host = uri
            .host()
            .ok_or_else(|| url_err("no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let tls = uri.scheme_str() == Some("wss");
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let (connector, client_cert) = match (&params.tls, tls) {
            (Some(config), true) => (
                Some(Connector::Rustls(Arc::clone(config))),
                config.client_auth_cert_resolver.has_certs(),
            ),
            _ => (None, false),
        };
        let mut attempt = Attempt {
            deadline,
            state: State::Gone,
            client_cert,
            addr: format!("{host}:{port}"),
        };
        let request = Box::new(request);
        if let Ok(ip) = host.parse::<IpAddr>() {
            let addrs = vec![SocketAddr::new(ip, port)];
            return Ok(attempt.connect(addrs, request, connector, None));
        }
        let rx = lookup(&host, port).map_err(|source| ConnectError::Resolve {
            host: host.clone(),
            source,
        })?;
        attempt.state = State::Resolving {
            rx,
            host,
            request,
            connector,
        };
        Ok(Step::Pending(attempt))
    }

    /// When the attempt fails if not done.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The socket and `poll(2)` events to wait for before the next [`Attempt::step`]:
    /// writable while TCP connects, readable during the upgrade; `None` while the name is
    /// looked up (step it on every round).
    pub fn wait(&self) -> Option<(RawFd, libc::c_short)> {
        match &self.state {
            State::Resolving { .. } => None,
            State::Tcp { socket, .. } => Some((socket.as_raw_fd(), libc::POLLOUT)),
            State::Upgrade { fd, .. } => Some((*fd, libc::POLLIN)),
            State::Gone => None,
        }
    }

    /// Carries the attempt on as far as it goes without blocking.
    pub fn step(mut self, now: Instant) -> Step {
        if now >= self.deadline {
            return Step::Done(Err(ConnectError::Timeout));
        }
        match std::mem::replace(&mut self.state, State::Gone) {
            State::Resolving {
                rx,
                host,
                request,
                connector,
            } => match rx.try_recv() {
                Ok(Ok(addrs)) => self.connect(addrs, request, connector, None),
                Ok(Err(source)) => Step::Done(Err(ConnectError::Resolve { host, source })),
                Err(TryRecvError::Empty) => {
                    self.state = State::Resolving {
                        rx,
                        host,
                        request,
                        connector,
                    };
                    Step::Pending(self)
                }
                Err(TryRecvError::Disconnected) => Step::Done(Err(ConnectError::Resolve {
                    host,
                    source: std::io::Error::other("the lookup thread ended without an answer"),
                })),
            },
            State::Tcp {
                socket,
                addrs,
                request,
                connector,
            } => match socket.take_error() {
                Ok(None) if socket.peer_addr().is_ok() => self.upgrade(socket, *request, connector),
                // Not connected yet and no error: keep waiting.
                Ok(None) => {
                    self.state = State::Tcp {
                        socket,
                        addrs,
                        request,
                        connector,
                    };
                    Step::Pending(self)
                }
                Ok(Some(e)) | Err(e) => {
                    let rest = addrs.into_iter().skip(1).collect();
                    self.connect(rest, request, connector, Some(e))
                }
            },
            State::Upgrade { fd, mid } => self.handshake(fd, mid.handshake()),
            State::Gone => Step::Done(Err(ConnectError::Timeout)),
        }
    }

    /// Starts a non-blocking connect to the first of `addrs`; `last` is why the one before
    /// failed.
    fn connect(
        mut self,
        mut addrs: Vec<SocketAddr>,
        request: Box<Request>,
        connector: Option<Connector>,
        mut last: Option<std::io::Error>,
    ) -> Step {
        while let Some(addr) = addrs.first().copied() {
            match start_connect(addr) {
                Ok(socket) => {
                    self.state = State::Tcp {
                        socket,
                        addrs,
                        request,
                        connector,
                    };
                    return Step::Pending(self);
                }
                Err(e) => {
                    last = Some(e);
                    addrs.remove(0);
                }
            }
        }
        let source = last.unwrap_or_else(|| std::io::Error::new(ErrorKind::NotFound, "no address"));
        Step::Done(Err(ConnectError::Tcp {
            addr: self.addr,
            source,
        }))
    }

    fn upgrade(self, socket: Socket, request: Request, connector: Option<Connector>) -> Step {
        let stream: TcpStream = socket.into();
        if let Err(source) = stream.set_nodelay(true) {
            return Step::Done(Err(ConnectError::Tcp {
                addr: self.addr,
                source,
            }));
        }
        let fd = stream.as_raw_fd();
        let result =
            tungstenite::client_tls_with_config(request, stream, Some(ws_config()), connector);
        self.handshake(fd, result)
    }

    fn handshake(
        mut self,
        fd: RawFd,
        result: Result<
            (Ws, tungstenite::handshake::client::Response),
            HandshakeError<ClientHandshake<MaybeTlsStream<TcpStream>>>,
        >,
    ) -> Step {
        match result {
            Ok((ws, _response)) => Step::Done(Ok(Box::new(ws))),
            Err(HandshakeError::Interrupted(mid)) => {
                self.state = State::Upgrade {
                    fd,
                    mid: Box::new(mid),
                };
                Step::Pending(self)
            }
            Err(HandshakeError::Failure(e)) => Step::Done(Err(classify(e, self.client_cert))),
        }
    }
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

fn start_connect(addr: SocketAddr) -> std::io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    match socket.connect(&SockAddr::from(addr)) {
        Ok(()) => Ok(socket),
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Ok(socket),
        Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(socket),
        Err(e) => Err(e),
    }
}

/// Looks `host` up on a helper thread; the answer arrives on the returned channel. Fails at
/// once when [`MAX_LOOKUPS`] are already running.
fn lookup(host: &str, port: u16) -> std::io::Result<Receiver<Lookup>> {
    if LOOKUPS.fetch_add(1, Ordering::SeqCst) >= MAX_LOOKUPS {
        LOOKUPS.fetch_sub(1, Ordering::SeqCst);
        return Err(std::io::Error::other(format!(
            "{MAX_LOOKUPS} name lookups already in progress"
        )));
    }
    let (tx, rx) = crossbeam_channel::bounded(1);
    let name = host.to_string();
    let spawned = std::thread::Builder::new()
        .name("csms-lookup".into())
        .spawn(move || {
            let result = (name.as_str(), port)
                .to_socket_addrs()
                .map(|a| a.collect::<Vec<_>>());
            LOOKUPS.fetch_sub(1, Ordering::SeqCst);
            // The attempt may have been given up meanwhile.
            let _ = tx.send(result);
        });
    if let Err(e) = spawned {
        LOOKUPS.fetch_sub(1, Ordering::SeqCst);
        return Err(e);
    }
    Ok(rx)
}

/// The WebSocket upgrade request for `params`: the OCPP 2.0.1 subprotocol and, for security
/// profile 1 and 2, the Basic credentials. Shared with `diag csms`, which must ask exactly as
/// the link does.
pub(crate) fn upgrade_request(params: &ConnectParams) -> Result<Request, String> {
    let mut request = params
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| e.to_string())?;
    let headers = request.headers_mut();
    headers.insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    if let Some((user, password)) = &params.basic_auth {
        let token = base64::encode(format!("{user}:{password}").as_bytes());
        let value = HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|_| "credentials contain characters not allowed in HTTP".to_string())?;
        headers.insert("Authorization", value);
    }
    Ok(request)
}
