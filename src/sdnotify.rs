//! systemd's service notification protocol (`sd_notify(3)`), spoken in-house: one datagram of
//! `KEY=value` lines to the unix socket named by `$NOTIFY_SOCKET`. With `Type=notify` systemd
//! waits for `READY=1` before it calls the service started; with `WatchdogSec=` it restarts the
//! service when `WATCHDOG=1` stops arriving. Outside systemd both variables are unset and
//! nothing here runs.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{RecvTimeoutError, Sender};

/// How long one notification may wait for room in systemd's socket queue.
const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a notification could not be set up or sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// Neither a path nor an abstract name (systemd's `vsock:` addresses, for one).
    #[error("NOTIFY_SOCKET {addr:?}: only unix socket paths and @abstract names are supported")]
    UnsupportedAddress { addr: OsString },
    /// Not a valid unix socket address (too long, for one).
    #[error("NOTIFY_SOCKET {addr:?}: {source}")]
    Address { addr: OsString, source: io::Error },
    /// The sending socket could not be made.
    #[error("notify socket: {0}")]
    Socket(#[source] io::Error),
    /// The manager's socket refused or timed out a notification.
    #[error("sending {state:?} to NOTIFY_SOCKET {addr:?}: {source}")]
    Send {
        state: String,
        addr: OsString,
        source: io::Error,
    },
    /// `WATCHDOG_USEC` is set but not a period.
    #[error("WATCHDOG_USEC {value:?}: not a positive number of microseconds")]
    WatchdogUsec { value: String },
}

/// A connection to the service manager's notification socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    addr: SocketAddr,
    name: OsString,
}

impl Notifier {
    /// The notifier `$NOTIFY_SOCKET` names, or `None` when the variable is unset or empty.
    pub fn from_env() -> Result<Option<Notifier>, NotifyError> {
        match std::env::var_os("NOTIFY_SOCKET") {
            Some(addr) if !addr.is_empty() => Notifier::connect(&addr).map(Some),
            _ => Ok(None),
        }
    }

    /// A notifier for `addr`: a filesystem path, or `@name` for a Linux abstract socket.
    pub fn connect(addr: &OsStr) -> Result<Notifier, NotifyError> {
        let bytes = addr.as_bytes();
        let parsed = if let Some(name) = bytes.strip_prefix(b"@") {
            SocketAddr::from_abstract_name(name)
        } else if bytes.starts_with(b"/") {
            SocketAddr::from_pathname(addr)
        } else {
            return Err(NotifyError::UnsupportedAddress {
                addr: addr.to_owned(),
            });
        };
        let sock_addr = parsed.map_err(|source| NotifyError::Address {
            addr: addr.to_owned(),
            source,
        })?;
        let socket = UnixDatagram::unbound().map_err(NotifyError::Socket)?;
        // A manager that stopped reading must not stall the daemon.
        socket
            .set_write_timeout(Some(SEND_TIMEOUT))
            .map_err(NotifyError::Socket)?;
        Ok(Notifier {
            socket,
            addr: sock_addr,
            name: addr.to_owned(),
        })
    }

    /// Sends `state`, newline-separated `KEY=value` assignments, as one datagram.
    pub fn notify(&self, state: &str) -> Result<(), NotifyError> {
        self.socket
            .send_to_addr(state.as_bytes(), &self.addr)
            .map(drop)
            .map_err(|source| NotifyError::Send {
                state: state.to_string(),
                addr: self.name.clone(),
                source,
            })
    }

    /// Tells the manager start-up is complete, with a human-readable status line.
    pub fn ready(&self, status: &str) -> Result<(), NotifyError> {
        self.notify(&format!("READY=1\nSTATUS={status}"))
    }

    /// Tells the manager the service is shutting down.
    pub fn stopping(&self) -> Result<(), NotifyError> {
        self.notify("STOPPING=1\nSTATUS=stopping")
    }

    /// Resets the manager's watchdog timer.
    pub fn watchdog(&self) -> Result<(), NotifyError> {
        self.notify("WATCHDOG=1")
    }
}

/// How often to ping the watchdog: half of `$WATCHDOG_USEC`, or `None` when no watchdog is
/// armed for this process.
pub fn watchdog_interval_from_env() -> Result<Option<Duration>, NotifyError> {
    let usec = std::env::var("WATCHDOG_USEC").ok();
    let pid = std::env::var("WATCHDOG_PID").ok();
    watchdog_interval(usec.as_deref(), pid.as_deref(), std::process::id())
}

/// The ping interval for the given `WATCHDOG_USEC` and `WATCHDOG_PID` values as seen by process
/// `me`. A `WATCHDOG_PID` naming another process (a parent that ran us) means the watchdog is
/// not ours. Pinging at half the period leaves a whole half for a slow wake-up.
pub fn watchdog_interval(
    usec: Option<&str>,
    pid: Option<&str>,
    me: u32,
) -> Result<Option<Duration>, NotifyError> {
    let Some(usec) = usec.filter(|u| !u.is_empty()) else {
        return Ok(None);
    };
    if let Some(pid) = pid.filter(|p| !p.is_empty()) {
        if pid.parse::<u32>().ok() != Some(me) {
            return Ok(None);
        }
    }
    match usec.parse::<u64>() {
        Ok(period) if period > 0 => Ok(Some(Duration::from_micros(period) / 2)),
        _ => Err(NotifyError::WatchdogUsec {
            value: usec.to_string(),
        }),
    }
}

/// A thread that sends `WATCHDOG=1` every interval for as long as a liveness check passes.
#[derive(Debug)]
pub struct Watchdog {
    stop: Sender<()>,
    thread: JoinHandle<()>,
}

impl Watchdog {
    /// Starts pinging through `notifier` every `interval`; before each ping `alive` must answer
    /// true (it may block, but should give up within `interval`). A failed check withholds the
    /// ping, so a hung daemon is restarted by the manager rather than kept alive by this thread.
    pub fn spawn(
        notifier: Arc<Notifier>,
        interval: Duration,
        mut alive: impl FnMut() -> bool + Send + 'static,
    ) -> io::Result<Watchdog> {
        let (stop, stopped) = crossbeam_channel::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("watchdog".into())
            .spawn(move || loop {
                match stopped.recv_timeout(interval) {
                    Err(RecvTimeoutError::Timeout) if alive() => {
                        if let Err(e) = notifier.watchdog() {
                            log::warn!("{e}");
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        log::error!("liveness check failed: withholding the watchdog ping");
                    }
                    Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
                }
            })?;
        Ok(Watchdog { stop, thread })
    }

    /// Stops pinging and joins the thread (within one liveness check).
    pub fn stop(self) {
        let _ = self.stop.try_send(());
        if self.thread.join().is_err() {
            log::error!("thread watchdog panicked");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicBool, Ordering};

    const WAIT: Duration = Duration::from_secs(10);

    fn temp_socket(name: &str) -> (PathBuf, UnixDatagram) {
        let dir = std::env::temp_dir().join(format!("ocpp-gw-sdnotify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        let _ = std::fs::remove_file(&path);
        let socket = UnixDatagram::bind(&path).unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        (path, socket)
    }

    fn recv(socket: &UnixDatagram) -> String {
        let mut buf = [0u8; 512];
        let n = socket.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn sends_states_to_a_path_socket() {
        let (path, socket) = temp_socket("path.sock");
        let notifier = Notifier::connect(path.as_os_str()).unwrap();
        notifier.ready("2 devices").unwrap();
        notifier.watchdog().unwrap();
        notifier.stopping().unwrap();
        assert_eq!(recv(&socket), "READY=1\nSTATUS=2 devices");
        assert_eq!(recv(&socket), "WATCHDOG=1");
        assert_eq!(recv(&socket), "STOPPING=1\nSTATUS=stopping");
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        let name = format!("ocpp-gw-test-{}", std::process::id());
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let socket = UnixDatagram::bind_addr(&addr).unwrap();
        socket.set_read_timeout(Some(WAIT)).unwrap();
        let notifier = Notifier::connect(OsStr::new(&format!("@{name}"))).unwrap();
        notifier.watchdog().unwrap();
        assert_eq!(recv(&socket), "WATCHDOG=1");
    }

    #[test]
    fn refuses_unsupported_addresses_and_reports_a_missing_socket() {
        for addr in ["vsock:2:1234", "relative/path", ""] {
            assert!(matches!(
                Notifier::connect(OsStr::new(addr)),
                Err(NotifyError::UnsupportedAddress { .. })
            ));
        }
        let long = format!("/{}", "x".repeat(200));
        assert!(matches!(
            Notifier::connect(OsStr::new(&long)),
            Err(NotifyError::Address { .. })
        ));
        let gone = Notifier::connect(OsStr::new("/nonexistent/ocpp-gw/notify")).unwrap();
        let err = gone.watchdog().unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/ocpp-gw/notify"),
            "{err}"
        );
    }

    #[test]
    fn watchdog_interval_is_half_the_period_and_only_for_this_process() {
        let half = |usec, pid| watchdog_interval(usec, pid, 42).unwrap();
        assert_eq!(half(None, None), None);
        assert_eq!(half(Some(""), None), None);
        assert_eq!(half(Some("30000000"), None), Some(Duration::from_secs(15)));
        assert_eq!(
            half(Some("200000"), Some("42")),
            Some(Duration::from_millis(100))
        );
        assert_eq!(half(Some("200000"), Some("7")), None);
        for bad in ["0", "-5", "ten", "1.5"] {
            assert!(matches!(
                watchdog_interval(Some(bad), None, 42),
                Err(NotifyError::WatchdogUsec { .. })
            ));
        }
    }

    #[test]
    fn watchdog_pings_only_while_alive_and_stops() {
        let (path, socket) = temp_socket("watchdog.sock");
        let notifier = Arc::new(Notifier::connect(path.as_os_str()).unwrap());
        let healthy = Arc::new(AtomicBool::new(true));
        let check = Arc::clone(&healthy);
        let watchdog = Watchdog::spawn(notifier, Duration::from_millis(20), move || {
            check.load(Ordering::SeqCst)
        })
        .unwrap();
        assert_eq!(recv(&socket), "WATCHDOG=1");
        assert_eq!(recv(&socket), "WATCHDOG=1");

        healthy.store(false, Ordering::SeqCst);
        // Drain pings already in flight, then nothing more arrives while unhealthy.
        socket
            .set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 64];
        let mut drained = 0;
        while socket.recv(&mut buf).is_ok() {
            drained += 1;
            assert!(drained < 5, "pings continue while the check fails");
        }
        watchdog.stop();
    }
}
