//! The operator's side of the admin API on a console: `ocpp-gw status` and `ocpp-gw token new`.
//! Plain text that fits 80 columns, no colour, readable at 115200 baud.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::auth::new_token;
use super::client::{self, ClientError};
use crate::config::{self, Role};

/// Longest wait for the daemon.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Console width.
const WIDTH: usize = 80;

/// Why `ocpp-gw status` could not show the status.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    #[error("{0}")]
    Config(String),
    #[error("cannot reach the gateway at {url}: {source}")]
    Unreachable { url: String, source: ClientError },
    #[error("the gateway answered {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("unexpected answer from the gateway: {0}")]
    Answer(String),
    #[error("cannot make a token: the system random generator failed")]
    Random,
}

/// Where the running daemon's admin API is and how to trust it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub url: String,
    /// For HTTPS: the gateway's certificate.
    pub pinned_cert: Option<PathBuf>,
}

/// The admin API of the gateway configured at `config_path`, reached over loopback when it
/// listens on every interface.
pub fn target_from_config(config_path: &Path) -> Result<Target, ConsoleError> {
    let config = config::load(config_path).map_err(|e| ConsoleError::Config(e.to_string()))?;
    let admin = config.system.admin.as_ref().ok_or_else(|| {
        ConsoleError::Config(format!(
            "{}: no [system.admin] section: the admin API is off",
            config_path.display()
        ))
    })?;
    let mut addr = admin.bind;
    if addr.ip().is_unspecified() {
        addr.set_ip(if addr.is_ipv4() {
            [127, 0, 0, 1].into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        });
    }
    let scheme = if admin.https { "https" } else { "http" };
    Ok(Target {
        url: format!("{scheme}://{addr}"),
        pinned_cert: admin
            .https
            .then(|| config.system.security.tls_cert_path.clone())
            .flatten(),
    })
}

/// Asks the daemon at `target` for its status and renders it for a console.
pub fn status(target: &Target, token: &str) -> Result<String, ConsoleError> {
    let status = fetch(target, "/api/v1/status", token)?;
    let devices = fetch(target, "/api/v1/devices", token)?;
    render(&target.url, &status, &devices)
}

fn fetch(target: &Target, path: &str, token: &str) -> Result<Value, ConsoleError> {
    let response = client::get(
        &target.url,
        path,
        Some(token),
        target.pinned_cert.as_deref(),
        TIMEOUT,
    )
    .map_err(|source| ConsoleError::Unreachable {
        url: target.url.clone(),
        source,
    })?;
    let body: Value = serde_json::from_str(&response.body)
        .map_err(|e| ConsoleError::Answer(format!("{path}: {e}")))?;
    if response.status != 200 {
        let message = body["error"]
            .as_str()
            .unwrap_or("no reason given")
            .to_string();
        return Err(ConsoleError::Refused {
            status: response.status,
            message,
        });
    }
    Ok(body)
}

fn render(url: &str, status: &Value, devices: &Value) -> Result<String, ConsoleError> {
    let missing = |what: &str| ConsoleError::Answer(format!("no {what} in the answer"));
    let gateway = &status["gateway"];
    let stations = status["csms"]["stations"]
        .as_array()
        .ok_or_else(|| missing("csms.stations"))?;
    let connected = stations
        .iter()
        .filter(|s| s["connected"].as_bool() == Some(true))
        .count();
    let counts = &status["devices"];
    let queues = &status["queues"];
    let mut out = vec![
        format!(
            "ocpp-gw {} at {url}, up {}",
            text(&gateway["version"]),
            uptime(gateway["uptime_s"].as_u64().unwrap_or(0))
        ),
        format!(
            "CSMS {}: {connected} of {} station(s) connected",
            text(&status["csms"]["url"]),
            stations.len()
        ),
        format!(
            "devices: {} ({} online, {} offline, {} unknown); channel-full events: {}",
            counts["total"],
            counts["online"],
            counts["offline"],
            counts["unknown"],
            gateway["channel_full_total"]
        ),
        format!(
            "queues: device events {}, link events {}, admin {}, modbus-tcp {}",
            queues["device_events"], queues["link_events"], queues["admin"], queues["modbus_tcp"]
        ),
        String::new(),
    ];
    let list = devices["devices"]
        .as_array()
        .ok_or_else(|| missing("devices"))?;
    const COLUMNS: [(&str, usize); 7] = [
        ("DEVICE", 14),
        ("STATION", 12),
        ("LINK", 7),
        ("CSMS", 8),
        ("CONNECTOR", 11),
        ("POWER", 9),
        ("ENERGY", 11),
    ];
    out.push(row(&COLUMNS.map(|(h, w)| (h.to_string(), w))));
    let mut errors = Vec::new();
    for d in list {
        let csms = if d["csms_connected"].as_bool() == Some(true) {
            text(&d["registration"])
        } else {
            "down".to_string()
        };
        let cells = [
            text(&d["id"]),
            text(&d["ocpp_id"]),
            text(&d["device_link"]),
            csms,
            text(&d["connector_status"]),
            reading(&d["power"]),
            reading(&d["energy"]),
        ];
        let mut widths = COLUMNS.iter().map(|(_, w)| *w);
        out.push(row(&cells.map(|c| (c, widths.next().unwrap_or(8)))));
        if let Some(e) = d["last_error"].as_str() {
            errors.push(fit(&format!("{}: {e}", text(&d["id"])), WIDTH));
        }
    }
    if list.is_empty() {
        out.push("(no devices configured)".into());
    }
    if !errors.is_empty() {
        out.push(String::new());
        out.push("last errors:".into());
        out.extend(errors);
    }
    Ok(out.join("\n"))
}

/// Cells padded to their widths (the last one right-aligned), one space apart.
fn row(cells: &[(String, usize)]) -> String {
    let last = cells.len().saturating_sub(1);
    let parts: Vec<String> = cells
        .iter()
        .enumerate()
        .map(|(i, (cell, width))| {
            let cell = fit(cell, *width);
            if i >= 5 || i == last {
                format!("{cell:>width$}")
            } else {
                format!("{cell:<width$}")
            }
        })
        .collect();
    parts.join(" ").trim_end().to_string()
}

/// `text` cut to `width` characters, ending in `~` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(width.saturating_sub(1)).collect();
    cut.push('~');
    cut
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    }
}

fn reading(v: &Value) -> String {
    match v["value"].as_f64() {
        None => "-".into(),
        Some(value) => {
            let number = if value.fract() == 0.0 && value.abs() < 1e15 {
                format!("{}", value as i64)
            } else {
                format!("{value:.1}")
            };
            match v["unit"].as_str() {
                Some(unit) => format!("{number} {unit}"),
                None => number,
            }
        }
    }
}

fn uptime(secs: u64) -> String {
    match secs {
        0..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        7200..=172_799 => format!("{} h {} min", secs / 3600, secs % 3600 / 60),
        _ => format!("{} d {} h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// `ocpp-gw token new`: a fresh token, shown once, and the config line with its hash.
pub fn token_new(role: Role, name: Option<&str>) -> Result<String, ConsoleError> {
    let (token, hash) = new_token().map_err(|_| ConsoleError::Random)?;
    let name = name.map_or_else(
        || format!("{role}-{}", hash.get(..8).unwrap_or_default()),
        str::to_owned,
    );
    Ok(format!(
        "New {role} token (shown only now; the gateway keeps only its hash):\n\n  {token}\n\n\
         Append this to the gateway's config file, then restart the gateway:\n\n\
         [[system.admin.tokens]]\nname = \"{name}\"\nrole = \"{role}\"\nsha256 = \"{hash}\"\n"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_fits_80_columns() {
        let status = json!({
            "gateway": {"version": "0.1.0", "uptime_s": 7300, "channel_full_total": 0},
            "queues": {"device_events": 0, "link_events": 1, "admin": 0, "modbus_tcp": 0},
            "csms": {"url": "ws://127.0.0.1:9000/ocpp", "stations": [
                {"station": "CP001", "device": "charger-1", "connected": true, "registration": "Accepted"}
            ]},
            "devices": {"total": 2, "online": 1, "offline": 1, "unknown": 0}
        });
        let devices = json!({"devices": [
            {"id": "charger-1", "ocpp_id": "CP001", "device_link": "online", "csms_connected": true,
             "registration": "Accepted", "connector_status": "Occupied",
             "power": {"value": 7400.0, "unit": "W"}, "energy": {"value": 12345.5, "unit": "Wh"},
             "last_error": null},
            {"id": "a-very-long-device-name-indeed", "ocpp_id": "CP002", "device_link": "offline",
             "csms_connected": false, "registration": "Unknown", "connector_status": "Unavailable",
             "power": null, "energy": null, "last_error": "connect to 10.0.0.9:502: connection refused ".repeat(3)}
        ]});
        let text = render("http://127.0.0.1:8080", &status, &devices).unwrap();
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH), "{text}");
        assert!(text.contains("1 of 1 station(s) connected"));
        assert!(text.contains("up 2 h 1 min"));
        assert!(text.contains("charger-1      CP001        online  Accepted Occupied"));
        assert!(text.contains("7400 W"));
        assert!(text.contains("12345.5 Wh"));
        assert!(text.contains("a-very-long-d~"));
        assert!(text.contains("last errors:"));
    }

    #[test]
    fn new_token_text() {
        let text = token_new(Role::Operator, None).unwrap();
        let token = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(super::super::TOKEN_PREFIX))
            .unwrap();
        let hash = super::super::hex(&super::super::sha256(token.as_bytes()));
        let entry = format!(
            "[[system.admin.tokens]]\nname = \"operator-{}\"\nrole = \"operator\"\nsha256 = \"{hash}\"\n",
            &hash[..8]
        );
        assert!(text.ends_with(&entry), "{text}");
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH));
    }
}
