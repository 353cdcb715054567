//! `/metrics` of the real binary parses as Prometheus text, and its values move when the
//! simulated charger and CSMS do. Also served on `system.metrics.prometheus_port`.

mod admin_common;

use std::collections::BTreeMap;
use std::net::TcpListener;

use admin_common::{loopback, request, scratch, wait_for, write_config, Gateway, WAIT};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::{ModbusChargerSim, STATUS_OCCUPIED};

/// One sample: metric name, labels, value.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A small parser of the Prometheus text format (0.0.4): `# HELP`/`# TYPE` lines, samples with
/// optional `{label="value",…}` (escapes `\\`, `\"`, `\n`) and a float value. Checks that every
/// sample belongs to a declared family and that histograms are consistent.
fn parse(text: &str) -> Result<Vec<Sample>, String> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut samples = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let at = |msg: &str| format!("line {}: {msg}: {line:?}", n + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    if !["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind) {
                        return Err(at("unknown type"));
                    }
                    if types.insert(name.to_string(), kind.to_string()).is_some() {
                        return Err(at("family declared twice"));
                    }
                }
                (Some("HELP"), Some(_), _) => {}
                _ => return Err(at("bad comment")),
            }
            continue;
        }
        let (name, rest) = match line.find(['{', ' ']) {
            Some(i) => line.split_at(i),
            None => return Err(at("no value")),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        {
            return Err(at("bad metric name"));
        }
        let mut labels = BTreeMap::new();
        let value_text = if let Some(body) = rest.strip_prefix('{') {
            let mut chars = body.chars();
            loop {
                let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
                if chars.next() != Some('"') {
                    return Err(at("label value not quoted"));
                }
                let mut value = String::new();
                loop {
                    match chars.next() {
                        Some('\\') => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some(c @ ('\\' | '"')) => value.push(c),
                            _ => return Err(at("bad escape")),
                        },
                        Some('"') => break,
                        Some(c) => value.push(c),
                        None => return Err(at("unterminated label value")),
                    }
                }
                labels.insert(key.trim().to_string(), value);
                match chars.next() {
                    Some(',') => continue,
                    Some('}') => break,
                    _ => return Err(at("bad label list")),
                }
            }
            chars.as_str().to_string()
        } else {
            rest.to_string()
        };
        let value_text = value_text.trim();
        let value = match value_text {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().map_err(|_| at("bad value"))?,
        };
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).map(String::as_str) == Some("histogram"))
            })
            .unwrap_or(name);
        if !types.contains_key(family) {
            return Err(at("sample of an undeclared family"));
        }
        samples.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    check_histograms(&samples)?;
    Ok(samples)
}

/// Buckets never decrease and the `+Inf` bucket equals `_count`.
fn check_histograms(samples: &[Sample]) -> Result<(), String> {
    let mut last: BTreeMap<(String, String), f64> = BTreeMap::new();
    for s in samples.iter().filter(|s| s.name.ends_with("_bucket")) {
        let mut series = s.labels.clone();
        let le = series.remove("le").ok_or("bucket without le")?;
        let key = (s.name.clone(), format!("{series:?}"));
        if let Some(prev) = last.insert(key, s.value) {
            if s.value < prev {
                return Err(format!("bucket le={le} decreases in {series:?}"));
            }
        }
        if le == "+Inf" {
            let count_name = s.name.replace("_bucket", "_count");
            let count = samples
                .iter()
                .find(|c| c.name == count_name && c.labels == series)
                .ok_or("histogram without _count")?;
            if count.value != s.value {
                return Err(format!("+Inf bucket {} != count {}", s.value, count.value));
            }
        }
    }
    Ok(())
}

/// The value of `name` with label `label=value` (or without labels).
fn value(samples: &[Sample], name: &str, label: Option<(&str, &str)>) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && match label {
                    None => s.labels.is_empty(),
                    Some((k, v)) => s.labels.get(k).map(String::as_str) == Some(v),
                }
        })
        .map(|s| s.value)
}

fn scrape(base: &str) -> Vec<Sample> {
    let a = request(base, "GET", "/metrics", None, None);
    assert_eq!(a.status, 200);
    assert!(a
        .header("Content-Type")
        .unwrap()
        .starts_with("text/plain; version=0.0.4"));
    parse(&a.body).unwrap_or_else(|e| panic!("{e}\n{}", a.body))
}

/// Waits until `f` holds for a fresh scrape.
fn until(base: &str, what: &str, f: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    wait_for(WAIT, || {
        let s = scrape(base);
        f(&s).then_some(s)
    })
    .unwrap_or_else(|| panic!("never: {what}; last scrape:\n{:#?}", scrape(base)))
}

#[test]
fn parser_rejects_malformed_expositions() {
    assert!(parse("# TYPE a counter\na 1\n").is_ok());
    assert!(parse("a 1\n").is_err(), "undeclared");
    assert!(parse("# TYPE a counter\na{x=\"1} 1\n").is_err());
    assert!(parse("# TYPE a counter\na{x=1} 1\n").is_err());
    assert!(parse("# TYPE a counter\na one\n").is_err());
    let bad_histogram =
        "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n";
    assert!(parse(bad_histogram).is_err());
}

#[test]
fn metrics_parse_and_move_with_the_devices() {
    let dir = scratch("metrics");
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let sim = ModbusChargerSim::start(loopback()).unwrap();
    // A free port for the Prometheus listener (the config cannot ask for port 0).
    let port = TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let system = format!(
        "\n[system.metrics]\nprometheus_port = {port}\n\n[system.admin]\nbind = \"127.0.0.1:0\"\n"
    );
    let config = write_config(&dir, &system, &csms.url(), &[sim.addr()]);
    let log = dir.join("stderr.log");
    let gateway = Gateway::start(&config, &log);
    let base = gateway.admin_url("API, status page and metrics");
    let prometheus = gateway.admin_url("metrics");
    // Loopback unless system.metrics.prometheus_bind says otherwise.
    assert_eq!(prometheus, format!("http://127.0.0.1:{port}"));

    let dev = Some(("device", "charger-1"));
    let station = Some(("station", "CP001"));
    let first = until(&base, "CP001 connected and charger-1 online", |s| {
        value(s, "ocppgw_csms_connected", station) == Some(1.0)
            && value(s, "ocppgw_device_online", dev) == Some(1.0)
            && value(s, "ocppgw_station_messages_sent_total", station) >= Some(2.0)
    });
    assert!(value(&first, "ocppgw_process_resident_memory_bytes", None).unwrap() > 1e6);
    assert!(value(&first, "ocppgw_process_cpu_seconds_total", None).is_some());
    assert!(value(&first, "ocppgw_channel_full_total", None).is_some());
    assert!(value(&first, "ocppgw_uptime_seconds", None).is_some());
    // A loaded machine may catch the hub with an event or two not taken yet; it drains.
    until(&base, "the device event queue drained", |s| {
        value(s, "ocppgw_queue_depth", Some(("queue", "device_events"))) == Some(0.0)
    });
    assert!(value(&first, "ocppgw_station_messages_received_total", station).unwrap() >= 1.0);
    assert_eq!(
        value(&first, "ocppgw_csms_reconnects_total", station),
        Some(0.0)
    );

    // Polls are timed.
    let polls = value(&first, "ocppgw_device_poll_duration_seconds_count", dev).unwrap();
    until(&base, "more polls", |s| {
        value(s, "ocppgw_device_poll_duration_seconds_count", dev) > Some(polls)
    });

    // A status change is one more StatusNotification sent and one more answer received.
    let sent = value(&first, "ocppgw_station_messages_sent_total", station).unwrap();
    sim.set_status(STATUS_OCCUPIED);
    until(&base, "a StatusNotification counted", |s| {
        value(s, "ocppgw_station_messages_sent_total", station) > Some(sent)
    });

    // The CSMS drops the link: the station reconnects and it is counted.
    assert!(csms.disconnect("CP001"));
    until(&base, "a reconnect counted", |s| {
        value(s, "ocppgw_csms_reconnects_total", station) >= Some(1.0)
            && value(s, "ocppgw_csms_connected", station) == Some(1.0)
    });

    // A charger that stops answering: failed polls are counted and it goes offline.
    let errors = value(&scrape(&base), "ocppgw_device_poll_errors_total", dev).unwrap();
    sim.set_silent(true);
    until(&base, "poll errors and offline", |s| {
        value(s, "ocppgw_device_poll_errors_total", dev) > Some(errors)
            && value(s, "ocppgw_device_online", dev) == Some(0.0)
    });

    // The Prometheus port serves the same metrics and nothing else.
    let other = scrape(&prometheus);
    assert_eq!(value(&other, "ocppgw_device_online", dev), Some(0.0));
    let api = request(&prometheus, "GET", "/api/v1/health", None, None);
    assert_eq!(api.status, 404);
}
