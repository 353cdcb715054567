//! The CSMS link worker: owns the stations' WebSockets and moves OCPP-J text, never deciding
//! anything about OCPP itself (the station state machines in the hub do that).
//!
//! One shard thread waits in `poll(2)` on every open socket plus a waker, so an idle gateway with
//! 1,000 stations sleeps until a frame, a ping deadline or a hub command arrives. Connecting
//! (DNS, TCP, TLS, HTTP upgrade) is blocking work done by a small pool of connector threads,
//! which hand the finished socket to the shard.

mod attempt;
mod connect;
mod failure;
mod shard;
mod tls;
mod waker;

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use crate::chan::{self, SendError};

pub(crate) use attempt::upgrade_request;
pub use tls::{client_config, TlsError, TlsFiles};

/// Identifies one station's link; the hub allocates them and never reuses one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u32);

/// How to open one station's WebSocket.
#[derive(Clone)]
pub struct ConnectParams {
    /// Full URL including the station identity, e.g. `wss://csms.example/ocpp/CP001`.
    pub url: String,
    /// HTTP Basic credentials (security profile 1 and 2).
    pub basic_auth: Option<(String, String)>,
    /// TLS settings for `wss://`; `None` uses the public web roots.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// WebSocket ping period; `None` disables pings.
    pub ping_interval: Option<Duration>,
    /// Overall limit for one connection attempt: name lookup, TCP connect, TLS and the HTTP
    /// upgrade together.
    pub connect_timeout: Duration,
}

impl std::fmt::Debug for ConnectParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials never reach a log line.
        f.debug_struct("ConnectParams")
            .field("url", &self.url)
            .field(
                "basic_auth",
                &self.basic_auth.as_ref().map(|(user, _)| user),
            )
            .field("tls", &self.tls.is_some())
            .field("ping_interval", &self.ping_interval)
            .finish()
    }
}

/// Hub → link worker.
#[derive(Debug)]
pub enum LinkCmd {
    /// Open (or reopen) the link; answered by `Connected` or `ConnectFailed`.
    Connect { link: LinkId, params: ConnectParams },
    /// Send one OCPP-J text frame on an open link; silently dropped if the link is not open
    /// (the hub learns of the closure by its own event).
    Send { link: LinkId, text: String },
    /// Close the link (or abandon its connection attempt); answered by `Closed`.
    Close { link: LinkId, why: CloseWhy },
    /// Close every link (going away) and end the worker.
    Shutdown,
}

/// Why the gateway closes a WebSocket; sent to the CSMS as the close code (RFC 6455 7.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseWhy {
    /// 1000: the station is done with this connection (a reset) and will connect again.
    Normal,
    /// 1001: the station goes away (removed by a reload, the daemon shutting down).
    GoingAway,
}

impl CloseWhy {
    /// The RFC 6455 close code.
    pub fn code(self) -> u16 {
        match self {
            CloseWhy::Normal => 1000,
            CloseWhy::GoingAway => 1001,
        }
    }
}

/// Link worker → hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The WebSocket is open and negotiated `ocpp2.0.1`.
    Connected { link: LinkId },
    /// The connection attempt failed; `auth` is true when TLS or HTTP authentication refused us.
    ConnectFailed {
        link: LinkId,
        error: String,
        auth: bool,
    },
    /// One text frame from the CSMS.
    Received { link: LinkId, text: String },
    /// An open link closed (by either side, a ping timeout or an I/O error).
    Closed { link: LinkId, reason: String },
}

/// Sizing of the link worker.
#[derive(Debug, Clone, Copy)]
pub struct LinkSettings {
    /// Threads doing blocking connects in parallel.
    pub connector_threads: usize,
    /// Capacity of the hub → link command channel.
    pub command_capacity: usize,
}

impl Default for LinkSettings {
    fn default() -> Self {
        LinkSettings {
            connector_threads: 2,
            command_capacity: 4096,
        }
    }
}

/// The hub's handle to the link worker: a bounded command channel plus the shard's waker.
#[derive(Clone)]
pub struct LinkHandle {
    tx: Sender<LinkCmd>,
    waker: Arc<waker::Waker>,
}

impl LinkHandle {
    /// Queues a command without blocking; a full queue is counted and the command handed back.
    pub fn send(&self, cmd: LinkCmd) -> Result<(), SendError<LinkCmd>> {
        chan::try_send(&self.tx, cmd, "hub→link")?;
        self.waker.wake();
        Ok(())
    }

    /// Asks the worker to close every link and end; waits briefly if its queue is full.
    pub fn shutdown(&self) {
        let _ = self
            .tx
            .send_timeout(LinkCmd::Shutdown, Duration::from_millis(200));
        self.waker.wake();
    }
}

/// Starts the link worker; events go to `events`. Returns its handle and the shard thread.
pub fn spawn(
    settings: LinkSettings,
    events: Sender<LinkEvent>,
) -> std::io::Result<(LinkHandle, JoinHandle<()>)> {
    let (tx, rx): (Sender<LinkCmd>, Receiver<LinkCmd>) =
        crossbeam_channel::bounded(settings.command_capacity);
    let waker = Arc::new(waker::Waker::new()?);
    let connectors = connect::spawn_pool(settings.connector_threads, Arc::clone(&waker))?;
    let shard = shard::Shard::new(rx, events, Arc::clone(&waker), connectors);
    let thread = std::thread::Builder::new()
        .name("csms-link".into())
        .spawn(move || shard.run())?;
    Ok((LinkHandle { tx, waker }, thread))
}
