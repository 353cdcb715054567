//! Live reload: what a new config does to each device (a pure diff), and the hub applying it.
//!
//! A device is matched by its config `id`. It is changed when its own settings or its
//! effective template (parents merged) differ, or when `[csms]` or `[system.security]` differ,
//! since every station is built from those. A changed device is stopped and started again as a
//! new station, which boots afresh; an unchanged one keeps its station and its WebSocket.

use std::collections::BTreeSet;
use std::time::Instant;

use crate::chan::SendError;
use crate::config::{Config, DeviceConfig};
use crate::ocpp::link::{CloseWhy, LinkCmd, LinkId};
use crate::util::rng::Rng;

use super::{charger_specs, new_charger, Hub, WorkerOp};

/// What a new config does to the running devices, by config device id, in config order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    /// Only in the new config: started.
    pub added: Vec<String>,
    /// Only in the running config: stopped.
    pub removed: Vec<String>,
    /// In both, but different: stopped, then started as a new station.
    pub changed: Vec<String>,
    /// In both and the same: left alone.
    pub unchanged: Vec<String>,
}

/// Compares the running config `old` with `new`.
pub fn diff(old: &Config, new: &Config) -> ReloadPlan {
    let everything_changed = old.csms != new.csms || old.system.security != new.system.security;
    let mut plan = ReloadPlan::default();
    for device in &new.devices {
        match old.devices.iter().find(|d| d.id == device.id) {
            None => plan.added.push(device.id.clone()),
            Some(before)
                if everything_changed
                    || before != device
                    || template_of(old, before) != template_of(new, device) =>
            {
                plan.changed.push(device.id.clone());
            }
            Some(_) => plan.unchanged.push(device.id.clone()),
        }
    }
    plan.removed = old
        .devices
        .iter()
        .filter(|d| !new.devices.iter().any(|n| n.id == d.id))
        .map(|d| d.id.clone())
        .collect();
    plan
}

/// The effective template of `device`, compared by content.
fn template_of<'a>(
    config: &'a Config,
    device: &DeviceConfig,
) -> Option<&'a crate::mapping::Template> {
    config.templates.get(&device.template).map(|t| t.as_ref())
}

impl Hub {
    /// Applies `new` in place of the running config.
    pub(super) fn reload(&mut self, new: Config) {
        let Some(old) = self.config.take() else {
            log::warn!("reload: this hub was started without its config; ignored");
            return;
        };
        let plan = diff(&old, &new);
        log::info!(
            "reload: {} added, {} removed, {} changed, {} unchanged",
            plan.added.len(),
            plan.removed.len(),
            plan.changed.len(),
            plan.unchanged.len()
        );
        if old.system != new.system {
            log::warn!(
                "reload: [system] settings changed; they take effect at the next restart \
                 (devices and templates are applied now)"
            );
        }
        let stop: BTreeSet<&str> = plan
            .removed
            .iter()
            .chain(&plan.changed)
            .map(String::as_str)
            .collect();
        let keys: Vec<u32> = self
            .chargers
            .iter()
            .filter(|(_, c)| stop.contains(c.name.as_str()))
            .map(|(key, _)| *key)
            .collect();
        for key in keys {
            self.stop_charger(key);
        }
        let start: BTreeSet<&str> = plan
            .added
            .iter()
            .chain(&plan.changed)
            .map(String::as_str)
            .collect();
        let mut subset = new.clone();
        subset.devices.retain(|d| start.contains(d.id.as_str()));
        let now = Instant::now();
        for spec in charger_specs(&subset, self.tls.clone(), &mut self.next_key) {
            log::info!("{}: starting", spec.name);
            let key = spec.key;
            let charger = new_charger(spec, Rng::seeded(self.rng.next_u64()), now);
            let _ = self.workers.send(&charger.plan, WorkerOp::Add);
            self.chargers.insert(key, charger);
            self.drive(key);
        }
        self.config = Some(Box::new(new));
    }

    /// Stops polling the charger's device, closes its CSMS link and forgets its station.
    fn stop_charger(&mut self, key: u32) {
        let Some(charger) = self.chargers.remove(&key) else {
            return;
        };
        log::info!("{}: stopping", charger.name);
        let _ = self.workers.send(&charger.plan, WorkerOp::Remove);
        self.timers.set(key, None);
        // Keys are never reused, so late events from the worker or the link for this key
        // find no charger and are dropped.
        if let Err(SendError::Full(_)) = self.link.send(LinkCmd::Close {
            link: LinkId(key),
            why: CloseWhy::GoingAway,
        }) {
            log::error!("{}: link worker did not take the close", charger.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    use crate::config::TcpTransport;
    use crate::config::{
        Connection, CsmsConfig, EchonetConfig, LogRotation, MetricsConfig, Protocol,
        SecurityConfig, SecurityProfile, SystemConfig,
    };
    use crate::mapping::Template;

    fn template(id: &str, description: &str) -> Arc<Template> {
        Arc::new(Template {
            id: id.into(),
            description: description.into(),
            extends: None,
            vendor_name: None,
            model: None,
            variables: Vec::new(),
        })
    }

    fn device(id: &str, template: &str, ip: &str) -> DeviceConfig {
        DeviceConfig {
            id: id.into(),
            template: template.into(),
            protocol: Protocol::ModbusTcp,
            ocpp_id: id.into(),
            poll_interval: Duration::from_secs(1),
            connection: Connection::ModbusTcp {
                ip: ip.into(),
                port: 502,
                unit_id: 1,
                transport: TcpTransport::default(),
                offline_after_failures: 3,
            },
            basic_auth_password: None,
        }
    }

    fn config(devices: Vec<DeviceConfig>, templates: &[Arc<Template>]) -> Config {
        Config {
            path: PathBuf::from("gw.toml"),
            echonet: EchonetConfig::default(),
            system: SystemConfig {
                log_level: log::LevelFilter::Info,
                data_dir: "/tmp".into(),
                templates_dir: "templates".into(),
                watch_config: false,
                log_file: None,
                admin: None,
                log_rotation: LogRotation {
                    max_size_mb: 10,
                    max_files: 5,
                },
                metrics: MetricsConfig {
                    prometheus_port: None,
                    prometheus_bind: MetricsConfig::DEFAULT_BIND,
                },
                journal: Default::default(),
                security: SecurityConfig::default(),
            },
            csms: CsmsConfig {
                url: "ws://127.0.0.1:9000/ocpp".into(),
                reconnect_interval: Duration::from_secs(30),
                reconnect_random_range: Duration::from_secs(10),
                max_reconnect_attempts: 10,
                heartbeat_interval: Duration::from_secs(300),
                response_timeout: Duration::from_secs(30),
                connect_timeout: Duration::from_secs(10),
                ping_interval: Duration::from_secs(60),
                security_profile: SecurityProfile::Unsecured,
                basic_auth: None,
            },
            devices,
            templates: templates
                .iter()
                .map(|t| (t.id.clone(), Arc::clone(t)))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn same_config_changes_nothing() {
        let t = template("t", "");
        let c = config(vec![device("a", "t", "10.0.0.1")], &[t]);
        assert_eq!(
            diff(&c, &c.clone()),
            ReloadPlan {
                unchanged: ids(&["a"]),
                ..ReloadPlan::default()
            }
        );
    }

    #[test]
    fn added_removed_changed_and_unchanged() {
        let t = template("t", "v1");
        let u = template("u", "v1");
        let old = config(
            vec![
                device("keep", "t", "10.0.0.1"),
                device("gone", "t", "10.0.0.2"),
                device("moved", "t", "10.0.0.3"),
                device("retemplated", "u", "10.0.0.4"),
            ],
            &[t.clone(), u],
        );
        let new = config(
            vec![
                device("new", "t", "10.0.0.5"),
                device("keep", "t", "10.0.0.1"),
                device("moved", "t", "10.0.0.33"),
                device("retemplated", "u", "10.0.0.4"),
            ],
            &[t, template("u", "v2")],
        );
        assert_eq!(
            diff(&old, &new),
            ReloadPlan {
                added: ids(&["new"]),
                removed: ids(&["gone"]),
                changed: ids(&["moved", "retemplated"]),
                unchanged: ids(&["keep"]),
            }
        );
    }

    #[test]
    fn a_device_switching_to_an_equal_template_is_unchanged_in_content_only() {
        let old = config(vec![device("a", "t", "10.0.0.1")], &[template("t", "x")]);
        // Same content under another id still changes the device's own `template` setting.
        let new = config(vec![device("a", "t2", "10.0.0.1")], &[template("t2", "x")]);
        assert_eq!(diff(&old, &new).changed, ids(&["a"]));
        // A reloaded but identical template (a new Arc) is no change.
        let again = config(vec![device("a", "t", "10.0.0.1")], &[template("t", "x")]);
        assert_eq!(diff(&old, &again).unchanged, ids(&["a"]));
    }

    #[test]
    fn csms_or_security_changes_restart_every_station() {
        let t = template("t", "");
        let old = config(
            vec![device("a", "t", "10.0.0.1"), device("b", "t", "10.0.0.2")],
            &[t],
        );
        let mut new = old.clone();
        new.csms.heartbeat_interval = Duration::from_secs(60);
        assert_eq!(diff(&old, &new).changed, ids(&["a", "b"]));
        let mut new = old.clone();
        new.system.security.ca_cert_path = Some("/etc/ca.pem".into());
        assert_eq!(diff(&old, &new).changed, ids(&["a", "b"]));
        let mut new = old.clone();
        new.system.log_level = log::LevelFilter::Debug;
        assert_eq!(diff(&old, &new).unchanged, ids(&["a", "b"]));
    }
}
