//! Everything `run` loads from disk before it starts a thread, in one function that
//! `check-config` calls too, so a config that passes the check is one `run` accepts: the CSMS
//! TLS material, the admin server's certificate, a writable data directory and log file.

use std::ffi::CString;
use std::fs::OpenOptions;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use crate::admin::AdminSettings;
use crate::config::{Config, ConfigError, ConfigErrors};
use crate::daemon::tls_config;

/// What [`load`] read, ready for the daemon.
pub struct Loaded {
    /// The TLS settings of `wss://` links; `None` for `ws://` or the defaults.
    pub csms_tls: Option<Arc<rustls::ClientConfig>>,
    /// The `[system.admin]` listener with its certificate loaded, when configured.
    pub admin: Option<AdminSettings>,
}

/// Loads the TLS material and checks the paths `run` writes; every problem is reported as
/// `file: key: what is wrong`.
pub fn load(config: &Config) -> Result<Loaded, ConfigErrors> {
    let mut problems = Vec::new();
    let mut problem = |key: &str, message: String| {
        problems.push(ConfigError {
            file: config.path.clone(),
            key: key.to_string(),
            message,
        });
    };
    let csms_tls = tls_config(config).unwrap_or_else(|e| {
        problem("system.security", e.to_string());
        None
    });
    let system = &config.system;
    let admin = system.admin.as_ref().and_then(|admin| {
        match AdminSettings::from_config(admin, &system.security, &config.csms.url) {
            Ok(mut settings) => {
                settings.config_path = Some(config.path.clone());
                Some(settings)
            }
            Err(e) => {
                problem("system.admin", e.to_string());
                None
            }
        }
    });
    if let Err(e) = writable_dir(&system.data_dir) {
        problem("system.data_dir", e);
    }
    if let Some(file) = &system.log_file {
        if let Err(e) = appendable(file) {
            problem("system.log_file", e);
        }
    }
    if problems.is_empty() {
        Ok(Loaded { csms_tls, admin })
    } else {
        Err(ConfigErrors(problems))
    }
}

/// `dir` is a writable directory, or can be made one: its nearest existing ancestor is a
/// writable directory.
fn writable_dir(dir: &Path) -> Result<(), String> {
    let existing = dir
        .ancestors()
        .find(|a| a.symlink_metadata().is_ok())
        .unwrap_or(dir);
    if !existing.is_dir() {
        return Err(format!(
            "{}: {} is not a directory",
            dir.display(),
            existing.display()
        ));
    }
    if !may_write(existing) {
        return Err(format!(
            "{}: {} is not writable by this user",
            dir.display(),
            existing.display()
        ));
    }
    Ok(())
}

/// `file` can be opened for appending, or created in its (existing) directory.
fn appendable(file: &Path) -> Result<(), String> {
    if file.exists() {
        return OpenOptions::new()
            .append(true)
            .open(file)
            .map(drop)
            .map_err(|e| format!("{}: cannot be opened for appending: {e}", file.display()));
    }
    let parent = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(format!(
            "{}: {} is not a directory",
            file.display(),
            parent.display()
        ));
    }
    if !may_write(parent) {
        return Err(format!(
            "{}: {} is not writable by this user",
            file.display(),
            parent.display()
        ));
    }
    Ok(())
}

/// Whether this process may create entries in directory `dir` (access(2), W_OK and X_OK).
fn may_write(dir: &Path) -> bool {
    let Ok(path) = CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: access(2) reads a NUL-terminated path that outlives the call.
    unsafe { libc::access(path.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_checked_without_creating_anything() {
        let dir = std::env::temp_dir().join(format!("ocpp-gw-preflight-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("file");
        std::fs::write(&file, "").unwrap();
        assert_eq!(writable_dir(&dir.join("new/deeper")), Ok(()));
        assert!(!dir.join("new").exists());
        assert!(writable_dir(&file.join("data")).is_err());
        assert_eq!(appendable(&dir.join("gw.log")), Ok(()));
        assert!(!dir.join("gw.log").exists());
        assert_eq!(appendable(&file), Ok(()));
        assert!(appendable(&file.join("gw.log")).is_err());
        assert!(appendable(&dir.join("missing/gw.log")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
