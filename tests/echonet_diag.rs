//! `ocpp-gw diag el` (the real binary) against simulated nodes on 127.61.4.x.
//!
//! Each test has its own node and interface addresses; discovery sees every simulator of this
//! file that is running at the time, so it checks only for its own.

#![cfg(feature = "sim")]

use std::net::{Ipv4Addr, UdpSocket};
use std::process::{Command, Output};

use ocpp_gw::sim::echonet_charger::{EchonetChargerSim, SimConfig};

fn sim(last_octet: u8) -> EchonetChargerSim {
    EchonetChargerSim::start(SimConfig::charger(Ipv4Addr::new(127, 61, 4, last_octet))).unwrap()
}

fn diag(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ocpp-gw"))
        .arg("diag")
        .arg("el")
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Exit code, stdout and stderr, with every stdout line within 80 columns.
fn run(args: &[&str]) -> (i32, String, String) {
    let out = diag(args);
    let stdout = text(&out.stdout);
    for line in stdout.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
    (out.status.code().unwrap_or(-1), stdout, text(&out.stderr))
}

#[test]
fn get_prints_values_in_hex_and_words() {
    let node = sim(1);
    node.set_property(0xD8, &[0, 0, 0x30, 0x39]);
    let (code, out, err) = run(&[
        "get",
        "--ip",
        "127.61.4.1",
        "--eoj",
        "0x02A101",
        "--epc",
        "0x80,0xC7,0xD8",
        "--interface",
        "127.61.4.101",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let expected = "\
127.61.4.1 0x02A101 (EV charger): Get_Res
0x80  operation status              30  ON
0xC7  vehicle connection status     30  not connected
0xD8  cumulative charged energy     00 00 30 39  12.345 kWh
";
    assert_eq!(out, expected);
}

#[test]
fn a_refused_property_is_shown_and_exits_1() {
    let node = sim(2);
    node.refuse(0xD3);
    let (code, out, _) = run(&[
        "get",
        "--ip",
        "127.61.4.2",
        "--eoj",
        "02A101",
        "--epc",
        "80,D3",
        "--interface",
        "127.61.4.102",
    ]);
    assert_eq!(code, 1);
    assert!(
        out.starts_with("127.61.4.2 0x02A101 (EV charger): Get_SNA\n"),
        "{out}"
    );
    assert!(
        out.contains("0xD3  instantaneous charging power  refused"),
        "{out}"
    );
}

#[test]
fn set_writes_the_property() {
    let node = sim(3);
    let set = |epc: &str, edt: &str| {
        run(&[
            "set",
            "--ip",
            "127.61.4.3",
            "--eoj",
            "0x02A101",
            "--epc",
            epc,
            "--edt",
            edt,
            "--interface",
            "127.61.4.103",
        ])
    };
    let (code, out, err) = set("0xDA", "42");
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out,
        "127.61.4.3 0x02A101 (EV charger): Set_Res\n\
         0xDA  operation mode setting        42  charging\naccepted\n"
    );
    assert_eq!(node.property(0xDA), Some(vec![0x42]));
    let (code, out, _) = set("0xC7", "41");
    assert_eq!(code, 1, "vehicle status is read-only");
    assert!(out.contains("SetC_SNA") && out.contains("refused"), "{out}");
    assert_eq!(node.property(0xC7), Some(vec![0x30]));
}

#[test]
fn a_silent_node_exits_1() {
    let node = sim(4);
    node.set_vanished(true);
    let (code, _, err) = run(&[
        "get",
        "--ip",
        "127.61.4.4",
        "--eoj",
        "0x02A101",
        "--epc",
        "0x80",
        "--timeout",
        "0.2",
        "--interface",
        "127.61.4.104",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("127.61.4.4 did not answer (3 tries)"), "{err}");
}

#[test]
fn usage_errors_exit_2() {
    let (code, _, err) = run(&["get", "--ip", "127.61.4.5", "--epc", "0x80"]);
    assert_eq!(code, 2);
    assert!(err.contains("--eoj is required"), "{err}");
    let (code, _, _) = run(&["set", "--ip", "x", "--eoj", "0x02A101"]);
    assert_eq!(code, 2);
}

#[test]
fn a_taken_port_is_reported_and_an_ephemeral_one_used() {
    let _node = sim(6);
    let interface = "127.61.4.106";
    let _daemon = UdpSocket::bind((interface, 3610)).unwrap();
    let (code, out, err) = run(&[
        "get",
        "--ip",
        "127.61.4.6",
        "--eoj",
        "0x02A101",
        "--epc",
        "0x80",
        "--interface",
        interface,
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("port 3610 on 127.61.4.106 is in use"), "{err}");
}

#[test]
fn discover_lists_nodes_objects_and_property_maps() {
    let _node = sim(7);
    let (code, out, err) = run(&["discover", "--timeout", "1", "--interface", "127.61.4.107"]);
    assert_eq!(code, 0, "{out}{err}");
    let expected = "\
node 127.61.4.7
  0x0EF001 (node profile)
    announces    80 D5
    set          (none)
    get          80 82 8A 9D 9E 9F D3 D6 D7
  0x02A101 (EV charger)
    announces    80 88 C7 DA
    set          80 DA EB ED
    get          80 82 88 8A 9D 9E 9F C7 CC D3 D8 DA E2 E4 EB ED
";
    assert!(out.contains(expected), "{out}");
}
