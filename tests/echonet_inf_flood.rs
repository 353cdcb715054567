//! Issue #13 through the real binary: ECHONET Lite has no authentication, so a flood of INF
//! spoofed from the charger's own address must start no transaction, must not stall the
//! gateway, and must not hide a real change, which a Get confirms.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::time::Duration;

use common::gateway::{
    is_call, loopback, scratch, status_of, wait_call, wait_status, Gateway, WAIT,
};
use ocpp_gw::echonet::{Esv, Frame, Property, NODE_PROFILE};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Dir};
use ocpp_gw::sim::echonet_charger::{EchonetChargerSim, SimConfig};
use serde_json::json;

/// The gateway's own address and the node's, on loopback addresses no other test uses.
const GATEWAY: Ipv4Addr = Ipv4Addr::new(127, 74, 1, 1);
const NODE: Ipv4Addr = Ipv4Addr::new(127, 74, 2, 1);
/// As many spoofed datagrams as in the report of issue #13.
const FLOOD: u16 = 20_000;

/// The value of an unlabelled sample in the gateway's Prometheus exposition.
fn metric(port: u16, name: &str) -> Option<f64> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(WAIT)).ok()?;
    let request = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    stream.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn spoofed_inf_start_no_transaction_and_a_real_change_still_gets_through() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    let mut node = SimConfig::charger(NODE);
    node.multicast = false;
    node.notify = vec![(GATEWAY, 3610).into()];
    let charger = EchonetChargerSim::start(node).unwrap();
    let prometheus = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let dir = scratch("echonet_inf_flood");
    let config = dir.join("ocpp-gw.toml");
    std::fs::write(
        &config,
        format!(
            "[system]\nlog_level = \"debug\"\ndata_dir = \"{data}\"\n\n\
             [system.metrics]\nprometheus_port = {prometheus}\n\n\
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

    // The charger stays idle; the spoofer sends from its address, from any port.
    let spoofer = UdpSocket::bind(SocketAddr::from((NODE, 0))).unwrap();
    let gateway = SocketAddr::from((GATEWAY, 3610));
    for tid in 0..FLOOD {
        let (vehicle, mode) = if tid % 2 == 0 {
            (0x41, 0x42)
        } else {
            (0x30, 0x44)
        };
        let props = vec![Property::new(0xC7, [vehicle]), Property::new(0xDA, [mode])];
        let frame = Frame::new(tid, charger.eoj(), NODE_PROFILE, Esv::Inf, props);
        spoofer.send_to(&frame.encode().unwrap(), gateway).unwrap();
        if tid % 100 == 99 {
            // About 20,000 in 5 s, as reported, in bursts the socket buffer holds.
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    // Still responsive: the station answers the CSMS at once.
    let id = csms
        .call(
            "EL001",
            "TriggerMessage",
            json!({"requestedMessage": "Heartbeat"}),
        )
        .unwrap();
    let answer = csms
        .wait_for(WAIT, |r| {
            r.dir == Dir::In && r.frame[0] == 3 && r.frame[1] == id.as_str()
        })
        .expect("an answer to TriggerMessage during the aftermath of the flood");
    assert_eq!(answer.frame[2]["status"], "Accepted");
    let records = csms.records();
    let lies: Vec<_> = records
        .iter()
        .filter(|r| r.seq > ready.seq && r.station == "EL001")
        .filter(|r| is_call(r, "TransactionEvent") || status_of(r) == Some("Occupied"))
        .collect();
    assert!(lies.is_empty(), "spoofed INF reached the CSMS: {lies:#?}");
    let discarded = metric(prometheus, "ocppgw_echonet_inf_discarded_total").unwrap_or(0.0);
    assert!(
        // The node may send ~70 in that time; the kernel may drop some under load.
        discarded >= f64::from(FLOOD) / 4.0,
        "the flood is cut to the node's INF rate: {discarded} discarded"
    );

    // The node's bucket refills; a real change, announced and confirmed, gets through.
    std::thread::sleep(Duration::from_secs(2));
    charger.set_property(0xC7, &[0x41]);
    wait_status(&csms, "EL001", "Occupied", ready.seq);
    wait_call(&csms, "EL001", "TransactionEvent", ready.seq, |p| {
        p["eventType"] == "Started"
    });
    common::gateway::assert_records_valid(&csms);
}
