//! The session against scripted nodes: every datagram it sends is decoded and answered by hand.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;

use super::*;
use crate::device::{EpcRead, PollClass, RawValue};
use crate::echonet::{Eoj, PORT};

pub(super) const NODE: &str = "192.0.2.10";
pub(super) const TIMEOUT: Duration = Duration::from_millis(500);

pub(super) fn settings() -> Settings {
    Settings {
        response_timeout: TIMEOUT,
        retries: 1,
        max_in_flight_per_node: 1,
        offline_after_failures: 2,
        ..Settings::default()
    }
}

pub(super) fn session(settings: Settings) -> (Session, Receiver<DeviceEvent>) {
    let (tx, rx) = crossbeam_channel::bounded(64);
    (Session::new(settings, tx, 100), rx)
}

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(super) fn node_addr(s: &str) -> SocketAddr {
    SocketAddr::new(ip(s), PORT)
}

pub(super) fn charger() -> Eoj {
    Eoj::from_u32(0x02A101).unwrap()
}

/// A device reading vehicle status (var 0) and operation mode (var 1).
pub(super) fn device(id: u32, eoj: Option<u32>) -> EchonetDevice {
    EchonetDevice {
        id: DeviceId(id),
        name: format!("el{id}"),
        ip: NODE.into(),
        eoj,
        poll_interval: Duration::from_secs(1),
        slow_poll_interval: Duration::from_secs(1),
        reads: vec![
            EpcRead {
                var: 0,
                epc: 0xC7,
                class: PollClass::Fast,
            },
            EpcRead {
                var: 1,
                epc: 0xDA,
                class: PollClass::Fast,
            },
        ],
    }
}

/// Everything the session wants sent, decoded.
pub(super) fn sent(s: &mut Session) -> Vec<(SocketAddr, Frame)> {
    std::iter::from_fn(|| s.poll_transmit())
        .map(|d| (d.to, Frame::decode(&d.bytes).unwrap()))
        .collect()
}

/// The node's answer to `request`.
pub(super) fn reply(request: &Frame, esv: Esv, props: Vec<Property>) -> Vec<u8> {
    Frame::new(request.tid, request.deoj, request.seoj, esv, props)
        .encode()
        .unwrap()
}

pub(super) fn values(id: u32, v: &[(usize, &[u8])]) -> DeviceEvent {
    DeviceEvent::Values {
        device: DeviceId(id),
        values: v
            .iter()
            .map(|(var, b)| (*var, RawValue::Bytes(b.to_vec())))
            .collect(),
    }
}

pub(super) fn online(id: u32) -> DeviceEvent {
    DeviceEvent::Online {
        device: DeviceId(id),
    }
}

/// Adds device 1 bound to the charger and answers its first poll.
pub(super) fn online_device(s: &mut Session, rx: &Receiver<DeviceEvent>, now: Instant) {
    s.add(device(1, Some(0x02A101)), ip(NODE), now);
    s.tick(now).unwrap();
    let (_, get) = sent(s).pop().unwrap();
    let props = vec![Property::new(0xC7, [0x30]), Property::new(0xDA, [0x44])];
    s.datagram(node_addr(NODE), &reply(&get, Esv::GetRes, props), now)
        .unwrap();
    assert_eq!(rx.try_recv().unwrap(), online(1));
    rx.try_recv().unwrap();
}

#[test]
fn one_get_per_object_then_online_and_values() {
    let (mut s, rx) = session(settings());
    let now = Instant::now();
    s.add(device(1, Some(0x02A101)), ip(NODE), now);
    assert_eq!(s.next_deadline(), Some(now));
    s.tick(now).unwrap();
    let out = sent(&mut s);
    assert_eq!(out.len(), 1);
    let (to, get) = &out[0];
    assert_eq!(*to, node_addr(NODE));
    assert_eq!(
        (get.esv, get.seoj, get.deoj),
        (Esv::Get, CONTROLLER, charger())
    );
    assert_eq!(
        get.props,
        vec![Property::empty(0xC7), Property::empty(0xDA)]
    );
    assert_eq!(
        s.next_deadline(),
        Some(now + TIMEOUT),
        "waiting for the answer"
    );
    let props = vec![Property::new(0xC7, [0x41]), Property::new(0xDA, [0x44])];
    s.datagram(node_addr(NODE), &reply(get, Esv::GetRes, props), now)
        .unwrap();
    assert_eq!(rx.try_recv().unwrap(), online(1));
    assert_eq!(
        rx.try_recv().unwrap(),
        values(1, &[(0, &[0x41]), (1, &[0x44])])
    );
    assert_eq!(s.next_deadline(), Some(now + Duration::from_secs(1)));
}

#[test]
fn a_node_gets_at_most_the_in_flight_limit() {
    let (mut s, rx) = session(settings());
    let now = Instant::now();
    for id in 1..=3 {
        s.add(device(id, Some(0x02A101)), ip(NODE), now);
    }
    s.tick(now).unwrap();
    for round in 0..3 {
        let out = sent(&mut s);
        assert_eq!(out.len(), 1, "round {round}: one request at a time");
        let (_, get) = &out[0];
        let props = vec![Property::new(0xC7, [0x30]), Property::new(0xDA, [0x44])];
        s.datagram(node_addr(NODE), &reply(get, Esv::GetRes, props), now)
            .unwrap();
    }
    assert!(sent(&mut s).is_empty());
    assert_eq!(rx.try_iter().count(), 6, "Online and Values for each");
}

#[test]
fn unanswered_requests_are_sent_again_then_fail_and_the_device_goes_offline() {
    let (mut s, rx) = session(settings());
    let now = Instant::now();
    online_device(&mut s, &rx, now);
    let mut t = now + Duration::from_secs(1);
    for poll in 0..2 {
        s.tick(t).unwrap();
        let (_, first) = sent(&mut s).pop().unwrap();
        t += TIMEOUT;
        s.tick(t).unwrap();
        let (_, again) = sent(&mut s).pop().unwrap();
        assert_eq!(first, again, "poll {poll}: same frame, same TID");
        t += TIMEOUT;
        s.tick(t).unwrap();
        if poll == 0 {
            assert!(rx.try_recv().is_err(), "one failure is not offline yet");
            // A late answer to a given-up request matches nothing.
            let late = reply(&first, Esv::GetRes, vec![Property::new(0xC7, [0x30])]);
            s.datagram(node_addr(NODE), &late, t).unwrap();
            assert_eq!(s.counters().unmatched, 1);
            t += Duration::from_secs(1);
        }
    }
    assert!(matches!(rx.try_recv(), Ok(DeviceEvent::Offline { .. })));
    assert_eq!(s.counters().retransmits, 2);
    assert_eq!(s.counters().timeouts, 2);
}

#[test]
fn a_late_first_answer_still_counts() {
    let (mut s, rx) = session(settings());
    let now = Instant::now();
    s.add(device(1, Some(0x02A101)), ip(NODE), now);
    s.tick(now).unwrap();
    let (_, get) = sent(&mut s).pop().unwrap();
    s.tick(now + TIMEOUT).unwrap();
    assert_eq!(sent(&mut s).len(), 1, "sent again");
    let props = vec![Property::new(0xC7, [0x30]), Property::new(0xDA, [0x44])];
    s.datagram(
        node_addr(NODE),
        &reply(&get, Esv::GetRes, props),
        now + TIMEOUT,
    )
    .unwrap();
    assert_eq!(rx.try_recv().unwrap(), online(1));
}

#[test]
fn answers_from_another_address_or_object_are_ignored() {
    let (mut s, rx) = session(settings());
    let now = Instant::now();
    s.add(device(1, Some(0x02A101)), ip(NODE), now);
    s.tick(now).unwrap();
    let (_, get) = sent(&mut s).pop().unwrap();
    let props = vec![Property::new(0xC7, [0x30])];
    let answer = reply(&get, Esv::GetRes, props.clone());
    s.datagram(node_addr("192.0.2.99"), &answer, now).unwrap();
    let mut other = Frame::decode(&answer).unwrap();
    other.seoj = Eoj::from_u32(0x02A102).unwrap();
    s.datagram(node_addr(NODE), &other.encode().unwrap(), now)
        .unwrap();
    assert!(rx.try_recv().is_err());
    assert_eq!(s.counters().unmatched, 2);
}

#[test]
fn get_sna_keeps_the_device_online_without_the_refused_value() {
    let (mut s, rx) = session(settings());
    let now = Instant::now();
    s.add(device(1, Some(0x02A101)), ip(NODE), now);
    s.tick(now).unwrap();
    let (_, get) = sent(&mut s).pop().unwrap();
    let props = vec![Property::new(0xC7, [0x41]), Property::empty(0xDA)];
    s.datagram(node_addr(NODE), &reply(&get, Esv::GetSna, props), now)
        .unwrap();
    assert_eq!(rx.try_recv().unwrap(), online(1));
    assert_eq!(rx.try_recv().unwrap(), values(1, &[(0, &[0x41])]));
    assert_eq!(s.counters().sna, 1);
}

#[test]
fn get_sna_of_every_property_fails_the_poll_until_the_node_answers() {
    let (mut s, rx) = session(settings());
    let mut t = Instant::now();
    online_device(&mut s, &rx, t);
    for _ in 0..2 {
        t += Duration::from_secs(1);
        s.tick(t).unwrap();
        let (_, get) = sent(&mut s).pop().unwrap();
        let props = vec![Property::empty(0xC7), Property::empty(0xDA)];
        s.datagram(node_addr(NODE), &reply(&get, Esv::GetSna, props), t)
            .unwrap();
    }
    assert_eq!(
        rx.try_recv().unwrap(),
        DeviceEvent::Offline {
            device: DeviceId(1),
            reason: "no usable value in Get_SNA for EPC C7 DA (refused or malformed)".into()
        }
    );
    t += Duration::from_secs(2);
    s.tick(t).unwrap();
    let (_, get) = sent(&mut s).pop().unwrap();
    let props = vec![Property::new(0xC7, [0x30]), Property::new(0xDA, [0x44])];
    s.datagram(node_addr(NODE), &reply(&get, Esv::GetRes, props), t)
        .unwrap();
    assert_eq!(rx.try_recv().unwrap(), online(1));
    assert_eq!(
        rx.try_recv().unwrap(),
        values(1, &[(0, &[0x30]), (1, &[0x44])])
    );
}

#[test]
fn malformed_datagrams_are_counted_and_dropped() {
    let (mut s, rx) = session(settings());
    let now = Instant::now();
    let before = crate::echonet::MALFORMED_FRAMES_TOTAL.load(Ordering::Relaxed);
    s.datagram(node_addr(NODE), &[0x10, 0x81, 0x00], now)
        .unwrap();
    s.datagram(node_addr(NODE), b"GET / HTTP/1.1\r\n\r\n", now)
        .unwrap();
    assert_eq!(s.counters().malformed, 2);
    assert!(crate::echonet::MALFORMED_FRAMES_TOTAL.load(Ordering::Relaxed) >= before + 2);
    assert!(rx.try_recv().is_err());
}

#[test]
fn writes_go_ahead_of_polls_and_report_their_outcome() {
    let (mut s, rx) = session(settings());
    let now = Instant::now();
    online_device(&mut s, &rx, now);
    let t = now + Duration::from_secs(1);
    s.add(device(2, Some(0x02A101)), ip(NODE), t);
    // Device 1's poll is in flight (limit 1); device 2's waits; the write jumps the queue.
    s.tick(t).unwrap();
    let (_, poll) = sent(&mut s).pop().unwrap();
    let write = |token, epc, edt: &[u8]| WriteRequest {
        device: DeviceId(1),
        token,
        value: WriteValue::Epc {
            epc,
            edt: edt.to_vec(),
        },
    };
    s.write(write(5, 0xDA, &[0x42]), t).unwrap();
    assert!(sent(&mut s).is_empty());
    s.datagram(
        node_addr(NODE),
        &reply(&poll, Esv::GetRes, vec![Property::new(0xC7, [0x30])]),
        t,
    )
    .unwrap();
    let (_, setc) = sent(&mut s).pop().unwrap();
    assert_eq!((setc.esv, setc.deoj), (Esv::SetC, charger()));
    assert_eq!(setc.props, vec![Property::new(0xDA, [0x42])]);
    let accepted = reply(&setc, Esv::SetRes, vec![Property::empty(0xDA)]);
    s.datagram(node_addr(NODE), &accepted, t).unwrap();
    let written = rx.try_iter().last().unwrap();
    let ok = DeviceEvent::Written {
        device: DeviceId(1),
        token: 5,
        result: Ok(()),
    };
    assert_eq!(written, ok);
    let (_, next) = sent(&mut s).pop().unwrap();
    assert_eq!(next.esv, Esv::Get, "device 2's poll follows");
    s.datagram(
        node_addr(NODE),
        &reply(&next, Esv::GetRes, vec![Property::new(0xC7, [0x30])]),
        t,
    )
    .unwrap();

    s.write(write(6, 0xDA, &[0x99]), t).unwrap();
    let (_, setc) = sent(&mut s).pop().unwrap();
    let refused = reply(&setc, Esv::SetCSna, vec![Property::new(0xDA, [0x99])]);
    s.datagram(node_addr(NODE), &refused, t).unwrap();
    match rx.try_iter().last() {
        Some(DeviceEvent::Written {
            token: 6,
            result: Err(e),
            ..
        }) => assert!(e.contains("DA"), "{e}"),
        other => panic!("expected a refused write, got {other:?}"),
    }

    s.write(
        WriteRequest {
            device: DeviceId(9),
            token: 7,
            value: WriteValue::Epc {
                epc: 0xDA,
                edt: vec![0x42],
            },
        },
        t,
    )
    .unwrap();
    assert!(matches!(
        rx.try_recv(),
        Ok(DeviceEvent::Written {
            token: 7,
            result: Err(_),
            ..
        })
    ));
}

#[test]
fn an_unbound_device_is_bound_by_multicast_discovery() {
    let (mut s, rx) = session(settings());
    let now = Instant::now();
    s.add(device(1, None), ip(NODE), now);
    let out = sent(&mut s);
    assert_eq!(out.len(), 1);
    let (to, get) = &out[0];
    assert_eq!(*to, SocketAddr::new(MULTICAST_GROUP.into(), PORT));
    assert_eq!(
        (get.deoj, get.props.clone()),
        (NODE_PROFILE, vec![Property::empty(0xD6)])
    );
    let list = vec![Property::new(0xD6, [2, 0x05, 0xFF, 0x01, 0x02, 0xA1, 0x01])];
    // A node that is not configured answers too: ignored.
    s.datagram(
        node_addr("192.0.2.50"),
        &reply(get, Esv::GetRes, list.clone()),
        now,
    )
    .unwrap();
    s.datagram(node_addr(NODE), &reply(get, Esv::GetRes, list), now)
        .unwrap();
    // The device is polled at its object, not asked for the list again.
    s.tick(now).unwrap();
    let (_, poll) = sent(&mut s).pop().unwrap();
    assert_eq!((poll.esv, poll.deoj), (Esv::Get, charger()));
    assert!(rx.try_recv().is_err());
}

#[test]
fn an_unbound_device_asks_its_node_and_follows_instance_announcements() {
    let (mut s, rx) = session(settings());
    let now = Instant::now();
    s.add(device(1, None), ip(NODE), now);
    sent(&mut s);
    s.tick(now).unwrap();
    let (to, get) = sent(&mut s).pop().unwrap();
    assert_eq!(to, node_addr(NODE), "unicast to the node this time");
    assert_eq!(get.deoj, NODE_PROFILE);
    let list = vec![Property::new(0xD6, [1, 0x02, 0x7E, 0x01])];
    s.datagram(node_addr(NODE), &reply(&get, Esv::GetRes, list), now)
        .unwrap();
    s.tick(now).unwrap();
    let (_, poll) = sent(&mut s).pop().unwrap();
    assert_eq!(poll.deoj, Eoj::from_u32(0x027E01).unwrap());
    let props = vec![Property::new(0xC7, [0x30]), Property::new(0xDA, [0x44])];
    s.datagram(node_addr(NODE), &reply(&poll, Esv::GetRes, props), now)
        .unwrap();
    assert_eq!(rx.try_recv().unwrap(), online(1));
    rx.try_recv().unwrap();
    // The node restarts with its charger as instance 2 and announces it.
    let d5 = Frame::new(
        1,
        NODE_PROFILE,
        NODE_PROFILE,
        Esv::Inf,
        vec![Property::new(0xD5, [1, 0x02, 0x7E, 0x02])],
    );
    s.datagram(node_addr(NODE), &d5.encode().unwrap(), now)
        .unwrap();
    let t = now + Duration::from_secs(1);
    s.tick(t).unwrap();
    let (_, poll) = sent(&mut s).pop().unwrap();
    assert_eq!(poll.deoj, Eoj::from_u32(0x027E02).unwrap());
}

#[test]
fn a_node_without_a_charger_object_fails_the_device() {
    let (mut s, rx) = session(Settings {
        offline_after_failures: 1,
        ..settings()
    });
    let now = Instant::now();
    s.add(device(1, None), ip(NODE), now);
    sent(&mut s);
    s.tick(now).unwrap();
    let (_, get) = sent(&mut s).pop().unwrap();
    let list = vec![Property::new(0xD6, [1, 0x01, 0x30, 0x01])];
    s.datagram(node_addr(NODE), &reply(&get, Esv::GetRes, list), now)
        .unwrap();
    match rx.try_recv() {
        Ok(DeviceEvent::Offline { reason, .. }) => assert!(reason.contains("no EV charger")),
        other => panic!("expected Offline, got {other:?}"),
    }
}

#[test]
fn removed_devices_are_forgotten() {
    let (mut s, rx) = session(settings());
    let now = Instant::now();
    s.add(device(1, Some(0x02A101)), ip(NODE), now);
    s.tick(now).unwrap();
    let (_, get) = sent(&mut s).pop().unwrap();
    s.remove(DeviceId(1));
    s.datagram(
        node_addr(NODE),
        &reply(&get, Esv::GetRes, vec![Property::new(0xC7, [0x30])]),
        now,
    )
    .unwrap();
    assert!(rx.try_recv().is_err());
    assert_eq!(s.next_deadline(), None, "nothing left to do");
}
