//! The validated configuration every other module reads.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::security::{BasicAuthSource, Password, SecurityProfile};
use crate::mapping::Template;

use super::AdminConfig;

/// The whole gateway configuration, checked and with defaults filled in.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The file it was loaded from, as given.
    pub path: PathBuf,
    pub system: SystemConfig,
    pub csms: CsmsConfig,
    pub echonet: EchonetConfig,
    pub devices: Vec<DeviceConfig>,
    /// The templates the devices use, by id.
    pub templates: BTreeMap<String, Arc<Template>>,
}

/// `[system]`. Relative paths are resolved against the config file's directory.
#[derive(Debug, Clone, PartialEq)]
pub struct SystemConfig {
    pub log_level: log::LevelFilter,
    pub data_dir: PathBuf,
    pub templates_dir: PathBuf,
    /// Reload when the config file or a template changes (mtime polling), as on SIGHUP.
    pub watch_config: bool,
    /// Log to this file (rotated by `log_rotation`) instead of stderr.
    pub log_file: Option<PathBuf>,
    pub log_rotation: LogRotation,
    pub metrics: MetricsConfig,
    pub journal: JournalConfig,
    pub security: SecurityConfig,
    /// The admin API and status page; `None` when `[system.admin]` is absent.
    pub admin: Option<AdminConfig>,
}

/// `[system.log_rotation]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRotation {
    pub max_size_mb: u64,
    pub max_files: u32,
}

/// `[system.metrics]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    /// Port of the Prometheus endpoint; `None` = no endpoint.
    pub prometheus_port: Option<u16>,
    /// Address the Prometheus endpoint listens on (loopback unless configured otherwise).
    pub prometheus_bind: std::net::IpAddr,
}

impl MetricsConfig {
    /// Where the Prometheus endpoint listens when `prometheus_bind` is not given.
    pub const DEFAULT_BIND: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);
}

/// `[system.journal]`: the durable queue of transaction messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalConfig {
    /// Messages each station may keep waiting for the CSMS before the bound policy drops the
    /// oldest intermediate meter values.
    pub max_messages: usize,
}

impl Default for JournalConfig {
    fn default() -> Self {
        JournalConfig {
            max_messages: JournalConfig::DEFAULT_MAX_MESSAGES,
        }
    }
}

impl JournalConfig {
    /// About 3.5 days of one-minute meter values of one transaction.
    pub const DEFAULT_MAX_MESSAGES: usize = 5000;
    /// Largest accepted bound: keeps a full queue's memory within reason on a small board.
    pub const MAX_MAX_MESSAGES: usize = 1_000_000;
}

/// `[system.security]`; `tls_cert_path` and `tls_key_path` are both set or both unset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SecurityConfig {
    pub tls_cert_path: Option<PathBuf>,
    pub tls_key_path: Option<PathBuf>,
    pub ca_cert_path: Option<PathBuf>,
    pub client_cert_required: bool,
}

/// `[csms]`: where the stations connect and how they retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsmsConfig {
    /// `ws://` or `wss://` URL without trailing `/`; each station appends `/<ocpp_id>`.
    pub url: String,
    /// First wait after a failed or lost connection (RetryBackOffWaitMinimum).
    pub reconnect_interval: Duration,
    /// Random jitter added to each wait (RetryBackOffRandomRange).
    pub reconnect_random_range: Duration,
    /// How often the wait doubles before it stays constant (RetryBackOffRepeatTimes).
    pub max_reconnect_attempts: u32,
    /// Heartbeat interval until the CSMS sets its own.
    pub heartbeat_interval: Duration,
    /// How long to wait for a CALLRESULT.
    pub response_timeout: Duration,
    /// Overall limit for one connection attempt: DNS, TCP, TLS and the WebSocket upgrade.
    pub connect_timeout: Duration,
    /// WebSocket ping interval; zero = no pings.
    pub ping_interval: Duration,
    /// OCPP security profile of every station's link.
    pub security_profile: SecurityProfile,
    /// Passwords for stations without their own (profiles 1 and 2).
    pub basic_auth: Option<BasicAuthSource>,
}

/// `[echonet]`: the ECHONET Lite transport shared by every `echonet_lite` device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EchonetConfig {
    /// Local IPv4 address for unicast and multicast; 0.0.0.0 lets the system choose.
    pub interface: std::net::Ipv4Addr,
    /// Hops a multicast request may travel.
    pub multicast_ttl: u32,
    /// Wait for an answer before a request is sent again.
    pub response_timeout: Duration,
    /// Times an unanswered request is sent again.
    pub retries: u32,
    /// Requests one node may have unanswered at a time.
    pub max_in_flight_per_node: u32,
    /// Consecutive failed polls before a device is reported offline.
    pub offline_after_failures: u32,
    /// Announcements (INF, INFC) a node may send per second, on average.
    pub inf_per_second: u32,
    /// Announcements a node may send in a burst above that rate.
    pub inf_burst: u32,
}

/// One `[[devices]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    pub id: String,
    /// Template id; `Config::templates` holds it.
    pub template: String,
    pub protocol: Protocol,
    /// The station identity at the CSMS (URL path segment).
    pub ocpp_id: String,
    pub poll_interval: Duration,
    pub connection: Connection,
    /// `[devices.security] basic_auth_password`: this station's own password.
    pub basic_auth_password: Option<Password>,
}

/// How a device is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    ModbusTcp,
    ModbusRtu,
    EchonetLite,
}

/// Config spellings, in the order error messages list them.
const PROTOCOLS: &[(&str, Protocol)] = &[
    ("modbus_tcp", Protocol::ModbusTcp),
    ("modbus_rtu", Protocol::ModbusRtu),
    ("echonet_lite", Protocol::EchonetLite),
];

impl Protocol {
    /// Parses the config spelling (`modbus_tcp`, …).
    pub fn from_name(name: &str) -> Option<Protocol> {
        PROTOCOLS.iter().find(|(n, _)| *n == name).map(|(_, p)| *p)
    }

    /// Every config spelling, for error messages.
    pub fn names() -> impl Iterator<Item = &'static str> {
        PROTOCOLS.iter().map(|(n, _)| *n)
    }

    /// Every protocol.
    pub fn all() -> impl Iterator<Item = Protocol> {
        PROTOCOLS.iter().map(|(_, p)| *p)
    }

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::ModbusTcp => "modbus_tcp",
            Protocol::ModbusRtu => "modbus_rtu",
            Protocol::EchonetLite => "echonet_lite",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `[devices.connection]`, by protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// `ip` is an IP address or host name. `offline_after_failures` is this device's own: units
    /// behind one bridge may tolerate different numbers of failed polls.
    ModbusTcp {
        ip: String,
        port: u16,
        unit_id: u8,
        transport: TcpTransport,
        offline_after_failures: u32,
    },
    /// `port` is the serial device path; devices sharing it share the line settings, but each
    /// has its own `offline_after_failures`.
    ModbusRtu {
        port: String,
        baud_rate: u32,
        data_bits: u8,
        stop_bits: u8,
        parity: Parity,
        unit_id: u8,
        transport: RtuTransport,
        offline_after_failures: u32,
    },
    /// `eoj` is the ECHONET object code (class group, class, instance), e.g. 0x02A101.
    EchonetLite { ip: String, eoj: Option<u32> },
}

/// Connection settings of a `modbus_tcp` device; devices at one endpoint (ip and port) agree on
/// them, since they share its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TcpTransport {
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    /// Connections kept open to the endpoint.
    pub pool_size: u8,
    /// Most unused registers one merged read may span.
    pub max_read_gap: u16,
}

impl Default for TcpTransport {
    fn default() -> Self {
        TcpTransport {
            connect_timeout: Duration::from_millis(2000),
            response_timeout: Duration::from_millis(1000),
            pool_size: 1,
            max_read_gap: 10,
        }
    }
}

/// Bus settings of a `modbus_rtu` device; devices on one serial port agree on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RtuTransport {
    pub response_timeout: Duration,
    /// Silence after a broadcast write.
    pub turnaround: Duration,
    /// Most unused registers one merged read may span.
    pub max_read_gap: u16,
}

impl Default for RtuTransport {
    fn default() -> Self {
        RtuTransport {
            response_timeout: Duration::from_millis(1000),
            turnaround: Duration::from_millis(100),
            max_read_gap: 10,
        }
    }
}

/// Serial parity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Parity {
    None,
    Even,
    Odd,
}

impl Parity {
    /// Parses the config spelling, ignoring case.
    pub fn from_name(name: &str) -> Option<Parity> {
        match name.to_ascii_lowercase().as_str() {
            "none" => Some(Parity::None),
            "even" => Some(Parity::Even),
            "odd" => Some(Parity::Odd),
            _ => None,
        }
    }

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Parity::None => "none",
            Parity::Even => "even",
            Parity::Odd => "odd",
        }
    }
}
