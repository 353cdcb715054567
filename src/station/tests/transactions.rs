use super::*;

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
    h.st.device_known(0);
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
    let out = h.pump();
    assert!(
        out.contains(&Effect::Device(DeviceCommand::Charging {
            evse: 0,
            start: false
        })),
        "{out:?}"
    );
    let ended = out
        .iter()
        .find_map(|e| match e {
            Effect::Send(t) => serde_json::from_str::<Value>(t).ok(),
            _ => None,
        })
        .expect("TransactionEvent sent");
    assert_eq!(ended[2], "TransactionEvent");
    let ended = &ended[3];
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

/// The frames among `out` that are TransactionEvent CALLs.
fn tx_frames(out: &[Effect]) -> Vec<Value> {
    out.iter()
        .filter_map(|e| match e {
            Effect::Send(text) => serde_json::from_str::<Value>(text).ok(),
            _ => None,
        })
        .filter(|v| v[2] == "TransactionEvent")
        .collect()
}

/// Answers every CALL in `out` but TransactionEvents, so that only those can be outstanding.
fn answer_others(h: &mut Harness, out: &[Effect]) {
    for e in out {
        let Effect::Send(text) = e else { continue };
        let v: Value = serde_json::from_str(text).unwrap();
        if v[0] == 2 && v[2] != "TransactionEvent" {
            h.receive(json!([3, v[1], {}]));
        }
    }
}

#[test]
fn transaction_messages_wait_until_their_journal_writes_are_on_disk() {
    let mut h = capable();
    h.st.resume_from_journal(h.now, wall(), 100, Default::default());
    plugged(&mut h, true);
    let out = h.pump();
    assert!(out
        .iter()
        .any(|e| matches!(e, Effect::Journal(crate::journal::JournalOp::Append { .. }))));
    assert!(tx_frames(&out).is_empty(), "sent before journaled: {out:?}");
    assert!(
        calls_in(&out).is_empty(),
        "a CALL overtook the held queue: {out:?}"
    );
    // The hub could not write: later pumps still hold it back.
    h.advance(60);
    let out = h.pump();
    assert!(tx_frames(&out).is_empty(), "{out:?}");
    answer_others(&mut h, &out);
    assert!(h.st.journal_written(), "writes were waiting");
    let (id, event) = h.expect_call("TransactionEvent");
    assert_eq!(event["eventType"], "Started");
    // The CSMS acknowledges: the removal is handed out, and the next message waits for it.
    let out = h.receive(json!([3, id, {}]));
    assert!(out
        .iter()
        .any(|e| matches!(e, Effect::Journal(crate::journal::JournalOp::Remove { .. }))));
    plugged(&mut h, false);
    let out = h.pump();
    assert!(tx_frames(&out).is_empty(), "{out:?}");
    answer_others(&mut h, &out);
    assert!(h.st.journal_written());
    let (_, event) = h.expect_call("TransactionEvent");
    assert_eq!(event["eventType"], "Ended");
    assert!(!h.st.journal_written(), "nothing new was handed out");
}

/// The CALL frames among `out`, as JSON.
fn calls_in(out: &[Effect]) -> Vec<Value> {
    out.iter()
        .filter_map(|e| match e {
            Effect::Send(t) => serde_json::from_str::<Value>(t).ok(),
            _ => None,
        })
        .filter(|v| v[0] == 2)
        .collect()
}

fn charging_stopped(out: &[Effect]) -> bool {
    out.contains(&Effect::Device(DeviceCommand::Charging {
        evse: 0,
        start: false,
    }))
}

/// The vehicle plugged in with `wh` on the register and `watts` flowing.
fn metered(h: &mut Harness, wh: f64, watts: f64) {
    let sample = |measurand, value, unit: &str| Sample {
        measurand,
        phase: None,
        value,
        unit: Some(unit.into()),
    };
    h.st.set_inputs(
        0,
        EvseInputs {
            online: Some(true),
            vehicle_connected: Some(true),
            samples: vec![
                sample(Measurand::EnergyActiveImportRegister, wh, "Wh"),
                sample(Measurand::PowerActiveImport, watts, "W"),
            ],
            ..Default::default()
        },
    );
    h.st.device_known(0);
}

#[test]
fn f02_remote_start_after_remote_stop_starts_a_new_transaction() {
    let mut h = capable();
    plugged(&mut h, true);
    let (id, started) = h.expect_call("TransactionEvent");
    let first = started["transactionInfo"]["transactionId"].clone();
    h.receive(json!([3, id, {}]));
    let (id, _) = h.expect_call("StatusNotification");
    h.receive(json!([3, id, {}]));

    let (reply, out) = call(
        &mut h,
        "RequestStopTransaction",
        json!({"transactionId": first}),
    );
    assert_eq!(reply["status"], "Accepted");
    let [ended] = calls_in(&out).try_into().expect("one Ended");
    assert_eq!(ended[3]["eventType"], "Ended");
    h.receive(json!([3, ended[1], {}]));

    // The vehicle is still plugged in: a remote start must reach the CSMS as a transaction.
    let (reply, out) = call(
        &mut h,
        "RequestStartTransaction",
        json!({"remoteStartId": 99, "idToken": {"idToken": "APP-99", "type": "Central"}}),
    );
    assert_eq!(reply["status"], "Accepted");
    assert!(out.contains(&Effect::Device(DeviceCommand::Charging {
        evse: 0,
        start: true
    })));
    let [next] = calls_in(&out)
        .try_into()
        .expect("a new Started in the same turn");
    let p = &next[3];
    assert_eq!(next[2], "TransactionEvent");
    assert_eq!(
        (&p["eventType"], &p["triggerReason"], &p["seqNo"]),
        (&json!("Started"), &json!("RemoteStart"), &json!(0))
    );
    assert_ne!(p["transactionInfo"]["transactionId"], first);
    assert_eq!(p["transactionInfo"]["remoteStartId"], 99);
    assert_eq!(p["idToken"]["idToken"], "APP-99");
}

#[test]
fn e05_invalid_token_stops_energy() {
    let mut h = capable();
    let (reply, _) = call(
        &mut h,
        "RequestStartTransaction",
        json!({"remoteStartId": 5, "idToken": {"idToken": "BAD", "type": "Central"}}),
    );
    assert_eq!(reply["status"], "Accepted");
    metered(&mut h, 1000.0, 7000.0);
    let (id, started) = h.expect_call("TransactionEvent");
    assert_eq!(started["idToken"]["idToken"], "BAD");
    let mut out = h.receive(json!([3, id, {"idTokenInfo": {"status": "Invalid"}}]));
    out.extend(h.pump());
    assert!(charging_stopped(&out), "{out:?}");
    let [ended] = calls_in(&out).try_into().expect("one Ended");
    let p = &ended[3];
    assert_eq!(
        (&p["eventType"], &p["triggerReason"]),
        (&json!("Ended"), &json!("Deauthorized"))
    );
    assert_eq!(p["transactionInfo"]["stoppedReason"], "DeAuthorized");
    assert_eq!(p["seqNo"], 1);
    assert!(h.st.transaction_id(0).is_none());
}

#[test]
fn e05_without_stop_tx_on_invalid_id_energy_stops_at_max_energy_on_invalid_id() {
    let mut h = capable();
    let (reply, _) = call(
        &mut h,
        "SetVariables",
        json!({"setVariableData": [
            {"attributeValue": "false", "component": {"name": "TxCtrlr"}, "variable": {"name": "StopTxOnInvalidId"}},
            {"attributeValue": "500", "component": {"name": "TxCtrlr"}, "variable": {"name": "MaxEnergyOnInvalidId"}}
        ]}),
    );
    let statuses: Vec<&Value> = reply["setVariableResult"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["attributeStatus"])
        .collect();
    assert_eq!(statuses, [&json!("Accepted"), &json!("Accepted")]);
    call(
        &mut h,
        "RequestStartTransaction",
        json!({"remoteStartId": 6, "idToken": {"idToken": "BAD", "type": "Central"}}),
    );
    metered(&mut h, 1000.0, 7000.0);
    let (id, _) = h.expect_call("TransactionEvent");
    let mut out = h.receive(json!([3, id, {"idTokenInfo": {"status": "Invalid"}}]));
    out.extend(h.pump());
    assert!(!charging_stopped(&out), "500 Wh may still flow: {out:?}");
    for frame in calls_in(&out) {
        assert_eq!(frame[2], "StatusNotification");
        h.receive(json!([3, frame[1], {}]));
    }
    metered(&mut h, 1499.0, 7000.0);
    let out = h.pump();
    assert!(!charging_stopped(&out), "{out:?}");
    metered(&mut h, 1500.0, 7000.0);
    let out = h.pump();
    assert!(charging_stopped(&out), "{out:?}");
    let [updated] = calls_in(&out)
        .try_into()
        .unwrap_or_else(|_| panic!("one Updated: {out:?}"));
    let p = &updated[3];
    assert_eq!(
        (&p["eventType"], &p["triggerReason"]),
        (&json!("Updated"), &json!("Deauthorized"))
    );
    h.receive(json!([3, updated[1], {}]));
    assert!(h.st.transaction_id(0).is_some(), "the transaction goes on");
    // Energy stays off until the vehicle leaves, which ends the transaction.
    metered(&mut h, 1500.0, 0.0);
    let (id, _) = h.expect_call("TransactionEvent");
    h.receive(json!([3, id, {}]));
    plugged(&mut h, false);
    let (_, ended) = h.expect_call("TransactionEvent");
    assert_eq!(ended["eventType"], "Ended");
}

#[test]
fn b01_no_connector_status_before_the_device_was_read() {
    let (mut h, _) = Harness::booted("Accepted", 300);
    h.st.set_inputs(
        0,
        EvseInputs {
            online: Some(false),
            ..Default::default()
        },
    );
    let (id, status) = h.expect_call("StatusNotification");
    assert_eq!(
        status["connectorStatus"], "Unavailable",
        "known: unreachable"
    );
    h.receive(json!([3, id, {}]));
    // The device answers the connection but no reading has come back yet.
    h.st.set_inputs(
        0,
        EvseInputs {
            online: Some(true),
            ..Default::default()
        },
    );
    for frame in calls_in(&h.pump()) {
        assert_ne!(
            frame[2], "StatusNotification",
            "nothing read, nothing to report"
        );
        h.receive(json!([3, frame[1], {}]));
    }
    assert_eq!(
        h.st.connector_status(0),
        Some((None, Some(ConnectorStatus::Unavailable)))
    );
    plugged(&mut h, true);
    let (id, started) = h.expect_call("TransactionEvent");
    assert_eq!(started["eventType"], "Started");
    h.receive(json!([3, id, {}]));
    let (_, status) = h.expect_call("StatusNotification");
    assert_eq!(status["connectorStatus"], "Occupied");
}

#[test]
fn j02_tx_ended_intervals_set_by_the_csms_shape_the_ended_event() {
    let mut h = capable();
    let set = |component: &str, variable: &str, value: &str| json!({"attributeValue": value, "component": {"name": component}, "variable": {"name": variable}});
    let (reply, _) = call(
        &mut h,
        "SetVariables",
        json!({"setVariableData": [
            set("SampledDataCtrlr", "TxEndedInterval", "30"),
            set("AlignedDataCtrlr", "TxEndedInterval", "900"),
            set("AlignedDataCtrlr", "TxEndedMeasurands", "Energy.Active.Import.Register"),
        ]}),
    );
    for r in reply["setVariableResult"].as_array().unwrap() {
        assert_eq!(r["attributeStatus"], "Accepted", "{r}");
    }
    metered(&mut h, 1000.0, 0.0);
    let (id, _) = h.expect_call("TransactionEvent");
    h.receive(json!([3, id, {}]));
    let (id, _) = h.expect_call("StatusNotification");
    h.receive(json!([3, id, {}]));
    h.advance(900);
    metered(&mut h, 1200.0, 0.0);
    // Periodic and clock-aligned Updated events follow the model's own intervals.
    for _ in 0..2 {
        let (id, updated) = h.expect_call("TransactionEvent");
        assert_eq!(updated["eventType"], "Updated");
        h.receive(json!([3, id, {}]));
    }
    assert!(h.pump().is_empty());
    metered(&mut h, 1250.0, 0.0);
    let mut unplugged = h.st.evses[0].inputs.clone();
    unplugged.vehicle_connected = Some(false);
    h.st.set_inputs(0, unplugged);
    let (_, ended) = h.expect_call("TransactionEvent");
    let contexts: Vec<&Value> = ended["meterValue"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["sampledValue"][0]["context"])
        .collect();
    assert_eq!(
        contexts,
        [
            "Transaction.Begin",
            "Sample.Periodic",
            "Sample.Clock",
            "Transaction.End"
        ]
    );
}

#[test]
fn e05_a_refused_token_does_not_end_what_the_gateway_cannot_stop() {
    let (mut h, _) = Harness::booted("Accepted", 300);
    plugged(&mut h, true);
    let (id, started) = h.expect_call("TransactionEvent");
    assert!(started.get("idToken").is_some());
    let mut out = h.receive(json!([3, id, {"idTokenInfo": {"status": "Invalid"}}]));
    out.extend(h.pump());
    assert!(
        calls_in(&out).iter().all(|c| c[3]["eventType"] != "Ended"),
        "{out:?}"
    );
    assert!(h.st.transaction_id(0).is_some(), "energy may still flow");
}
