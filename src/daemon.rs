//! Wires the threads together from a validated config, and takes them down in order.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use crate::config::{Config, Connection, DeviceConfig};
use crate::device::{DeviceEvent, DeviceId, ModbusTcpDevice, PoolCmd};
use crate::hub::{ChargerSpec, Control, Hub, Inbox};
use crate::mapping::Template;
use crate::modbus::pool::{spawn_tcp_pool, PoolSettings};
use crate::ocpp::link::{self, ConnectParams, LinkEvent, LinkHandle, LinkSettings};
use crate::station::{Backoff, StationSettings};

/// Capacity of the device → hub and link → hub channels.
const HUB_INBOX_CAPACITY: usize = 4096;
/// Limit for each blocking step of opening a CSMS link.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
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
    modbus_tcp: Option<(Sender<PoolCmd>, JoinHandle<()>)>,
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

        let mut specs = Vec::new();
        let mut tcp_devices = Vec::new();
        for (index, device) in config.devices.iter().enumerate() {
            let key = index as u32 + 1;
            let Some(template) = config.templates.get(&device.template) else {
                continue;
            };
            match &device.connection {
                Connection::ModbusTcp { ip, port, unit_id } => {
                    tcp_devices.push(ModbusTcpDevice {
                        id: DeviceId(key),
                        name: device.id.clone(),
                        host: ip.clone(),
                        port: *port,
                        unit_id: *unit_id,
                        poll_interval: device.poll_interval,
                        reads: template
                            .variables
                            .iter()
                            .enumerate()
                            .map(|(i, v)| v.register_read(i))
                            .collect(),
                    });
                }
                other => {
                    log::error!(
                        "{}: protocol {:?} is not supported by this build; device skipped",
                        device.id,
                        other
                    );
                    continue;
                }
            }
            specs.push(charger_spec(
                config,
                key,
                device,
                Arc::clone(template),
                tls.clone(),
            ));
        }

        let modbus_tcp = if tcp_devices.is_empty() {
            None
        } else {
            let (tx, rx) = crossbeam_channel::bounded::<PoolCmd>(tcp_devices.len() + 16);
            for device in tcp_devices {
                // ok-ish: the channel was sized for every device, so this cannot be full.
                let _ = tx.send(PoolCmd::Add(device));
            }
            let thread = spawn_tcp_pool("modbus-tcp", PoolSettings::default(), device_tx, rx)?;
            Some((tx, thread))
        };

        let hub = Hub::new(specs, link.clone());
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
            modbus_tcp,
        })
    }

    /// Stops the hub, closes every link and device connection, and joins the threads.
    pub fn stop(self) {
        let deadline = Instant::now() + STOP_BUDGET;
        let _ = self.control.send(Control::Shutdown);
        join_by(self.hub, "hub", deadline);
        self.link.shutdown();
        join_by(self.link_thread, "csms-link", deadline);
        if let Some((tx, thread)) = self.modbus_tcp {
            let _ = tx.send_timeout(PoolCmd::Shutdown, Duration::from_millis(100));
            join_by(thread, "modbus-tcp", deadline);
        }
    }
}

fn charger_spec(
    config: &Config,
    key: u32,
    device: &DeviceConfig,
    template: Arc<Template>,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> ChargerSpec {
    let csms = &config.csms;
    let model = template
        .model
        .clone()
        .unwrap_or_else(|| template.id.chars().take(20).collect());
    let vendor_name = template
        .vendor_name
        .clone()
        .unwrap_or_else(|| "ocpp-gw".to_string());
    let station = StationSettings {
        ocpp_id: device.ocpp_id.clone(),
        vendor_name,
        model,
        firmware_version: format!("ocpp-gw {}", env!("CARGO_PKG_VERSION")),
        heartbeat_interval: csms.heartbeat_interval,
        response_timeout: csms.response_timeout,
        backoff: Backoff {
            wait_minimum: csms.reconnect_interval,
            random_range: csms.reconnect_random_range,
            repeat_times: csms.max_reconnect_attempts,
        },
        connectors: 1,
    };
    let connect = ConnectParams {
        url: format!("{}/{}", csms.url, device.ocpp_id),
        basic_auth: None,
        tls,
        ping_interval: (!csms.ping_interval.is_zero()).then_some(csms.ping_interval),
        connect_timeout: CONNECT_TIMEOUT,
    };
    ChargerSpec {
        key,
        name: device.id.clone(),
        template,
        station,
        connect,
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
