//! Gateway configuration: the TOML model, loading, and validation with `file: key: error` messages.
//!
//! `load` reads the config file and every template its devices use, checks everything, and
//! reports all problems it can find at once, each naming the file and key to fix.

mod admin;
mod devices;
mod echonet;
mod edit;
mod error;
mod model;
mod parse;
mod raw;
mod security;
mod system;
mod templates;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use crate::mapping::{Source, Template};

pub use admin::{parse_sha256, AdminConfig, Role, TokenConfig, DEFAULT_ADMIN_BIND};
pub use devices::{
    device_id_problem, ocpp_id_problem, MAX_DEVICES_PER_BUS, MAX_DEVICE_ID, MAX_OCPP_ID,
};
pub use edit::{edit_devices, DeviceEdit, EditError};
pub use error::{ConfigError, ConfigErrors};
pub use model::{
    Config, Connection, CsmsConfig, DeviceConfig, EchonetConfig, JournalConfig, LogRotation,
    MetricsConfig, Parity, Protocol, RtuTransport, SecurityConfig, SystemConfig, TcpTransport,
};
pub use security::{
    derive_password, BasicAuthSource, Password, PasswordError, PasswordSecret, SecurityProfile,
};

use devices::{check_devices, is_template_name};
use echonet::check_echonet;
use error::Problems;
use parse::lenient;
use raw::{RawConfig, RawCsms, RawDevice, RawEchonet, RawSystem};
use security::check_device_passwords;
use system::{check_csms, check_system};
use templates::{Loaded, Templates};

/// Loads and checks the config file at `path` and the templates its devices use, reporting
/// every problem found: a TOML syntax error alone (nothing else can be read), otherwise every
/// unknown key, wrong type and inconsistent value of every section, device and template.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let whole_file = |e: ConfigError| ConfigErrors(vec![e]);
    let text = fs::read_to_string(path).map_err(|e| {
        whole_file(ConfigError {
            file: path.to_path_buf(),
            key: String::new(),
            message: format!("cannot read: {e}"),
        })
    })?;
    let root: toml::Table = parse::parse_toml(path, &text).map_err(whole_file)?;
    let mut errors = Vec::new();
    let raw: Option<RawConfig> = lenient(path, "", toml::Value::Table(root), &mut errors);
    let Some(raw) = raw else {
        return Err(ConfigErrors(errors));
    };
    let config_dir = path.parent().unwrap_or(Path::new(""));
    let raw_system: Option<RawSystem> = lenient(path, "system", raw.system, &mut errors);
    let raw_csms: Option<RawCsms> = lenient(path, "csms", raw.csms, &mut errors);
    let raw_echonet: Option<RawEchonet> = match raw.echonet {
        Some(section) => lenient(path, "echonet", section, &mut errors),
        None => Some(RawEchonet::default()),
    };
    let raw_devices: Vec<Option<RawDevice>> = raw
        .devices
        .into_iter()
        .enumerate()
        .map(|(i, d)| lenient(path, &format!("devices[{i}]"), d, &mut errors))
        .collect();
    let mut p = Problems::new(path);
    let system = raw_system.map(|s| check_system(s, config_dir, &mut p));
    // Judged on the keys as written, so a bad csms password or profile is reported once,
    // not again for every device.
    let csms_password_source = raw_csms
        .as_ref()
        .is_some_and(|c| c.basic_auth_password.is_some() || c.basic_auth_secret.is_some());
    let profile_known = !matches!(
        raw_csms.as_ref().and_then(|c| c.security_profile),
        Some(n) if SecurityProfile::from_number(n).is_none()
    );
    let csms = match (raw_csms, &system) {
        (Some(c), Some(system)) => Some(check_csms(c, &system.security, &mut p)),
        _ => None,
    };
    let echonet = raw_echonet.map(|e| check_echonet(e, &mut p));
    let devices = check_devices(&raw_devices, path, &mut p);
    if let (true, Some(csms)) = (profile_known, &csms) {
        check_device_passwords(
            csms.security_profile,
            csms_password_source,
            &raw_devices,
            &mut p,
        );
    }
    let mut templates = BTreeMap::new();
    let mut template_errors = Vec::new();
    if let Some(system) = &system {
        let mut loader = Templates::new(&system.templates_dir);
        templates = load_templates(&raw_devices, &mut loader, &mut p);
        template_errors = loader.into_errors();
    }
    errors.extend(p.into_errors());
    errors.extend(template_errors);
    let devices: Option<Vec<_>> = devices.into_iter().collect();
    match (system, csms, echonet, devices) {
        (Some(system), Some(csms), Some(echonet), Some(devices)) if errors.is_empty() => {
            Ok(Config {
                path: path.to_path_buf(),
                system,
                csms,
                echonet,
                devices,
                templates,
            })
        }
        // Anything left unbuilt had a problem recorded for it.
        _ => Err(ConfigErrors(errors)),
    }
}

/// Resolves each template the devices use; problems inside a template are the loader's, a
/// missing or unsuitable template is the referring device's problem.
fn load_templates(
    raw: &[Option<RawDevice>],
    loader: &mut Templates<'_>,
    p: &mut Problems,
) -> BTreeMap<String, Arc<Template>> {
    let mut found = BTreeMap::new();
    for (i, device) in raw.iter().enumerate() {
        let Some(device) = device else { continue };
        let id = device.template.as_str();
        if !is_template_name(id) {
            continue;
        }
        match loader.resolve(id) {
            Loaded::Missing(file) => p.add(
                format!("devices[{i}].template"),
                format!("no template {id:?} (looked for {})", file.display()),
            ),
            Loaded::Invalid => {}
            Loaded::Found(template) => {
                if let Some(protocol) = Protocol::from_name(&device.protocol) {
                    if let Some(v) = template
                        .variables
                        .iter()
                        .find(|v| !source_fits(v.source, protocol))
                    {
                        p.add(
                            format!("devices[{i}].template"),
                            format!("template {id:?} maps {} through {}, which protocol {protocol} cannot read", v.ocpp_name, source_kind(v.source)),
                        );
                    }
                }
                found.insert(id.to_string(), template);
            }
        }
    }
    found
}

/// Whether a device speaking `protocol` can read `source`.
fn source_fits(source: Source, protocol: Protocol) -> bool {
    match source {
        Source::Modbus { .. } => matches!(protocol, Protocol::ModbusTcp | Protocol::ModbusRtu),
        Source::Echonet { .. } => protocol == Protocol::EchonetLite,
    }
}

/// The template `type` of a source.
fn source_kind(source: Source) -> &'static str {
    match source {
        Source::Modbus { .. } => "type = \"modbus\"",
        Source::Echonet { .. } => "type = \"echonet\"",
    }
}
