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

fn sent(effects: &[Effect]) -> Vec<Value> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send(t) => serde_json::from_str(t).ok(),
            _ => None,
        })
        .collect()
}

fn unlock_write(result: Result<(), String>) -> WriteReport {
    WriteReport {
        command: Some(DeviceCommand::Unlock { evse: 0 }),
        component: "Connector".into(),
        variable: "Unlock".into(),
        value: "Unlock".into(),
        result,
    }
}

#[test]
fn f05_unlock_is_answered_from_the_write_outcome() {
    let mut h = capable();
    let (reply, effects) = call(
        &mut h,
        "UnlockConnector",
        json!({"evseId": 1, "connectorId": 1}),
    );
    assert!(reply.is_null(), "no answer before the write: {reply}");
    assert_eq!(
        effects,
        vec![Effect::Device(DeviceCommand::Unlock { evse: 0 })]
    );
    let mut out = Vec::new();
    h.st.write_finished(h.now, wall(), unlock_write(Ok(())), &mut out);
    let frames = sent(&out);
    assert_eq!(frames[0], json!([3, "c1", {"status": "Unlocked"}]));

    let (reply, _) = call(
        &mut h,
        "UnlockConnector",
        json!({"evseId": 1, "connectorId": 1}),
    );
    assert!(reply.is_null());
    let mut out = Vec::new();
    h.st.write_finished(
        h.now,
        wall(),
        unlock_write(Err("exception 2".into())),
        &mut out,
    );
    let frames = sent(&out);
    assert_eq!(frames[0], json!([3, "c1", {"status": "UnlockFailed"}]));
    let event = &frames[1];
    assert_eq!(
        event[2], "NotifyEvent",
        "the failed write is reported: {frames:?}"
    );
    let data = &event[3]["eventData"][0];
    assert_eq!(
        data["component"],
        json!({"name": "Connector", "evse": {"id": 1, "connectorId": 1}})
    );
    assert_eq!(
        data["variable"],
        json!({"name": "Problem", "instance": "Unlock"})
    );
    assert_eq!(data["actualValue"], "true");
    assert_eq!(data["techCode"], "WriteFailed");
    assert!(data["techInfo"].as_str().unwrap().contains("exception 2"));
}

#[test]
fn f05_an_unlock_the_charger_never_reports_fails_at_the_deadline() {
    let mut h = capable();
    let (reply, _) = call(
        &mut h,
        "UnlockConnector",
        json!({"evseId": 1, "connectorId": 1}),
    );
    assert!(reply.is_null());
    assert_eq!(h.st.next_deadline(), Some(h.now + UNLOCK_DEADLINE));
    let (reply, _) = call(
        &mut h,
        "UnlockConnector",
        json!({"evseId": 1, "connectorId": 1}),
    );
    assert_eq!(reply["status"], "UnlockFailed", "one unlock at a time");
    h.now += UNLOCK_DEADLINE;
    let frames = sent(&h.pump());
    assert_eq!(frames, vec![json!([3, "c1", {"status": "UnlockFailed"}])]);
    let mut out = Vec::new();
    h.st.write_finished(h.now, wall(), unlock_write(Ok(())), &mut out);
    assert!(sent(&out).is_empty(), "answered once only: {out:?}");
}

#[test]
fn a_failed_charging_write_is_reported_and_cleared_by_the_next_that_works() {
    let mut h = capable();
    let write = |result| WriteReport {
        command: Some(DeviceCommand::Charging {
            evse: 0,
            start: true,
        }),
        component: "EVSE".into(),
        variable: "Charging".into(),
        value: "Start".into(),
        result,
    };
    let mut out = Vec::new();
    h.st.write_finished(h.now, wall(), write(Err("timed out".into())), &mut out);
    let frames = sent(&out);
    assert_eq!(frames.len(), 1, "{frames:?}");
    let data = &frames[0][3]["eventData"][0];
    assert_eq!(
        data["component"],
        json!({"name": "EVSE", "evse": {"id": 1}})
    );
    assert_eq!(data["variable"]["instance"], "Charging");
    assert_eq!(data["techInfo"], "Charging = Start not written: timed out");
    assert!(data.get("cleared").is_none());
    h.receive(json!([3, frames[0][1].clone(), {}]));
    let mut out = Vec::new();
    h.st.write_finished(h.now, wall(), write(Ok(())), &mut out);
    let frames = sent(&out);
    let data = &frames[0][3]["eventData"][0];
    assert_eq!(data["actualValue"], "false");
    assert_eq!(data["cleared"], true);
    h.receive(json!([3, frames[0][1].clone(), {}]));
    let mut out = Vec::new();
    h.st.write_finished(h.now, wall(), write(Ok(())), &mut out);
    assert!(sent(&out).is_empty(), "nothing new to tell");
}

#[test]
fn f06_status_without_evse_is_rejected_and_meter_values_use_aligned_measurands() {
    let mut s = settings();
    s.measurands = vec![
        Measurand::EnergyActiveImportRegister,
        Measurand::PowerActiveImport,
    ];
    s.tx.updated_measurands = vec![Measurand::PowerActiveImport];
    s.aligned_measurands = vec![Measurand::EnergyActiveImportRegister];
    let now = Instant::now();
    let mut h = Harness {
        st: Station::new(s, Rng::seeded(3), now),
        now,
    };
    h.pump();
    h.st.connected(h.now);
    let (id, _) = h.expect_call("BootNotification");
    h.receive(json!([3, id, {"currentTime": "2026-01-01T00:00:00Z", "interval": 300, "status": "Accepted"}]));
    let (id, _) = h.expect_call("SecurityEventNotification");
    h.receive(json!([3, id, {}]));
    h.st.set_inputs(
        0,
        EvseInputs {
            online: Some(true),
            connector_status: Some(ConnectorStatus::Available),
            samples: vec![
                Sample {
                    measurand: Measurand::EnergyActiveImportRegister,
                    phase: None,
                    value: 1234.0,
                    unit: Some("Wh".into()),
                },
                Sample {
                    measurand: Measurand::PowerActiveImport,
                    phase: None,
                    value: 7.0,
                    unit: Some("W".into()),
                },
            ],
            ..Default::default()
        },
    );
    h.st.device_known(0);
    let (id, _) = h.expect_call("StatusNotification");
    h.receive(json!([3, id, {}]));

    let (reply, effects) = call(
        &mut h,
        "TriggerMessage",
        json!({"requestedMessage": "StatusNotification"}),
    );
    assert_eq!(reply["status"], "Rejected", "F06.FR.12: no EVSE given");
    assert!(sent(&effects).is_empty());
    let (reply, effects) = call(
        &mut h,
        "TriggerMessage",
        json!({"requestedMessage": "MeterValues", "evse": {"id": 1}}),
    );
    assert_eq!(reply["status"], "Accepted");
    let frames = sent(&effects);
    let values = &frames[0][3]["meterValue"][0]["sampledValue"];
    assert_eq!(values.as_array().unwrap().len(), 1, "{values}");
    assert_eq!(values[0]["measurand"], "Energy.Active.Import.Register");
    h.receive(json!([3, frames[0][1].clone(), {}]));

    for (message, action) in [
        ("LogStatusNotification", "LogStatusNotification"),
        ("FirmwareStatusNotification", "FirmwareStatusNotification"),
    ] {
        let (reply, effects) = call(
            &mut h,
            "TriggerMessage",
            json!({"requestedMessage": message}),
        );
        assert_eq!(reply["status"], "Accepted", "{message}");
        let frames = sent(&effects);
        assert_eq!(frames[0][2], action);
        assert_eq!(frames[0][3], json!({"status": "Idle"}));
        h.receive(json!([3, frames[0][1].clone(), {}]));
    }
}
