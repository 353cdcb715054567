//! The admin listener: a blocking accept loop and one short-lived thread per connection, with
//! limits no client can get round.
//!
//! - At most [`MAX_CONNECTIONS`] connections at once per listener and [`MAX_PER_CLIENT`] per
//!   client address; more are refused at accept (plain HTTP gets a `503`), so idle connections
//!   cannot exhaust the process's descriptors or threads.
//! - A connection whose descriptor number comes within [`FD_RESERVE`] of the open-file limit in
//!   force (raised by reloads too) is refused: the descriptors left are for the stations,
//!   devices and the journal.
//! - The head (TLS handshake included) must arrive within [`HEAD_TIMEOUT`] and the body within
//!   [`BODY_TIMEOUT`], in total; the token is checked before the body is read.
//! - One request per connection; the answer must be taken within [`WRITE_TIMEOUT`].

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::conn::Conn;
use super::http::{self, Head};
use super::routes::{self, Reply};
use super::Context;
use crate::metrics;

/// Connections served at once by one listener.
pub const MAX_CONNECTIONS: usize = 64;
/// Connections served at once for one client address.
pub const MAX_PER_CLIENT: usize = 16;
/// Descriptors kept free for everything but the admin listeners.
pub const FD_RESERVE: u64 = 64;
/// Longest time from accept to a whole request head, TLS handshake included.
const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time for the body once the head is in.
const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time for the client to take the answer.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an unread body is drained after the answer, so closing does not reset it.
const LINGER: Duration = Duration::from_millis(500);
/// Stack of a connection thread; a request needs far less.
const CONN_STACK: usize = 512 * 1024;
/// At most one warning about refused connections per listener in this time.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(60);

/// The running accept loop of one listener.
pub(super) struct Listener {
    addr: SocketAddr,
    stopping: Arc<AtomicBool>,
    thread: JoinHandle<()>,
    shared: Arc<Shared>,
}

struct Shared {
    context: Arc<Context>,
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Open connections per client address.
    clients: Mutex<HashMap<IpAddr, usize>>,
    last_refusal_log: Mutex<Option<Instant>>,
}

impl Shared {
    fn clients(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, usize>> {
        self.clients.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a connection slot for `ip`, or says why not.
    fn admit(self: &Arc<Self>, ip: IpAddr, fd: u64) -> Result<Slot, &'static str> {
        // Read at every accept: a reload that adds stations raises the limit.
        if fd >= crate::fdlimit::soft_limit().saturating_sub(FD_RESERVE) {
            return Err("the process is close to its open-file limit");
        }
        let mut clients = self.clients();
        if clients.values().sum::<usize>() >= MAX_CONNECTIONS {
            return Err("too many connections");
        }
        let count = clients.entry(ip).or_insert(0);
        if *count >= MAX_PER_CLIENT {
            return Err("too many connections from this address");
        }
        *count += 1;
        Ok(Slot {
            shared: Arc::clone(self),
            ip,
        })
    }

    fn open_connections(&self) -> usize {
        self.clients().values().sum()
    }

    fn refused(&self, peer: SocketAddr, why: &str) {
        metrics::ADMIN_CONNECTIONS_REFUSED.inc();
        let now = Instant::now();
        let mut last = self
            .last_refusal_log
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.map_or(true, |at| now.duration_since(at) >= REFUSAL_LOG_EVERY) {
            *last = Some(now);
            log::warn!("admin server: refusing {peer}: {why} (logged once a minute)");
        } else {
            log::debug!("admin server: refusing {peer}: {why}");
        }
    }
}

/// One admitted connection; frees its place when dropped.
struct Slot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut clients = self.shared.clients();
        if let Some(count) = clients.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                clients.remove(&self.ip);
            }
        }
    }
}

impl Listener {
    /// Binds `bind` and serves `context`'s routes, over TLS when `tls` is given.
    pub(super) fn start(
        bind: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
        context: Arc<Context>,
    ) -> io::Result<Listener> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let stopping = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            context,
            tls,
            clients: Mutex::new(HashMap::new()),
            last_refusal_log: Mutex::new(None),
        });
        let (flag, accepting) = (Arc::clone(&stopping), Arc::clone(&shared));
        let thread = std::thread::Builder::new()
            .name("admin-accept".into())
            .spawn(move || accept_loop(&listener, &accepting, &flag))?;
        Ok(Listener {
            addr,
            stopping,
            thread,
            shared,
        })
    }

    /// The bound address.
    pub(super) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits up to `wait` for the connections in progress to end; a
    /// client that does not read its answer is left to its write deadline.
    pub(super) fn stop(self, wait: Duration) {
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
            log::error!("admin accept thread panicked");
        }
        let until = Instant::now() + wait;
        while self.shared.open_connections() > 0 {
            if Instant::now() >= until {
                log::warn!("admin server: a connection is still busy with a slow client");
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>, stopping: &AtomicBool) {
    loop {
        let accepted = listener.accept();
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(conn) => conn,
            Err(e) => {
                log::warn!("admin server: accept failed: {e}");
                // Out of descriptors and the like: give the system a moment, never spin.
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let fd = u64::try_from(stream.as_raw_fd()).unwrap_or(u64::MAX);
        let slot = match shared.admit(peer.ip(), fd) {
            Ok(slot) => slot,
            Err(why) => {
                shared.refused(peer, why);
                refuse(stream, shared.tls.is_some());
                continue;
            }
        };
        let worker = Arc::clone(shared);
        let spawned = std::thread::Builder::new()
            .name("admin-conn".into())
            .stack_size(CONN_STACK)
            .spawn(move || {
                serve(stream, peer, &worker);
                drop(slot);
            });
        if let Err(e) = spawned {
            log::warn!("admin server: cannot start a connection thread: {e}");
        }
    }
}

/// Closes a refused connection, with a `503` when that cannot block.
fn refuse(stream: TcpStream, tls: bool) {
    if !tls && stream.set_nonblocking(true).is_ok() {
        let answer = http::encode_answer(
            503,
            &[("Retry-After", "1".into())],
            b"too many connections\n",
        );
        let _ = (&stream).write(&answer);
    }
}

/// Answers the one request of a connection.
fn serve(stream: TcpStream, peer: SocketAddr, shared: &Shared) {
    let mut conn = match Conn::new(stream, shared.tls.as_ref(), Instant::now() + HEAD_TIMEOUT) {
        Ok(conn) => conn,
        Err(e) => {
            log::debug!("admin server: {peer}: {e}");
            return;
        }
    };
    let (head, mut buffered) = match read_head(&mut conn) {
        Ok(Some(head)) => head,
        Ok(None) => return,
        Err(reply) => {
            answer(&mut conn, reply);
            return;
        }
    };
    let mut body_read = head.content_length == 0;
    let reply = routes::handle(&shared.context, &head, peer.ip(), || {
        let body = read_body(&mut conn, &head, std::mem::take(&mut buffered))?;
        body_read = true;
        Ok(body)
    });
    answer(&mut conn, reply);
    if !body_read {
        drain(&mut conn, head.content_length);
    }
}

/// The head, and what arrived after it; `Ok(None)` when the client left or never finished
/// a TLS handshake, `Err` with the answer for a bad or late head.
fn read_head(conn: &mut Conn) -> Result<Option<(Head, Vec<u8>)>, Reply> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        match http::parse_head(&buf) {
            Ok(Some((head, used))) => return Ok(Some((head, buf.split_off(used)))),
            Ok(None) => {}
            Err(e) => return Err(Reply::error(e.status(), &e.to_string())),
        }
        match conn.read(&mut chunk) {
            Ok(0) => return Ok(None),
            Ok(n) => buf.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if is_timeout(&e) && !buf.is_empty() => {
                return Err(Reply::error(408, "the request head took too long"))
            }
            Err(_) => return Ok(None),
        }
    }
}

/// Exactly the announced body, within [`BODY_TIMEOUT`].
fn read_body(conn: &mut Conn, head: &Head, mut body: Vec<u8>) -> Result<Vec<u8>, Reply> {
    let want = head.content_length;
    if body.len() < want && head.expects_continue() {
        conn.set_deadline(Instant::now() + WRITE_TIMEOUT);
        let _ = conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    conn.set_deadline(Instant::now() + BODY_TIMEOUT);
    let mut chunk = [0u8; 4096];
    while body.len() < want {
        match conn.read(&mut chunk) {
            Ok(0) => return Err(Reply::error(400, "the request body ended early")),
            Ok(n) => body.extend_from_slice(chunk.get(..n).unwrap_or_default()),
            Err(e) if is_timeout(&e) => {
                return Err(Reply::error(408, "the request body took too long"))
            }
            Err(e) => {
                return Err(Reply::error(
                    400,
                    &format!("cannot read the request body: {e}"),
                ))
            }
        }
    }
    body.truncate(want);
    Ok(body)
}

fn answer(conn: &mut Conn, reply: Reply) {
    conn.set_deadline(Instant::now() + WRITE_TIMEOUT);
    let bytes = encode(reply);
    if let Err(e) = conn.write_all(&bytes).and_then(|()| conn.flush()) {
        log::debug!("admin: client went away before the answer: {e}");
    }
    conn.finish();
}

/// Reads and drops what is left of a body not read, briefly, so the close is not a reset that
/// could destroy the answer before the client reads it.
fn drain(conn: &mut Conn, mut left: usize) {
    conn.set_deadline(Instant::now() + LINGER);
    let mut chunk = [0u8; 4096];
    while left > 0 {
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
}

/// The bytes of `reply` on the wire.
fn encode(reply: Reply) -> Vec<u8> {
    let headers: Vec<(&str, String)> = [
        ("Content-Type", reply.content_type.to_string()),
        ("Cache-Control", "no-store".to_string()),
        ("X-Content-Type-Options", "nosniff".to_string()),
    ]
    .into_iter()
    .chain(reply.headers)
    .collect();
    http::encode_answer(reply.status, &headers, &reply.body)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}
