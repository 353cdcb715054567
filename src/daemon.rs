//! Wires the threads together from a validated config, and takes them down in order.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::admin::{AdminError, AdminServer, AdminSettings};
use crate::chan::{self, SendError};
use crate::config::{self, Config, ConfigErrors, Protocol};
use crate::device::{BusCmd, DeviceEvent, PoolCmd, WorkerCmd};
use crate::echonet;
use crate::fdlimit;
use crate::hub::{charger_specs, Control, Hub, Inbox, Query, Workers};
use crate::journal::Journal;
use crate::metrics;
use crate::modbus::pool::spawn_tcp_pool;
use crate::modbus::rtu_bus::spawn_rtu_bus;
use crate::modbus::settings::{pool_settings, rtu_bus_settings};
use crate::ocpp::link::{self, LinkEvent, LinkHandle, LinkSettings, TlsFiles};
use crate::preflight::{self, Loaded};
use crate::sdnotify::{self, Notifier, Watchdog};
use crate::watch;

/// Capacity of the device → hub and link → hub channels.
const HUB_INBOX_CAPACITY: usize = 4096;
/// Capacity of the hub → device worker channels.
const WORKER_CAPACITY: usize = 1024;
/// Capacity of the admin → hub channel: a handful of requests at a time.
const ADMIN_CAPACITY: usize = 64;
/// How long `stop` waits for worker threads before leaving them to the process exit.
const STOP_BUDGET: Duration = Duration::from_millis(1500);

/// Why the daemon could not start.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("cannot start thread: {0}")]
    Thread(#[from] std::io::Error),
    #[error("{0}")]
    Preflight(#[from] ConfigErrors),
    #[error("{0}")]
    Admin(#[from] AdminError),
    /// The journal cannot be written: starting would ignore what it holds and promise the
    /// CSMS transactions that no crash could be recovered from.
    #[error("data_dir: {} not writable: {reason}", path.display())]
    DataDir { path: PathBuf, reason: String },
}

/// The running gateway.
pub struct Daemon {
    control: Sender<Control>,
    hub: JoinHandle<()>,
    link: LinkHandle,
    link_thread: JoinHandle<()>,
    workers: Vec<Worker>,
    /// The admin API and status page, when configured.
    admin: Option<AdminServer>,
    /// The `/metrics`-only listener of `system.metrics.prometheus_port`.
    prometheus: Option<AdminServer>,
}

/// A device worker thread and how to ask it to stop.
struct Worker {
    name: String,
    stop: Box<dyn FnOnce() + Send>,
    thread: JoinHandle<()>,
}

impl Worker {
    fn new<D: Send + 'static>(
        name: String,
        tx: Sender<WorkerCmd<D>>,
        thread: JoinHandle<()>,
    ) -> Worker {
        let stop = Box::new(move || {
            let _ = tx.send_timeout(WorkerCmd::Shutdown, Duration::from_millis(100));
        });
        Worker { name, stop, thread }
    }
}

impl Daemon {
    /// Loads what `config` names ([`preflight::load`]) and starts every worker for its devices
    /// and their stations.
    pub fn start(config: &Config) -> Result<Daemon, DaemonError> {
        let loaded = preflight::load(config)?;
        Daemon::start_loaded(config, loaded)
    }

    /// Starts every worker for `config`'s devices and their stations, with what
    /// [`preflight::load`] loaded for it.
    pub fn start_loaded(config: &Config, loaded: Loaded) -> Result<Daemon, DaemonError> {
        metrics::mark_start();
        fdlimit::raise_for(config);
        let journal = open_journal(config)?;
        let (device_tx, device_rx) = crossbeam_channel::bounded::<DeviceEvent>(HUB_INBOX_CAPACITY);
        let (link_tx, link_rx) = crossbeam_channel::bounded::<LinkEvent>(HUB_INBOX_CAPACITY);
        let (control_tx, control_rx) = crossbeam_channel::bounded::<Control>(16);
        let (admin_tx, admin_rx) = crossbeam_channel::bounded::<Query>(ADMIN_CAPACITY);

        let tls = loaded.csms_tls;
        let (link, link_thread) = link::spawn(LinkSettings::default(), link_tx)?;
        let mut threads = Vec::new();
        let (pool_tx, pool_rx) = crossbeam_channel::bounded::<PoolCmd>(WORKER_CAPACITY);
        let pool_thread = spawn_tcp_pool(
            "modbus-tcp",
            pool_settings(config),
            device_tx.clone(),
            pool_rx,
        )?;
        threads.push(Worker::new(
            "modbus-tcp".into(),
            pool_tx.clone(),
            pool_thread,
        ));
        let mut rtu = HashMap::new();
        for (port, settings) in rtu_bus_settings(config) {
            let (bus_tx, bus_rx) = crossbeam_channel::bounded::<BusCmd>(WORKER_CAPACITY);
            let bus = spawn_rtu_bus(settings, device_tx.clone(), bus_rx)?;
            threads.push(Worker::new(
                format!("modbus-rtu {port}"),
                bus_tx.clone(),
                bus.thread,
            ));
            rtu.insert(port, bus_tx);
        }
        // Port 3610 is only claimed when there are ECHONET Lite chargers to talk to.
        let echonet = if config
            .devices
            .iter()
            .any(|d| d.protocol == Protocol::EchonetLite)
        {
            let (tx, rx) = crossbeam_channel::bounded(WORKER_CAPACITY);
            let settings = echonet::Settings::from_config(&config.echonet);
            let thread = echonet::spawn_worker(settings, device_tx, rx)?;
            threads.push(Worker::new("echonet".into(), tx.clone(), thread));
            Some(tx)
        } else {
            None
        };

        let mut next_key = 1;
        let specs = charger_specs(config, tls.clone(), &mut next_key);
        let workers = Workers {
            modbus_tcp: pool_tx,
            rtu,
            echonet,
        };
        let mut hub =
            Hub::new(specs, link.clone(), workers).with_config(config.clone(), tls, next_key);
        hub = hub.with_journal(journal, config.system.journal.max_messages);
        let inbox = Inbox {
            devices: device_rx,
            links: link_rx,
            control: control_rx,
            admin: admin_rx,
        };
        let hub = std::thread::Builder::new()
            .name("hub".into())
            .spawn(move || hub.run(inbox))?;
        let mut daemon = Daemon {
            control: control_tx,
            hub,
            link,
            link_thread,
            workers: threads,
            admin: None,
            prometheus: None,
        };
        if let Err(e) = daemon.start_admin(config, loaded.admin, &admin_tx) {
            daemon.stop();
            return Err(e.into());
        }
        Ok(daemon)
    }

    fn start_admin(
        &mut self,
        config: &Config,
        admin: Option<AdminSettings>,
        hub: &Sender<Query>,
    ) -> Result<(), AdminError> {
        let system = &config.system;
        if let Some(settings) = admin {
            self.admin = Some(AdminServer::start(settings, hub.clone())?);
        }
        if let Some(port) = system.metrics.prometheus_port {
            let settings = AdminSettings::metrics_only(system.metrics.prometheus_bind, port);
            self.prometheus = Some(AdminServer::start(settings, hub.clone())?);
        }
        Ok(())
    }

    /// The admin API's base URL (`http://127.0.0.1:8080`), when it runs.
    pub fn admin_url(&self) -> Option<String> {
        self.admin.as_ref().map(AdminServer::url)
    }

    /// Loads and checks the config at `path` again and hands it to the hub; a config with
    /// problems is refused, each problem logged, and the running one stays in force.
    pub fn reload(&self, path: &Path) {
        request_reload(path, &self.control);
    }

    /// Stops the hub, closes every link and device connection, and joins the threads.
    pub fn stop(self) {
        let deadline = Instant::now() + STOP_BUDGET;
        for server in [self.admin, self.prometheus].into_iter().flatten() {
            server.stop();
        }
        let _ = self.control.send(Control::Shutdown);
        join_by(self.hub, "hub", deadline);
        self.link.shutdown();
        join_by(self.link_thread, "csms-link", deadline);
        // Every device worker is told first, so they wind down in parallel.
        let mut stopping = Vec::new();
        for worker in self.workers {
            (worker.stop)();
            stopping.push((worker.name, worker.thread));
        }
        for (name, thread) in stopping {
            join_by(thread, &name, deadline);
        }
    }
}

/// The journal in `<data_dir>/journal.db`; a damaged or foreign file is moved aside by
/// [`Journal::open`]. A data_dir that cannot be written (read-only, full, wrong owner) stops
/// the start: running without the journal would ignore the transactions it holds.
fn open_journal(config: &Config) -> Result<Journal, DaemonError> {
    let dir = &config.system.data_dir;
    let unwritable = |reason: String| DaemonError::DataDir {
        path: dir.clone(),
        reason,
    };
    probe_writable(dir).map_err(|e| unwritable(e.to_string()))?;
    let journal = Journal::open(&dir.join("journal.db")).map_err(|e| unwritable(e.to_string()))?;
    log::info!("journal: {}", journal.path().display());
    Ok(journal)
}

/// Creates, writes, syncs and removes a small file in `dir` (created if missing). SQLite
/// opens an existing journal for reading even where it could never write it, so the write
/// is tried first.
fn probe_writable(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let probe = dir.join(".ocpp-gw-write-probe");
    let written = std::fs::File::create(&probe)
        .and_then(|mut f| f.write_all(b"ocpp-gw\n").and_then(|()| f.sync_all()));
    let removed = std::fs::remove_file(&probe);
    written.and(removed)
}

/// The TLS settings every station's `wss://` link uses; `None` for `ws://` or the defaults.
pub fn tls_config(config: &Config) -> Result<Option<Arc<rustls::ClientConfig>>, link::TlsError> {
    if !config.csms.uses_tls() {
        return Ok(None);
    }
    let security = &config.system.security;
    let client_cert = match (&security.tls_cert_path, &security.tls_key_path) {
        (Some(cert), Some(key)) => Some((cert.as_path(), key.as_path())),
        _ => None,
    };
    let files = TlsFiles {
        ca_certs: security.ca_cert_path.as_deref(),
        client_cert,
    };
    link::client_config(&files)
}

/// Loads `path` and, if it is valid, asks the hub to apply it.
fn request_reload(path: &Path, control: &Sender<Control>) {
    log::info!("reloading {}", path.display());
    match config::load(path).inspect(fdlimit::raise_for) {
        Ok(config) => match chan::try_send(control, Control::Reload(Box::new(config)), "reload") {
            Ok(()) => {}
            Err(SendError::Full(_)) => log::error!("reload refused: the hub is busy; try again"),
            Err(SendError::Closed(_)) => log::error!("reload refused: the hub has stopped"),
        },
        Err(errors) => {
            for e in &errors.0 {
                log::error!("{e}");
            }
            log::error!(
                "reload refused: {} problem(s); the running config stays in force",
                errors.0.len()
            );
        }
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

/// Runs the gateway until SIGTERM or SIGINT, then stops it cleanly. SIGHUP (and, with
/// `system.watch_config`, a change to the config file or a template) reloads the config.
/// Under systemd (`Type=notify`) it reports readiness and shutdown, and pings the watchdog
/// while the hub runs.
pub fn run_until_signal(config: &Config, loaded: Loaded) -> Result<(), DaemonError> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP])?;
    let daemon = Daemon::start_loaded(config, loaded)?;
    log::info!(
        "ocpp-gw {} running {} device(s) for {}",
        env!("CARGO_PKG_VERSION"),
        config.devices.len(),
        config.csms.url
    );
    let watcher = if config.system.watch_config {
        let (path, control) = (config.path.clone(), daemon.control.clone());
        let watcher = watch::spawn(
            config.path.clone(),
            config.system.templates_dir.clone(),
            watch::POLL_INTERVAL,
            move || request_reload(&path, &control),
        )?;
        Some(watcher)
    } else {
        None
    };
    let notifier = service_notifier();
    let watchdog = notifier.as_ref().and_then(|n| start_watchdog(n, &daemon));
    if let Some(n) = &notifier {
        report(n.ready(&format!("running {} device(s)", config.devices.len())));
    }
    for signal in signals.forever() {
        if signal == SIGHUP {
            daemon.reload(&config.path);
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
    if let Some(watcher) = watcher {
        watcher.stop();
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
                rtu: HashMap::new(),
                echonet: None,
            },
        );
        let (_admin_tx, admin_rx) = crossbeam_channel::bounded(1);
        let inbox = Inbox {
            devices: device_rx,
            links: link_rx,
            control: control_rx,
            admin: admin_rx,
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
