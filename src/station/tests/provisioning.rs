use super::*;

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
fn b03_rejected_refuses_every_call_with_security_error_until_the_interval() {
    let (mut h, _) = Harness::booted("Rejected", 50);
    for (action, payload) in [
        ("GetVariables", json!({"getVariableData": []})),
        (
            "RequestStartTransaction",
            json!({"remoteStartId": 1, "idToken": {"idToken": "X", "type": "Central"}}),
        ),
        ("TriggerMessage", json!({"requestedMessage": "Heartbeat"})),
    ] {
        let out = h.receive(json!([2, "csms-1", action, payload]));
        let [Effect::Send(text)] = out.as_slice() else {
            panic!("{action}: one CALLERROR expected, got {out:?}")
        };
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!((v[0].clone(), v[1].clone()), (json!(4), json!("csms-1")));
        assert_eq!(v[2], "SecurityError", "{action}");
    }
    h.advance(49);
    assert!(h.pump().is_empty());
    h.advance(1);
    let (_, boot) = h.expect_call("BootNotification");
    assert_eq!(boot["reason"], "PowerUp", "not triggered: its own retry");
}

#[test]
fn b03_a_rejected_station_boots_when_triggered_and_says_so() {
    let (mut h, _) = Harness::booted("Rejected", 500);
    let (reply, effects) = call(
        &mut h,
        "TriggerMessage",
        json!({"requestedMessage": "BootNotification"}),
    );
    assert_eq!(reply["status"], "Accepted");
    let boot = effects
        .iter()
        .find_map(|e| match e {
            Effect::Send(t) => serde_json::from_str::<Value>(t).ok(),
            _ => None,
        })
        .expect("the boot goes out at once");
    assert_eq!(boot[2], "BootNotification");
    assert_eq!(boot[3]["reason"], "Triggered");
    h.receive(json!([3, boot[1].clone(), {"currentTime": "2026-01-01T00:00:00Z", "interval": 300, "status": "Accepted"}]));
    let (_, event) = h.expect_call("SecurityEventNotification");
    assert_eq!(
        event["type"], "StartupOfTheDevice",
        "still the first start-up"
    );
}

#[test]
fn b02_pending_rejects_remote_start_but_sends_what_the_csms_triggers() {
    let (mut h, _) = Harness::booted("Pending", 300);
    h.status(ConnectorStatus::Available);
    h.st.settings.capabilities.start_stop = true;
    let (reply, effects) = call(
        &mut h,
        "RequestStartTransaction",
        json!({"remoteStartId": 1, "idToken": {"idToken": "X", "type": "Central"}}),
    );
    assert_eq!(reply["status"], "Rejected", "B02.FR.05");
    assert!(
        effects.is_empty(),
        "no device command, no CALL: {effects:?}"
    );
    let (reply, effects) = call(
        &mut h,
        "TriggerMessage",
        json!({"requestedMessage": "StatusNotification", "evse": {"id": 1, "connectorId": 1}}),
    );
    assert_eq!(reply["status"], "Accepted");
    let sent: Vec<Value> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(t) => serde_json::from_str(t).ok(),
            _ => None,
        })
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0][2], "StatusNotification");
    h.receive(json!([3, sent[0][1].clone(), {}]));
    let (_, effects) = call(
        &mut h,
        "TriggerMessage",
        json!({"requestedMessage": "Heartbeat"}),
    );
    assert!(
        effects
            .iter()
            .any(|e| matches!(e, Effect::Send(t) if t.contains("\"Heartbeat\""))),
        "{effects:?}"
    );
}

#[test]
fn b01_a_status_the_csms_did_not_answer_in_time_is_sent_again() {
    let (mut h, _) = Harness::booted("Accepted", 300);
    h.status(ConnectorStatus::Faulted);
    h.expect_call("StatusNotification");
    h.advance(30);
    let (id, payload) = h.expect_call("StatusNotification");
    assert_eq!(payload["connectorStatus"], "Faulted");
    h.receive(json!([3, id, {}]));
    assert!(h.pump().is_empty(), "acknowledged now");
    // A refusal is final: the same status would be refused again.
    h.status(ConnectorStatus::Available);
    let (id, _) = h.expect_call("StatusNotification");
    h.receive(json!([4, id, "FormatViolation", "no", {}]));
    assert!(h.pump().is_empty());
}

#[test]
fn a_triggered_message_the_csms_did_not_answer_is_sent_again_then_dropped() {
    let (mut h, _) = Harness::booted("Accepted", 300);
    let (reply, effects) = call(
        &mut h,
        "TriggerMessage",
        json!({"requestedMessage": "FirmwareStatusNotification"}),
    );
    assert_eq!(reply["status"], "Accepted");
    assert!(effects
        .iter()
        .any(|e| matches!(e, Effect::Send(t) if t.contains("FirmwareStatusNotification"))));
    for _ in 1..super::super::oneoff::ATTEMPTS {
        h.advance(30);
        h.expect_call("FirmwareStatusNotification");
    }
    h.advance(30);
    assert!(h.pump().is_empty(), "given up after the last attempt");
}

#[test]
fn back_off_grows_while_the_csms_closes_at_once_and_resets_after_a_stable_link() {
    let (mut h, _) = Harness::booted("Accepted", 300);
    let mut waits = Vec::new();
    for _ in 0..4 {
        h.st.link_down(h.now);
        let at = h.st.next_deadline().unwrap();
        waits.push(at.duration_since(h.now).as_secs());
        h.now = at;
        assert_eq!(h.pump(), vec![Effect::Connect]);
        h.st.connected(h.now);
        h.advance(1);
    }
    assert_eq!(waits, [10, 20, 40, 80]);
    h.advance(STABLE_LINK.as_secs());
    h.st.link_down(h.now);
    assert_eq!(h.st.next_deadline(), Some(h.now + Duration::from_secs(10)));
}

#[test]
fn an_answered_call_resets_the_back_off() {
    let mut h = Harness::new();
    for _ in 0..3 {
        assert_eq!(h.pump(), vec![Effect::Connect]);
        h.st.link_down(h.now);
        h.now = h.st.next_deadline().unwrap();
    }
    assert_eq!(h.pump(), vec![Effect::Connect]);
    h.st.connected(h.now);
    let (id, _) = h.expect_call("BootNotification");
    h.receive(json!([3, id, {"currentTime": "2026-01-01T00:00:00Z", "interval": 300, "status": "Accepted"}]));
    h.st.link_down(h.now);
    assert_eq!(h.st.next_deadline(), Some(h.now + Duration::from_secs(10)));
    // Registered already: any answered CALL shows the CSMS works.
    for _ in 0..3 {
        h.now = h.st.next_deadline().unwrap();
        assert_eq!(h.pump(), vec![Effect::Connect]);
        h.st.connected(h.now);
        h.st.link_down(h.now);
    }
    h.now = h.st.next_deadline().unwrap();
    h.pump();
    h.st.connected(h.now);
    let (id, _) = h.expect_call("SecurityEventNotification");
    h.receive(json!([3, id, {}]));
    h.st.link_down(h.now);
    assert_eq!(h.st.next_deadline(), Some(h.now + Duration::from_secs(10)));
}

#[test]
fn security_events_of_failed_attempts_are_coalesced() {
    let mut h = Harness::new();
    for n in 0..20 {
        assert_eq!(h.pump(), vec![Effect::Connect]);
        h.st.auth_failed(h.now, wall(), &format!("HTTP 401 #{n}"));
        h.now = h.st.next_deadline().unwrap();
    }
    assert_eq!(h.pump(), vec![Effect::Connect]);
    h.st.connected(h.now);
    let (id, _) = h.expect_call("BootNotification");
    h.receive(json!([3, id, {"currentTime": "2026-01-01T00:00:00Z", "interval": 300, "status": "Accepted"}]));
    let (id, event) = h.expect_call("SecurityEventNotification");
    assert_eq!(event["type"], "FailedToAuthenticateAtCsms");
    assert_eq!(event["techInfo"], "20 times; latest: HTTP 401 #19");
    h.receive(json!([3, id, {}]));
    let (id, startup) = h.expect_call("SecurityEventNotification");
    assert_eq!(startup["type"], "StartupOfTheDevice");
    h.receive(json!([3, id, {}]));
    assert!(h.pump().is_empty(), "one event per kind");
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
fn b04_after_a_long_outage_every_status_is_sent_again_after_a_short_one_only_changes() {
    let mut h = capable();
    // Short outage (OfflineThreshold is 300 s): the unchanged status is not repeated.
    h.st.link_down(h.now);
    h.advance(10);
    assert_eq!(h.pump(), vec![Effect::Connect]);
    h.st.connected(h.now);
    assert!(h.pump().is_empty(), "nothing changed, nothing to say");
    // Long outage: the CSMS may have forgotten; it hears the status again.
    h.st.link_down(h.now);
    h.advance(400);
    assert_eq!(h.pump(), vec![Effect::Connect]);
    h.st.connected(h.now);
    let (_, status) = h.expect_call("StatusNotification");
    assert_eq!(status["connectorStatus"], "Available");
}

#[test]
fn a04_a_refused_csms_certificate_is_reported_once_connected_again() {
    let mut h = Harness::new();
    assert_eq!(h.pump(), vec![Effect::Connect]);
    h.st.auth_failed(h.now, wall(), "TLS: the CSMS certificate has expired");
    h.advance(10);
    assert_eq!(h.pump(), vec![Effect::Connect]);
    h.st.connected(h.now);
    let (id, _) = h.expect_call("BootNotification");
    h.receive(json!([3, id, {"currentTime": "2026-01-01T00:00:00Z", "interval": 300, "status": "Accepted"}]));
    let (id, event) = h.expect_call("SecurityEventNotification");
    assert_eq!(event["type"], "InvalidCsmsCertificate");
    assert!(event["techInfo"].as_str().unwrap().contains("expired"));
    h.receive(json!([3, id, {}]));
    let (_, startup) = h.expect_call("SecurityEventNotification");
    assert_eq!(startup["type"], "StartupOfTheDevice");
}
