//! Issue #12 through the real binary: EVSE-addressed template variables, one EVSE.Power,
//! ClockCtrlr, SupplyPhases and SecurityProfile as the CSMS sees them.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use common::gateway::{
    assert_records_valid, loopback, scratch, wait_call, wait_register, write_config, Gateway, Rig,
    STATION,
};

use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;
use serde_json::{json, Value};

/// Holding register of `Control.CurrentLimit` (0.1 A) in etc/templates/generic_modbus_charger.toml.
const REG_CURRENT_LIMIT_DA: u16 = 21;

/// The whole data of report `request_id`, once its last page has come.
fn report(rig: &Rig, request_id: i64, after: u64) -> Vec<Value> {
    rig.wait_call("NotifyReport", after, |p| {
        p["requestId"] == request_id && p["tbc"] != true
    });
    rig.calls_after("NotifyReport", after)
        .into_iter()
        .filter(|r| r.frame[3]["requestId"] == request_id)
        .flat_map(|r| {
            r.frame[3]["reportData"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

fn get(rig: &Rig, component: Value, variable: &str) -> Value {
    let answer = rig.call(
        "GetVariables",
        json!({"getVariableData": [{"component": component, "variable": {"name": variable}}]}),
    );
    answer["getVariableResult"][0].clone()
}

#[test]
fn b05_b06_b07_evse_variables_clock_and_identity_as_the_csms_sees_them() {
    let (rig, ready) = Rig::booted("device_model_e2e");
    let evse1 = json!({"name": "EVSE", "evse": {"id": 1}});

    // The template's EVSE.CurrentLimit, addressed with the EVSE id as a CSMS does.
    let answer = rig.call(
        "SetVariables",
        json!({"setVariableData": [
            {"attributeValue": "16", "component": evse1, "variable": {"name": "CurrentLimit"}},
        ]}),
    );
    assert_eq!(
        answer["setVariableResult"][0]["attributeStatus"], "Accepted",
        "{answer}"
    );
    wait_register(&rig.charger, REG_CURRENT_LIMIT_DA, 160);
    let limit = get(&rig, evse1.clone(), "CurrentLimit");
    assert_eq!(limit["attributeStatus"], "Accepted", "{limit}");

    // ClockCtrlr: the CSMS's time, which the simulator gave with the boot and heartbeats.
    let clock = json!({"name": "ClockCtrlr"});
    assert_eq!(
        get(&rig, clock.clone(), "TimeSource")["attributeValue"],
        "Heartbeat"
    );
    let date = get(&rig, clock, "DateTime");
    let date = date["attributeValue"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let at = ocpp_gw::util::time::parse_rfc3339(&date).expect("DateTime is RFC 3339");
    let skew = SystemTime::now()
        .duration_since(at)
        .unwrap_or_else(|e| e.duration());
    assert!(skew < Duration::from_secs(30), "DateTime {date}");

    let station = json!({"name": "ChargingStation"});
    assert_eq!(get(&rig, station, "SupplyPhases")["attributeValue"], "3");
    let security = json!({"name": "SecurityCtrlr"});
    assert_eq!(
        get(&rig, security, "SecurityProfile")["attributeValue"],
        "1",
        "a plain ws:// link is profile 1, never 0"
    );

    // The full inventory: every row once, template variables on EVSE 1.
    let answer = rig.call(
        "GetBaseReport",
        json!({"requestId": 7, "reportBase": "FullInventory"}),
    );
    assert_eq!(answer["status"], "Accepted");
    let rows = report(&rig, 7, ready.seq);
    let mut seen = BTreeSet::new();
    for r in &rows {
        let key = (
            r["component"].to_string(),
            r["variable"]["name"].to_string(),
            r["variable"]["instance"].to_string(),
        );
        assert!(seen.insert(key.clone()), "reported twice: {key:?}");
    }
    let named = |c: &str, v: &str| -> Vec<&Value> {
        rows.iter()
            .filter(|r| r["component"]["name"] == c && r["variable"]["name"] == v)
            .collect()
    };
    let power = named("EVSE", "Power");
    assert_eq!(power.len(), 1, "{power:?}");
    assert_eq!(power[0]["component"]["evse"]["id"], 1);
    let current = named("EVSE", "CurrentLimit");
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["component"]["evse"]["id"], 1);
    assert_eq!(named("ClockCtrlr", "DateTime").len(), 1);
    assert_records_valid(&rig.csms);
}

/// First holding register of the serial number: 15 registers, 30 ASCII characters.
const REG_SERIAL: u16 = 200;
/// Holding register of the firmware version, a plain number.
const REG_FIRMWARE: u16 = 220;

/// generic_modbus_charger with the charger's identity mapped.
const IDENTITY_TEMPLATE: &str = r#"[template]
id = "identity_modbus_charger"
extends = "generic_modbus_charger"

[[template.variables]]
ocpp_name = "Identity.SerialNumber"
type = "modbus"
register = 40201
data_type = "string"
length = 15

[[template.variables]]
ocpp_name = "Identity.FirmwareVersion"
type = "modbus"
register = 40221
data_type = "uint16"
"#;

#[test]
fn b01_boot_notification_carries_the_chargers_serial_and_firmware() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    // 30 characters: more than serialNumber's 25.
    let serial = b"SN-0123456789-ABCDEFGHIJ-KLMNO";
    for (i, pair) in serial.chunks(2).enumerate() {
        let word = u16::from_be_bytes([pair[0], pair[1]]);
        charger.set_register(REG_SERIAL + u16::try_from(i).unwrap_or(0), word);
    }
    charger.set_register(REG_FIRMWARE, 307);
    let dir = scratch("boot_identity");
    std::fs::write(
        dir.join("templates").join("identity_modbus_charger.toml"),
        IDENTITY_TEMPLATE,
    )
    .unwrap();
    let config = write_config(&dir, &csms.url(), &[charger.addr()], "");
    let text = std::fs::read_to_string(&config).unwrap().replace(
        "template = \"generic_modbus_charger\"",
        "template = \"identity_modbus_charger\"",
    );
    std::fs::write(&config, text).unwrap();
    let gw = Gateway::start(&config, &dir.join("gateway.log"));
    let rig = Rig {
        csms,
        charger,
        dir,
        config,
        gw,
    };
    let boot = wait_call(&rig.csms, STATION, "BootNotification", 0, |_| true);
    let station = &boot.frame[3]["chargingStation"];
    assert_eq!(
        station["serialNumber"], "SN-0123456789-ABCDEFGHIJ-",
        "cut to 25: {boot:?}"
    );
    assert_eq!(station["firmwareVersion"], "307");
    // The gateway's own version is a device-model variable, not the charger's firmware.
    rig.wait_status("Available", boot.seq);
    let version = get(&rig, json!({"name": "OcppGateway"}), "Version");
    let version = version["attributeValue"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(version.starts_with("ocpp-gw "), "{version}");
    assert_records_valid(&rig.csms);
}
