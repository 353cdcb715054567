use std::time::{Duration, Instant, UNIX_EPOCH};

use serde_json::{json, Value};

use super::evse::{EvseInputs, Sample};
use super::transaction::TxSettings;
use super::*;
use crate::ocpp::messages::Measurand;

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
        ping_interval: Duration::ZERO,
        security_profile: 0,
        basic_auth_password: None,
        measurands: vec![Measurand::EnergyActiveImportRegister],
        evses: 1,
        tx: TxSettings {
            // Periodic samples have their own tests; here they would only add noise.
            updated_interval: Duration::ZERO,
            ..TxSettings::default()
        },
        aligned_interval: Duration::ZERO,
        aligned_measurands: vec![Measurand::EnergyActiveImportRegister],
        retry: Retry {
            attempts: 3,
            interval: Duration::from_secs(60),
        },
        capabilities: Capabilities::default(),
    }
}

fn wall() -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_764_000_000)
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
        self.st.pump(self.now, wall(), &mut out);
        out
    }

    fn advance(&mut self, secs: u64) {
        self.now += Duration::from_secs(secs);
    }

    fn receive(&mut self, frame: Value) -> Vec<Effect> {
        let mut out = Vec::new();
        self.st
            .received(self.now, wall(), &frame.to_string(), &mut out);
        out
    }

    fn status(&mut self, status: ConnectorStatus) {
        self.st.set_inputs(
            0,
            EvseInputs {
                online: Some(true),
                connector_status: Some(status),
                ..Default::default()
            },
        );
    }

    /// Pumps once and expects exactly one CALL; returns (id, action, payload).
    fn expect_call(&mut self, action: &str) -> (String, Value) {
        let out: Vec<Effect> = self
            .pump()
            .into_iter()
            .filter(|e| !matches!(e, Effect::Device(_)))
            .collect();
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
        if status == "Accepted" {
            let (event_id, event) = h.expect_call("SecurityEventNotification");
            assert_eq!(event["type"], "StartupOfTheDevice");
            h.receive(json!([3, event_id, {}]));
        }
        (h, id)
    }
}

#[test]
fn b01_cold_boot_accepted_then_status_then_heartbeat() {
    let (mut h, _) = Harness::booted("Accepted", 120);
    assert_eq!(h.st.registration(), Registration::Accepted);
    // Nothing known about the connector yet: nothing to report.
    assert!(h.pump().is_empty());
    h.status(ConnectorStatus::Available);
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
    h.status(ConnectorStatus::Reserved);
    assert!(h.pump().is_empty());
    h.advance(19);
    assert!(h.pump().is_empty());
    h.advance(1);
    let (id, _) = h.expect_call("BootNotification");
    h.receive(json!([3, id, {"currentTime": "2026-01-01T00:00:00Z", "interval": 60, "status": "Accepted"}]));
    let (_, payload) = h.expect_call("StatusNotification");
    assert_eq!(payload["connectorStatus"], "Reserved");
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
    h.status(ConnectorStatus::Available);
    let (id, _) = h.expect_call("StatusNotification");
    h.status(ConnectorStatus::Reserved);
    assert!(h.pump().is_empty(), "one CALL at a time");
    h.receive(json!([3, id, {}]));
    let (_, payload) = h.expect_call("StatusNotification");
    assert_eq!(payload["connectorStatus"], "Reserved");
}

#[test]
fn results_for_other_ids_are_ignored() {
    let (mut h, _) = Harness::booted("Accepted", 300);
    h.status(ConnectorStatus::Available);
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
    h.st.received(
        h.now,
        wall(),
        r#"[2, "m1", "Reset", "not an object"]"#,
        &mut out,
    );
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
    h.status(ConnectorStatus::Reserved);
    h.expect_call("StatusNotification");
    h.st.link_down(h.now);
    h.advance(10);
    h.pump();
    h.st.connected(h.now);
    let (_, payload) = h.expect_call("StatusNotification");
    assert_eq!(payload["connectorStatus"], "Reserved");
}

fn capable() -> Harness {
    let mut s = settings();
    s.capabilities = Capabilities {
        start_stop: true,
        unlock: true,
        reset: true,
        availability: true,
    };
    let now = Instant::now();
    let mut h = Harness {
        st: Station::new(s, Rng::seeded(2), now),
        now,
    };
    h.pump();
    h.st.connected(h.now);
    let (id, _) = h.expect_call("BootNotification");
    h.receive(json!([3, id, {"currentTime": "2026-01-01T00:00:00Z", "interval": 300, "status": "Accepted"}]));
    h.status(ConnectorStatus::Available);
    let (id, _) = h.expect_call("StatusNotification");
    h.receive(json!([3, id, {}]));
    let (id, _) = h.expect_call("SecurityEventNotification");
    h.receive(json!([3, id, {}]));
    h
}

/// Sends a CSMS CALL; returns the station's CALLRESULT payload (or CALLERROR code) and effects.
fn call(h: &mut Harness, action: &str, payload: Value) -> (Value, Vec<Effect>) {
    let out = h.receive(json!([2, "c1", action, payload]));
    let mut reply = Value::Null;
    let mut rest = Vec::new();
    for e in out {
        match &e {
            Effect::Send(text) => {
                let v: Value = serde_json::from_str(text).unwrap();
                if v[1] == "c1" && reply.is_null() {
                    reply = if v[0] == 3 {
                        v[2].clone()
                    } else {
                        json!({"error": v[2]})
                    };
                    continue;
                }
                rest.push(e);
            }
            _ => rest.push(e),
        }
    }
    (reply, rest)
}

fn plugged(h: &mut Harness, connected: bool) {
    h.st.set_inputs(
        0,
        EvseInputs {
            online: Some(true),
            vehicle_connected: Some(connected),
            ..Default::default()
        },
    );
}

#[test]
fn f01_remote_start_commands_the_device_and_the_transaction_carries_the_id() {
    let mut h = capable();
    let (reply, effects) = call(
        &mut h,
        "RequestStartTransaction",
        json!({"remoteStartId": 5, "idToken": {"idToken": "TAG1", "type": "Central"}}),
    );
    assert_eq!(reply["status"], "Accepted");
    assert!(effects.contains(&Effect::Device(DeviceCommand::Charging {
        evse: 0,
        start: true
    })));
    plugged(&mut h, true);
    let (id, event) = h.expect_call("TransactionEvent");
    assert_eq!(event["eventType"], "Started");
    assert_eq!(event["transactionInfo"]["remoteStartId"], 5);
    assert_eq!(event["idToken"]["idToken"], "TAG1");
    h.receive(json!([3, id, {}]));
    let tx = h.st.transaction_id(0).unwrap().to_string();
    let (reply, effects) = call(
        &mut h,
        "RequestStopTransaction",
        json!({"transactionId": tx}),
    );
    assert_eq!(reply["status"], "Accepted");
    assert!(effects.contains(&Effect::Device(DeviceCommand::Charging {
        evse: 0,
        start: false
    })));
    let ended = effects
        .iter()
        .find_map(|e| match e {
            Effect::Send(t) if t.contains("TransactionEvent") => Some(t.clone()),
            _ => None,
        })
        .expect("Ended sent in the same turn");
    let v: Value = serde_json::from_str(&ended).unwrap();
    assert_eq!(v[3]["eventType"], "Ended");
    assert_eq!(v[3]["triggerReason"], "RemoteStop");
    assert_eq!(v[3]["transactionInfo"]["stoppedReason"], "Remote");
}

#[test]
fn remote_commands_are_rejected_when_the_template_cannot_carry_them() {
    let (mut h, _) = Harness::booted("Accepted", 300);
    h.status(ConnectorStatus::Available);
    let (id, _) = h.expect_call("StatusNotification");
    h.receive(json!([3, id, {}]));
    let (reply, _) = call(
        &mut h,
        "RequestStartTransaction",
        json!({"remoteStartId": 1, "idToken": {"idToken": "X", "type": "Central"}}),
    );
    assert_eq!(reply["status"], "Rejected");
    let (reply, _) = call(
        &mut h,
        "RequestStopTransaction",
        json!({"transactionId": "nope"}),
    );
    assert_eq!(reply["status"], "Rejected");
    let (reply, _) = call(
        &mut h,
        "UnlockConnector",
        json!({"evseId": 1, "connectorId": 1}),
    );
    assert_eq!(reply["status"], "UnlockFailed");
    let (reply, _) = call(
        &mut h,
        "UnlockConnector",
        json!({"evseId": 2, "connectorId": 1}),
    );
    assert_eq!(reply["status"], "UnknownConnector");
    let (reply, _) = call(&mut h, "DataTransfer", json!({"vendorId": "acme"}));
    assert_eq!(reply["status"], "UnknownVendorId");
}

#[test]
fn g03_change_availability_is_scheduled_during_a_transaction() {
    let mut h = capable();
    plugged(&mut h, true);
    let (id, _) = h.expect_call("TransactionEvent");
    h.receive(json!([3, id, {}]));
    let (id, status) = h.expect_call("StatusNotification");
    assert_eq!(status["connectorStatus"], "Occupied");
    h.receive(json!([3, id, {}]));
    let (reply, _) = call(
        &mut h,
        "ChangeAvailability",
        json!({"operationalStatus": "Inoperative"}),
    );
    assert_eq!(reply["status"], "Scheduled");
    plugged(&mut h, false);
    let (id, ended) = h.expect_call("TransactionEvent");
    assert_eq!(ended["eventType"], "Ended");
    h.receive(json!([3, id, {}]));
    let (_, status) = h.expect_call("StatusNotification");
    assert_eq!(status["connectorStatus"], "Unavailable");
}

#[test]
fn f06_trigger_message_answers_each_kind() {
    let mut h = capable();
    let (reply, _) = call(
        &mut h,
        "TriggerMessage",
        json!({"requestedMessage": "BootNotification"}),
    );
    assert_eq!(reply["status"], "Rejected", "already accepted");
    let (reply, effects) = call(
        &mut h,
        "TriggerMessage",
        json!({"requestedMessage": "Heartbeat"}),
    );
    assert_eq!(reply["status"], "Accepted");
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::Send(t) if t.contains("Heartbeat"))));
    let (reply, _) = call(
        &mut h,
        "TriggerMessage",
        json!({"requestedMessage": "SignV2GCertificate"}),
    );
    assert_eq!(reply["status"], "NotImplemented");
    let (reply, _) = call(
        &mut h,
        "TriggerMessage",
        json!({"requestedMessage": "StatusNotification", "evse": {"id": 9}}),
    );
    assert_eq!(reply["status"], "Rejected", "unknown EVSE");
}

#[test]
fn b11_immediate_reset_ends_transactions_and_boots_again() {
    let mut h = capable();
    plugged(&mut h, true);
    let (id, _) = h.expect_call("TransactionEvent");
    h.receive(json!([3, id, {}]));
    let (reply, effects) = call(&mut h, "Reset", json!({"type": "Immediate"}));
    assert_eq!(reply["status"], "Accepted");
    // The CSMS hears how the transaction ended before the station goes away.
    assert!(!effects.contains(&Effect::Disconnect), "{effects:?}");
    let ended: Value = effects
        .iter()
        .find_map(|e| match e {
            Effect::Send(t) if t.contains("TransactionEvent") => serde_json::from_str(t).ok(),
            _ => None,
        })
        .expect("the Ended event goes out at once");
    assert_eq!(ended[3]["eventType"], "Ended");
    assert_eq!(ended[3]["triggerReason"], "ResetCommand");
    assert_eq!(
        ended[3]["transactionInfo"]["stoppedReason"],
        "ImmediateReset"
    );
    h.receive(json!([3, ended[1], {}]));
    let effects = h.pump();
    assert!(effects.contains(&Effect::Device(DeviceCommand::Reset)));
    assert!(effects.contains(&Effect::Disconnect));
    h.st.link_down(h.now);
    assert_eq!(
        h.pump(),
        vec![Effect::Connect],
        "reconnects at once after a reset"
    );
    h.st.connected(h.now);
    let (_, boot) = h.expect_call("BootNotification");
    assert_eq!(boot["reason"], "RemoteReset");
}

#[test]
fn on_idle_reset_waits_for_the_transaction() {
    let mut h = capable();
    plugged(&mut h, true);
    let (id, _) = h.expect_call("TransactionEvent");
    h.receive(json!([3, id, {}]));
    let (reply, effects) = call(&mut h, "Reset", json!({"type": "OnIdle"}));
    assert_eq!(reply["status"], "Scheduled");
    assert!(!effects.contains(&Effect::Disconnect));
    for e in &effects {
        if let Effect::Send(t) = e {
            let v: Value = serde_json::from_str(t).unwrap();
            h.receive(json!([3, v[1], {}]));
        }
    }
    plugged(&mut h, false);
    let (id, ended) = h.expect_call("TransactionEvent");
    assert_eq!(ended["eventType"], "Ended");
    h.receive(json!([3, id, {}]));
    let out = h.pump();
    assert!(out.contains(&Effect::Disconnect), "{out:?}");
}

#[test]
fn payloads_that_break_the_schema_get_the_matching_callerror() {
    let mut h = capable();
    let (reply, _) = call(&mut h, "RequestStopTransaction", json!({}));
    assert_eq!(reply["error"], "OccurrenceConstraintViolation");
    let (reply, _) = call(
        &mut h,
        "RequestStopTransaction",
        json!({"transactionId": 5}),
    );
    assert_eq!(reply["error"], "TypeConstraintViolation");
    let (reply, _) = call(&mut h, "Reset", json!({"type": "Sometimes"}));
    assert_eq!(reply["error"], "PropertyConstraintViolation");
}

#[test]
fn transaction_messages_wait_while_offline_and_are_marked_offline() {
    let mut h = capable();
    h.st.link_down(h.now);
    plugged(&mut h, true);
    assert_eq!(
        h.pump(),
        Vec::<Effect>::new(),
        "back-off before reconnecting"
    );
    assert_eq!(h.st.queued_messages(), 1);
    h.advance(10);
    assert_eq!(h.pump(), vec![Effect::Connect]);
    h.st.connected(h.now);
    let (_, event) = h.expect_call("TransactionEvent");
    assert_eq!(event["offline"], true);
    assert_eq!(event["seqNo"], 0);
}

#[test]
fn a_refused_transaction_message_is_retried_then_dropped() {
    let mut h = capable();
    plugged(&mut h, true);
    let (id, event) = h.expect_call("TransactionEvent");
    assert_eq!(event["seqNo"], 0);
    h.receive(json!([4, id, "InternalError", "busy", {}]));
    // While the retry waits, other messages still go out.
    let (id, _) = h.expect_call("StatusNotification");
    h.receive(json!([3, id, {}]));
    for wait in [60, 120] {
        assert!(h.pump().is_empty());
        h.advance(wait);
        let (id, event) = h.expect_call("TransactionEvent");
        assert_eq!(event["seqNo"], 0, "the same message again");
        h.receive(json!([4, id, "InternalError", "busy", {}]));
    }
    assert_eq!(
        h.st.queued_messages(),
        0,
        "dropped after MessageAttemptsTransactionEvent"
    );
}

#[test]
fn j01_clock_aligned_values_outside_and_inside_a_transaction() {
    let mut h = capable();
    h.st.settings.aligned_interval = Duration::from_secs(900);
    h.st.heartbeat_interval = Duration::from_secs(86_400);
    let energy = |connected| EvseInputs {
        online: Some(true),
        vehicle_connected: Some(connected),
        samples: vec![Sample {
            measurand: Measurand::EnergyActiveImportRegister,
            phase: None,
            value: 42.0,
            unit: Some("Wh".into()),
        }],
        ..Default::default()
    };
    h.st.set_inputs(0, energy(false));
    assert!(h.pump().is_empty());
    // wall() (1_764_000_000 s) is on a 900 s boundary: the next one is a full interval away.
    let next = h.st.next_deadline().unwrap();
    assert_eq!(next, h.now + Duration::from_secs(900));
    h.now = next;
    let (id, mv) = h.expect_call("MeterValues");
    assert_eq!(
        mv["meterValue"][0]["sampledValue"][0]["context"],
        "Sample.Clock"
    );
    h.receive(json!([3, id, {}]));
    h.st.set_inputs(0, energy(true));
    let (id, _) = h.expect_call("TransactionEvent");
    h.receive(json!([3, id, {}]));
    let (id, _) = h.expect_call("StatusNotification");
    h.receive(json!([3, id, {}]));
    h.now += Duration::from_secs(900);
    let (_, event) = h.expect_call("TransactionEvent");
    assert_eq!(event["triggerReason"], "MeterValueClock");
    assert_eq!(
        event["meterValue"][0]["sampledValue"][0]["context"],
        "Sample.Clock"
    );
}

fn token_at_reader(h: &mut Harness, token: Option<&str>, connected: bool) {
    h.st.set_inputs(
        0,
        EvseInputs {
            online: Some(true),
            vehicle_connected: Some(connected),
            id_token: token.map(String::from),
            ..Default::default()
        },
    );
}

#[test]
fn c01_a_token_at_the_reader_is_authorized_before_charging_is_enabled() {
    let mut h = capable();
    token_at_reader(&mut h, Some("CARD1"), false);
    let out = h.pump();
    let [Effect::Send(text)] = out.as_slice() else {
        panic!("{out:?}")
    };
    let v: Value = serde_json::from_str(text).unwrap();
    assert_eq!(
        (v[2].as_str(), v[3]["idToken"]["idToken"].as_str()),
        (Some("Authorize"), Some("CARD1"))
    );
    let out = h.receive(json!([3, v[1], {"idTokenInfo": {"status": "Accepted"}}]));
    assert_eq!(
        out,
        vec![Effect::Device(DeviceCommand::Charging {
            evse: 0,
            start: true
        })]
    );
    token_at_reader(&mut h, Some("CARD1"), true);
    let (id, started) = h.expect_call("TransactionEvent");
    assert_eq!(started["idToken"]["idToken"], "CARD1");
    h.receive(json!([3, id, {}]));
    let (id, _) = h.expect_call("StatusNotification");
    h.receive(json!([3, id, {}]));
    // The card leaves the reader, then is shown again: that stops the transaction.
    token_at_reader(&mut h, None, true);
    assert!(h.pump().is_empty());
    token_at_reader(&mut h, Some("CARD1"), true);
    let (_, ended) = h.expect_call("TransactionEvent");
    assert_eq!(ended["triggerReason"], "StopAuthorized");
    assert_eq!(ended["transactionInfo"]["stoppedReason"], "Local");
}

#[test]
fn c01_a_refused_token_does_not_enable_charging() {
    let mut h = capable();
    token_at_reader(&mut h, Some("BAD"), false);
    let (id, _) = h.expect_call("Authorize");
    let mut out = Vec::new();
    h.st.received(
        h.now,
        wall(),
        &json!([3, id, {"idTokenInfo": {"status": "Blocked"}}]).to_string(),
        &mut out,
    );
    assert!(
        !out.iter().any(|e| matches!(e, Effect::Device(_))),
        "{out:?}"
    );
    token_at_reader(&mut h, Some("BAD"), true);
    let (_, started) = h.expect_call("TransactionEvent");
    assert!(started.get("idToken").is_none() || started["idToken"]["idToken"] != "BAD");
}

#[test]
fn authorize_remote_start_checks_the_token_first() {
    let mut h = capable();
    h.st.settings.tx.authorize_remote_start = true;
    let (reply, effects) = call(
        &mut h,
        "RequestStartTransaction",
        json!({"remoteStartId": 3, "idToken": {"idToken": "R1", "type": "Central"}}),
    );
    assert_eq!(reply["status"], "Accepted");
    assert!(
        !effects.iter().any(|e| matches!(e, Effect::Device(_))),
        "{effects:?}"
    );
    let authorize = effects
        .iter()
        .find_map(|e| match e {
            Effect::Send(t) if t.contains("\"Authorize\"") => Some(t.clone()),
            _ => None,
        })
        .expect("Authorize sent in the same turn");
    let v: Value = serde_json::from_str(&authorize).unwrap();
    let mut out = Vec::new();
    h.st.received(
        h.now,
        wall(),
        &json!([3, v[1], {"idTokenInfo": {"status": "Accepted"}}]).to_string(),
        &mut out,
    );
    assert!(out.contains(&Effect::Device(DeviceCommand::Charging {
        evse: 0,
        start: true
    })));
    plugged(&mut h, true);
    let (_, started) = h.expect_call("TransactionEvent");
    assert_eq!(started["transactionInfo"]["remoteStartId"], 3);
}

#[test]
fn b05_set_variables_changes_the_heartbeat_and_persists() {
    let mut h = capable();
    let (reply, effects) = call(
        &mut h,
        "SetVariables",
        json!({"setVariableData": [
            {"attributeValue": "120", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}},
            {"attributeValue": "x", "component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "Nonsense"}}
        ]}),
    );
    let results = reply["setVariableResult"].as_array().unwrap();
    assert_eq!(results[0]["attributeStatus"], "Accepted");
    assert_eq!(results[1]["attributeStatus"], "UnknownVariable");
    let stored = effects
        .iter()
        .find_map(|e| match e {
            Effect::Persist(v) => Some(v.clone()),
            _ => None,
        })
        .expect("the change is persisted");
    let (reply, _) = call(
        &mut h,
        "GetVariables",
        json!({"getVariableData": [{"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}]}),
    );
    assert_eq!(reply["getVariableResult"][0]["attributeValue"], "120");
    h.advance(120);
    h.expect_call("Heartbeat");

    // A restarted station restores what the CSMS set.
    let mut again = Station::new(settings(), Rng::seeded(5), h.now);
    again.restore_device_model(&stored);
    assert_eq!(
        again.device_model().heartbeat_interval(),
        Duration::from_secs(120)
    );
}

#[test]
fn b06_oversized_or_empty_requests_are_refused_whole() {
    let mut h = capable();
    let one =
        json!({"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}});
    let many: Vec<Value> = (0..33).map(|_| one.clone()).collect();
    let (reply, _) = call(&mut h, "GetVariables", json!({ "getVariableData": many }));
    assert_eq!(reply["error"], "OccurrenceConstraintViolation");
    let (reply, _) = call(&mut h, "GetVariables", json!({ "getVariableData": [] }));
    assert_eq!(reply["error"], "OccurrenceConstraintViolation");
}

#[test]
fn b07_base_report_follows_the_answer_as_notify_report_pages() {
    let mut h = capable();
    let (reply, effects) = call(
        &mut h,
        "GetBaseReport",
        json!({"requestId": 9, "reportBase": "FullInventory"}),
    );
    assert_eq!(reply["status"], "Accepted");
    let mut pages = Vec::new();
    let mut pending = effects;
    while let Some(Effect::Send(text)) = pending
        .iter()
        .find(|e| matches!(e, Effect::Send(t) if t.contains("NotifyReport")))
        .cloned()
    {
        let v: Value = serde_json::from_str(&text).unwrap();
        pages.push(v[3].clone());
        pending = h.receive(json!([3, v[1], {}]));
        if pending.is_empty() {
            pending = h.pump();
        }
    }
    assert!(
        pages.len() > 1,
        "a full inventory takes several pages of 32 items"
    );
    for (seq, page) in pages.iter().enumerate() {
        assert_eq!(page["requestId"], 9);
        assert_eq!(page["seqNo"], seq);
        assert_eq!(page["tbc"], seq + 1 < pages.len());
    }
    let (reply, _) = call(
        &mut h,
        "GetReport",
        json!({"requestId": 10, "componentVariable": [{"component": {"name": "NoSuchThing"}}]}),
    );
    assert_eq!(reply["status"], "EmptyResultSet");
}
