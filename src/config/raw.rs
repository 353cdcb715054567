//! The files as written: serde shapes with every optional key optional and no unknown keys.
//!
//! Enumerated strings (protocol, data type, …) stay strings here so that checking can report
//! every bad one, not just the first serde meets.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::admin::RawAdmin;

/// The config file. Sections are typed one by one (`parse::lenient`) so a problem in one does
/// not hide those in the others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub system: toml::Value,
    pub csms: toml::Value,
    #[serde(default)]
    pub devices: Vec<toml::Value>,
    pub echonet: Option<toml::Value>,
}

/// `[system]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSystem {
    pub log_level: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub templates_dir: Option<PathBuf>,
    pub watch_config: Option<bool>,
    pub log_file: Option<PathBuf>,
    #[serde(default)]
    pub log_rotation: RawLogRotation,
    #[serde(default)]
    pub metrics: RawMetrics,
    #[serde(default)]
    pub journal: RawJournal,
    #[serde(default)]
    pub security: RawSecurity,
    pub admin: Option<RawAdmin>,
}

/// `[system.log_rotation]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLogRotation {
    pub max_size_mb: Option<u64>,
    pub max_files: Option<u32>,
}

/// `[system.metrics]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetrics {
    pub prometheus_port: Option<u16>,
    pub prometheus_bind: Option<String>,
}

/// `[system.journal]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJournal {
    pub max_messages: Option<usize>,
}

/// `[system.security]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSecurity {
    pub tls_cert_path: Option<PathBuf>,
    pub tls_key_path: Option<PathBuf>,
    pub ca_cert_path: Option<PathBuf>,
    pub client_cert_required: Option<bool>,
}

/// `[csms]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCsms {
    pub url: String,
    pub reconnect_interval_sec: Option<u64>,
    pub reconnect_random_range_sec: Option<u64>,
    pub max_reconnect_attempts: Option<u32>,
    pub heartbeat_interval_sec: Option<u64>,
    pub response_timeout_sec: Option<u64>,
    pub connect_timeout_sec: Option<u64>,
    pub ping_interval_sec: Option<u64>,
    pub security_profile: Option<u8>,
    pub basic_auth_password: Option<RawSecret>,
    pub basic_auth_secret: Option<RawSecret>,
}

/// `[echonet]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEchonet {
    pub interface: Option<String>,
    pub multicast_ttl: Option<u32>,
    pub response_timeout_ms: Option<u64>,
    pub retries: Option<u32>,
    pub max_in_flight_per_node: Option<u32>,
    pub offline_after_failures: Option<u32>,
    pub inf_per_second: Option<u32>,
    pub inf_burst: Option<u32>,
}

/// `[[devices]]`; `connection` is typed once `protocol` is known.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDevice {
    pub id: String,
    pub template: String,
    pub protocol: String,
    pub ocpp_id: String,
    pub poll_interval_ms: Option<u64>,
    pub connection: toml::Table,
    #[serde(default)]
    pub security: RawDeviceSecurity,
}

/// `[devices.security]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDeviceSecurity {
    pub basic_auth_password: Option<RawSecret>,
}

/// A password or secret as written; `Debug` does not show it.
#[derive(Deserialize)]
#[serde(transparent)]
pub(super) struct RawSecret(pub String);

impl std::fmt::Debug for RawSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// `connection` of a `modbus_tcp` device.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModbusTcp {
    pub ip: String,
    pub port: Option<u16>,
    pub unit_id: Option<u8>,
    pub connect_timeout_ms: Option<u64>,
    pub response_timeout_ms: Option<u64>,
    pub pool_size: Option<u8>,
    pub max_read_gap: Option<u16>,
    pub offline_after_failures: Option<u32>,
}

/// `connection` of a `modbus_rtu` device.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModbusRtu {
    pub port: String,
    pub baud_rate: Option<u32>,
    pub data_bits: Option<u8>,
    pub stop_bits: Option<u8>,
    pub parity: Option<String>,
    pub unit_id: Option<u8>,
    pub response_timeout_ms: Option<u64>,
    pub turnaround_ms: Option<u64>,
    pub max_read_gap: Option<u16>,
    pub offline_after_failures: Option<u32>,
}

/// `connection` of an `echonet_lite` device.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEchonetLite {
    pub ip: String,
    pub eoj: Option<String>,
}

/// A template file; its variables are typed one by one.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTemplateFile {
    pub template: toml::Value,
}

/// `[template]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTemplate {
    pub id: String,
    pub description: Option<String>,
    pub extends: Option<String>,
    pub vendor_name: Option<String>,
    pub model: Option<String>,
    #[serde(default)]
    pub variables: Vec<toml::Value>,
}

/// `[[template.variables]]`. Numbers that have a range are read wide so that checking can say
/// what the range is; `register` and `epc` may be integers or strings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVariable {
    pub ocpp_name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub register: Option<toml::Value>,
    pub table: Option<String>,
    pub address: Option<i64>,
    pub epc: Option<toml::Value>,
    pub offset: Option<i64>,
    pub data_type: String,
    pub length: Option<i64>,
    pub bit: Option<i64>,
    pub order: Option<String>,
    pub access: Option<String>,
    pub poll: Option<String>,
    pub scale: Option<f64>,
    pub offset_value: Option<f64>,
    pub unit: Option<String>,
    #[serde(rename = "enum")]
    pub enum_map: Option<BTreeMap<String, String>>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub phase: Option<String>,
    pub component: Option<String>,
    pub variable: Option<String>,
}
