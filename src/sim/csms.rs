//! A minimal CSMS for `ocpp-gw demo` and the tests: a blocking WebSocket server, one thread per
//! connection, that answers the core OCPP 2.0.1 messages and records every frame.
//!
//! Each connection thread reads with a short socket timeout so it can interleave the CALLs that
//! [`CsmsSim::call`] queues for it; an idle simulator therefore wakes about ten times a second
//! per connection, which is fine for a test tool.
//!
//! Optionally it serves `wss://` (demanding a client certificate if asked to) and demands HTTP
//! Basic credentials, so the stations' security profiles can be tested.

mod auth;
mod conn;
mod faults;
mod state;
mod tls;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, TrySendError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use crate::ocpp::frame::Frame;
use crate::ocpp::types::RegistrationStatus;
use state::Shared;

/// How long [`CsmsSim::stop`] waits to reach its own listener to wake the accept thread.
const WAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// Simulator settings.
#[derive(Clone)]
pub struct CsmsOptions {
    /// Append every record to this file as one JSON object per line.
    pub log_path: Option<PathBuf>,
    /// BootNotification status for stations without their own setting.
    pub boot_status: RegistrationStatus,
    /// BootNotification interval (seconds) for stations without their own setting.
    pub boot_interval: i32,
    /// Records kept in memory; the oldest are dropped beyond this.
    pub max_records: usize,
    /// Serve `wss://` with these settings; `None` serves `ws://`.
    pub tls: Option<SimTls>,
    /// Demand HTTP Basic credentials: password by station identity (user name). `None`
    /// demands none; stations missing from the map are refused.
    pub basic_auth: Option<HashMap<String, String>>,
}

impl Default for CsmsOptions {
    fn default() -> Self {
        CsmsOptions {
            log_path: None,
            boot_status: RegistrationStatus::Accepted,
            boot_interval: 300,
            max_records: 100_000,
            tls: None,
            basic_auth: None,
        }
    }
}

/// Passwords are left out.
impl fmt::Debug for CsmsOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stations: Option<Vec<&String>> = self.basic_auth.as_ref().map(|m| m.keys().collect());
        f.debug_struct("CsmsOptions")
            .field("log_path", &self.log_path)
            .field("boot_status", &self.boot_status)
            .field("boot_interval", &self.boot_interval)
            .field("max_records", &self.max_records)
            .field("tls", &self.tls)
            .field("basic_auth_stations", &stations)
            .finish()
    }
}

/// `wss://` settings of the simulator, as PEM text.
#[derive(Clone)]
pub struct SimTls {
    /// Server certificate chain, leaf first.
    pub cert_pem: String,
    /// The server certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: String,
    /// When set, a client certificate signed by one of these CAs is required.
    pub client_ca_pem: Option<String>,
}

/// The key is left out.
impl fmt::Debug for SimTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimTls")
            .field("client_certificate_required", &self.client_ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

/// Direction of a recorded frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Dir {
    /// Station → CSMS.
    In,
    /// CSMS → station.
    Out,
}

/// One frame seen on a station's connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the simulator's log, from 1.
    pub seq: u64,
    /// When it was seen, RFC 3339.
    pub ts: String,
    /// Station identity (last path segment of the upgrade request).
    pub station: String,
    /// Which way it went.
    pub dir: Dir,
    /// Connection it travelled on, unique within this simulator.
    pub connection: u64,
    /// The frame as JSON, or a JSON string holding the raw text when it was not JSON.
    pub frame: Value,
}

/// A WebSocket upgrade the simulator turned down, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// When, RFC 3339.
    pub ts: String,
    /// Who asked.
    pub peer: SocketAddr,
    /// The request path, when the request could be read.
    pub path: String,
    /// Why it was refused.
    pub reason: String,
}

/// Why a simulator operation failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SimError {
    /// No open connection for this station.
    #[error("station {0} is not connected")]
    NotConnected(String),
    /// The station's connection has too many CALLs queued.
    #[error("station {0} has too many CALLs queued")]
    Busy(String),
    /// The simulator has been stopped.
    #[error("the CSMS simulator is stopped")]
    Stopped,
}

/// A running CSMS simulator; stops when dropped.
pub struct CsmsSim {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Mutex<Option<JoinHandle<()>>>,
}

impl CsmsSim {
    /// Binds `bind` and starts accepting stations; fails with `InvalidInput` when the TLS
    /// settings are unusable.
    pub fn start(bind: SocketAddr, options: CsmsOptions) -> io::Result<CsmsSim> {
        let listener = TcpListener::bind(bind)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(&options)?);
        let accept = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("csms-accept".into())
                .spawn(move || conn::accept_loop(&listener, &shared))?
        };
        log::info!("CSMS simulator listening on {addr}");
        Ok(CsmsSim {
            addr,
            shared,
            accept: Mutex::new(Some(accept)),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL stations connect to (append `/<identity>`): `wss://` when serving TLS.
    pub fn url(&self) -> String {
        let scheme = if self.shared.tls.is_some() {
            "wss"
        } else {
            "ws"
        };
        format!("{scheme}://{}/ocpp", self.addr)
    }

    /// Sets the HTTP Basic password `station` must present from its next upgrade on; the first
    /// call makes a simulator that demanded no credentials demand them from every station.
    pub fn set_basic_auth_password(&self, station: &str, password: &str) {
        self.shared
            .lock()
            .passwords
            .get_or_insert_with(HashMap::new)
            .insert(station.to_owned(), password.to_owned());
    }

    /// DER of the client certificate `station` presented on its latest accepted upgrade.
    pub fn client_certificate(&self, station: &str) -> Option<Vec<u8>> {
        self.shared
            .lock()
            .stations
            .get(station)
            .and_then(|s| s.client_cert.clone())
    }

    /// Sets the BootNotification answer for one station, or the default when `station` is None.
    pub fn set_boot_status(
        &self,
        station: Option<&str>,
        status: RegistrationStatus,
        interval: i32,
    ) {
        let mut st = self.shared.lock();
        let answer = state::BootAnswer { status, interval };
        match station {
            Some(id) => {
                st.boot_overrides.insert(id.to_owned(), answer);
            }
            None => st.boot_default = answer,
        }
    }

    /// Answers each TransactionEvent carrying idToken `token` with idTokenInfo `status` (E05:
    /// a CSMS that refuses a token once the transaction has started).
    pub fn set_transaction_token_status(&self, token: &str, status: &str) {
        self.shared
            .lock()
            .transaction_token_status
            .insert(token.to_owned(), status.to_owned());
    }

    /// Every record still held in memory, oldest first.
    pub fn records(&self) -> Vec<Record> {
        self.shared.lock().records.iter().cloned().collect()
    }

    /// Upgrades refused so far, oldest first.
    pub fn refusals(&self) -> Vec<Refusal> {
        self.shared.lock().refusals.iter().cloned().collect()
    }

    /// The first record (already held or arriving within `timeout`) matching `pred`.
    ///
    /// `pred` runs under the simulator's lock: it must not call back into the simulator.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&Record) -> bool) -> Option<Record> {
        let deadline = Instant::now() + timeout;
        let mut from_seq = 0;
        let mut st = self.shared.lock();
        loop {
            let found = st
                .records
                .iter()
                .skip_while(|r| r.seq < from_seq)
                .find(|r| pred(r));
            if let Some(record) = found {
                return Some(record.clone());
            }
            from_seq = st.next_seq;
            let left = deadline.checked_duration_since(Instant::now())?;
            if left.is_zero() {
                return None;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// A live feed of records from now on; records are dropped for a subscriber that falls
    /// more than a thousand behind.
    pub fn subscribe(&self) -> Receiver<Record> {
        let (tx, rx) = crossbeam_channel::bounded(state::SUBSCRIBER_CAPACITY);
        self.shared.lock().subscribers.push(tx);
        rx
    }

    /// Queues a CALL to a connected station and returns its message id; the frame and the
    /// station's answer are recorded. `payload` is sent as given, so tests can send broken ones.
    pub fn call(&self, station: &str, action: &str, payload: Value) -> Result<String, SimError> {
        if self.shared.stopping.load(Ordering::SeqCst) {
            return Err(SimError::Stopped);
        }
        let mut st = self.shared.lock();
        st.next_call += 1;
        let id = format!("csms-{}", st.next_call);
        let live = st
            .stations
            .get(station)
            .and_then(|s| s.live.as_ref())
            .ok_or_else(|| SimError::NotConnected(station.to_owned()))?;
        let frame = Frame::Call {
            id: id.clone(),
            action: action.to_owned(),
            payload,
        };
        match live.outbox.try_send(frame) {
            Ok(()) => Ok(id),
            Err(TrySendError::Full(_)) => Err(SimError::Busy(station.to_owned())),
            Err(TrySendError::Disconnected(_)) => Err(SimError::NotConnected(station.to_owned())),
        }
    }

    /// WebSocket connections accepted so far for `station`.
    pub fn connection_count(&self, station: &str) -> u64 {
        self.shared
            .lock()
            .stations
            .get(station)
            .map_or(0, |s| s.connections)
    }

    /// Whether `station` has an open connection.
    pub fn connected(&self, station: &str) -> bool {
        self.shared
            .lock()
            .stations
            .get(station)
            .is_some_and(|s| s.live.is_some())
    }

    /// Drops the station's connection without a closing handshake, as a network fault would;
    /// returns whether it was connected.
    pub fn disconnect(&self, station: &str) -> bool {
        let mut st = self.shared.lock();
        let Some(live) = st.stations.get_mut(station).and_then(|s| s.live.take()) else {
            return false;
        };
        if let Some(socket) = st.sockets.get(&live.connection) {
            // The connection thread notices on its next read; an error here means it is gone.
            let _ = socket.shutdown(Shutdown::Both);
        }
        true
    }

    /// Closes every connection and the listener and waits for all threads; idempotent.
    pub fn stop(&self) {
        let Some(accept) = self
            .accept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        else {
            return;
        };
        self.shared.stopping.store(true, Ordering::SeqCst);
        for socket in self.shared.lock().sockets.values() {
            // Already-closed sockets fail here; the thread is ending anyway.
            let _ = socket.shutdown(Shutdown::Both);
        }
        // The accept thread blocks in accept(); one connection of our own wakes it up.
        let mut wake = self.addr;
        if wake.ip().is_unspecified() {
            wake.set_ip(match wake {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            });
        }
        match TcpStream::connect_timeout(&wake, WAKE_TIMEOUT) {
            Ok(_) => {
                if accept.join().is_err() {
                    log::error!("CSMS simulator accept thread panicked");
                }
            }
            Err(e) => {
                log::warn!("CSMS simulator could not wake its accept thread ({e}); leaving it")
            }
        }
    }
}

impl Drop for CsmsSim {
    fn drop(&mut self) {
        self.stop();
    }
}
