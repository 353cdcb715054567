//! The files as written: serde shapes with every optional key optional and no unknown keys.
//!
//! Enumerated strings (protocol, data type, …) stay strings here so that checking can report
//! every bad one, not just the first serde meets.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::admin::RawAdmin;

/// The config file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    pub system: RawSystem,
    pub csms: RawCsms,
    #[serde(default)]
    pub devices: Vec<RawDevice>,
}

/// `[system]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSystem {
    pub log_level: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub templates_dir: Option<PathBuf>,
    pub log_file: Option<PathBuf>,
    #[serde(default)]
    pub log_rotation: RawLogRotation,
    #[serde(default)]
    pub metrics: RawMetrics,
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
    pub ping_interval_sec: Option<u64>,
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
}

/// `connection` of a `modbus_tcp` device.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawModbusTcp {
    pub ip: String,
    pub port: Option<u16>,
    pub unit_id: Option<u8>,
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
}

/// `connection` of an `echonet_lite` device.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEchonetLite {
    pub ip: String,
    pub eoj: Option<String>,
}

/// A template file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTemplateFile {
    pub template: RawTemplate,
}

/// `[template]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTemplate {
    pub id: String,
    pub description: Option<String>,
    pub vendor_name: Option<String>,
    pub model: Option<String>,
    #[serde(default)]
    pub variables: Vec<RawVariable>,
}

/// `[[template.variables]]`; `register` may be an integer or a digit string.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawVariable {
    pub ocpp_name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub register: toml::Value,
    pub data_type: String,
    pub scale: Option<f64>,
    pub unit: Option<String>,
    #[serde(rename = "enum")]
    pub enum_map: Option<BTreeMap<String, String>>,
}
