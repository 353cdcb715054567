//! The status page: one self-contained HTML document (inline CSS, no scripts, no outside
//! assets) that refreshes itself, for an installer's laptop on an isolated site network.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::chan::CHANNEL_FULL_TOTAL;
use crate::hub::{DeviceLink, DeviceSummary, GatewaySnapshot, Reading};
use crate::metrics;

use super::views::registration;

/// Seconds between automatic reloads.
const REFRESH_SECS: u32 = 5;

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#1d2329;background:#f6f7f9}\
h1{font-size:1.4rem;margin:0 0 .3rem}\
p.meta{color:#5b6570;margin:0 0 1rem}\
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 3px #0002}\
th,td{padding:.45rem .6rem;text-align:left;border-bottom:1px solid #e3e6ea;white-space:nowrap}\
th{background:#eef1f4;font-weight:600;font-size:.85rem}\
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\
td.err{white-space:normal;color:#a33;max-width:22rem}\
.ok{color:#176b2c;font-weight:600}.bad{color:#b3261e;font-weight:600}.unk{color:#7a6100}\
.status-Available{color:#176b2c}.status-Occupied{color:#0b57d0}.status-Faulted{color:#b3261e}\
.status-Unavailable{color:#7a6100}.status-Reserved{color:#6a1b9a}\
p.empty{padding:1rem;background:#fff}";

/// The page for `snapshot`.
pub(super) fn render(snapshot: &GatewaySnapshot) -> String {
    let devices = &snapshot.devices;
    let online = devices
        .iter()
        .filter(|d| d.device_link == DeviceLink::Online)
        .count();
    let connected = devices.iter().filter(|d| d.csms_connected).count();
    let mut html = head("ocpp-gw status");
    let _ = write!(
        html,
        "<h1>ocpp-gw {version}</h1>\n<p class=\"meta\">up {uptime} · {total} device(s), \
         {online} online · {connected} connected to the CSMS · {full} channel-full event(s) · \
         refreshes every {REFRESH_SECS} s</p>\n",
        version = env!("CARGO_PKG_VERSION"),
        uptime = age(metrics::uptime()),
        total = devices.len(),
        full = CHANNEL_FULL_TOTAL.load(Ordering::Relaxed),
    );
    if devices.is_empty() {
        html.push_str("<p class=\"empty\">No devices are configured.</p>\n");
    } else {
        html.push_str(
            "<table>\n<thead><tr><th>Device</th><th>Station</th><th>Protocol</th>\
             <th>Device link</th><th>CSMS link</th><th>Connector</th><th>Transaction</th>\
             <th class=\"num\">Power</th><th class=\"num\">Energy</th><th>Last error</th>\
             <th class=\"num\">Last reading</th></tr></thead>\n<tbody>\n",
        );
        for d in devices {
            row(&mut html, d);
        }
        html.push_str("</tbody>\n</table>\n");
    }
    html.push_str("</body>\n</html>\n");
    html
}

/// The page shown when the hub does not answer.
pub(super) fn unavailable(message: &str) -> String {
    let mut html = head("ocpp-gw status: unavailable");
    let _ = write!(
        html,
        "<h1>ocpp-gw {}</h1>\n<p class=\"empty bad\">Status unavailable: {}</p>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        escape(message)
    );
    html
}

fn head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    )
}

fn row(html: &mut String, d: &DeviceSummary) {
    let (link_class, link_text) = match d.device_link {
        DeviceLink::Online => ("ok", "online"),
        DeviceLink::Offline => ("bad", "offline"),
        DeviceLink::Unknown => ("unk", "unknown"),
    };
    let csms = if d.csms_connected {
        format!(
            "<span class=\"ok\">connected</span> · {}",
            registration(d.registration)
        )
    } else {
        "<span class=\"bad\">disconnected</span>".to_string()
    };
    let connector = match d.connector_status {
        Some(s) => format!("<span class=\"status-{s}\">{s}</span>"),
        None => String::new(),
    };
    let _ = writeln!(
        html,
        "<tr data-station=\"{station}\"><td>{id}</td><td>{station}</td><td>{protocol}</td>\
         <td class=\"{link_class}\">{link_text}</td><td>{csms}</td><td>{connector}</td>\
         <td>{transaction}</td><td class=\"num\">{power}</td><td class=\"num\">{energy}</td>\
         <td class=\"err\">{error}</td><td class=\"num\">{reading}</td></tr>",
        id = escape(&d.id),
        station = escape(&d.ocpp_id),
        protocol = d.protocol,
        transaction = escape(d.transaction_id.as_deref().unwrap_or_default()),
        power = d.power.as_ref().map(quantity).unwrap_or_default(),
        energy = d.energy.as_ref().map(quantity).unwrap_or_default(),
        error = escape(d.last_error.as_deref().unwrap_or_default()),
        reading = d
            .last_reading_age
            .map(|a| format!("{} ago", age(a)))
            .unwrap_or_default(),
    );
}

/// `7400 W`, `12.5 A`: at most one decimal, then the template's unit.
fn quantity(r: &Reading) -> String {
    let number = if r.value.fract() == 0.0 && r.value.abs() < 1e15 {
        format!("{}", r.value as i64)
    } else {
        format!("{:.1}", r.value)
    };
    match &r.unit {
        Some(unit) => format!("{number} {}", escape(unit)),
        None => number,
    }
}

/// `0.4 s`, `12 s`, `3 min`, `5 h`, `2 d`.
fn age(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..=9 => format!("{:.1} s", d.as_secs_f64()),
        10..=119 => format!("{secs} s"),
        120..=7199 => format!("{} min", secs / 60),
        7200..=172_799 => format!("{} h", secs / 3600),
        _ => format!("{} d", secs / 86_400),
    }
}

/// Escapes text for HTML element content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Protocol;
    use crate::metrics::HubGauges;
    use crate::ocpp::messages::ConnectorStatus;
    use crate::station::Registration;

    fn summary(id: &str) -> DeviceSummary {
        DeviceSummary {
            id: id.into(),
            ocpp_id: "CP<1>".into(),
            protocol: Protocol::ModbusTcp,
            template: "t".into(),
            device_link: DeviceLink::Online,
            csms_connected: true,
            registration: Registration::Accepted,
            connector_status: Some(ConnectorStatus::Occupied),
            transaction_id: Some("tx-7".into()),
            power: Some(Reading {
                value: 7400.0,
                unit: Some("W".into()),
            }),
            energy: None,
            last_error: Some("bad <value> & \"more\"".into()),
            last_reading_age: Some(Duration::from_millis(400)),
        }
    }

    #[test]
    fn renders_one_escaped_row_per_device() {
        let page = render(&GatewaySnapshot {
            queues: HubGauges::default(),
            devices: vec![summary("a"), summary("b")],
        });
        assert_eq!(page.matches("<tr data-station=").count(), 2);
        assert!(page.contains("<td>CP&lt;1&gt;</td>"));
        assert!(page.contains("bad &lt;value&gt; &amp; &quot;more&quot;"));
        assert!(page.contains("7400 W"));
        assert!(page.contains("0.4 s ago"));
        assert!(page.contains("<meta http-equiv=\"refresh\" content=\"5\">"));
        assert!(
            !page.contains("<script") && !page.contains("http://") && !page.contains("https://")
        );
    }

    #[test]
    fn ages_and_quantities() {
        assert_eq!(age(Duration::from_secs(75)), "75 s");
        assert_eq!(age(Duration::from_secs(600)), "10 min");
        assert_eq!(age(Duration::from_secs(3 * 86_400)), "3 d");
        let r = |value, unit: Option<&str>| Reading {
            value,
            unit: unit.map(Into::into),
        };
        assert_eq!(quantity(&r(12.34, Some("A"))), "12.3 A");
        assert_eq!(quantity(&r(-3.0, None)), "-3");
    }
}
