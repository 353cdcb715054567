//! Issue #12 as the admin API shows it: while a device refuses every read, nothing it holds is
//! presented as fresh — the device's `last_reading_age_s` and every variable's `age_s` grow.

mod admin_common;

use std::time::Duration;

use admin_common::{loopback, request, scratch, wait_for, write_config, Gateway, Tokens, WAIT};
use ocpp_gw::modbus::pdu::ExceptionCode;
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;
use serde_json::Value;

#[test]
fn ages_grow_while_every_read_is_refused() {
    let dir = scratch("refusing_device_ages");
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let sim = ModbusChargerSim::start(loopback()).unwrap();
    let tokens = Tokens::new();
    let log_file = dir.join("gateway.log");
    let system = format!(
        "log_file = \"{}\"\n\n[system.admin]\nbind = \"127.0.0.1:0\"\ntokens = {}\n",
        log_file.display(),
        tokens.config
    );
    let config = write_config(&dir, &system, &csms.url(), &[sim.addr()]);
    let gateway = Gateway::start(&config, &log_file);
    let url = gateway.admin_url("API, status page and metrics");
    let viewer = Some(tokens.viewer.as_str());
    let get = |path: &str| request(&url, "GET", path, viewer, None).json();
    let reading_age = |body: &Value| body["last_reading_age_s"].as_f64();

    wait_for(WAIT, || {
        let d = get("/api/v1/devices/charger-1");
        (d["device_link"] == "online" && reading_age(&d)? < 1.0).then_some(())
    })
    .expect("charger-1 online and read");

    sim.refuse_reads(Some(ExceptionCode::IllegalDataAddress));
    // Polled every 200 ms: a refused poll counted as a reading would keep the age below that.
    std::thread::sleep(Duration::from_millis(1500));
    let first = get("/api/v1/devices/charger-1");
    let age = reading_age(&first).expect("an age");
    assert!(age >= 1.0, "refused polls are not readings: age {age}");
    std::thread::sleep(Duration::from_millis(500));
    let later = reading_age(&get("/api/v1/devices/charger-1")).expect("an age");
    assert!(later > age, "the age keeps growing: {age} then {later}");
    let vars = get("/api/v1/devices/charger-1/variables");
    for v in vars["variables"].as_array().expect("variables") {
        if let Some(age) = v["age_s"].as_f64() {
            assert!(age >= 1.0, "{} looks fresh: {v}", v["ocpp_name"]);
        }
    }

    sim.refuse_reads(None);
    wait_for(WAIT, || {
        let d = get("/api/v1/devices/charger-1");
        (d["device_link"] == "online" && reading_age(&d)? < 1.0).then_some(())
    })
    .expect("read again once the device answers");
}
