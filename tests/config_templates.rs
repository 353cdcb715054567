//! Template loading: `extends` chains, every template validation error as users see it, every
//! structural problem reported at once, and the sample templates decoding and encoding values.

use std::path::{Path, PathBuf};

use ocpp_gw::config::{self, Config};
use ocpp_gw::device::{ModbusTable, PollClass, RawValue, WriteValue};
use ocpp_gw::mapping::{Access, Mutability, OcppName, Order, Phase, Source, Template, Value};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name)
}

fn load(name: &str) -> Config {
    match config::load(&fixture(name)) {
        Ok(c) => c,
        Err(e) => panic!("{name}: {e}"),
    }
}

/// The error lines of loading fixture `name`, which must fail, with fixture paths shortened.
fn errors(name: &str) -> Vec<String> {
    let dir = format!(
        "{}/",
        fixture("x").parent().unwrap_or(Path::new("")).display()
    );
    match config::load(&fixture(name)) {
        Ok(c) => panic!("{name} loaded: {c:?}"),
        Err(e) => {
            e.0.iter()
                .map(|e| e.to_string().replace(&dir, ""))
                .collect()
        }
    }
}

fn template<'a>(c: &'a Config, id: &str) -> &'a Template {
    match c.templates.get(id) {
        Some(t) => t,
        None => panic!("no template {id}"),
    }
}

fn var<'a>(t: &'a Template, name: &str) -> &'a ocpp_gw::mapping::Variable {
    let Some(name) = OcppName::parse(name) else {
        panic!("{name} is not a name")
    };
    match t.variable(&name) {
        Some((_, v)) => v,
        None => panic!("{} does not map {name}", t.id),
    }
}

#[test]
fn extends_overrides_in_place_and_appends() {
    let c = load("inherit.toml");
    let t = template(&c, "grandchild");
    let names: Vec<_> = t
        .variables
        .iter()
        .map(|v| v.ocpp_name.to_string())
        .collect();
    assert_eq!(
        names,
        [
            "Connector.Status",
            "MeterValue.Voltage",
            "MeterValue.Power.Active.Import",
            "Control.Charging",
            "Vendor.Temperature",
        ]
    );
    assert_eq!(t.extends.as_deref(), Some("child"));
    assert_eq!(t.description, "Three levels");
    assert_eq!(t.vendor_name.as_deref(), Some("Base Vendor"));
    assert_eq!(t.model.as_deref(), Some("C-2"));
    // The child's status (through the alias) with its wider enum.
    assert_eq!(
        var(t, "Connector.Status").decode(&RawValue::Registers(vec![4])),
        Ok(Value::Text("Faulted".into()))
    );
    // The grandchild's voltage: int16 in 0.01 V.
    assert_eq!(
        var(t, "MeterValue.Voltage").decode(&RawValue::Registers(vec![23010])),
        Ok(Value::Number(230.1))
    );
    // The child's power: input registers, low word first.
    let power = var(t, "MeterValue.Power.Active.Import");
    assert_eq!(
        power.source,
        Source::Modbus {
            table: ModbusTable::InputRegister,
            address: 10,
            count: 2,
            order: Order::Cdab
        }
    );
    let temp = var(t, "Vendor.Temperature");
    assert_eq!(
        (temp.component(), temp.variable_name()),
        ("Thermal", "Temperature")
    );
    let reads: Vec<_> = t.register_reads().iter().map(|r| r.var).collect();
    assert_eq!(reads, [0, 1, 2, 4], "the write-only command is not polled");
}

#[test]
fn extends_cycles_are_found() {
    assert_eq!(
        errors("cycle.toml"),
        [
            r#"templates/cycle_b.toml: template.extends: "cycle_a" closes a cycle: cycle_a -> cycle_b -> cycle_a"#,
            r#"templates/cycle_self.toml: template.extends: "cycle_self" closes a cycle: cycle_self -> cycle_self"#,
        ]
    );
}

#[test]
fn extends_an_unknown_template() {
    assert_eq!(
        errors("orphan.toml"),
        [
            r#"templates/orphan.toml: template.extends: no template "no_such_parent" (looked for templates/no_such_parent.toml)"#
        ]
    );
}

#[test]
fn unknown_keys_and_wrong_types_everywhere_are_reported_together() {
    assert_eq!(
        errors("structural.toml"),
        [
            "structural.toml: system.log_level: invalid type: integer `5`, expected a string",
            "structural.toml: system.typo_key: unknown key",
            "structural.toml: csms.heartbeat_secs: unknown key",
            r#"structural.toml: csms.ping_interval_sec: invalid type: string "60", expected u64"#,
            "structural.toml: devices[0].colour: unknown key",
            r#"structural.toml: devices[0].connection.port: invalid type: string "502", expected u16"#,
            r#"structural.toml: devices[0].connection.unit_id: invalid type: string "x", expected u8"#,
            r#"structural.toml: devices[1].ocpp_id: duplicate of devices[0].ocpp_id "A""#,
            "templates/structural.toml: template.colour: unknown key",
            "templates/structural.toml: template.variables[0].sacle: unknown key",
            r#"templates/structural.toml: template.variables[0].scale: invalid type: string "x", expected f64"#,
            "templates/structural.toml: template.variables[1].unit: invalid type: integer `5`, expected a string",
        ]
    );
}

#[test]
fn role_type_layout_and_range_problems() {
    let lines = [
        "[0].access: Control.Charging is written to the device, so access must be write or read_write",
        "[1].access: MeterValue.Voltage is read from the device, so access must be read or read_write",
        r#"[2].enum.2: "Operative" is also the text of 1; a written enum needs one device value per text"#,
        r#"[2].enum: Control.Availability needs a device value for "Inoperative""#,
        r#"[3].enum: EVSE.VehicleConnected needs a device value for "false""#,
        "[4].bit: needs an integer of at most 16 bits (uint8, int8, uint16, int16), not uint32",
        "[5].bit: must be between 0 and 15",
        "[6].access: a single bit cannot be written on its own; map the whole register",
        r#"[8].epc: only for type = "echonet", not modbus"#,
        "[8].data_type: uint8 is not a Modbus type (bool, uint16, int16, uint32, int32, uint64, int64, float32, float64, string)",
        "[9].order: a string is read register by register: ABCD or BADC",
        "[10].phase: only applies to MeterValue.<measurand>",
        "[10].min: 32 is above max 6",
        "[11].access: an input register cannot be written",
        "[12].register: give either register or table and address, not both",
        r#"[12].order: unknown order "ABDC" (expected one of ABCD, CDAB, BADC, DCBA)"#,
        r#"[16].poll: unknown poll class "often" (expected fast or slow)"#,
        "[16].phase: only applies to MeterValue.<measurand>",
        "[16].data_type: Auth.IdToken is text: string or bytes",
        "[17].length: missing key (string needs its length in registers)",
        "[18].min: only applies to written variables (access write or read_write)",
        r#"[19].access: unknown access "sometimes" (expected read, write or read_write)"#,
        r#"[16].ocpp_name: duplicate of template.variables[9].ocpp_name "Auth.IdToken""#,
        "[7].register: 40008 (uint16) overlaps template.variables[6].register 40008 bit 1 (uint16)",
        "[15].address: holding 41 (uint64) overlaps template.variables[14].address holding 40 (float32)",
        "[13].variable: EVSE/Voltage is also exposed by template.variables[1].ocpp_name; set component or variable",
    ];
    let expected: Vec<_> = lines
        .iter()
        .map(|l| format!("templates/bad_roles.toml: template.variables{l}"))
        .collect();
    assert_eq!(errors("bad_roles.toml"), expected);
}

#[test]
fn echonet_layout_problems() {
    let lines = [
        r#"[2].register: only for type = "modbus", not echonet"#,
        r#"[2].epc: must be a property code from 0x80 to 0xFF (an integer or a string like "0xC7")"#,
        "[2].data_type: float32 is not an ECHONET Lite EDT type (uint8, int8, uint16, int16, uint32, int32, string, bytes)",
        "[3].access: a part of an EDT (offset > 0) cannot be written on its own",
        "[4].epc: missing key",
        r#"[5].epc: must be a property code from 0x80 to 0xFF (an integer or a string like "0xC7")"#,
        "[1].epc: 0xC8 offset 2 (uint32) overlaps template.variables[0].epc 0xC8 (uint32)",
    ];
    let expected: Vec<_> = lines
        .iter()
        .map(|l| format!("templates/bad_echonet.toml: template.variables{l}"))
        .collect();
    assert_eq!(errors("bad_echonet.toml"), expected);
}

#[test]
fn three_phase_sample_decodes_and_encodes() {
    let c = load("samples.toml");
    let t = template(&c, "three_phase_modbus_charger");
    let regs = |w: &[u16]| RawValue::Registers(w.to_vec());
    let cdab = |f: f32| {
        let b = f.to_bits();
        vec![b as u16, (b >> 16) as u16]
    };
    assert_eq!(
        var(t, "EVSE.VehicleConnected").decode(&regs(&[0b101])),
        Ok(Value::Bool(true))
    );
    assert_eq!(
        var(t, "EVSE.Fault").decode(&regs(&[0b001])),
        Ok(Value::Bool(false))
    );
    assert_eq!(
        var(t, "EVSE.ChargingState").decode(&regs(&[2])),
        Ok(Value::Text("Charging".into()))
    );
    let l2 = t
        .variables
        .iter()
        .find(|v| v.phase == Some(Phase::L2N))
        .map(|v| v.decode(&regs(&cdab(231.5))));
    assert_eq!(l2, Some(Ok(Value::Number(231.5))));
    let energy = var(t, "MeterValue.Energy.Active.Import.Register");
    assert_eq!(energy.poll, PollClass::Slow);
    // 123456.78 kWh in 0.01 kWh, low word first.
    let raw = 12_345_678u32;
    assert_eq!(
        energy.decode(&regs(&[raw as u16, (raw >> 16) as u16])),
        Ok(Value::Number(123_456_780.0))
    );
    assert_eq!(
        var(t, "Vendor.Temperature").decode(&regs(&[652])),
        Ok(Value::Number(25.2))
    );
    assert_eq!(
        var(t, "Auth.IdToken").decode(&regs(&[0x3130, 0x3332, 0, 0, 0, 0, 0, 0, 0, 0])),
        Ok(Value::Text("0123".into()))
    );
    let limit = var(t, "Control.CurrentLimit");
    assert_eq!(limit.mutability(), Mutability::ReadWrite);
    assert_eq!(
        limit.encode(&Value::Number(16.0)),
        Ok(WriteValue::Registers {
            address: 100,
            values: vec![160]
        })
    );
    assert!(limit.encode(&Value::Number(40.0)).is_err());
    for (name, text, value) in [
        ("Control.Charging", "Stop", 2),
        ("Control.Reset", "Reset", 3),
        ("Control.Unlock", "Unlock", 4),
    ] {
        assert_eq!(
            var(t, name).encode(&Value::Text(text.into())),
            Ok(WriteValue::Registers {
                address: 101,
                values: vec![value]
            }),
            "{name}"
        );
    }
    assert_eq!(
        var(t, "Control.Availability").encode(&Value::Text("Inoperative".into())),
        Ok(WriteValue::Coils {
            address: 0,
            values: vec![false]
        })
    );
    assert_eq!(
        var(t, "Vendor.OperatingSeconds").decode(&regs(&[0, 1, 0, 0])),
        Ok(Value::Number(4_294_967_296.0))
    );
}

#[test]
fn echonet_samples_decode_and_encode() {
    let c = load("samples.toml");
    let el = template(&c, "echonet_ev_charger");
    let edt = |b: &[u8]| RawValue::Bytes(b.to_vec());
    assert_eq!(
        var(el, "Connector.Status").decode(&edt(&[0x41])),
        Ok(Value::Text("Occupied".into()))
    );
    assert_eq!(
        var(el, "EVSE.VehicleConnected").decode(&edt(&[0x30])),
        Ok(Value::Text("false".into()))
    );
    assert_eq!(
        var(el, "EVSE.Fault").decode(&edt(&[0x42])),
        Ok(Value::Text(String::new()))
    );
    assert_eq!(
        var(el, "MeterValue.Energy.Active.Import.Register").decode(&edt(&[0, 0, 0x30, 0x39])),
        Ok(Value::Number(12345.0))
    );
    assert_eq!(
        var(el, "Control.Charging").encode(&Value::Text("Start".into())),
        Ok(WriteValue::Epc {
            epc: 0xDA,
            edt: vec![0x42]
        })
    );
    assert_eq!(
        var(el, "Control.CurrentLimit").encode(&Value::Number(16.0)),
        Ok(WriteValue::Epc {
            epc: 0xED,
            edt: vec![0x00, 0xA0]
        })
    );
    assert_eq!(
        var(el, "Control.PowerLimit").encode(&Value::Number(7400.0)),
        Ok(WriteValue::Epc {
            epc: 0xEB,
            edt: vec![0, 0, 0x1C, 0xE8]
        })
    );
    let reads: Vec<_> = el.epc_reads().iter().map(|r| r.epc).collect();
    assert_eq!(reads, [0xC7, 0xC7, 0x80, 0x88, 0xDA, 0xD3, 0xD8, 0xE4]);

    let v2h = template(&c, "echonet_ev_charger_discharger");
    assert_eq!(v2h.extends.as_deref(), Some("echonet_ev_charger"));
    assert_eq!(v2h.vendor_name.as_deref(), Some("ECHONET Lite"));
    assert_eq!(
        var(v2h, "EVSE.VehicleConnected").decode(&edt(&[0x43])),
        Ok(Value::Text("true".into()))
    );
    assert_eq!(
        var(v2h, "MeterValue.Power.Active.Import").decode(&edt(&[0xFF, 0xFF, 0xF0, 0x60])),
        Ok(Value::Number(-4000.0))
    );
    let max = var(v2h, "Vendor.MaxChargingPower");
    assert_eq!(
        max.decode(&edt(&[0, 0, 0x05, 0xDC, 0, 0, 0x1C, 0xC0])),
        Ok(Value::Number(7360.0))
    );
    assert_eq!(max.access, Access::Read);
    assert_eq!(
        (max.component(), max.variable_name()),
        ("echonet_ev_charger_discharger", "MaxChargingPower")
    );
    let status = var(v2h, "Connector.Status");
    assert_eq!(
        (status.component(), status.variable_name()),
        ("Connector", "AvailabilityState")
    );
}
