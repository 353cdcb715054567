//! What the simulator's threads share: the record log, station registry and settings.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use crossbeam_channel::{Sender, TrySendError};
use rustls::ServerConfig;
use serde_json::Value;

use super::{CsmsOptions, Dir, Record, Refusal};
use crate::ocpp::frame::Frame;
use crate::ocpp::types::RegistrationStatus;
use crate::util::time::rfc3339;

/// Records a subscriber may fall behind before it misses some.
pub(super) const SUBSCRIBER_CAPACITY: usize = 1024;

/// Refusals kept in memory.
const MAX_REFUSALS: usize = 1000;

/// CALLs that may wait for one connection thread to send them.
pub(super) const OUTBOX_CAPACITY: usize = 64;

/// What a BootNotification is answered with.
#[derive(Debug, Clone, Copy)]
pub(super) struct BootAnswer {
    pub status: RegistrationStatus,
    pub interval: i32,
}

/// The open connection of a station.
pub(super) struct Live {
    pub connection: u64,
    pub outbox: Sender<Frame>,
}

/// What the simulator knows about one station identity.
#[derive(Default)]
pub(super) struct Station {
    /// Upgrades accepted so far.
    pub connections: u64,
    pub live: Option<Live>,
    /// DER of the client certificate of the latest accepted upgrade, if it presented one.
    pub client_cert: Option<Vec<u8>>,
}

/// Everything behind the lock.
pub(super) struct State {
    pub records: VecDeque<Record>,
    pub next_seq: u64,
    max_records: usize,
    pub subscribers: Vec<Sender<Record>>,
    log: Option<File>,
    pub boot_default: BootAnswer,
    pub boot_overrides: HashMap<String, BootAnswer>,
    pub stations: HashMap<String, Station>,
    /// A handle on every accepted socket, to close it from outside its thread.
    pub sockets: HashMap<u64, TcpStream>,
    pub refusals: VecDeque<Refusal>,
    pub next_connection: u64,
    pub next_call: u64,
    /// HTTP Basic passwords by station; `None` demands no credentials.
    pub passwords: Option<HashMap<String, String>>,
    /// idTokenInfo status for TransactionEvents carrying these idTokens (default: no verdict).
    pub transaction_token_status: HashMap<String, String>,
    /// Faults asked for by a test, and what it may want to know of connections.
    pub faults: super::faults::Faults,
}

/// State shared by the API handle, the accept thread and the connection threads.
pub(super) struct Shared {
    state: Mutex<State>,
    /// Signalled whenever a record is added.
    pub changed: Condvar,
    pub stopping: AtomicBool,
    /// Server settings for `wss://`; `None` serves `ws://`.
    pub tls: Option<Arc<ServerConfig>>,
}

impl Shared {
    pub fn new(options: &CsmsOptions) -> io::Result<Shared> {
        let tls = match &options.tls {
            Some(tls) => Some(super::tls::server_config(tls)?),
            None => None,
        };
        let log = match &options.log_path {
            Some(path) => Some(OpenOptions::new().create(true).append(true).open(path)?),
            None => None,
        };
        Ok(Shared {
            state: Mutex::new(State {
                records: VecDeque::new(),
                next_seq: 1,
                max_records: options.max_records.max(1),
                subscribers: Vec::new(),
                log,
                boot_default: BootAnswer {
                    status: options.boot_status,
                    interval: options.boot_interval,
                },
                boot_overrides: HashMap::new(),
                stations: HashMap::new(),
                sockets: HashMap::new(),
                refusals: VecDeque::new(),
                next_connection: 0,
                next_call: 0,
                passwords: options.basic_auth.clone(),
                transaction_token_status: HashMap::new(),
                faults: Default::default(),
            }),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
            tls,
        })
    }

    /// The state; a thread that panicked while holding it leaves nothing half-updated that
    /// matters to a simulator, so poisoning is ignored.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers a freshly accepted socket and returns its connection id.
    pub fn add_socket(&self, socket: TcpStream) -> u64 {
        let mut st = self.lock();
        // `stop` sets the flag before it closes registered sockets under this lock, so a socket
        // registered after that sweep is closed here instead of lingering in its handshake.
        if self.stopping.load(Ordering::SeqCst) {
            // Failure means it is closed already.
            let _ = socket.shutdown(Shutdown::Both);
        }
        st.next_connection += 1;
        let id = st.next_connection;
        st.sockets.insert(id, socket);
        id
    }

    /// Makes `connection` the station's live connection, closing any older one.
    pub fn attach(
        &self,
        station: &str,
        connection: u64,
        outbox: Sender<Frame>,
        client_cert: Option<Vec<u8>>,
    ) {
        let mut st = self.lock();
        let entry = st.stations.entry(station.to_owned()).or_default();
        entry.connections += 1;
        entry.client_cert = client_cert;
        let old = entry.live.replace(Live { connection, outbox });
        if let Some(old) = old.and_then(|old| st.sockets.get(&old.connection)) {
            log::info!("CSMS simulator: {station} reconnected; closing its older connection");
            // Failure means the old socket is already closed.
            let _ = old.shutdown(Shutdown::Both);
        }
    }

    /// Forgets a connection whose thread is ending.
    pub fn detach(&self, station: Option<&str>, connection: u64) {
        let mut st = self.lock();
        st.sockets.remove(&connection);
        if let Some(entry) = station.and_then(|s| st.stations.get_mut(s)) {
            if entry
                .live
                .as_ref()
                .is_some_and(|l| l.connection == connection)
            {
                entry.live = None;
            }
        }
    }

    /// The BootNotification answer for `station`.
    pub fn boot_answer(&self, station: &str) -> BootAnswer {
        let st = self.lock();
        st.boot_overrides
            .get(station)
            .copied()
            .unwrap_or(st.boot_default)
    }

    /// Checks the upgrade's credentials when Basic auth is demanded; the error is the reason.
    pub fn check_credentials(
        &self,
        station: &str,
        header: Option<&tungstenite::http::HeaderValue>,
    ) -> Result<(), String> {
        let st = self.lock();
        match &st.passwords {
            None => Ok(()),
            Some(passwords) => {
                super::auth::check(header, station, passwords.get(station).map(String::as_str))
            }
        }
    }

    /// Notes a refused upgrade.
    pub fn refuse(&self, refusal: Refusal) {
        log::warn!(
            "CSMS simulator refused {} ({}): {}",
            refusal.peer,
            refusal.path,
            refusal.reason
        );
        let mut st = self.lock();
        if st.refusals.len() >= MAX_REFUSALS {
            st.refusals.pop_front();
        }
        st.refusals.push_back(refusal);
    }

    /// Records one frame: in memory, in the log file, and to subscribers.
    pub fn record(&self, station: &str, dir: Dir, connection: u64, frame: Value) {
        let mut st = self.lock();
        let record = Record {
            seq: st.next_seq,
            ts: rfc3339(SystemTime::now()),
            station: station.to_owned(),
            dir,
            connection,
            frame,
        };
        st.next_seq += 1;
        if let Some(file) = st.log.as_mut() {
            let written = serde_json::to_string(&record)
                .map_err(io::Error::from)
                .and_then(|mut line| {
                    line.push('\n');
                    file.write_all(line.as_bytes())
                });
            if let Err(e) = written {
                log::error!(
                    "CSMS simulator: cannot write its log ({e}); no longer logging to file"
                );
                st.log = None;
            }
        }
        st.subscribers
            .retain(|tx| match tx.try_send(record.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    log::warn!(
                        "CSMS simulator: a subscriber is behind; record {} skipped",
                        record.seq
                    );
                    true
                }
                Err(TrySendError::Disconnected(_)) => false,
            });
        if st.records.len() >= st.max_records {
            st.records.pop_front();
        }
        st.records.push_back(record);
        self.changed.notify_all();
    }
}
