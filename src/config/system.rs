//! Checks `[system]` and `[csms]` and fills in their defaults.

use std::net::Ipv6Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use log::LevelFilter;

use super::admin::check_admin;
use super::error::Problems;
use super::raw::{RawCsms, RawSystem};
use super::security::check_csms_security;
use super::{CsmsConfig, JournalConfig, LogRotation, MetricsConfig, SecurityConfig, SystemConfig};

/// Longest interval or timeout accepted, in seconds (one day); keeps deadline arithmetic far
/// from overflow and catches milliseconds typed into a `_sec` key.
const MAX_SECS: u64 = 86_400;

/// Checks `[system]`; relative paths are resolved against `config_dir`.
pub(super) fn check_system(raw: RawSystem, config_dir: &Path, p: &mut Problems) -> SystemConfig {
    let log_level = match raw.log_level {
        None => LevelFilter::Info,
        Some(level) => log_level(&level).unwrap_or_else(|| {
            p.add(
                "system.log_level",
                format!(
                    "unknown log level {level:?} (expected one of error, warn, info, debug, trace)"
                ),
            );
            LevelFilter::Info
        }),
    };
    let mut path = |key: &str, value: PathBuf| {
        if value.as_os_str().is_empty() {
            p.add(format!("system.{key}"), "must not be empty");
        }
        config_dir.join(value)
    };
    let data_dir = path(
        "data_dir",
        raw.data_dir.unwrap_or_else(|| "/var/lib/ocpp-gw".into()),
    );
    let templates_dir = path(
        "templates_dir",
        raw.templates_dir.unwrap_or_else(|| "templates".into()),
    );
    let log_file = raw.log_file.map(|v| path("log_file", v));
    let security = SecurityConfig {
        tls_cert_path: raw
            .security
            .tls_cert_path
            .map(|v| path("security.tls_cert_path", v)),
        tls_key_path: raw
            .security
            .tls_key_path
            .map(|v| path("security.tls_key_path", v)),
        ca_cert_path: raw
            .security
            .ca_cert_path
            .map(|v| path("security.ca_cert_path", v)),
        client_cert_required: raw.security.client_cert_required.unwrap_or(false),
    };
    match (&security.tls_cert_path, &security.tls_key_path) {
        (Some(_), None) => p.add(
            "system.security.tls_key_path",
            "missing key (tls_cert_path needs it)",
        ),
        (None, Some(_)) => p.add(
            "system.security.tls_cert_path",
            "missing key (tls_key_path needs it)",
        ),
        (None, None) if security.client_cert_required => p.add(
            "system.security.client_cert_required",
            "needs tls_cert_path and tls_key_path",
        ),
        _ => {}
    }
    let log_rotation = LogRotation {
        max_size_mb: at_least_one(
            p,
            "system.log_rotation.max_size_mb",
            raw.log_rotation.max_size_mb,
            10,
        ),
        max_files: at_least_one(
            p,
            "system.log_rotation.max_files",
            raw.log_rotation.max_files,
            5,
        ),
    };
    if raw.metrics.prometheus_port == Some(0) {
        p.add(
            "system.metrics.prometheus_port",
            "must be between 1 and 65535",
        );
    }
    let prometheus_bind = match raw.metrics.prometheus_bind.as_deref() {
        None => MetricsConfig::DEFAULT_BIND,
        Some(text) => text.parse().unwrap_or_else(|_| {
            p.add(
                "system.metrics.prometheus_bind",
                format!("{text:?} is not an IP address (e.g. \"127.0.0.1\" or \"0.0.0.0\")"),
            );
            MetricsConfig::DEFAULT_BIND
        }),
    };
    let max_messages = raw
        .journal
        .max_messages
        .unwrap_or(JournalConfig::DEFAULT_MAX_MESSAGES);
    if !(1..=JournalConfig::MAX_MAX_MESSAGES).contains(&max_messages) {
        p.add(
            "system.journal.max_messages",
            format!("must be between 1 and {}", JournalConfig::MAX_MAX_MESSAGES),
        );
    }
    let has_tls_cert = security.tls_cert_path.is_some() && security.tls_key_path.is_some();
    let admin = raw.admin.map(|a| check_admin(a, has_tls_cert, p));
    SystemConfig {
        log_level,
        data_dir,
        templates_dir,
        watch_config: raw.watch_config.unwrap_or(false),
        log_file,
        log_rotation,
        metrics: MetricsConfig {
            prometheus_port: raw.metrics.prometheus_port,
            prometheus_bind,
        },
        journal: JournalConfig { max_messages },
        security,
        admin,
    }
}

/// Checks `[csms]`; its security keys are checked against `[system.security]`.
pub(super) fn check_csms(raw: RawCsms, security: &SecurityConfig, p: &mut Problems) -> CsmsConfig {
    let url = check_url(&raw.url).unwrap_or_else(|message| {
        p.add("csms.url", message);
        raw.url.clone()
    });
    let (security_profile, basic_auth) = check_csms_security(&raw, &url, security, p);
    let mut secs = |key: &str, value: Option<u64>, default: u64, min: u64| {
        let value = value.unwrap_or(default);
        if !(min..=MAX_SECS).contains(&value) {
            p.add(
                format!("csms.{key}"),
                format!("must be between {min} and {MAX_SECS}"),
            );
        }
        Duration::from_secs(value)
    };
    CsmsConfig {
        reconnect_interval: secs("reconnect_interval_sec", raw.reconnect_interval_sec, 30, 1),
        reconnect_random_range: secs(
            "reconnect_random_range_sec",
            raw.reconnect_random_range_sec,
            10,
            0,
        ),
        heartbeat_interval: secs("heartbeat_interval_sec", raw.heartbeat_interval_sec, 300, 1),
        response_timeout: secs("response_timeout_sec", raw.response_timeout_sec, 30, 1),
        connect_timeout: secs("connect_timeout_sec", raw.connect_timeout_sec, 10, 1),
        ping_interval: secs("ping_interval_sec", raw.ping_interval_sec, 60, 0),
        max_reconnect_attempts: raw.max_reconnect_attempts.unwrap_or(10),
        url,
        security_profile,
        basic_auth,
    }
}

/// The five level names, any case.
fn log_level(name: &str) -> Option<LevelFilter> {
    match name.to_ascii_lowercase().as_str() {
        "error" => Some(LevelFilter::Error),
        "warn" => Some(LevelFilter::Warn),
        "info" => Some(LevelFilter::Info),
        "debug" => Some(LevelFilter::Debug),
        "trace" => Some(LevelFilter::Trace),
        _ => None,
    }
}

/// `value` (or `default`), which must not be zero.
fn at_least_one<T: Copy + Default + PartialEq>(
    p: &mut Problems,
    key: &str,
    value: Option<T>,
    default: T,
) -> T {
    let value = value.unwrap_or(default);
    if value == T::default() {
        p.add(key, "must be at least 1");
    }
    value
}

/// Checks a CSMS URL (`ws[s]://host[:port][/path]`) and strips trailing slashes, since the
/// station id is appended as one more path segment.
fn check_url(url: &str) -> Result<String, String> {
    let rest = ["ws://", "wss://"]
        .iter()
        .find_map(|scheme| {
            url.get(..scheme.len())
                .filter(|s| s.eq_ignore_ascii_case(scheme))
                .and_then(|_| url.get(scheme.len()..))
        })
        .ok_or_else(|| format!("{url:?}: scheme must be ws:// or wss://"))?;
    if let Some(c) = url
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#'))
    {
        return Err(format!(
            "{url:?}: {c:?} is not allowed (no spaces, query or fragment)"
        ));
    }
    let authority = rest.split('/').next().unwrap_or(rest);
    if authority.contains('@') {
        return Err(format!("{url:?}: user info is not allowed"));
    }
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (addr, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{url:?}: unclosed '['"))?;
            if addr.parse::<Ipv6Addr>().is_err() {
                return Err(format!("{url:?}: {addr:?} is not an IPv6 address"));
            }
            match after {
                "" => (addr, None),
                _ => (
                    addr,
                    Some(
                        after
                            .strip_prefix(':')
                            .ok_or_else(|| format!("{url:?}: bad port"))?,
                    ),
                ),
            }
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if host.is_empty() {
        return Err(format!("{url:?}: no host"));
    }
    if !authority.starts_with('[') && !is_host(host) {
        return Err(format!(
            "{url:?}: {host:?} is not a host name or IP address"
        ));
    }
    if let Some(port) = port {
        if !matches!(port.parse::<u16>(), Ok(1..)) {
            return Err(format!(
                "{url:?}: port {port:?} is not a number between 1 and 65535"
            ));
        }
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// An IPv4 address or DNS host name (letters, digits, '-', dot-separated labels of ≤ 63).
pub(super) fn is_host(host: &str) -> bool {
    if host.parse::<std::net::IpAddr>().is_ok() {
        return true;
    }
    host.len() <= 253
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            check_url("wss://csms.example.com/ocpp/"),
            Ok("wss://csms.example.com/ocpp".into())
        );
        assert_eq!(
            check_url("ws://127.0.0.1:9000"),
            Ok("ws://127.0.0.1:9000".into())
        );
        assert_eq!(
            check_url("WS://[::1]:9000/o"),
            Ok("WS://[::1]:9000/o".into())
        );
        assert_eq!(check_url("ws://[::1]/"), Ok("ws://[::1]".into()));
        for bad in [
            "http://x/ocpp",
            "ws://",
            "ws:///ocpp",
            "ws://host:0/",
            "ws://host:x/",
            "ws://host:70000",
            "ws://user@host/",
            "ws://host/a b",
            "ws://host/?q=1",
            "ws://[::1/",
            "ws://[zz]/",
            "ws://[::1]x/",
            "ws://bad_host/",
            "wss",
        ] {
            assert!(check_url(bad).is_err(), "{bad}");
        }
        assert_eq!(
            check_url("http://x/ocpp"),
            Err("\"http://x/ocpp\": scheme must be ws:// or wss://".into())
        );
    }

    #[test]
    fn hosts() {
        for good in [
            "charger-1",
            "192.168.1.100",
            "a.b.example",
            "::1",
            "localhost",
        ] {
            assert!(is_host(good), "{good}");
        }
        for bad in ["", "a..b", "-a", "a-", "a b", "a_b", "x.", &"a".repeat(64)] {
            assert!(!is_host(bad), "{bad}");
        }
    }

    #[test]
    fn log_levels_ignore_case() {
        assert_eq!(log_level("INFO"), Some(LevelFilter::Info));
        assert_eq!(log_level("Trace"), Some(LevelFilter::Trace));
        assert_eq!(log_level("off"), None);
        assert_eq!(log_level("verbose"), None);
    }
}
