use std::time::{Duration, Instant, UNIX_EPOCH};

use serde_json::{json, Value};

use super::*;

fn settings() -> StationSettings {
    StationSettings {
        ocpp_id: "CP1".into(),
        vendor_name: "V".into(),
        model: "M".into(),
        firmware_version: "1".into(),
        heartbeat_interval: Duration::from_secs(300),
        response_timeout: Duration::from_secs(30),
        backoff: Backoff {
            wait_minimum: Duration::from_secs(10),
            random_range: Duration::ZERO,
            repeat_times: 3,
        },
        connectors: 1,
    }
}

struct Harness {
    st: Station,
    now: Instant,
}

impl Harness {
    fn new() -> Self {
        let now = Instant::now();
        Harness {
            st: Station::new(settings(), Rng::seeded(1), now),
            now,
        }
    }

    fn pump(&mut self) -> Vec<Effect> {
        let mut out = Vec::new();
        let wall = UNIX_EPOCH + Duration::from_secs(1_764_000_000);
        self.st.pump(self.now, wall, &mut out);
        out
    }

    fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
    }

    fn receive(&mut self, frame: Value) -> Vec<Effect> {
        let mut out = Vec::new();
        self.st.received(self.now, &frame.to_string(), &mut out);
        out
    }

    /// Pumps once and expects exactly one CALL; returns (id, action, payload).
    fn expect_call(&mut self, action: &str) -> (String, Value) {
        let out = self.pump();
        assert_eq!(out.len(), 1, "expected one {action}, got {out:?}");
        let Effect::Send(text) = &out[0] else {
            panic!("expected a frame, got {out:?}");
        };
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(v[0], 2);
        assert_eq!(v[2], action, "{v}");
        (v[1].as_str().unwrap().to_string(), v[3].clone())
    }

    fn booted(status: &str, interval: u64) -> (Self, String) {
        let mut h = Harness::new();
        assert_eq!(h.pump(), vec![Effect::Connect]);
        h.st.connected(h.now);
        let (id, payload) = h.expect_call("BootNotification");
        assert_eq!(payload["reason"], "PowerUp");
        assert_eq!(payload["chargingStation"]["model"], "M");
        assert!(h
            .receive(json!([3, id.clone(), {"currentTime": "2026-01-01T00:00:00Z", "interval": interval, "status": status}]))
            .is_empty());
        (h, id)
    }
}

#[test]
fn b01_cold_boot_accepted_then_status_then_heartbeat() {
    let (mut h, _) = Harness::booted("Accepted", 120);
    assert_eq!(h.st.registration(), Registration::Accepted);
    // Nothing known about the connector yet: nothing to report.
    assert!(h.pump().is_empty());
    h.st.set_connector_status(0, Some(ConnectorStatus::Available));
    let (id, payload) = h.expect_call("StatusNotification");
    assert_eq!(payload["connectorStatus"], "Available");
    assert_eq!(payload["evseId"], 1);
    assert_eq!(payload["connectorId"], 1);
    h.receive(json!([3, id, {}]));
    assert!(h.pump().is_empty());
    assert_eq!(h.st.next_deadline(), Some(h.now + Duration::from_secs(120)));
    h.advance(120);
    h.expect_call("Heartbeat");
}

#[test]
fn b02_pending_sends_nothing_but_boot_until_accepted() {
    let (mut h, _) = Harness::booted("Pending", 20);
    h.st.set_connector_status(0, Some(ConnectorStatus::Occupied));
    assert!(h.pump().is_empty());
    h.advance(19);
    assert!(h.pump().is_empty());
    h.advance(1);
    let (id, _) = h.expect_call("BootNotification");
    h.receive(json!([3, id, {"currentTime": "2026-01-01T00:00:00Z", "interval": 60, "status": "Accepted"}]));
    let (_, payload) = h.expect_call("StatusNotification");
    assert_eq!(payload["connectorStatus"], "Occupied");
}

#[test]
fn b03_rejected_is_silent_until_the_interval() {
    let (mut h, _) = Harness::booted("Rejected", 50);
    let out = h.receive(json!([2, "csms-1", "GetVariables", {"getVariableData": []}]));
    assert!(
        out.is_empty(),
        "a rejected station answers nothing: {out:?}"
    );
    h.advance(49);
    assert!(h.pump().is_empty());
    h.advance(1);
    h.expect_call("BootNotification");
}

#[test]
fn unanswered_boot_is_retried_after_the_minimum_wait() {
    let mut h = Harness::new();
    h.pump();
    h.st.connected(h.now);
    h.expect_call("BootNotification");
    h.advance(30);
    assert!(h.pump().is_empty(), "timed out; waits before retrying");
    h.advance(10);
    h.expect_call("BootNotification");
}

#[test]
fn status_change_during_a_call_is_sent_after_its_answer() {
    let (mut h, _) = Harness::booted("Accepted", 300);
    h.st.set_connector_status(0, Some(ConnectorStatus::Available));
    let (id, _) = h.expect_call("StatusNotification");
    h.st.set_connector_status(0, Some(ConnectorStatus::Occupied));
    assert!(h.pump().is_empty(), "one CALL at a time");
    h.receive(json!([3, id, {}]));
    let (_, payload) = h.expect_call("StatusNotification");
    assert_eq!(payload["connectorStatus"], "Occupied");
}

#[test]
fn results_for_other_ids_are_ignored() {
    let (mut h, _) = Harness::booted("Accepted", 300);
    h.st.set_connector_status(0, Some(ConnectorStatus::Available));
    h.expect_call("StatusNotification");
    h.receive(json!([3, "not-ours", {}]));
    assert!(h.pump().is_empty(), "still waiting for the real answer");
}

#[test]
fn unknown_csms_action_gets_not_implemented_with_its_id() {
    let (mut h, _) = Harness::booted("Accepted", 300);
    let out = h.receive(json!([2, "abc", "FrobnicateRequest", {}]));
    let [Effect::Send(text)] = out.as_slice() else {
        panic!("{out:?}")
    };
    let v: Value = serde_json::from_str(text).unwrap();
    assert_eq!(v[0], 4);
    assert_eq!(v[1], "abc");
    assert_eq!(v[2], "NotImplemented");
}

#[test]
fn malformed_frame_with_an_id_gets_a_callerror() {
    let (mut h, _) = Harness::booted("Accepted", 300);
    let mut out = Vec::new();
    h.st.received(h.now, r#"[2, "m1", "Reset", "not an object"]"#, &mut out);
    let [Effect::Send(text)] = out.as_slice() else {
        panic!("{out:?}")
    };
    let v: Value = serde_json::from_str(text).unwrap();
    assert_eq!((v[0].clone(), v[1].clone()), (json!(4), json!("m1")));
}

#[test]
fn lost_link_reconnects_with_growing_back_off() {
    let (mut h, _) = Harness::booted("Accepted", 300);
    h.st.link_down(h.now);
    assert!(!h.st.is_connected());
    assert_eq!(h.st.next_deadline(), Some(h.now + Duration::from_secs(10)));
    h.advance(10);
    assert_eq!(h.pump(), vec![Effect::Connect]);
    h.st.link_down(h.now);
    assert_eq!(h.st.next_deadline(), Some(h.now + Duration::from_secs(20)));
    h.advance(20);
    assert_eq!(h.pump(), vec![Effect::Connect]);
    h.st.connected(h.now);
    assert!(
        h.pump().is_empty(),
        "still registered: no new boot after a reconnect"
    );
}

#[test]
fn a_status_unacknowledged_when_the_link_drops_is_sent_again() {
    let (mut h, _) = Harness::booted("Accepted", 300);
    h.st.set_connector_status(0, Some(ConnectorStatus::Occupied));
    h.expect_call("StatusNotification");
    h.st.link_down(h.now);
    h.advance(10);
    h.pump();
    h.st.connected(h.now);
    let (_, payload) = h.expect_call("StatusNotification");
    assert_eq!(payload["connectorStatus"], "Occupied");
}
