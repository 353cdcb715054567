//! Announcements against a scripted node: confirmed by a Get, rate-limited, size-checked.

use std::time::{Duration, Instant};

use super::super::tests::{
    charger, node_addr, online_device, reply, sent, session, settings, values, NODE,
};
use crate::echonet::frame::{Esv, Frame, Property};
use crate::echonet::{InfLimit, NODE_PROFILE};

fn inf(tid: u16, esv: Esv, props: Vec<Property>) -> Vec<u8> {
    Frame::new(tid, charger(), NODE_PROFILE, esv, props)
        .encode()
        .unwrap()
}

#[test]
fn an_announced_change_reaches_the_hub_only_once_a_get_confirms_it() {
    let (mut s, rx) = session(settings());
    let now = Instant::now();
    online_device(&mut s, &rx, now);
    let node_port = std::net::SocketAddr::new(node_addr(NODE).ip(), 40000);
    let t = now + Duration::from_millis(300);
    let claim = vec![Property::new(0xC7, [0x41])];
    s.datagram(node_port, &inf(7, Esv::Inf, claim.clone()), t)
        .unwrap();
    assert!(rx.try_recv().is_err(), "an INF alone reports nothing");
    s.tick(t).unwrap();
    let (_, get) = sent(&mut s).pop().expect("a confirming Get");
    assert_eq!(get.esv, Esv::Get);
    // The node says nothing changed: the INF was not its own.
    let props = vec![Property::new(0xC7, [0x30]), Property::new(0xDA, [0x44])];
    s.datagram(node_addr(NODE), &reply(&get, Esv::GetRes, props), t)
        .unwrap();
    assert!(rx.try_recv().is_err(), "an unconfirmed claim is dropped");

    let t = t + Duration::from_millis(300);
    s.datagram(node_port, &inf(8, Esv::InfC, claim), t).unwrap();
    let out = sent(&mut s);
    let expected = Frame::new(
        8,
        NODE_PROFILE,
        charger(),
        Esv::InfCRes,
        vec![Property::empty(0xC7)],
    );
    assert_eq!(
        out,
        vec![(node_port, expected)],
        "INFC answered where it came from"
    );
    s.tick(t).unwrap();
    let (_, get) = sent(&mut s).pop().expect("a confirming Get");
    let props = vec![Property::new(0xC7, [0x41]), Property::new(0xDA, [0x44])];
    s.datagram(node_addr(NODE), &reply(&get, Esv::GetRes, props), t)
        .unwrap();
    assert_eq!(rx.try_recv().unwrap(), values(1, &[(0, &[0x41])]));
}

#[test]
fn a_flood_of_inf_is_cut_to_the_node_rate_and_asks_for_one_get() {
    let mut config = settings();
    config.inf_limit = InfLimit {
        per_second: 10,
        burst: 5,
    };
    let (mut s, rx) = session(config);
    let now = Instant::now();
    online_device(&mut s, &rx, now);
    let before = crate::metrics::ECHONET_INF_DISCARDED.get();
    let t = now + Duration::from_millis(300);
    for tid in 0..1000u16 {
        let state = if tid % 2 == 0 { 0x41 } else { 0x30 };
        let claim = vec![Property::new(0xC7, [state])];
        s.datagram(node_addr(NODE), &inf(tid, Esv::InfC, claim), t)
            .unwrap();
    }
    assert_eq!(s.counters().inf_discarded, 995);
    assert!(crate::metrics::ECHONET_INF_DISCARDED.get() >= before + 995);
    let out = sent(&mut s);
    assert_eq!(out.len(), 5, "only admitted INFC are answered");
    s.tick(t).unwrap();
    assert_eq!(sent(&mut s).len(), 1, "one Get confirms them all");
    assert!(rx.try_recv().is_err());
    // Tokens come back at the configured rate.
    let later = t + Duration::from_millis(100);
    let one = vec![Property::new(0xC7, [0x30])];
    s.datagram(node_addr(NODE), &inf(2001, Esv::Inf, one.clone()), later)
        .unwrap();
    s.datagram(node_addr(NODE), &inf(2002, Esv::Inf, one), later)
        .unwrap();
    assert_eq!(s.counters().inf_discarded, 996, "one token in 100 ms");
}

#[test]
fn announcements_from_a_node_not_polled_are_ignored() {
    let (mut s, rx) = session(settings());
    let now = Instant::now();
    online_device(&mut s, &rx, now);
    let stranger = node_addr("192.0.2.11");
    let claim = vec![Property::new(0xC7, [0x41])];
    s.datagram(stranger, &inf(1, Esv::InfC, claim), now)
        .unwrap();
    assert!(sent(&mut s).is_empty(), "no INFC_Res to strangers");
    assert!(rx.try_recv().is_err());
}

#[test]
fn a_value_longer_than_its_definition_is_refused() {
    let (mut s, rx) = session(settings());
    let now = Instant::now();
    online_device(&mut s, &rx, now);
    let t = now + Duration::from_millis(300);
    let long = vec![Property::new(0xC7, [0x41, 0x41])];
    s.datagram(node_addr(NODE), &inf(1, Esv::Inf, long), t)
        .unwrap();
    assert_eq!(s.counters().bad_values, 1);
    assert_eq!(
        s.next_deadline(),
        Some(now + Duration::from_secs(1)),
        "no Get for a malformed claim"
    );
    let t = now + Duration::from_secs(1);
    s.tick(t).unwrap();
    let (_, get) = sent(&mut s).pop().unwrap();
    let props = vec![
        Property::new(0xC7, [0x41, 0x00]),
        Property::new(0xDA, [0x42]),
    ];
    s.datagram(node_addr(NODE), &reply(&get, Esv::GetRes, props), t)
        .unwrap();
    assert_eq!(s.counters().bad_values, 2);
    assert_eq!(
        rx.try_recv().unwrap(),
        values(1, &[(1, &[0x42])]),
        "only the well-formed value"
    );
    assert!(rx.try_recv().is_err());
}

#[test]
fn an_answer_with_only_malformed_values_is_a_failed_poll() {
    let mut config = settings();
    config.offline_after_failures = 1;
    let (mut s, rx) = session(config);
    let now = Instant::now();
    online_device(&mut s, &rx, now);
    let t = now + Duration::from_secs(1);
    s.tick(t).unwrap();
    let (_, get) = sent(&mut s).pop().unwrap();
    let props = vec![
        Property::new(0xC7, [0, 0x41]),
        Property::new(0xDA, [0, 0x42]),
    ];
    s.datagram(node_addr(NODE), &reply(&get, Esv::GetRes, props), t)
        .unwrap();
    assert!(matches!(
        rx.try_recv(),
        Ok(crate::device::DeviceEvent::Offline { .. })
    ));
}
