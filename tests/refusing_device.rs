//! Issue #12: a device that answers every read with a refusal (Modbus exception, ECHONET Lite
//! Get_SNA) tells nothing about the charger. Through the real binary, the CSMS must see the
//! connector go Unavailable with an EVSE Problem NotifyEvent, and come back once the device
//! answers again.

mod common;

use std::net::Ipv4Addr;

use common::gateway::{loopback, scratch, wait_status, Gateway, Rig, STATION, WAIT};
use ocpp_gw::modbus::pdu::ExceptionCode;
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Record};
use ocpp_gw::sim::echonet_charger::{EchonetChargerSim, SimConfig};

/// The gateway's own address and the node's, on loopback addresses no other test uses.
const GATEWAY: Ipv4Addr = Ipv4Addr::new(127, 73, 1, 1);
const NODE: Ipv4Addr = Ipv4Addr::new(127, 73, 2, 1);

/// Waits for the station's NotifyEvent of the EVSE Problem variable with `value`, after `after`.
fn wait_problem(csms: &CsmsSim, station: &str, value: &str, after: u64) -> Record {
    csms.wait_for(WAIT, |r| {
        r.seq > after
            && r.station == station
            && common::gateway::is_call(r, "NotifyEvent")
            && r.frame[3]["eventData"][0]["variable"]["name"] == "Problem"
            && r.frame[3]["eventData"][0]["actualValue"] == value
    })
    .unwrap_or_else(|| panic!("{station}: NotifyEvent Problem {value}"))
}

#[test]
fn a_modbus_device_refusing_every_read_goes_unavailable_until_it_answers() {
    let (rig, ready) = Rig::booted("refusing_modbus");
    rig.charger
        .refuse_reads(Some(ExceptionCode::IllegalDataAddress));
    let down = rig.wait_status("Unavailable", ready.seq);
    let raised = wait_problem(&rig.csms, STATION, "true", ready.seq);
    assert_eq!(
        raised.frame[3]["eventData"][0]["component"]["evse"]["id"],
        1
    );

    rig.charger.refuse_reads(None);
    rig.wait_status("Available", down.seq);
    wait_problem(&rig.csms, STATION, "false", raised.seq);
    common::gateway::assert_records_valid(&rig.csms);
}

#[test]
fn an_echonet_device_answering_get_sna_goes_unavailable_until_it_answers() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let mut node = SimConfig::charger(NODE);
    node.multicast = false;
    let charger = EchonetChargerSim::start(node).unwrap();

    let dir = scratch("refusing_echonet");
    let config = dir.join("ocpp-gw.toml");
    std::fs::write(
        &config,
        format!(
            "[system]\nlog_level = \"debug\"\ndata_dir = \"{data}\"\n\n\
             [csms]\nurl = \"{url}\"\nreconnect_interval_sec = 1\nreconnect_random_range_sec = 1\n\n\
             [echonet]\ninterface = \"{GATEWAY}\"\nresponse_timeout_ms = 300\noffline_after_failures = 2\n\n\
             [[devices]]\nid = \"el-1\"\ntemplate = \"echonet_ev_charger\"\nprotocol = \"echonet_lite\"\n\
             ocpp_id = \"EL001\"\npoll_interval_ms = 200\n\
             [devices.connection]\nip = \"{NODE}\"\neoj = \"0x02A101\"\n",
            data = dir.join("data").display(),
            url = csms.url(),
        ),
    )
    .unwrap();
    let _gw = Gateway::start(&config, &dir.join("gateway.log"));
    let ready = wait_status(&csms, "EL001", "Available", 0);

    charger.set_refuse_reads(true);
    let down = wait_status(&csms, "EL001", "Unavailable", ready.seq);
    let raised = wait_problem(&csms, "EL001", "true", ready.seq);

    charger.set_refuse_reads(false);
    wait_status(&csms, "EL001", "Available", down.seq);
    wait_problem(&csms, "EL001", "false", raised.seq);
    common::gateway::assert_records_valid(&csms);
}
