//! Values the CSMS set, kept across restarts: what to keep, and the one file it lives in.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use super::value::normalize;
use super::{same_component, same_variable, DeviceModel};
use crate::ocpp::messages::{Attribute, Component, Mutability, Variable};

/// The store's file name inside the station's directory.
pub const STORE_FILE: &str = "device_model.json";

/// The store's format; a file with another version is not read.
const VERSION: u32 = 1;

/// Why the device-model store could not be read or written.
#[derive(Debug, Error)]
pub enum StoreError {
    /// The file system refused.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// What went wrong.
        source: io::Error,
    },
    /// The file is not JSON (e.g. cut short by a crash of an older writer).
    #[error("{}: not JSON: {source}", path.display())]
    Corrupt {
        /// The store file.
        path: PathBuf,
        /// Where the JSON broke.
        source: serde_json::Error,
    },
    /// The JSON is not a device-model store this version understands.
    #[error("not a device-model store: {0}")]
    Format(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    version: u32,
    values: Vec<StoredValue>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredValue {
    component: Component,
    variable: Variable,
    attribute_type: Attribute,
    value: String,
}

impl DeviceModel {
    /// Every persistent value the CSMS changed, as the store keeps it. Write-only values are
    /// included: the station needs its password after a restart.
    pub fn persisted(&self) -> Value {
        let values = self
            .entries
            .iter()
            .flat_map(|e| {
                e.slots
                    .iter()
                    .filter(|s| s.persistent && s.changed)
                    .map(|s| StoredValue {
                        component: e.component.clone(),
                        variable: e.variable.clone(),
                        attribute_type: s.attribute,
                        value: s.value.clone(),
                    })
            })
            .collect();
        serde_json::to_value(Stored {
            version: VERSION,
            values,
        })
        .unwrap_or(Value::Null)
    }

    /// Takes back what [`DeviceModel::persisted`] produced; returns how many values were
    /// restored. A value that no longer fits its variable (the variable is gone, became
    /// read-only, or the limits changed) is logged and skipped.
    pub fn restore(&mut self, stored: &Value) -> Result<usize, StoreError> {
        let stored = Stored::deserialize(stored).map_err(|e| StoreError::Format(e.to_string()))?;
        if stored.version != VERSION {
            return Err(StoreError::Format(format!(
                "version {} (this gateway reads {VERSION})",
                stored.version
            )));
        }
        let mut restored = 0;
        for v in &stored.values {
            let name = format!("{}.{}", v.component.name, v.variable.name);
            let entry = self.entries.iter_mut().find(|e| {
                same_component(&v.component, &e.component)
                    && same_variable(&v.variable, &e.variable)
            });
            let Some(entry) = entry else {
                log::warn!("device model store: {name} no longer exists; ignored");
                continue;
            };
            let characteristics = entry.characteristics.clone();
            let slot = entry
                .slot_mut(v.attribute_type)
                .filter(|s| s.persistent && s.mutability != Mutability::ReadOnly);
            let Some(slot) = slot else {
                log::warn!("device model store: {name} is not writable; ignored");
                continue;
            };
            match normalize(&v.value, &characteristics) {
                Ok(value) => {
                    slot.value = value;
                    slot.changed = true;
                    restored += 1;
                }
                Err(e) => log::warn!("device model store: {name}: {e}; ignored"),
            }
        }
        Ok(restored)
    }
}

/// Reads `<dir>/device_model.json`; `None` when there is none yet.
pub fn read_store(dir: &Path) -> Result<Option<Value>, StoreError> {
    let path = dir.join(STORE_FILE);
    let bytes = match fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(StoreError::Io { path, source }),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| StoreError::Corrupt { path, source })
}

/// Replaces `<dir>/device_model.json` atomically: a crash leaves the old file or the new one,
/// never a torn one. The file is private to the gateway's user: it holds the password.
pub fn write_store(dir: &Path, stored: &Value) -> Result<(), StoreError> {
    let io_err = |path: &Path| {
        let path = path.to_owned();
        move |source| StoreError::Io { path, source }
    };
    fs::create_dir_all(dir).map_err(io_err(dir))?;
    let path = dir.join(STORE_FILE);
    let tmp = dir.join(format!("{STORE_FILE}.tmp"));
    let text = serde_json::to_vec_pretty(stored).map_err(|e| StoreError::Format(e.to_string()))?;
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    file.write_all(&text).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    drop(file);
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    // The rename itself is durable only once the directory is synced.
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}
