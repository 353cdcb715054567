//! Adding, replacing and removing `[[devices]]` entries of the config file.
//!
//! The file is edited as a TOML table: other sections and devices keep their values, but
//! comments and layout are lost, since the `toml` crate does not keep them. The result is
//! written to a temporary file beside the config (so relative paths resolve alike), checked
//! with [`load`] there, and only then synced and renamed over the config: a failed edit
//! leaves the file as it was.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{load, Config, ConfigErrors};

/// One change to the device list; a device is given as its `[[devices]]` table.
#[derive(Debug, Clone)]
pub enum DeviceEdit {
    /// Append a device; its `id` and `ocpp_id` must be new.
    Add(toml::Table),
    /// Replace device `id` by `device`, which keeps that id.
    Update { id: String, device: toml::Table },
    /// Remove device `id`.
    Delete { id: String },
}

/// Why an edit was not made; the config file is unchanged in every case.
#[derive(Debug, thiserror::Error)]
pub enum EditError {
    /// The config file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// The config file as it is does not parse as TOML.
    #[error("{}: not valid TOML: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// The device table lacks a key the edit needs, or has it with the wrong type.
    #[error("device: {0}")]
    Device(String),
    /// No device has this id.
    #[error("no device {0:?}")]
    NotFound(String),
    /// Another device has this `id` or `ocpp_id` already.
    #[error("a device with {key} {value:?} exists already")]
    Duplicate { key: &'static str, value: String },
    /// The edited configuration has problems; each is listed.
    #[error("the edited configuration has {} problem(s)", .0.0.len())]
    Invalid(ConfigErrors),
    /// The edited file could not be written or put in place.
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Applies `edit` to the config file at `path` and returns the new, checked configuration.
pub fn edit_devices(path: &Path, edit: DeviceEdit) -> Result<Config, EditError> {
    let text = fs::read_to_string(path).map_err(|source| EditError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut root: toml::Table = text
        .parse()
        .map_err(|e: toml::de::Error| EditError::Parse {
            path: path.to_path_buf(),
            message: e.message().to_string(),
        })?;
    let devices = match root
        .entry("devices")
        .or_insert_with(|| toml::Value::Array(Vec::new()))
    {
        toml::Value::Array(devices) => devices,
        _ => {
            return Err(EditError::Parse {
                path: path.to_path_buf(),
                message: "devices is not an array of tables".into(),
            })
        }
    };
    apply(devices, edit)?;
    if devices.is_empty() {
        root.remove("devices");
    }
    let edited = toml::to_string(&root).map_err(|e| EditError::Write {
        path: path.to_path_buf(),
        source: io::Error::other(e),
    })?;
    let temp = temp_path(path);
    let result = write_synced(&temp, &edited)
        .map_err(|source| EditError::Write {
            path: temp.clone(),
            source,
        })
        .and_then(|()| load(&temp).map_err(|e| EditError::Invalid(renamed(e, &temp, path))))
        .and_then(|config| {
            fs::rename(&temp, path).map_err(|source| EditError::Write {
                path: path.to_path_buf(),
                source,
            })?;
            sync_dir(path);
            Ok(config)
        });
    if result.is_err() {
        // Nothing of a failed edit stays behind; the temp file may not even exist.
        let _ = fs::remove_file(&temp);
    }
    // `load` read the temp file; the configuration is the real one's.
    result.map(|config| Config {
        path: path.to_path_buf(),
        ..config
    })
}

/// Problems found in `temp` as problems of `path`, which is what the operator edits.
fn renamed(mut errors: ConfigErrors, temp: &Path, path: &Path) -> ConfigErrors {
    for e in &mut errors.0 {
        if e.file == temp {
            e.file = path.to_path_buf();
        }
    }
    errors
}

/// Changes `devices` as `edit` says, checking ids first.
fn apply(devices: &mut Vec<toml::Value>, edit: DeviceEdit) -> Result<(), EditError> {
    match edit {
        DeviceEdit::Add(device) => {
            let id = string_key(&device, "id")?;
            let ocpp_id = string_key(&device, "ocpp_id")?;
            if position(devices, "id", &id).is_some() {
                return Err(EditError::Duplicate {
                    key: "id",
                    value: id,
                });
            }
            if position(devices, "ocpp_id", &ocpp_id).is_some() {
                return Err(EditError::Duplicate {
                    key: "ocpp_id",
                    value: ocpp_id,
                });
            }
            devices.push(toml::Value::Table(device));
        }
        DeviceEdit::Update { id, mut device } => {
            let index =
                position(devices, "id", &id).ok_or_else(|| EditError::NotFound(id.clone()))?;
            match device.get("id") {
                None => {
                    device.insert("id".into(), toml::Value::String(id.clone()));
                }
                Some(toml::Value::String(given)) if *given == id => {}
                Some(_) => {
                    return Err(EditError::Device(format!(
                        "id must be {id:?} (a device cannot be renamed; add and delete instead)"
                    )))
                }
            }
            let ocpp_id = string_key(&device, "ocpp_id")?;
            if position(devices, "ocpp_id", &ocpp_id).is_some_and(|other| other != index) {
                return Err(EditError::Duplicate {
                    key: "ocpp_id",
                    value: ocpp_id,
                });
            }
            if let Some(slot) = devices.get_mut(index) {
                *slot = toml::Value::Table(device);
            }
        }
        DeviceEdit::Delete { id } => {
            let index = position(devices, "id", &id).ok_or(EditError::NotFound(id))?;
            devices.remove(index);
        }
    }
    Ok(())
}

/// The string under `key` of a device table.
fn string_key(device: &toml::Table, key: &str) -> Result<String, EditError> {
    match device.get(key) {
        Some(toml::Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(_) => Err(EditError::Device(format!(
            "{key} must be a non-empty string"
        ))),
        None => Err(EditError::Device(format!("{key} is missing"))),
    }
}

/// Index of the device whose `key` is `value`.
fn position(devices: &[toml::Value], key: &str, value: &str) -> Option<usize> {
    devices
        .iter()
        .position(|d| d.get(key).and_then(toml::Value::as_str) == Some(value))
}

/// `.NAME.edit` beside the config: same directory, so the rename is atomic.
fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "config".into());
    path.with_file_name(format!(".{name}.edit"))
}

fn write_synced(path: &Path, text: &str) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

/// Makes the rename durable; a failure only risks the old file after a power cut.
fn sync_dir(path: &Path) {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        log::warn!("cannot sync {}: {e}", dir.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> toml::Table {
        text.parse().expect("test TOML")
    }

    fn devices() -> Vec<toml::Value> {
        vec![
            toml::Value::Table(table("id = \"a\"\nocpp_id = \"CPA\"")),
            toml::Value::Table(table("id = \"b\"\nocpp_id = \"CPB\"")),
        ]
    }

    #[test]
    fn add_checks_ids() {
        let mut d = devices();
        let dup = apply(
            &mut d,
            DeviceEdit::Add(table("id = \"a\"\nocpp_id = \"X\"")),
        );
        assert!(matches!(dup, Err(EditError::Duplicate { key: "id", .. })));
        let dup = apply(
            &mut d,
            DeviceEdit::Add(table("id = \"c\"\nocpp_id = \"CPB\"")),
        );
        assert!(matches!(
            dup,
            Err(EditError::Duplicate { key: "ocpp_id", .. })
        ));
        let missing = apply(&mut d, DeviceEdit::Add(table("id = \"c\"")));
        assert!(matches!(missing, Err(EditError::Device(_))));
        assert_eq!(d.len(), 2);
        apply(
            &mut d,
            DeviceEdit::Add(table("id = \"c\"\nocpp_id = \"CPC\"")),
        )
        .unwrap();
        assert_eq!(d.len(), 3);
    }

    #[test]
    fn update_keeps_the_id_and_checks_other_ocpp_ids() {
        let mut d = devices();
        let edit = |id: &str, text: &str| DeviceEdit::Update {
            id: id.into(),
            device: table(text),
        };
        let renamed = apply(&mut d, edit("a", "id = \"z\"\nocpp_id = \"CPA\""));
        assert!(matches!(renamed, Err(EditError::Device(_))));
        let clash = apply(&mut d, edit("a", "ocpp_id = \"CPB\""));
        assert!(matches!(clash, Err(EditError::Duplicate { .. })));
        let unknown = apply(&mut d, edit("q", "ocpp_id = \"CPQ\""));
        assert!(matches!(unknown, Err(EditError::NotFound(_))));
        apply(&mut d, edit("a", "ocpp_id = \"CPA\"\npoll_interval_ms = 5")).unwrap();
        assert_eq!(d[0].get("id").and_then(toml::Value::as_str), Some("a"));
        assert_eq!(
            d[0].get("poll_interval_ms")
                .and_then(toml::Value::as_integer),
            Some(5)
        );
    }

    #[test]
    fn delete_removes_only_that_device() {
        let mut d = devices();
        let unknown = apply(&mut d, DeviceEdit::Delete { id: "q".into() });
        assert!(matches!(unknown, Err(EditError::NotFound(_))));
        apply(&mut d, DeviceEdit::Delete { id: "a".into() }).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].get("id").and_then(toml::Value::as_str), Some("b"));
    }

    #[test]
    fn a_bad_edit_leaves_the_file_and_no_temp_file() {
        let dir = std::env::temp_dir().join(format!("ocpp-gw-edit-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("gw.toml");
        let text = "# kept\n[system]\n[csms]\nurl = \"ws://127.0.0.1:1/ocpp\"\n";
        fs::write(&path, text).unwrap();
        let device = table(
            "id = \"a\"\nocpp_id = \"CPA\"\ntemplate = \"none\"\nprotocol = \"modbus_tcp\"\n\
             [connection]\nip = \"127.0.0.1\"",
        );
        let result = edit_devices(&path, DeviceEdit::Add(device));
        let Err(EditError::Invalid(errors)) = result else {
            panic!("expected problems, got {result:?}");
        };
        assert!(errors.0.iter().all(|e| e.file == path), "{errors}");
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        assert!(!temp_path(&path).exists());
        let _ = fs::remove_dir_all(&dir);
    }
}
