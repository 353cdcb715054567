//! Wires the threads together from a validated config, and takes them down in order.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::admin::{AdminError, AdminServer, AdminSettings};
use crate::config::Config;
use crate::device::{DeviceEvent, PoolCmd};
use crate::hub::{charger_specs, Control, Hub, Inbox, Query, Workers};
use crate::metrics;
use crate::modbus::pool::{spawn_tcp_pool, PoolSettings};
use crate::ocpp::link::{self, LinkEvent, LinkHandle, LinkSettings};

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
    #[error("CSMS TLS settings: {0}")]
    Tls(#[from] link::TlsError),
    #[error("{0}")]
    Admin(#[from] AdminError),
}

/// The running gateway.
pub struct Daemon {
    control: Sender<Control>,
    hub: JoinHandle<()>,
    link: LinkHandle,
    link_thread: JoinHandle<()>,
    modbus_tcp: (Sender<PoolCmd>, JoinHandle<()>),
    /// The admin API and status page, when configured.
    admin: Option<AdminServer>,
    /// The `/metrics`-only listener of `system.metrics.prometheus_port`.
    prometheus: Option<AdminServer>,
}

impl Daemon {
    /// Starts every worker for `config`'s devices and their stations.
    pub fn start(config: &Config) -> Result<Daemon, DaemonError> {
        metrics::mark_start();
        let (device_tx, device_rx) = crossbeam_channel::bounded::<DeviceEvent>(HUB_INBOX_CAPACITY);
        let (link_tx, link_rx) = crossbeam_channel::bounded::<LinkEvent>(HUB_INBOX_CAPACITY);
        let (control_tx, control_rx) = crossbeam_channel::bounded::<Control>(16);
        let (admin_tx, admin_rx) = crossbeam_channel::bounded::<Query>(ADMIN_CAPACITY);

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
            modbus_tcp: (pool_tx, pool_thread),
            admin: None,
            prometheus: None,
        };
        if let Err(e) = daemon.start_admin(config, &admin_tx) {
            daemon.stop();
            return Err(e.into());
        }
        Ok(daemon)
    }

    fn start_admin(&mut self, config: &Config, hub: &Sender<Query>) -> Result<(), AdminError> {
        let system = &config.system;
        if let Some(admin) = &system.admin {
            let settings = AdminSettings::from_config(admin, &system.security, &config.csms.url)?;
            self.admin = Some(AdminServer::start(settings, hub.clone())?);
        }
        if let Some(port) = system.metrics.prometheus_port {
            let settings = AdminSettings::metrics_only(port);
            self.prometheus = Some(AdminServer::start(settings, hub.clone())?);
        }
        Ok(())
    }

    /// The admin API's base URL (`http://127.0.0.1:8080`), when it runs.
    pub fn admin_url(&self) -> Option<String> {
        self.admin.as_ref().map(AdminServer::url)
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

/// Runs the gateway until SIGTERM or SIGINT, then stops it cleanly.
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
    for signal in signals.forever() {
        if signal == SIGHUP {
            // Live reload arrives with the mapping engine; until then a HUP must not kill us.
            log::warn!("SIGHUP: live reload is not available in this version; restart to apply config changes");
            continue;
        }
        log::info!("signal {signal}: shutting down");
        break;
    }
    daemon.stop();
    log::info!("stopped");
    Ok(())
}
