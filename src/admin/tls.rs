//! The HTTPS front: accepts TLS connections with our rustls configuration and relays the
//! plaintext to the tiny_http listener on loopback, noting which client each relayed
//! connection carries so rate limits and audit lines see the real address.
//!
//! Each connection gets two threads, one per direction, that block on their socket with
//! timeouts; the rustls state between them sits behind a mutex that is never held across I/O
//! waits on the network.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use rustls::ServerConnection;

/// Connections relayed at once; more are closed at accept.
const MAX_CONNECTIONS: usize = 32;
/// Longest TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// A connection with nothing to read for this long is closed.
const IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest wait for a client to take our output.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Relayed connection (its local address towards tiny_http) → the client it carries.
#[derive(Debug, Default)]
pub(super) struct PeerMap(Mutex<HashMap<SocketAddr, SocketAddr>>);

impl PeerMap {
    /// The client behind the relayed connection that tiny_http sees as `seen`.
    pub(super) fn client_of(&self, seen: SocketAddr) -> Option<SocketAddr> {
        self.lock().get(&seen).copied()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, SocketAddr>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The running accept thread.
pub(super) struct TlsFront {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

struct Shared {
    config: Arc<rustls::ServerConfig>,
    backend: SocketAddr,
    peers: Arc<PeerMap>,
    active: AtomicUsize,
}

impl TlsFront {
    /// Listens on `bind` and relays to `backend`.
    pub(super) fn start(
        bind: SocketAddr,
        config: Arc<rustls::ServerConfig>,
        backend: SocketAddr,
        peers: Arc<PeerMap>,
    ) -> io::Result<TlsFront> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            config,
            backend,
            peers,
            active: AtomicUsize::new(0),
        });
        let flag = Arc::clone(&stopping);
        let thread = std::thread::Builder::new()
            .name("admin-tls".into())
            .spawn(move || accept_loop(&listener, &shared, &flag))?;
        Ok(TlsFront {
            addr,
            stopping,
            thread,
        })
    }

    /// The address clients connect to.
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting; connections in progress end with the tiny_http listener behind them.
    pub(super) fn stop(self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wake the blocking accept with a connection of our own.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => [127, 0, 0, 1].into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        if self.thread.join().is_err() {
            log::error!("admin TLS accept thread panicked");
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, stopping: &AtomicBool) {
    for conn in listener.incoming() {
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let conn = match conn {
            Ok(conn) => conn,
            Err(e) => {
                log::warn!("admin https: accept failed: {e}");
                // Out of descriptors and the like: give the system a moment, never spin.
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if shared.active.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            log::warn!("admin https: too many connections, refusing one");
            continue;
        }
        shared.active.fetch_add(1, Ordering::SeqCst);
        let worker = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name("admin-tls-conn".into())
            .spawn(move || {
                if let Err(e) = relay(conn, &worker) {
                    log::debug!("admin https: connection ended: {e}");
                }
                worker.active.fetch_sub(1, Ordering::SeqCst);
            });
        if let Err(e) = spawned {
            shared.active.fetch_sub(1, Ordering::SeqCst);
            log::warn!("admin https: cannot start a connection thread: {e}");
        }
    }
}

/// Removes a relayed connection from the peer map when the relay ends.
struct Registered<'a> {
    peers: &'a PeerMap,
    key: SocketAddr,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.peers.lock().remove(&self.key);
    }
}

fn relay(mut client: TcpStream, shared: &Shared) -> io::Result<()> {
    let client_addr = client.peer_addr()?;
    client.set_nodelay(true)?;
    client.set_read_timeout(Some(HANDSHAKE_TIMEOUT))?;
    client.set_write_timeout(Some(WRITE_TIMEOUT))?;
    let mut tls = ServerConnection::new(Arc::clone(&shared.config)).map_err(io::Error::other)?;
    while tls.is_handshaking() {
        tls.complete_io(&mut client)?;
    }
    client.set_read_timeout(Some(IDLE_TIMEOUT))?;
    let backend = TcpStream::connect_timeout(&shared.backend, Duration::from_secs(2))?;
    backend.set_nodelay(true)?;
    let _registered = {
        let key = backend.local_addr()?;
        shared.peers.lock().insert(key, client_addr);
        Registered {
            peers: &shared.peers,
            key,
        }
    };
    let tls = Arc::new(Mutex::new(tls));
    let downstream = {
        let (tls, mut client, mut backend) =
            (Arc::clone(&tls), client.try_clone()?, backend.try_clone()?);
        std::thread::Builder::new()
            .name("admin-tls-down".into())
            .spawn(move || {
                let result = backend_to_client(&tls, &mut backend, &mut client);
                let _ = client.shutdown(Shutdown::Both);
                result
            })?
    };
    let result = client_to_backend(&tls, &mut client, &backend);
    let _ = backend.shutdown(Shutdown::Both);
    let down = downstream
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("relay thread panicked")));
    result.and(down)
}

/// Decrypts what the client sends and passes it on, until either side closes.
fn client_to_backend(
    tls: &Mutex<ServerConnection>,
    client: &mut TcpStream,
    mut backend: &TcpStream,
) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut plain = Vec::new();
    loop {
        let n = client.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        let mut input = buf.get(..n).unwrap_or_default();
        let mut closed = false;
        {
            let mut conn = tls.lock().unwrap_or_else(PoisonError::into_inner);
            while !input.is_empty() {
                if conn.read_tls(&mut input)? == 0 {
                    closed = true;
                    break;
                }
                let state = conn.process_new_packets().map_err(|e| {
                    // Tell the client why before giving up (a TLS alert).
                    let _ = conn.write_tls(client);
                    io::Error::other(e)
                })?;
                let available = state.plaintext_bytes_to_read();
                if available > 0 {
                    let start = plain.len();
                    plain.resize(start + available, 0);
                    conn.reader()
                        .read_exact(plain.get_mut(start..).unwrap_or_default())?;
                }
                if state.peer_has_closed() {
                    closed = true;
                }
            }
            // Alerts and key updates the client may need.
            while conn.wants_write() {
                conn.write_tls(client)?;
            }
        }
        backend.write_all(&plain)?;
        plain.clear();
        if closed {
            return Ok(());
        }
    }
}

/// Encrypts what tiny_http answers and sends it to the client, until either side closes.
fn backend_to_client(
    tls: &Mutex<ServerConnection>,
    backend: &mut TcpStream,
    client: &mut TcpStream,
) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = backend.read(&mut buf)?;
        let mut conn = tls.lock().unwrap_or_else(PoisonError::into_inner);
        if n == 0 {
            conn.send_close_notify();
        } else {
            conn.writer().write_all(buf.get(..n).unwrap_or_default())?;
        }
        while conn.wants_write() {
            conn.write_tls(client)?;
        }
        if n == 0 {
            return Ok(());
        }
    }
}
