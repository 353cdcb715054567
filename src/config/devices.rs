//! Checks `[[devices]]`: identities, connections by protocol, and devices sharing a bus.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::error::Problems;
use super::parse::from_table;
use super::raw::{RawDevice, RawEchonetLite, RawModbusRtu, RawModbusTcp};
use super::security::check_device_password;
use super::system::is_host;
use super::{Connection, DeviceConfig, Parity, Protocol, RtuTransport, TcpTransport};

/// Most devices one serial port may carry: an RS-485 segment drives 32 unit loads, and every
/// unit polled in turn lengthens the poll cycle of all the others.
pub const MAX_DEVICES_PER_BUS: usize = 25;
/// Most connections to one Modbus TCP endpoint.
const MAX_POOL_SIZE: u8 = 8;
/// A merged read spans at most 125 registers, so a gap of 124 is the widest that can matter.
const MAX_READ_GAP: u16 = 124;
/// Consecutive failed polls before a Modbus device is reported offline, when not configured.
const DEFAULT_OFFLINE_AFTER_FAILURES: u32 = 3;
/// Most failed polls a device may be given: beyond this a dead charger looks alive for minutes.
const MAX_OFFLINE_AFTER_FAILURES: u32 = 100;

/// The `connection` keys each protocol takes.
fn connection_keys(protocol: Protocol) -> &'static [&'static str] {
    match protocol {
        Protocol::ModbusTcp => &[
            "ip",
            "port",
            "unit_id",
            "connect_timeout_ms",
            "response_timeout_ms",
            "pool_size",
            "max_read_gap",
            "offline_after_failures",
        ],
        Protocol::ModbusRtu => &[
            "port",
            "baud_rate",
            "data_bits",
            "stop_bits",
            "parity",
            "unit_id",
            "response_timeout_ms",
            "turnaround_ms",
            "max_read_gap",
            "offline_after_failures",
        ],
        Protocol::EchonetLite => &["ip", "eoj"],
    }
}

/// Checks every device (`None`: it could not be parsed, already reported); `None` where a
/// device is too broken to build (its problems are recorded).
pub(super) fn check_devices(
    raw: &[Option<RawDevice>],
    file: &Path,
    p: &mut Problems,
) -> Vec<Option<DeviceConfig>> {
    let devices: Vec<_> = raw
        .iter()
        .enumerate()
        .map(|(i, d)| d.as_ref().and_then(|d| check_device(i, d, file, p)))
        .collect();
    let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
    let mut ocpp_ids: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, d) in raw.iter().enumerate() {
        let Some(d) = d else { continue };
        match ids.get(d.id.as_str()) {
            Some(first) => p.add(
                format!("devices[{i}].id"),
                format!("duplicate of devices[{first}].id {:?}", d.id),
            ),
            None => {
                ids.insert(&d.id, i);
            }
        }
        match ocpp_ids.get(d.ocpp_id.as_str()) {
            Some(first) => p.add(
                format!("devices[{i}].ocpp_id"),
                format!("duplicate of devices[{first}].ocpp_id {:?}", d.ocpp_id),
            ),
            None => {
                ocpp_ids.insert(&d.ocpp_id, i);
            }
        }
    }
    check_shared_endpoints(&devices, p);
    devices
}

/// Whether `name` can be a template file stem: no path tricks, no hidden files.
pub(super) fn is_template_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Longest device id.
pub const MAX_DEVICE_ID: usize = 64;
/// Longest OCPP station identity (OCPP 2.0.1 identifierString of the connection URL).
pub const MAX_OCPP_ID: usize = 48;

/// Why `id` cannot be a device id, if it cannot. Device ids end up in log lines, audit lines,
/// metric labels and admin URLs, so only characters that cannot split or escape any of them.
pub fn device_id_problem(id: &str) -> Option<String> {
    (!is_id(id, MAX_DEVICE_ID))
        .then(|| format!("{id:?} must be 1 to {MAX_DEVICE_ID} characters of A-Z a-z 0-9 . _ -"))
}

/// Why `id` cannot be an OCPP station identity, if it cannot: it becomes a URL path segment.
pub fn ocpp_id_problem(id: &str) -> Option<String> {
    (!is_id(id, MAX_OCPP_ID))
        .then(|| format!("{id:?} must be 1 to {MAX_OCPP_ID} characters of A-Z a-z 0-9 . _ -"))
}

/// 1 to `max` unreserved characters.
fn is_id(id: &str, max: usize) -> bool {
    (1..=max).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Checks one device; `None` if it has any problem, so later cross-device checks do not compare
/// against values already known to be wrong.
fn check_device(i: usize, d: &RawDevice, file: &Path, p: &mut Problems) -> Option<DeviceConfig> {
    let before = p.len();
    let key = |k: &str| format!("devices[{i}].{k}");
    if let Some(problem) = device_id_problem(&d.id) {
        p.add(key("id"), problem);
    }
    if let Some(problem) = ocpp_id_problem(&d.ocpp_id) {
        p.add(key("ocpp_id"), problem);
    }
    if !is_template_name(&d.template) {
        p.add(
            key("template"),
            format!(
                "{:?} is not a template name (A-Z a-z 0-9 . _ -, not starting with '.')",
                d.template
            ),
        );
    }
    let poll_ms = d.poll_interval_ms.unwrap_or(1000);
    if !(100..=3_600_000).contains(&poll_ms) {
        p.add(key("poll_interval_ms"), "must be between 100 and 3600000");
    }
    let Some(protocol) = Protocol::from_name(&d.protocol) else {
        let known: Vec<_> = Protocol::names().collect();
        p.add(
            key("protocol"),
            format!(
                "unknown protocol {:?} (expected one of {})",
                d.protocol,
                known.join(", ")
            ),
        );
        return None;
    };
    let basic_auth_password = check_device_password(i, d, p);
    let connection = check_connection(i, protocol, d.connection.clone(), file, p)?;
    (p.len() == before).then(|| DeviceConfig {
        id: d.id.clone(),
        template: d.template.clone(),
        protocol,
        ocpp_id: d.ocpp_id.clone(),
        poll_interval: Duration::from_millis(poll_ms),
        connection,
        basic_auth_password,
    })
}

fn check_connection(
    i: usize,
    protocol: Protocol,
    table: toml::Table,
    file: &Path,
    p: &mut Problems,
) -> Option<Connection> {
    let prefix = format!("devices[{i}].connection");
    let key = |k: &str| format!("{prefix}.{k}");
    // Report every stray key at once, naming the protocol it belongs to, before serde stops at one.
    let mut stray = false;
    for k in table
        .keys()
        .filter(|k| !connection_keys(protocol).contains(&k.as_str()))
    {
        stray = true;
        let owners: Vec<_> = Protocol::all()
            .filter(|q| connection_keys(*q).contains(&k.as_str()))
            .map(Protocol::as_str)
            .collect();
        if owners.is_empty() {
            p.add(key(k), "unknown key");
        } else {
            p.add(
                key(k),
                format!("not a {protocol} key (it is for {})", owners.join(", ")),
            );
        }
    }
    if stray {
        return None;
    }
    match protocol {
        Protocol::ModbusTcp => {
            let raw: RawModbusTcp = from_table(file, &prefix, table)
                .map_err(|e| p.extend(e))
                .ok()?;
            check_host(p, key("ip"), &raw.ip);
            let port = raw.port.unwrap_or(502);
            if port == 0 {
                p.add(key("port"), "must be between 1 and 65535");
            }
            let defaults = TcpTransport::default();
            let transport = TcpTransport {
                connect_timeout: millis(
                    p,
                    key("connect_timeout_ms"),
                    raw.connect_timeout_ms,
                    defaults.connect_timeout,
                    (100, 60_000),
                ),
                response_timeout: millis(
                    p,
                    key("response_timeout_ms"),
                    raw.response_timeout_ms,
                    defaults.response_timeout,
                    (10, 60_000),
                ),
                pool_size: raw.pool_size.unwrap_or(defaults.pool_size),
                max_read_gap: read_gap(p, key("max_read_gap"), raw.max_read_gap),
            };
            if !(1..=MAX_POOL_SIZE).contains(&transport.pool_size) {
                p.add(
                    key("pool_size"),
                    format!("must be between 1 and {MAX_POOL_SIZE}"),
                );
            }
            Some(Connection::ModbusTcp {
                ip: raw.ip,
                port,
                unit_id: raw.unit_id.unwrap_or(1),
                transport,
                offline_after_failures: offline_after(
                    p,
                    key("offline_after_failures"),
                    raw.offline_after_failures,
                ),
            })
        }
        Protocol::ModbusRtu => {
            let raw: RawModbusRtu = from_table(file, &prefix, table)
                .map_err(|e| p.extend(e))
                .ok()?;
            if raw.port.trim().is_empty() {
                p.add(key("port"), "must not be empty");
            }
            let baud_rate = raw.baud_rate.unwrap_or(9600);
            if baud_rate == 0 {
                p.add(key("baud_rate"), "must be at least 1");
            }
            let data_bits = raw.data_bits.unwrap_or(8);
            if !(5..=8).contains(&data_bits) {
                p.add(key("data_bits"), "must be between 5 and 8");
            }
            let stop_bits = raw.stop_bits.unwrap_or(1);
            if !(1..=2).contains(&stop_bits) {
                p.add(key("stop_bits"), "must be 1 or 2");
            }
            let parity = match raw.parity {
                None => Parity::None,
                Some(name) => Parity::from_name(&name).unwrap_or_else(|| {
                    p.add(
                        key("parity"),
                        format!("unknown parity {name:?} (expected one of none, even, odd)"),
                    );
                    Parity::None
                }),
            };
            let unit_id = raw.unit_id.unwrap_or(1);
            if !(1..=247).contains(&unit_id) {
                p.add(key("unit_id"), "must be between 1 and 247 on a serial bus");
            }
            let defaults = RtuTransport::default();
            let transport = RtuTransport {
                response_timeout: millis(
                    p,
                    key("response_timeout_ms"),
                    raw.response_timeout_ms,
                    defaults.response_timeout,
                    (10, 60_000),
                ),
                turnaround: millis(
                    p,
                    key("turnaround_ms"),
                    raw.turnaround_ms,
                    defaults.turnaround,
                    (0, 10_000),
                ),
                max_read_gap: read_gap(p, key("max_read_gap"), raw.max_read_gap),
            };
            Some(Connection::ModbusRtu {
                port: raw.port,
                baud_rate,
                data_bits,
                stop_bits,
                parity,
                unit_id,
                transport,
                offline_after_failures: offline_after(
                    p,
                    key("offline_after_failures"),
                    raw.offline_after_failures,
                ),
            })
        }
        Protocol::EchonetLite => {
            let raw: RawEchonetLite = from_table(file, &prefix, table)
                .map_err(|e| p.extend(e))
                .ok()?;
            check_host(p, key("ip"), &raw.ip);
            let eoj = raw.eoj.and_then(|text| {
                let code = parse_eoj(&text);
                if code.is_none() {
                    p.add(
                        key("eoj"),
                        format!("{text:?} is not a 6-digit hex object code like \"0x02A101\""),
                    );
                }
                code
            });
            Some(Connection::EchonetLite { ip: raw.ip, eoj })
        }
    }
}

/// A `_ms` key within `min..=max`, or `default` when absent.
fn millis(
    p: &mut Problems,
    key: String,
    value: Option<u64>,
    default: Duration,
    (min, max): (u64, u64),
) -> Duration {
    match value {
        None => default,
        Some(ms) if (min..=max).contains(&ms) => Duration::from_millis(ms),
        Some(_) => {
            p.add(key, format!("must be between {min} and {max}"));
            default
        }
    }
}

/// `offline_after_failures` within `1..=MAX_OFFLINE_AFTER_FAILURES`, or the default when absent.
fn offline_after(p: &mut Problems, key: String, value: Option<u32>) -> u32 {
    let failures = value.unwrap_or(DEFAULT_OFFLINE_AFTER_FAILURES);
    if !(1..=MAX_OFFLINE_AFTER_FAILURES).contains(&failures) {
        p.add(
            key,
            format!("must be between 1 and {MAX_OFFLINE_AFTER_FAILURES}"),
        );
    }
    failures
}

fn read_gap(p: &mut Problems, key: String, value: Option<u16>) -> u16 {
    let gap = value.unwrap_or(TcpTransport::default().max_read_gap);
    if gap > MAX_READ_GAP {
        p.add(key, format!("must be at most {MAX_READ_GAP}"));
    }
    gap
}

fn check_host(p: &mut Problems, key: String, host: &str) {
    if !is_host(host) {
        p.add(key, format!("{host:?} is not an IP address or host name"));
    }
}

/// `0x` and six hex digits: class group, class, instance.
fn parse_eoj(text: &str) -> Option<u32> {
    let hex = text
        .strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// Devices on one serial port share its line and bus settings, need distinct unit ids and are
/// at most `MAX_DEVICES_PER_BUS`; devices at one TCP endpoint share its connection settings; two
/// devices at the same address would be the same charger twice.
fn check_shared_endpoints(devices: &[Option<DeviceConfig>], p: &mut Problems) {
    // The first device seen on each serial port and TCP endpoint: the one the others must match.
    let mut buses: BTreeMap<&str, (usize, &Connection)> = BTreeMap::new();
    let mut bus_sizes: BTreeMap<&str, usize> = BTreeMap::new();
    let mut tcp: BTreeMap<(&str, u16), (usize, &TcpTransport)> = BTreeMap::new();
    let mut endpoints: BTreeMap<String, usize> = BTreeMap::new();
    for (i, d) in devices.iter().enumerate() {
        let Some(d) = d else { continue };
        let endpoint = match &d.connection {
            Connection::ModbusTcp {
                ip,
                port,
                unit_id,
                transport,
                ..
            } => {
                let (first, shared) = *tcp.entry((ip, *port)).or_insert((i, transport));
                let same = Same {
                    i,
                    first,
                    place: format!("at the same endpoint {ip}:{port}"),
                };
                let ms = |d: Duration| d.as_millis();
                same.check(
                    p,
                    "connect_timeout_ms",
                    ms(transport.connect_timeout),
                    ms(shared.connect_timeout),
                );
                same.check(
                    p,
                    "response_timeout_ms",
                    ms(transport.response_timeout),
                    ms(shared.response_timeout),
                );
                same.check(p, "pool_size", transport.pool_size, shared.pool_size);
                same.check(
                    p,
                    "max_read_gap",
                    transport.max_read_gap,
                    shared.max_read_gap,
                );
                format!("modbus_tcp {ip} port {port} unit_id {unit_id}")
            }
            Connection::EchonetLite { ip, eoj } => match eoj {
                Some(eoj) => format!("echonet_lite {ip} eoj 0x{eoj:06X}"),
                None => format!("echonet_lite {ip}"),
            },
            Connection::ModbusRtu { port, unit_id, .. } => {
                let (first, shared) = *buses.entry(port).or_insert((i, &d.connection));
                check_same_bus(p, i, first, &d.connection, shared);
                let size = bus_sizes.entry(port).or_insert(0);
                *size += 1;
                if *size == MAX_DEVICES_PER_BUS + 1 {
                    let total = devices
                        .iter()
                        .flatten()
                        .filter(|d| matches!(&d.connection, Connection::ModbusRtu { port: q, .. } if q == port))
                        .count();
                    p.add(
                        format!("devices[{i}].connection.port"),
                        format!(
                            "too many devices on serial port {port}: {total}, at most {MAX_DEVICES_PER_BUS} per bus"
                        ),
                    );
                }
                format!("modbus_rtu {port} unit_id {unit_id}")
            }
        };
        match endpoints.get(&endpoint) {
            Some(first) => p.add(
                format!("devices[{i}].connection"),
                format!("same device as devices[{first}] ({endpoint})"),
            ),
            None => {
                endpoints.insert(endpoint, i);
            }
        }
    }
}

/// Device `i` must agree with device `first` on what they share (`place` says what that is).
struct Same {
    i: usize,
    first: usize,
    place: String,
}

impl Same {
    fn check<T: PartialEq + std::fmt::Display>(
        &self,
        p: &mut Problems,
        key: &str,
        mine: T,
        theirs: T,
    ) {
        if mine != theirs {
            p.add(
                format!("devices[{}].connection.{key}", self.i),
                format!(
                    "{mine} differs from devices[{}] ({theirs}) {}",
                    self.first, self.place
                ),
            );
        }
    }
}

/// Line and bus settings of device `i` against those of the bus's first device.
fn check_same_bus(
    p: &mut Problems,
    i: usize,
    first: usize,
    mine: &Connection,
    theirs: &Connection,
) {
    let (
        Connection::ModbusRtu {
            port,
            baud_rate,
            data_bits,
            stop_bits,
            parity,
            transport,
            ..
        },
        Connection::ModbusRtu {
            baud_rate: baud,
            data_bits: data,
            stop_bits: stop,
            parity: par,
            transport: bus,
            ..
        },
    ) = (mine, theirs)
    else {
        return;
    };
    let same = Same {
        i,
        first,
        place: format!("on the same bus {port}"),
    };
    let ms = |d: Duration| d.as_millis();
    same.check(p, "baud_rate", *baud_rate, *baud);
    same.check(p, "data_bits", *data_bits, *data);
    same.check(p, "stop_bits", *stop_bits, *stop);
    same.check(p, "parity", parity.as_str(), par.as_str());
    same.check(
        p,
        "response_timeout_ms",
        ms(transport.response_timeout),
        ms(bus.response_timeout),
    );
    same.check(
        p,
        "turnaround_ms",
        ms(transport.turnaround),
        ms(bus.turnaround),
    );
    same.check(p, "max_read_gap", transport.max_read_gap, bus.max_read_gap);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eoj_codes() {
        assert_eq!(parse_eoj("0x02A101"), Some(0x02A101));
        assert_eq!(parse_eoj("0X02a101"), Some(0x02A101));
        for bad in ["02A101", "0x2A101", "0x02A1011", "0x02G101", "", "0x"] {
            assert_eq!(parse_eoj(bad), None, "{bad}");
        }
    }

    #[test]
    fn identities() {
        let ocpp_ok = |id: &str| ocpp_id_problem(id).is_none();
        assert!(ocpp_ok("CP001"));
        assert!(ocpp_ok(&"a".repeat(48)));
        assert!(!ocpp_ok(&"a".repeat(49)));
        assert!(!ocpp_ok(""));
        assert!(!ocpp_ok("CP 1"));
        assert!(!ocpp_ok("CP/1"));
        let device_ok = |id: &str| device_id_problem(id).is_none();
        assert!(device_ok("charger-1.a_b"));
        assert!(device_ok(&"a".repeat(64)));
        assert!(!device_ok(&"a".repeat(65)));
        assert!(!device_ok("a\"b"));
        assert!(!device_ok("a\nb"));
        assert!(!device_ok(""));
        assert!(is_template_name("generic_modbus_charger"));
        assert!(is_template_name("vendor-x.v2"));
        assert!(!is_template_name("../etc/passwd"));
        assert!(!is_template_name(".hidden"));
        assert!(!is_template_name(""));
    }
}
