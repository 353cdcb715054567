//! Loads the sample config and the fixtures under tests/fixtures/config, checking the exact
//! `file: key: message` lines users would see.

use std::path::{Path, PathBuf};
use std::time::Duration;

use ocpp_gw::config::{self, Connection, Parity, Protocol, RtuTransport, TcpTransport};
use ocpp_gw::device::{ModbusTable, RawValue};
use ocpp_gw::mapping::{DataType, OcppName, Order, Source, Value};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

fn template_file(name: &str) -> String {
    fixture("templates").join(name).display().to_string()
}

/// The error lines of loading fixture `name`, which must fail.
fn errors(name: &str) -> Vec<String> {
    match config::load(&fixture(name)) {
        Ok(c) => panic!("{name} loaded: {c:?}"),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

/// `lines` prefixed with the fixture's path.
fn expect(name: &str, lines: &[&str]) {
    let file = fixture(name).display().to_string();
    let expected: Vec<_> = lines.iter().map(|l| format!("{file}: {l}")).collect();
    assert_eq!(errors(name), expected);
}

#[test]
fn sample_config_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/ocpp-gw.toml");
    let c = match config::load(&path) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(c.path, path);
    assert_eq!(c.system.log_level, log::LevelFilter::Info);
    assert_eq!(c.system.data_dir, Path::new("/var/lib/ocpp-gw"));
    assert_eq!(
        c.system.templates_dir,
        Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/templates")
    );
    assert_eq!(c.system.metrics.prometheus_port, None);
    assert_eq!(c.system.metrics.prometheus_bind.to_string(), "127.0.0.1");
    assert!(!c.system.watch_config);
    assert_eq!(c.csms.url, "ws://127.0.0.1:9000/ocpp");
    assert_eq!(c.csms.reconnect_interval, Duration::from_secs(30));
    assert_eq!(c.csms.ping_interval, Duration::from_secs(60));
    assert_eq!(c.csms.connect_timeout, Duration::from_secs(10));
    assert_eq!(c.devices.len(), 1);
    let d = &c.devices[0];
    assert_eq!((d.id.as_str(), d.ocpp_id.as_str()), ("CP001", "CP001"));
    assert_eq!(d.protocol, Protocol::ModbusTcp);
    assert_eq!(
        d.connection,
        Connection::ModbusTcp {
            ip: "127.0.0.1".into(),
            port: 5020,
            unit_id: 1,
            transport: TcpTransport::default(),
            offline_after_failures: 3,
        }
    );
    assert_eq!(
        c.templates.keys().collect::<Vec<_>>(),
        ["generic_modbus_charger"]
    );
}

#[test]
fn sample_template_maps_the_simulator_registers() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("etc/ocpp-gw.toml");
    let c = match config::load(&path) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let Some(t) = c.templates.get("generic_modbus_charger") else {
        panic!("template missing")
    };
    assert_eq!(
        (t.vendor_name.as_deref(), t.model.as_deref()),
        (Some("Generic"), Some("MB-AC22"))
    );
    let reads: Vec<_> = t
        .register_reads()
        .iter()
        .map(|r| {
            assert_eq!(r.table, ModbusTable::HoldingRegister);
            let name = t.variables.get(r.var).map(|v| v.ocpp_name.to_string());
            (name.unwrap_or_default(), r.address, r.count)
        })
        .collect();
    let expected = [
        ("Connector.Status", 0, 1),
        ("MeterValue.Energy.Active.Import.Register", 10, 2),
        ("MeterValue.Power.Active.Import", 12, 2),
        ("MeterValue.Current.Import", 14, 1),
        ("MeterValue.Voltage", 15, 1),
        ("MeterValue.SoC", 16, 1),
        // read_write: polled as well as written.
        ("Control.CurrentLimit", 21, 1),
    ];
    let expected: Vec<_> = expected
        .iter()
        .map(|(n, a, c)| (n.to_string(), *a, *c))
        .collect();
    assert_eq!(reads, expected);

    let decode = |name: OcppName, words: &[u16]| {
        let Some((_, v)) = t.variable(&name) else {
            panic!("{name} not mapped")
        };
        v.decode(&RawValue::Registers(words.to_vec()))
            .map(|v| v.to_string())
    };
    assert_eq!(
        decode(OcppName::ConnectorStatus, &[1]),
        Ok("Occupied".into())
    );
    assert_eq!(
        decode(
            OcppName::Measurand("Energy.Active.Import.Register".into()),
            &[1, 2]
        ),
        Ok("65538".into())
    );
    let power = 7360.5f32.to_bits();
    assert_eq!(
        decode(
            OcppName::Measurand("Power.Active.Import".into()),
            &[(power >> 16) as u16, power as u16]
        ),
        Ok("7360.5".into())
    );
    assert_eq!(
        decode(OcppName::Measurand("Current.Import".into()), &[160]),
        Ok("16".into())
    );
    assert_eq!(
        decode(OcppName::Measurand("Voltage".into()), &[2301]),
        Ok("230.1".into())
    );
    assert_eq!(
        decode(OcppName::Measurand("SoC".into()), &[80]),
        Ok("80".into())
    );
}

#[test]
fn good_fixture_fills_defaults_and_reads_every_protocol() {
    let c = match config::load(&fixture("good.toml")) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    assert_eq!(c.system.log_level, log::LevelFilter::Debug);
    assert_eq!(c.system.data_dir, fixture("data"));
    assert_eq!(c.system.templates_dir, fixture("templates"));
    assert!(c.system.watch_config);
    assert_eq!(
        (
            c.system.log_rotation.max_size_mb,
            c.system.log_rotation.max_files
        ),
        (10, 5)
    );
    assert!(!c.system.security.client_cert_required);
    assert_eq!(c.csms.url, "wss://csms.example.com:8443/ocpp");
    assert_eq!(c.csms.reconnect_random_range, Duration::from_secs(10));
    assert_eq!(c.csms.max_reconnect_attempts, 10);
    assert_eq!(c.csms.heartbeat_interval, Duration::from_secs(300));
    assert_eq!(c.csms.response_timeout, Duration::from_secs(30));
    assert_eq!(
        c.csms.connect_timeout,
        Duration::from_secs(10),
        "the default"
    );
    let conns: Vec<_> = c.devices.iter().map(|d| d.connection.clone()).collect();
    assert_eq!(
        conns,
        [
            Connection::ModbusTcp {
                ip: "charger-1.local".into(),
                port: 502,
                unit_id: 1,
                transport: TcpTransport::default(),
                offline_after_failures: 3,
            },
            Connection::ModbusRtu {
                port: "/dev/ttyS0".into(),
                baud_rate: 19200,
                data_bits: 8,
                stop_bits: 1,
                parity: Parity::Even,
                unit_id: 2,
                transport: RtuTransport::default(),
                offline_after_failures: 3,
            },
            Connection::ModbusRtu {
                port: "/dev/ttyS0".into(),
                baud_rate: 19200,
                data_bits: 8,
                stop_bits: 1,
                parity: Parity::Even,
                unit_id: 3,
                transport: RtuTransport::default(),
                offline_after_failures: 3,
            },
            Connection::EchonetLite {
                ip: "192.168.1.101".into(),
                eoj: Some(0x02A101)
            },
        ]
    );
    assert_eq!(c.devices[0].poll_interval, Duration::from_millis(1000));
    assert_eq!(c.devices[1].poll_interval, Duration::from_millis(250));
    assert_eq!(c.templates.keys().collect::<Vec<_>>(), ["charger", "empty"]);
    let Some(charger) = c.templates.get("charger") else {
        panic!("charger missing")
    };
    let status = &charger.variables[0];
    assert_eq!(status.ocpp_name, OcppName::ConnectorStatus);
    assert_eq!(
        status.source,
        Source::Modbus {
            table: ModbusTable::InputRegister,
            address: 0,
            count: 1,
            order: Order::Abcd
        }
    );
    assert_eq!(status.data_type, DataType::I16);
    assert_eq!(
        status.decode(&RawValue::Registers(vec![0xFFFF])),
        Ok(Value::Text("Faulted".into()))
    );
    let energy = &charger.variables[1];
    assert_eq!(energy.unit.as_deref(), Some("kWh"));
    assert_eq!(
        energy.decode(&RawValue::Registers(vec![0xFFFF, 0xFFFE])),
        Ok(Value::Number(-0.002))
    );
}

#[test]
fn unknown_keys() {
    expect("unknown_top_key.toml", &["retry: unknown key"]);
    expect(
        "unknown_nested_key.toml",
        &["system.log_rotation.max_file: unknown key"],
    );
    expect("unknown_csms_key.toml", &["csms.retry: unknown key"]);
}

#[test]
fn missing_key() {
    expect("missing_key.toml", &["csms.url: missing key"]);
}

#[test]
fn wrong_type() {
    expect(
        "wrong_type.toml",
        &[r#"devices[1].connection.unit_id: invalid type: string "x", expected u8"#],
    );
}

#[test]
fn syntax_error_gives_line_and_column() {
    expect(
        "syntax.toml",
        &["5:32: invalid basic string, expected `\"`"],
    );
}

#[test]
fn missing_template() {
    let looked_for = template_file("foo.toml");
    expect(
        "missing_template.toml",
        &[&format!(
            r#"devices[0].template: no template "foo" (looked for {looked_for})"#
        )],
    );
}

#[test]
fn duplicate_ocpp_id() {
    expect(
        "duplicate_ocpp_id.toml",
        &[r#"devices[1].ocpp_id: duplicate of devices[0].ocpp_id "CP001""#],
    );
}

#[test]
fn device_ids_are_checked() {
    expect(
        "bad_ids.toml",
        &[
            r#"devices[0].id: "a\" b\nINFO forged line" must be 1 to 64 characters of A-Z a-z 0-9 . _ -"#,
            r#"devices[1].id: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" must be 1 to 64 characters of A-Z a-z 0-9 . _ -"#,
            r#"devices[1].ocpp_id: "CP%2F1" must be 1 to 48 characters of A-Z a-z 0-9 . _ -"#,
        ],
    );
}

#[test]
fn metrics_bind_must_be_an_address() {
    expect(
        "bad_metrics_bind.toml",
        &[
            r#"system.metrics.prometheus_bind: "everywhere" is not an IP address (e.g. "127.0.0.1" or "0.0.0.0")"#,
        ],
    );
}

#[test]
fn bad_url() {
    expect(
        "bad_url.toml",
        &[r#"csms.url: "http://csms.example.com/ocpp": scheme must be ws:// or wss://"#],
    );
}

#[test]
fn keys_of_another_protocol() {
    expect(
        "foreign_keys.toml",
        &[
            "devices[0].connection.baud_rate: not a modbus_tcp key (it is for modbus_rtu)",
            "devices[0].connection.parity: not a modbus_tcp key (it is for modbus_rtu)",
            "devices[0].connection.speed: unknown key",
        ],
    );
}

#[test]
fn bad_enum_value() {
    assert_eq!(
        errors("bad_enum.toml"),
        [format!(
            "{}: template.variables[0].enum.5: \"Charging\" is not allowed for Connector.Status \
             (expected one of Available, Occupied, Reserved, Unavailable, Faulted)",
            template_file("bad_enum.toml")
        )]
    );
}

#[test]
fn register_overlap() {
    assert_eq!(
        errors("overlap.toml"),
        [format!(
            "{}: template.variables[2].register: 40012 (uint16) overlaps template.variables[1].register 40011 (uint32)",
            template_file("overlap.toml")
        )]
    );
}

#[test]
fn every_semantic_problem_is_reported() {
    let file = fixture("many_problems.toml").display().to_string();
    let mut expected: Vec<String> = [
        r#"system.log_level: unknown log level "verbose" (expected one of error, warn, info, debug, trace)"#,
        "system.security.tls_key_path: missing key (tls_cert_path needs it)",
        "system.log_rotation.max_files: must be at least 1",
        r#"csms.url: "ws://csms.example.com/ocpp?x=1": '?' is not allowed (no spaces, query or fragment)"#,
        "csms.heartbeat_interval_sec: must be between 1 and 86400",
        r#"devices[0].ocpp_id: "CP 001" must be 1 to 48 characters of A-Z a-z 0-9 . _ -"#,
        r#"devices[0].connection.ip: "not a host" is not an IP address or host name"#,
        "devices[0].connection.port: must be between 1 and 65535",
        r#"devices[1].protocol: unknown protocol "modbus" (expected one of modbus_tcp, modbus_rtu, echonet_lite)"#,
        r#"devices[2].template: "../secrets" is not a template name (A-Z a-z 0-9 . _ -, not starting with '.')"#,
        "devices[2].connection.data_bits: must be between 5 and 8",
        "devices[2].connection.stop_bits: must be 1 or 2",
        r#"devices[2].connection.parity: unknown parity "mark" (expected one of none, even, odd)"#,
        "devices[2].connection.unit_id: must be between 1 and 247 on a serial bus",
        r#"devices[4].connection.eoj: "02A101" is not a 6-digit hex object code like "0x02A101""#,
        r#"devices[1].id: duplicate of devices[0].id "CP001""#,
        "devices[6].connection: same device as devices[5] (modbus_tcp 10.0.0.6 port 502 unit_id 4)",
        "devices[7].connection.baud_rate: 9600 differs from devices[3] (19200) on the same bus /dev/ttyS0",
        "devices[7].connection: same device as devices[3] (modbus_rtu /dev/ttyS0 unit_id 1)",
        r#"devices[4].template: template "charger" maps Connector.Status through type = "modbus", which protocol echonet_lite cannot read"#,
    ]
    .iter()
    .map(|l| format!("{file}: {l}"))
    .collect();
    let known = OcppName::known_names().collect::<Vec<_>>().join(", ");
    let out_of_range = "is outside 1-9999 (coils), 10001-19999 (discrete inputs), 30001-39999 (input registers), \
        40001-49999 (holding registers) and their 6-digit forms 000001-065536, 100001-165536, 300001-365536, 400001-465536";
    // bad_template.toml is used by two devices but loaded, and reported, once.
    let template = template_file("bad_template.toml");
    expected.extend(
        [
            r#"template.id: "not_the_stem" does not match the file name bad_template.toml"#.to_string(),
            "template.vendor_name: longer than 50 characters".to_string(),
            format!(r#"template.variables[0].ocpp_name: unknown ocpp_name "MeterValue.Temperature" (known: {known})"#),
            r#"template.variables[1].data_type: unknown data type "u17" (expected one of bool, uint8, int8, uint16, int16, uint32, int32, uint64, int64, float32, float64, string, bytes)"#.to_string(),
            r#"template.variables[1].register: only for type = "modbus", not echonet"#.to_string(),
            "template.variables[1].epc: missing key".to_string(),
            "template.variables[2].data_type: bool needs a coil or discrete input, but 40003 is a holding register".to_string(),
            "template.variables[2].data_type: MeterValue.Power.Active.Import is numeric and cannot be a single bit".to_string(),
            "template.variables[3].enum: an enum needs an integer data type, not float32".to_string(),
            format!("template.variables[4].register: register 50001 {out_of_range}"),
            "template.variables[5].enum: MeterValue.Current.Import is numeric and takes no enum".to_string(),
            "template.variables[6].scale: must be a finite number other than 0".to_string(),
            "template.variables[8].register: uint32 at 465536 runs past the last address 65535".to_string(),
            "template.variables[9].enum.70000: 70000 is out of range for uint16".to_string(),
            r#"template.variables[9].enum.x: "x" is not an integer"#.to_string(),
            r#"template.variables[7].ocpp_name: duplicate of template.variables[6].ocpp_name "MeterValue.Frequency""#.to_string(),
            r#"template.variables[9].ocpp_name: "AvailabilityState" means the same as template.variables[3].ocpp_name "Connector.Status""#.to_string(),
        ]
        .iter()
        .map(|l| format!("{template}: {l}")),
    );
    let got = errors("many_problems.toml");
    for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert_eq!(g, e, "line {i}");
    }
    assert_eq!(got.len(), expected.len(), "{got:#?}");
}

#[test]
fn unreadable_config_names_the_file() {
    let path = fixture("does_not_exist.toml");
    match config::load(&path) {
        Ok(c) => panic!("loaded {c:?}"),
        Err(e) => {
            assert_eq!(e.0.len(), 1);
            let line = e.to_string();
            assert!(
                line.starts_with(&format!("{}: cannot read: ", path.display())),
                "{line}"
            );
        }
    }
}

#[test]
fn modbus_transport_keys() {
    let c = match config::load(&fixture("modbus_transport.toml")) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let tcp = TcpTransport {
        connect_timeout: Duration::from_millis(500),
        response_timeout: Duration::from_millis(250),
        pool_size: 2,
        max_read_gap: 0,
    };
    assert!(
        matches!(&c.devices[0].connection, Connection::ModbusTcp { transport, .. } if *transport == tcp)
    );
    let rtu = RtuTransport {
        response_timeout: Duration::from_millis(300),
        turnaround: Duration::from_millis(0),
        max_read_gap: 124,
    };
    assert!(
        matches!(&c.devices[2].connection, Connection::ModbusRtu { transport, .. } if *transport == rtu)
    );
    // Each device its own, even two units behind one bridge.
    let thresholds: Vec<_> = c
        .devices
        .iter()
        .map(|d| match &d.connection {
            Connection::ModbusTcp {
                offline_after_failures,
                ..
            }
            | Connection::ModbusRtu {
                offline_after_failures,
                ..
            } => *offline_after_failures,
            Connection::EchonetLite { .. } => 0,
        })
        .collect();
    assert_eq!(thresholds, [1, 100, 7]);
    assert_eq!(
        TcpTransport::default().connect_timeout,
        Duration::from_secs(2)
    );
    assert_eq!(TcpTransport::default().pool_size, 1);
    assert_eq!(
        RtuTransport::default().turnaround,
        Duration::from_millis(100)
    );
}

#[test]
fn modbus_transport_problems() {
    expect(
        "modbus_transport_bad.toml",
        &[
            "devices[0].connection.connect_timeout_ms: must be between 100 and 60000",
            "devices[0].connection.response_timeout_ms: must be between 10 and 60000",
            "devices[0].connection.max_read_gap: must be at most 124",
            "devices[0].connection.pool_size: must be between 1 and 8",
            "devices[0].connection.offline_after_failures: must be between 1 and 100",
            "devices[1].connection.turnaround_ms: must be between 0 and 10000",
            "devices[1].connection.offline_after_failures: must be between 1 and 100",
            "devices[3].connection.pool_size: 3 differs from devices[2] (1) at the same endpoint 10.0.0.9:502",
            "devices[5].connection.response_timeout_ms: 400 differs from devices[4] (1000) on the same bus /dev/ttyS1",
            "devices[5].connection.turnaround_ms: 50 differs from devices[4] (100) on the same bus /dev/ttyS1",
        ],
    );
}

/// A config with `n` RTU chargers on one port, written to a fresh temporary directory.
fn bus_config(n: u8) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!("ocpp-gw-bus-{}-{n}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = format!(
        "[system]\ntemplates_dir = {:?}\n[csms]\nurl = \"ws://127.0.0.1:9000\"\n",
        fixture("templates").display().to_string()
    );
    for unit in 1..=n {
        text.push_str(&format!(
            "[[devices]]\nid = \"u{unit}\"\ntemplate = \"charger\"\nprotocol = \"modbus_rtu\"\n\
             ocpp_id = \"U{unit}\"\nconnection = {{ port = \"/dev/ttyS0\", unit_id = {unit} }}\n"
        ));
    }
    let path = dir.join("ocpp-gw.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn at_most_25_devices_on_a_bus() {
    let ok = bus_config(25);
    let loaded = config::load(&ok);
    let _ = std::fs::remove_dir_all(ok.parent().unwrap());
    assert!(loaded.is_ok(), "{:?}", loaded.err());

    let over = bus_config(27);
    let errors = match config::load(&over) {
        Ok(_) => panic!("27 devices on one bus accepted"),
        Err(e) => e.0,
    };
    let _ = std::fs::remove_dir_all(over.parent().unwrap());
    let lines: Vec<_> = errors
        .iter()
        .map(|e| format!("{}: {}", e.key, e.message))
        .collect();
    assert_eq!(
        lines,
        ["devices[25].connection.port: too many devices on serial port /dev/ttyS0: 27, at most 25 per bus"]
    );
}
