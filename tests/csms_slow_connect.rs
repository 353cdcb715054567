//! A CSMS front that drips its upgrade answer one byte every 4 s for some stations must not
//! keep the real gateway's other stations from connecting: they boot within seconds, and the
//! dripping attempts are given up at the connect deadline (`csms.connect_timeout_sec`) and
//! retried.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use common::gateway::{loopback, scratch, write_config, Gateway};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim};
use ocpp_gw::sim::modbus_charger::ModbusChargerSim;

/// A TCP front for `csms`: a station whose upgrade request path ends in one of `slow` gets
/// its answer one byte every 4 s for ever; every other connection is passed through.
fn dripping_front(csms: SocketAddr, slow: Vec<String>) -> SocketAddr {
    let listener = TcpListener::bind(loopback()).unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let slow = slow.clone();
            thread::spawn(move || serve(stream, csms, &slow));
        }
    });
    addr
}

fn serve(mut client: TcpStream, csms: SocketAddr, slow: &[String]) {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match client.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text.split_whitespace().nth(1).unwrap_or_default();
    if slow.iter().any(|id| path.ends_with(&format!("/{id}"))) {
        for byte in b"HTTP/1.1 101 Switching Protocols\r\n".iter().cycle() {
            if client.write_all(&[*byte]).is_err() {
                return;
            }
            thread::sleep(Duration::from_secs(4));
        }
    }
    let Ok(mut server) = TcpStream::connect(csms) else {
        return;
    };
    if server.write_all(&head).is_err() {
        return;
    }
    let (Ok(mut client_rx), Ok(mut server_tx)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    thread::spawn(move || std::io::copy(&mut client_rx, &mut server_tx));
    let _ = std::io::copy(&mut server, &mut client);
}

#[test]
fn stations_boot_within_seconds_while_the_csms_drips_the_answer_to_others() {
    let csms = CsmsSim::start(loopback(), CsmsOptions::default()).unwrap();
    // CP001..CP006 drip; CP007 and CP008 are served normally.
    let slow: Vec<String> = (1..=6).map(|n| format!("CP{n:03}")).collect();
    let front = dripping_front(csms.addr(), slow);
    let chargers: Vec<ModbusChargerSim> = (0..8)
        .map(|_| ModbusChargerSim::start(loopback()).unwrap())
        .collect();
    let addrs: Vec<SocketAddr> = chargers.iter().map(ModbusChargerSim::addr).collect();
    let dir = scratch("csms_slow_connect");
    let config = write_config(
        &dir,
        &format!("ws://{front}/ocpp"),
        &addrs,
        "connect_timeout_sec = 3\n",
    );
    let started = Instant::now();
    let _gw = Gateway::start(&config, &dir.join("gateway.log"));
    for station in ["CP007", "CP008"] {
        let boot = csms.wait_for(Duration::from_secs(5), |r| {
            r.station == station && common::gateway::is_call(r, "BootNotification")
        });
        assert!(
            boot.is_some(),
            "{station} did not boot within 5 s while others dripped; log:\n{}",
            std::fs::read_to_string(dir.join("gateway.log")).unwrap_or_default()
        );
    }
    assert!(started.elapsed() < Duration::from_secs(6));
    // The dripping attempts end at the connect deadline (`connect_timeout_sec`) and are
    // logged as timed out.
    let until = started + Duration::from_secs(7);
    loop {
        let log = std::fs::read_to_string(dir.join("gateway.log")).unwrap_or_default();
        if log.contains("CP001: cannot connect to the CSMS: WebSocket handshake timed out") {
            break;
        }
        assert!(Instant::now() < until, "no timeout logged:\n{log}");
        thread::sleep(Duration::from_millis(200));
    }
    assert!(!csms.connected("CP001"));
}
