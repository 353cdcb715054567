//! Issue #12: a device that answers every read with a refusal (Modbus exception, ECHONET Lite
//! Get_SNA) tells nothing about the charger. Through the real binary, the CSMS must see the
//! connector go Unavailable with an EVSE Problem NotifyEvent, and come back once the device
//! answers again.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};

use common::gateway::{loopback, scratch, sent_at, wait_status, Gateway, Rig, STATION, WAIT};
use ocpp_gw::modbus::pdu::ExceptionCode;
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Record};
use ocpp_gw::sim::echonet_charger::{EchonetChargerSim, SimConfig};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;

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

/// Issue #13: how many refused polls make a device offline is each device's own
/// `offline_after_failures`, even for two units behind one TCP bridge.
#[test]
fn each_modbus_device_goes_unavailable_after_its_own_number_of_refused_polls() {
    const POLL_MS: u64 = 200;
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let bridge = ModbusChargerSim::start(loopback()).unwrap();
    let dir = scratch("refusing_thresholds");
    let mut text = format!(
        "[system]\nlog_level = \"debug\"\ndata_dir = \"{}\"\n\n[csms]\nurl = \"{}\"\n\
         reconnect_interval_sec = 1\nreconnect_random_range_sec = 1\n",
        dir.join("data").display(),
        csms.url()
    );
    for (n, failures) in [(1, 1), (2, 5)] {
        text.push_str(&format!(
            "\n[[devices]]\nid = \"charger-{n}\"\ntemplate = \"generic_modbus_charger\"\n\
             protocol = \"modbus_tcp\"\nocpp_id = \"CP00{n}\"\npoll_interval_ms = {POLL_MS}\n\
             [devices.connection]\nip = \"{}\"\nport = {}\nunit_id = {n}\n\
             offline_after_failures = {failures}\n",
            bridge.addr().ip(),
            bridge.addr().port(),
        ));
    }
    let config = dir.join("ocpp-gw.toml");
    std::fs::write(&config, text).unwrap();
    let _gw = Gateway::start(&config, &dir.join("gateway.log"));
    let ready = wait_status(&csms, "CP001", "Available", 0).seq;
    let ready = ready.max(wait_status(&csms, "CP002", "Available", 0).seq);

    let refused = SystemTime::now();
    bridge.refuse_reads(Some(ExceptionCode::IllegalDataAddress));
    let quick_down = wait_status(&csms, "CP001", "Unavailable", ready);
    let patient_down = wait_status(&csms, "CP002", "Unavailable", ready);
    assert!(
        quick_down.seq < patient_down.seq,
        "the device allowed one failure goes first"
    );
    // Its first refused poll comes at most one interval after the refusals start, its fifth
    // four intervals later; the CSMS stamps each record when it arrives.
    let patient_after = sent_at(&patient_down)
        .duration_since(refused)
        .unwrap_or_default();
    assert!(
        patient_after >= Duration::from_millis(4 * POLL_MS),
        "CP002 went Unavailable after {patient_after:?}, before 5 polls"
    );

    bridge.refuse_reads(None);
    wait_status(&csms, "CP001", "Available", quick_down.seq);
    wait_status(&csms, "CP002", "Available", patient_down.seq);
    common::gateway::assert_records_valid(&csms);
}
