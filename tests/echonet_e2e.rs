//! An ECHONET Lite EV charger (0x02A1) through the real binary: announced changes reach the
//! CSMS, a remote start sets the charger's operation mode.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::gateway::{loopback, scratch, wait_call, wait_status, Gateway, WAIT};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Dir};
use ocpp_gw::sim::echonet_charger::{EchonetChargerSim, SimConfig};
use serde_json::json;

/// The gateway's own address and the node's, on loopback addresses no other test uses.
const GATEWAY: Ipv4Addr = Ipv4Addr::new(127, 71, 1, 1);
const NODE: Ipv4Addr = Ipv4Addr::new(127, 71, 2, 1);

#[test]
fn el_status_by_announcement_and_remote_start_by_operation_mode() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let mut node = SimConfig::charger(NODE);
    // On loopback the announcement goes straight to the gateway as well as to the group.
    node.notify = vec![(GATEWAY, 3610).into()];
    let charger = EchonetChargerSim::start(node).unwrap();
    charger.set_property(0x80, &[0x30]);
    charger.set_property(0x88, &[0x42]);
    charger.set_property(0xC7, &[0x30]);
    charger.set_property(0xDA, &[0x44]);
    charger.set_property(0xD8, &[0, 0, 0x03, 0xE8]);

    let dir = scratch("echonet_e2e");
    let config = dir.join("ocpp-gw.toml");
    std::fs::write(
        &config,
        format!(
            "[system]\nlog_level = \"debug\"\ndata_dir = \"{data}\"\n\n\
             [csms]\nurl = \"{url}\"\nreconnect_interval_sec = 1\nreconnect_random_range_sec = 1\n\n\
             [echonet]\ninterface = \"{GATEWAY}\"\nresponse_timeout_ms = 300\n\n\
             [[devices]]\nid = \"el-1\"\ntemplate = \"echonet_ev_charger\"\nprotocol = \"echonet_lite\"\n\
             ocpp_id = \"EL001\"\npoll_interval_ms = 60000\n\
             [devices.connection]\nip = \"{NODE}\"\neoj = \"0x02A101\"\n",
            data = dir.join("data").display(),
            url = csms.url(),
        ),
    )
    .unwrap();
    let _gw = Gateway::start(&config, &dir.join("gateway.log"));
    let ready = wait_status(&csms, "EL001", "Available", 0);

    // Polled once a minute: only the announcement can bring this change in time.
    charger.set_property(0xC7, &[0x41]);
    wait_status(&csms, "EL001", "Occupied", ready.seq);
    let started = wait_call(&csms, "EL001", "TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    assert_eq!(started.frame[3]["triggerReason"], "CablePluggedIn");

    let id = csms
        .call(
            "EL001",
            "RequestStartTransaction",
            json!({"remoteStartId": 5, "idToken": {"idToken": "APP", "type": "Central"}}),
        )
        .unwrap();
    let answer = csms
        .wait_for(WAIT, |r| {
            r.dir == Dir::In && r.frame[0] == 3 && r.frame[1] == id.as_str()
        })
        .expect("an answer to RequestStartTransaction");
    assert_eq!(answer.frame[2]["status"], "Accepted");
    let until = Instant::now() + WAIT;
    while charger.property(0xDA) != Some(vec![0x42]) {
        assert!(
            Instant::now() < until,
            "operation mode never set to charging"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let errors = common::validate_records(&csms.records());
    assert!(errors.is_empty(), "{errors:#?}");
}
