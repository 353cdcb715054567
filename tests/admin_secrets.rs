//! Secrets never reach a log: at trace level, with the whole gateway logging to a file, a new
//! BasicAuthPassword set by the CSMS (and the password of the connection's Authorization header)
//! shows up neither in the log file nor in the admin API's log route.

mod admin_common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use admin_common::{loopback, request, scratch, write_config, Gateway, Tokens, WAIT};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Dir};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;
use serde_json::json;

const STATION: &str = "CP001";
const FIRST_PASSWORD: &str = "first-Basic-passw0rd";
const NEW_PASSWORD: &str = "second-Basic-passw0rd";

#[test]
fn basic_auth_passwords_reach_no_log_at_trace_level() {
    let dir = scratch("admin-secrets-trace");
    let csms = CsmsSim::start(
        loopback(),
        CsmsOptions {
            basic_auth: Some(HashMap::from([(
                STATION.to_string(),
                FIRST_PASSWORD.to_string(),
            )])),
            ..CsmsOptions::default()
        },
    )
    .unwrap();
    let charger = ModbusChargerSim::start(loopback()).unwrap();
    let tokens = Tokens::new();
    let log_file = dir.join("gateway.log");
    let system = format!(
        "log_file = \"{}\"\n\n[system.admin]\nbind = \"127.0.0.1:0\"\ntokens = {}\n",
        log_file.display(),
        tokens.config
    );
    let config = write_config(&dir, &system, &csms.url(), &[charger.addr()]);
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("log_level = \"info\"", "log_level = \"trace\"")
        .replace(
            "reconnect_interval_sec = 1\n",
            &format!(
                "reconnect_interval_sec = 1\nsecurity_profile = 1\nbasic_auth_password = \"{FIRST_PASSWORD}\"\n"
            ),
        );
    std::fs::write(&config, text).unwrap();
    let gateway = Gateway::start(&config, &log_file);
    let url = gateway.admin_url("API, status page and metrics");

    let booted = csms.wait_for(WAIT, |r| {
        r.dir == Dir::In && r.frame[0] == 2 && r.frame[2] == "StatusNotification"
    });
    assert!(booted.is_some(), "the station never booted");
    let id = csms
        .call(
            STATION,
            "SetVariables",
            json!({"setVariableData": [{
                "attributeValue": NEW_PASSWORD,
                "component": {"name": "SecurityCtrlr"},
                "variable": {"name": "BasicAuthPassword"},
            }]}),
        )
        .unwrap();
    let answer = csms
        .wait_for(WAIT, |r| r.dir == Dir::In && r.frame[1] == id.as_str())
        .expect("no answer to SetVariables");
    assert_eq!(
        answer.frame[2]["setVariableResult"][0]["attributeStatus"], "Accepted",
        "{}",
        answer.frame
    );
    // The next connection authenticates with the new password.
    csms.set_basic_auth_password(STATION, NEW_PASSWORD);
    assert!(csms.disconnect(STATION));
    let until = Instant::now() + WAIT;
    while !(csms.connection_count(STATION) == 2 && csms.connected(STATION)) {
        assert!(Instant::now() < until, "no second connection");
        std::thread::sleep(Duration::from_millis(50));
    }

    let log = gateway.log_text();
    assert!(
        log.lines().any(|l| l.contains(" DEBUG ")),
        "the gateway does not log below info:\n{log}"
    );
    let lines = request(
        &url,
        "GET",
        "/api/v1/logs?lines=1000",
        Some(&tokens.viewer),
        None,
    );
    assert_eq!(lines.status, 200, "{}", lines.body);
    for secret in [FIRST_PASSWORD, NEW_PASSWORD] {
        assert!(!log.contains(secret), "{secret} is in the log file");
        assert!(!lines.body.contains(secret), "{secret} is in /api/v1/logs");
    }
}
