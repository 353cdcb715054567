use super::*;

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
fn e03_a_remote_start_without_a_vehicle_switches_the_charger_off_again() {
    let mut h = capable();
    let (reply, effects) = call(
        &mut h,
        "RequestStartTransaction",
        json!({"remoteStartId": 8, "idToken": {"idToken": "T", "type": "Central"}}),
    );
    assert_eq!(reply["status"], "Accepted");
    assert!(effects.contains(&Effect::Device(DeviceCommand::Charging {
        evse: 0,
        start: true
    })));
    // EVConnectionTimeOut (120 s) passes with no cable.
    h.advance(121);
    let out = h.pump();
    assert!(
        out.contains(&Effect::Device(DeviceCommand::Charging {
            evse: 0,
            start: false
        })),
        "{out:?}"
    );
    assert!(
        !h.pump().iter().any(|e| matches!(e, Effect::Device(_))),
        "only once"
    );
}
