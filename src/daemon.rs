//! Wires the threads together from a validated config, and takes them down in order.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::config::Config;
use crate::device::{DeviceEvent, PoolCmd};
use crate::hub::{charger_specs, Control, Hub, Inbox, Workers};
use crate::modbus::pool::{spawn_tcp_pool, PoolSettings};
use crate::ocpp::link::{self, LinkEvent, LinkHandle, LinkSettings};
use crate::sdnotify::{self, Notifier, Watchdog};

/// Capacity of the device → hub and link → hub channels.
const HUB_INBOX_CAPACITY: usize = 4096;
/// Capacity of the hub → device worker channels.
const WORKER_CAPACITY: usize = 1024;
/// How long `stop` waits for worker threads before leaving them to the process exit.
const STOP_BUDGET: Duration = Duration::from_millis(1500);

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot start thread: {0}")]
    Thread(#[from] std::io::Error),
    #[error("CSMS TLS settings: {0}")]
    Tls(#[from] link::TlsError),
}

/// The running gateway.
pub struct Daemon {
    control: Sender<Control>,
    hub: JoinHandle<()>,
    link: LinkHandle,
    link_thread: JoinHandle<()>,
    modbus_tcp: (Sender<PoolCmd>, JoinHandle<()>),
}

impl Daemon {
    /// Starts every worker for `config`'s devices and their stations.
    pub fn start(config: &Config) -> Result<Daemon, DaemonError> {
        let (device_tx, device_rx) = crossbeam_channel::bounded::<DeviceEvent>(HUB_INBOX_CAPACITY);
        let (link_tx, link_rx) = crossbeam_channel::bounded::<LinkEvent>(HUB_INBOX_CAPACITY);
        let (control_tx, control_rx) = crossbeam_channel::bounded::<Control>(16);

        let tls = match (
            &config.system.security.ca_cert_path,
            config.csms.url.starts_with("wss:"),
        ) {
            (Some(ca), true) => Some(link::client_config(ca)?),
            _ => None,
        };
        let (link, link_thread) = link::spawn(LinkSettings::default(), link_tx)?;
        let (pool_tx, pool_rx) = crossbeam_channel::bounded::<PoolCmd>(WORKER_CAPACITY);
        let pool_thread =
            spawn_tcp_pool("modbus-tcp", PoolSettings::default(), device_tx, pool_rx)?;

        let specs = charger_specs(config, tls, &mut 1);
        let workers = Workers {
            modbus_tcp: pool_tx.clone(),
        };
        let hub = Hub::new(specs, link.clone(), workers);
        let inbox = Inbox {
            devices: device_rx,
            links: link_rx,
            control: control_rx,
        };
        let hub = std::thread::Builder::new()
            .name("hub".into())
            .spawn(move || hub.run(inbox))?;
        Ok(Daemon {
            control: control_tx,
            hub,
            link,
            link_thread,
            modbus_tcp: (pool_tx, pool_thread),
        })
    }

    /// Stops the hub, closes every link and device connection, and joins the threads.
    pub fn stop(self) {
        let deadline = Instant::now() + STOP_BUDGET;
        let _ = self.control.send(Control::Shutdown);
        join_by(self.hub, "hub", deadline);
        self.link.shutdown();
        join_by(self.link_thread, "csms-link", deadline);
        let (pool_tx, pool_thread) = self.modbus_tcp;
        let _ = pool_tx.send_timeout(PoolCmd::Shutdown, Duration::from_millis(100));
        join_by(pool_thread, "modbus-tcp", deadline);
    }
}

/// Joins `thread` if it ends before `deadline`; otherwise leaves it to the process exit.
fn join_by(thread: JoinHandle<()>, name: &str, deadline: Instant) {
    while !thread.is_finished() {
        if Instant::now() >= deadline {
            log::warn!("thread {name} did not stop in time");
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if thread.join().is_err() {
        log::error!("thread {name} panicked");
    }
}

/// Runs the gateway until SIGTERM or SIGINT, then stops it cleanly. Under systemd
/// (`Type=notify`) it reports readiness and shutdown, and pings the watchdog while the hub runs.
pub fn run_until_signal(config: &Config) -> Result<(), DaemonError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    let daemon = Daemon::start(config)?;
    log::info!(
        "ocpp-gw {} running {} device(s) for {}",
        env!("CARGO_PKG_VERSION"),
        config.devices.len(),
        config.csms.url
    );
    let notifier = service_notifier();
    let watchdog = notifier.as_ref().and_then(|n| start_watchdog(n, &daemon));
    if let Some(n) = &notifier {
        report(n.ready(&format!("running {} device(s)", config.devices.len())));
    }
    for signal in signals.forever() {
        if signal == SIGHUP {
            // Live reload arrives with the mapping engine; until then a HUP must not kill us.
            log::warn!("SIGHUP: live reload is not available in this version; restart to apply config changes");
            continue;
        }
        log::info!("signal {signal}: shutting down");
        break;
    }
    if let Some(n) = &notifier {
        report(n.stopping());
    }
    if let Some(watchdog) = watchdog {
        watchdog.stop();
    }
    daemon.stop();
    log::info!("stopped");
    Ok(())
}

/// The service manager's notification socket, if the daemon was started with one.
fn service_notifier() -> Option<Arc<Notifier>> {
    match Notifier::from_env() {
        Ok(notifier) => notifier.map(Arc::new),
        Err(e) => {
            log::warn!("not notifying the service manager: {e}");
            None
        }
    }
}

/// Starts the watchdog pings if the service manager armed a watchdog for this process.
fn start_watchdog(notifier: &Arc<Notifier>, daemon: &Daemon) -> Option<Watchdog> {
    let interval = match sdnotify::watchdog_interval_from_env() {
        Ok(Some(interval)) => interval,
        Ok(None) => return None,
        Err(e) => {
            log::error!("watchdog disabled: {e}");
            return None;
        }
    };
    let control = daemon.control.clone();
    // Half the ping interval for the answer: a slow hub still gets its ping in before the
    // manager's deadline, a hung one does not.
    let alive = move || hub_answers(&control, interval / 2);
    match Watchdog::spawn(Arc::clone(notifier), interval, alive) {
        Ok(watchdog) => {
            log::info!("watchdog: pinging every {interval:?} while the hub answers");
            Some(watchdog)
        }
        Err(e) => {
            log::error!("watchdog disabled: cannot start thread: {e}");
            None
        }
    }
}

/// True when the hub's loop answers a ping within `timeout`: proof that it still turns.
fn hub_answers(control: &Sender<Control>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let (reply, answer) = crossbeam_channel::bounded(1);
    control
        .send_deadline(Control::Ping(reply), deadline)
        .is_ok()
        && answer.recv_deadline(deadline).is_ok()
}

/// Logs a failed notification; the daemon keeps running without it.
fn report(sent: Result<(), sdnotify::NotifyError>) {
    if let Err(e) = sent {
        log::warn!("{e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(10);

    #[test]
    fn hub_answers_pings_while_it_runs_and_not_after() {
        let (link_tx, link_rx) = crossbeam_channel::bounded(16);
        let (link, link_thread) = link::spawn(LinkSettings::default(), link_tx).unwrap();
        let (pool_tx, _pool_rx) = crossbeam_channel::bounded(16);
        let (_device_tx, device_rx) = crossbeam_channel::bounded(16);
        let (control, control_rx) = crossbeam_channel::bounded(16);
        let hub = Hub::new(
            Vec::new(),
            link.clone(),
            Workers {
                modbus_tcp: pool_tx,
            },
        );
        let inbox = Inbox {
            devices: device_rx,
            links: link_rx,
            control: control_rx,
        };
        let hub_thread = std::thread::spawn(move || hub.run(inbox));

        assert!(hub_answers(&control, WAIT));
        assert!(hub_answers(&control, WAIT));

        control.send(Control::Shutdown).unwrap();
        hub_thread.join().unwrap();
        assert!(!hub_answers(&control, Duration::from_millis(50)));
        link.shutdown();
        link_thread.join().unwrap();
    }

    #[test]
    fn a_hub_that_does_not_turn_fails_the_check() {
        // The receiver exists but nobody reads it: a hung hub loop.
        let (control, _stuck) = crossbeam_channel::bounded(16);
        assert!(!hub_answers(&control, Duration::from_millis(50)));
    }
}
