//! Gateway configuration: the TOML model, loading, and validation with `file: key: error` messages.
//!
//! `load` reads the config file and every template its devices use, checks everything, and
//! reports all problems it can find at once, each naming the file and key to fix.

mod admin;
mod devices;
mod error;
mod model;
mod parse;
mod raw;
mod system;
mod template_file;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use crate::mapping::{Source, Template};

pub use admin::{parse_sha256, AdminConfig, Role, TokenConfig, DEFAULT_ADMIN_BIND};
pub use error::{ConfigError, ConfigErrors};
pub use model::{
    Config, Connection, CsmsConfig, DeviceConfig, LogRotation, MetricsConfig, Parity, Protocol,
    SecurityConfig, SystemConfig,
};

use devices::{check_devices, is_template_name};
use error::Problems;
use raw::{RawConfig, RawDevice};
use system::{check_csms, check_system};
use template_file::{load_template, Loaded};

/// Loads and checks the config file at `path` and the templates its devices use.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let whole_file = |e: ConfigError| ConfigErrors(vec![e]);
    let text = fs::read_to_string(path).map_err(|e| {
        whole_file(ConfigError {
            file: path.to_path_buf(),
            key: String::new(),
            message: format!("cannot read: {e}"),
        })
    })?;
    let raw: RawConfig = parse::parse_toml(path, &text).map_err(whole_file)?;
    let config_dir = path.parent().unwrap_or(Path::new(""));
    let mut p = Problems::new(path);
    let system = check_system(raw.system, config_dir, &mut p);
    let csms = check_csms(raw.csms, &mut p);
    let devices = check_devices(&raw.devices, path, &mut p);
    let mut template_errors = Vec::new();
    let templates = load_templates(
        &raw.devices,
        &system.templates_dir,
        &mut p,
        &mut template_errors,
    );
    let mut errors = p.into_errors();
    errors.extend(template_errors);
    let devices: Option<Vec<_>> = devices.into_iter().collect();
    match devices {
        Some(devices) if errors.is_empty() => Ok(Config {
            path: path.to_path_buf(),
            system,
            csms,
            devices,
            templates,
        }),
        // A device is only left unbuilt when a problem was recorded for it.
        _ => Err(ConfigErrors(errors)),
    }
}

/// Loads each template once; problems inside a template go to `template_errors`, a missing
/// or unsuitable template is the referring device's problem.
fn load_templates(
    raw: &[RawDevice],
    dir: &Path,
    p: &mut Problems,
    template_errors: &mut Vec<ConfigError>,
) -> BTreeMap<String, Arc<Template>> {
    let mut cache: BTreeMap<&str, Loaded> = BTreeMap::new();
    for (i, device) in raw.iter().enumerate() {
        let id = device.template.as_str();
        if !is_template_name(id) {
            continue;
        }
        let loaded = cache
            .entry(id)
            .or_insert_with(|| load_template(dir, id, template_errors));
        match loaded {
            Loaded::Missing(file) => p.add(
                format!("devices[{i}].template"),
                format!("no template {id:?} (looked for {})", file.display()),
            ),
            Loaded::Invalid => {}
            Loaded::Found(template) => {
                let Some(protocol) = Protocol::from_name(&device.protocol) else {
                    continue;
                };
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
        }
    }
    cache
        .into_iter()
        .filter_map(|(id, loaded)| match loaded {
            Loaded::Found(t) => Some((id.to_string(), t)),
            Loaded::Missing(_) | Loaded::Invalid => None,
        })
        .collect()
}

/// Whether a device speaking `protocol` can read `source`.
fn source_fits(source: Source, protocol: Protocol) -> bool {
    match source {
        Source::Modbus { .. } => matches!(protocol, Protocol::ModbusTcp | Protocol::ModbusRtu),
    }
}

/// The template `type` of a source.
fn source_kind(source: Source) -> &'static str {
    match source {
        Source::Modbus { .. } => "type = \"modbus\"",
    }
}
