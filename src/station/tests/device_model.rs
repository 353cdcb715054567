use super::*;

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

/// NotifyReport payloads the station holds, built or queued.
fn pending_pages(h: &Harness) -> usize {
    h.st.extra.count("NotifyReport")
}

#[test]
fn b07_b08_a_flood_of_report_requests_holds_one_report_one_page_at_a_time() {
    let mut h = capable();
    let (reply, effects) = call(
        &mut h,
        "GetBaseReport",
        json!({"requestId": 1, "reportBase": "FullInventory"}),
    );
    assert_eq!(reply["status"], "Accepted");
    let mut page = effects
        .iter()
        .find_map(|e| match e {
            Effect::Send(t) if t.contains("NotifyReport") => serde_json::from_str::<Value>(t).ok(),
            _ => None,
        })
        .expect("the first page goes out with the answer");
    for n in 0..1000 {
        let (reply, _) = if n % 2 == 0 {
            call(
                &mut h,
                "GetBaseReport",
                json!({"requestId": 100 + n, "reportBase": "FullInventory"}),
            )
        } else {
            call(&mut h, "GetReport", json!({"requestId": 100 + n}))
        };
        assert_eq!(reply["status"], "Rejected", "{reply}");
        assert_eq!(reply["statusInfo"]["reasonCode"], "ReportInProgress");
        assert!(
            pending_pages(&h) <= 1,
            "pages pile up: {}",
            pending_pages(&h)
        );
    }
    let mut seq = Vec::new();
    loop {
        assert_eq!(page[2], "NotifyReport");
        assert_eq!(page[3]["requestId"], 1);
        seq.push(page[3]["seqNo"].as_i64().unwrap_or(-1));
        assert!(pending_pages(&h) <= 1);
        let last = page[3]["tbc"] != true;
        let mut next = h.receive(json!([3, page[1], {}]));
        next.extend(h.pump());
        if last {
            assert!(next.is_empty(), "nothing after the last page: {next:?}");
            break;
        }
        page = next
            .iter()
            .find_map(|e| match e {
                Effect::Send(t) => serde_json::from_str::<Value>(t).ok(),
                _ => None,
            })
            .expect("the next page follows the acknowledgement");
    }
    assert!(seq.len() > 1);
    assert_eq!(seq, (0..seq.len() as i64).collect::<Vec<_>>());
    let (reply, _) = call(
        &mut h,
        "GetBaseReport",
        json!({"requestId": 2, "reportBase": "SummaryInventory"}),
    );
    assert_eq!(
        reply["status"], "Accepted",
        "a new report once the last one is sent"
    );
}

#[test]
fn b07_a_page_the_csms_refuses_ends_the_report_without_a_gap() {
    let mut h = capable();
    let (_, effects) = call(
        &mut h,
        "GetBaseReport",
        json!({"requestId": 3, "reportBase": "FullInventory"}),
    );
    let first = effects
        .iter()
        .find_map(|e| match e {
            Effect::Send(t) if t.contains("NotifyReport") => serde_json::from_str::<Value>(t).ok(),
            _ => None,
        })
        .expect("the first page goes out");
    assert_eq!(first[3]["tbc"], true);
    let mut after = h.receive(json!([4, first[1], "InternalError", "busy", {}]));
    after.extend(h.pump());
    assert!(
        !after
            .iter()
            .any(|e| matches!(e, Effect::Send(t) if t.contains("NotifyReport"))),
        "no page 1 after a lost page 0: {after:?}"
    );
    let (reply, _) = call(
        &mut h,
        "GetBaseReport",
        json!({"requestId": 4, "reportBase": "SummaryInventory"}),
    );
    assert_eq!(reply["status"], "Accepted");
}

#[test]
fn b05_template_variables_are_written_only_within_their_range() {
    use crate::ocpp::messages::{DataType, Mutability};
    use crate::station::device_model::ExternalVariable;
    let mut h = capable();
    h.st.define_external(vec![ExternalDef {
        variable: ExternalVariable {
            component: "EVSE".into(),
            variable: "CurrentLimit".into(),
            mutability: Mutability::ReadWrite,
            data_type: DataType::decimal,
            unit: Some("A".into()),
        },
        options: Vec::new(),
        min: Some(6.0),
        max: Some(32.0),
    }]);
    let set = |h: &mut Harness, value: &str| {
        call(
            h,
            "SetVariables",
            json!({"setVariableData": [{"attributeValue": value, "component": {"name": "EVSE"}, "variable": {"name": "CurrentLimit"}}]}),
        )
    };
    let (reply, effects) = set(&mut h, "50");
    assert_eq!(reply["setVariableResult"][0]["attributeStatus"], "Rejected");
    assert!(!effects
        .iter()
        .any(|e| matches!(e, Effect::WriteVariable { .. })));
    let (reply, effects) = set(&mut h, "16");
    assert_eq!(reply["setVariableResult"][0]["attributeStatus"], "Accepted");
    assert!(effects.contains(&Effect::WriteVariable {
        component: "EVSE".into(),
        variable: "CurrentLimit".into(),
        value: "16".into(),
    }));
}

/// A writable standard variable and how the station shows it acted on a new value.
struct TakesEffect {
    /// `Component.Variable` or `Component.Variable[Instance]`.
    name: &'static str,
    value: &'static str,
    /// True once the station runs on `value` (and not before).
    shown: fn(&Station) -> bool,
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// In order: later rows rely on earlier ones (Enabled=false turns a set interval off).
const TAKES_EFFECT: &[TakesEffect] = &[
    TakesEffect {
        name: "OCPPCommCtrlr.HeartbeatInterval",
        value: "77",
        shown: |s| s.heartbeat_interval == secs(77),
    },
    TakesEffect {
        name: "OCPPCommCtrlr.MessageAttempts[TransactionEvent]",
        value: "7",
        shown: |s| s.settings.retry.attempts == 7,
    },
    TakesEffect {
        name: "OCPPCommCtrlr.MessageAttemptInterval[TransactionEvent]",
        value: "33",
        shown: |s| s.settings.retry.interval == secs(33),
    },
    TakesEffect {
        name: "OCPPCommCtrlr.OfflineThreshold",
        value: "1234",
        // What `connected` compares the offline time with.
        shown: |s| s.model.offline_threshold() == secs(1234),
    },
    TakesEffect {
        name: "OCPPCommCtrlr.RetryBackOffRandomRange",
        value: "17",
        shown: |s| s.settings.backoff.random_range == secs(17),
    },
    TakesEffect {
        name: "OCPPCommCtrlr.RetryBackOffRepeatTimes",
        value: "9",
        shown: |s| s.settings.backoff.repeat_times == 9,
    },
    TakesEffect {
        name: "OCPPCommCtrlr.RetryBackOffWaitMinimum",
        value: "23",
        shown: |s| s.settings.backoff.wait_minimum == secs(23),
    },
    TakesEffect {
        name: "OCPPCommCtrlr.WebSocketPingInterval",
        value: "45",
        // What the hub opens the next connection with.
        shown: |s| s.ping_interval() == secs(45),
    },
    TakesEffect {
        name: "TxCtrlr.EVConnectionTimeOut",
        value: "99",
        shown: |s| s.settings.tx.ev_connection_timeout == secs(99),
    },
    TakesEffect {
        name: "TxCtrlr.StopTxOnEVSideDisconnect",
        value: "false",
        shown: |s| !s.settings.tx.stop_tx_on_ev_side_disconnect,
    },
    TakesEffect {
        name: "TxCtrlr.StopTxOnInvalidId",
        value: "false",
        shown: |s| !s.settings.tx.stop_tx_on_invalid_id,
    },
    TakesEffect {
        name: "TxCtrlr.MaxEnergyOnInvalidId",
        value: "500",
        shown: |s| s.settings.tx.max_energy_on_invalid_id_wh == 500,
    },
    TakesEffect {
        name: "TxCtrlr.TxStartPoint",
        value: "Authorized",
        shown: |s| s.settings.tx.start_points == [crate::ocpp::messages::TxPoint::Authorized],
    },
    TakesEffect {
        name: "TxCtrlr.TxStopPoint",
        value: "PowerPathClosed",
        shown: |s| s.settings.tx.stop_points == [crate::ocpp::messages::TxPoint::PowerPathClosed],
    },
    TakesEffect {
        name: "SampledDataCtrlr.TxStartedMeasurands",
        value: "",
        shown: |s| s.settings.tx.started_measurands.is_empty(),
    },
    TakesEffect {
        name: "SampledDataCtrlr.TxUpdatedMeasurands",
        value: "",
        shown: |s| s.settings.tx.updated_measurands.is_empty(),
    },
    TakesEffect {
        name: "SampledDataCtrlr.TxEndedMeasurands",
        value: "",
        shown: |s| s.settings.tx.ended_measurands.is_empty(),
    },
    TakesEffect {
        name: "SampledDataCtrlr.TxUpdatedInterval",
        value: "13",
        shown: |s| s.settings.tx.updated_interval == secs(13),
    },
    TakesEffect {
        name: "SampledDataCtrlr.TxEndedInterval",
        value: "30",
        shown: |s| s.settings.tx.ended_interval == secs(30),
    },
    TakesEffect {
        name: "SampledDataCtrlr.Enabled",
        value: "false",
        shown: |s| s.settings.tx.updated_interval.is_zero(),
    },
    TakesEffect {
        name: "AlignedDataCtrlr.Interval",
        value: "600",
        shown: |s| s.settings.aligned_interval == secs(600),
    },
    TakesEffect {
        name: "AlignedDataCtrlr.Measurands",
        value: "",
        shown: |s| s.settings.aligned_measurands.is_empty(),
    },
    TakesEffect {
        name: "AlignedDataCtrlr.TxEndedInterval",
        value: "900",
        shown: |s| s.settings.tx.aligned_ended_interval == secs(900),
    },
    TakesEffect {
        name: "AlignedDataCtrlr.TxEndedMeasurands",
        value: "Energy.Active.Import.Register",
        shown: |s| {
            s.settings.tx.aligned_ended_measurands == [Measurand::EnergyActiveImportRegister]
        },
    },
    TakesEffect {
        name: "AlignedDataCtrlr.Enabled",
        value: "false",
        shown: |s| s.settings.aligned_interval.is_zero(),
    },
    TakesEffect {
        name: "AuthCtrlr.Enabled",
        value: "true",
        shown: |s| s.settings.tx.auth_enabled,
    },
    TakesEffect {
        name: "AuthCtrlr.AuthorizeRemoteStart",
        value: "true",
        shown: |s| s.settings.tx.authorize_remote_start,
    },
    TakesEffect {
        name: "SecurityCtrlr.BasicAuthPassword",
        value: "a-new-password-0123456",
        // What the hub authenticates the next connection with.
        shown: |s| s.basic_auth_password() == Some("a-new-password-0123456"),
    },
];

/// `Component.Variable[Instance]` of a report row.
fn row_name(r: &crate::ocpp::messages::ReportData) -> String {
    let instance = r
        .variable
        .instance
        .as_ref()
        .map(|i| format!("[{i}]"))
        .unwrap_or_default();
    format!("{}.{}{instance}", r.component.name, r.variable.name)
}

#[test]
fn b05_every_writable_variable_takes_effect() {
    use crate::ocpp::messages::{Mutability, ReportBase};
    use crate::station::device_model::NoExternal;
    let mut h = capable();
    let mut cursor = h.st.model.base_report(1, ReportBase::FullInventory, wall());
    let writable: Vec<String> =
        std::iter::from_fn(|| cursor.next_page(&h.st.model, &NoExternal, 1000))
            .flat_map(|p| p.report_data.unwrap_or_default())
            .filter(|r| {
                r.variable_attribute
                    .iter()
                    .any(|a| a.mutability != Some(Mutability::ReadOnly))
            })
            .map(|r| row_name(&r))
            .collect();
    for name in &writable {
        assert!(
            TAKES_EFFECT.iter().any(|t| t.name == name),
            "{name} is writable but nothing shows that a new value takes effect: \
             make it work (and add it to TAKES_EFFECT) or make it ReadOnly with its true value"
        );
    }
    for t in TAKES_EFFECT {
        assert!(
            writable.iter().any(|w| w == t.name),
            "{} is not writable",
            t.name
        );
        assert!(!(t.shown)(&h.st), "{} already shows {:?}", t.name, t.value);
        let (component, rest) = t.name.split_once('.').unwrap_or_default();
        let (variable, instance) = match rest.split_once('[') {
            Some((v, i)) => (v, Some(i.trim_end_matches(']'))),
            None => (rest, None),
        };
        let mut variable = json!({ "name": variable });
        if let Some(instance) = instance {
            variable["instance"] = json!(instance);
        }
        let (reply, _) = call(
            &mut h,
            "SetVariables",
            json!({"setVariableData": [{
                "attributeValue": t.value,
                "component": {"name": component},
                "variable": variable,
            }]}),
        );
        let status = &reply["setVariableResult"][0]["attributeStatus"];
        assert_eq!(status, "Accepted", "{}: {reply}", t.name);
        assert!(
            (t.shown)(&h.st),
            "{} = {:?} did not take effect",
            t.name,
            t.value
        );
    }
}

/// The Actual value of one variable, through GetVariables.
fn read(h: &mut Harness, component: &str, variable: &str) -> Value {
    let (reply, _) = call(
        h,
        "GetVariables",
        json!({"getVariableData": [{"component": {"name": component}, "variable": {"name": variable}}]}),
    );
    reply["getVariableResult"][0]["attributeValue"].clone()
}

#[test]
fn clock_ctrlr_date_time_follows_the_csms_clock_without_setting_the_host_clock() {
    let mut h = Harness::new();
    assert_eq!(
        read_model(&mut h, "ClockCtrlr", "TimeSource"),
        "RealTimeClock",
        "the host clock until the CSMS gave its time"
    );
    // capable() boots with currentTime 2026-01-01T00:00:00Z; the host clock says 2025-11-24.
    let mut h = capable();
    assert_eq!(read(&mut h, "ClockCtrlr", "TimeSource"), "Heartbeat");
    assert_eq!(
        read(&mut h, "ClockCtrlr", "DateTime"),
        "2026-01-01T00:00:00.000Z"
    );
    h.advance(300);
    let (id, _) = h.expect_call("Heartbeat");
    h.receive(json!([3, id, {"currentTime": "2026-01-01T01:00:00.500Z"}]));
    assert_eq!(
        read(&mut h, "ClockCtrlr", "DateTime"),
        "2026-01-01T01:00:00.500Z"
    );
    // The station's own timestamps still come from the host clock.
    assert_eq!(wall(), UNIX_EPOCH + Duration::from_secs(1_764_000_000));
}

/// A value straight from the model of a station that never connected.
fn read_model(h: &mut Harness, component: &str, variable: &str) -> String {
    use crate::ocpp::messages::{Component, GetVariableData, GetVariablesRequest, Variable};
    use crate::station::device_model::NoExternal;
    let req = GetVariablesRequest {
        get_variable_data: vec![GetVariableData {
            attribute_type: None,
            component: Component {
                name: component.into(),
                instance: None,
                evse: None,
            },
            variable: Variable {
                name: variable.into(),
                instance: None,
            },
        }],
    };
    h.st.model
        .get_variables(&req, &NoExternal)
        .get_variable_result[0]
        .attribute_value
        .clone()
        .unwrap_or_default()
}

#[test]
fn supply_phases_and_a_security_profile_of_at_least_one() {
    let mut h = capable();
    assert_eq!(read(&mut h, "ChargingStation", "SupplyPhases"), "3");
    // settings() is a plain ws:// station without Basic auth (profile 0 in the config).
    assert_eq!(h.st.settings.security_profile, 0);
    assert_eq!(read(&mut h, "SecurityCtrlr", "SecurityProfile"), "1");
    let mut s = settings();
    s.supply_phases = 1;
    let one = Station::new(s, Rng::seeded(3), h.now);
    assert_eq!(one.device_model().supply_phases(), 1);
}

fn identity_station(wait: u64) -> Harness {
    let mut s = settings();
    s.firmware_version = None;
    s.identity = crate::station::BootIdentity {
        serial_number: Some(("ChargingStation".into(), "SerialNumber".into())),
        firmware_version: Some(("ChargingStation".into(), "FirmwareVersion".into())),
        wait: Duration::from_secs(wait),
    };
    let now = Instant::now();
    let mut h = Harness {
        st: Station::new(s, Rng::seeded(4), now),
        now,
    };
    assert_eq!(h.pump(), vec![Effect::Connect]);
    h.st.connected(h.now);
    h
}

fn identity_values(
    serial: &str,
    firmware: &str,
) -> std::collections::HashMap<(String, String), String> {
    [("SerialNumber", serial), ("FirmwareVersion", firmware)]
        .into_iter()
        .map(|(v, value)| {
            (
                ("ChargingStation".to_string(), v.to_string()),
                value.to_string(),
            )
        })
        .collect()
}

#[test]
fn b01_the_first_boot_waits_for_the_chargers_identity() {
    let mut h = identity_station(30);
    assert!(
        h.pump().is_empty(),
        "no BootNotification before the identity is read"
    );
    assert_eq!(h.st.next_deadline(), Some(h.now + Duration::from_secs(30)));
    h.advance(2);
    h.st.set_external_values(identity_values(&"S".repeat(40), " 2.1.0 "));
    let (_, boot) = h.expect_call("BootNotification");
    assert_eq!(boot["chargingStation"]["serialNumber"], "S".repeat(25));
    assert_eq!(boot["chargingStation"]["firmwareVersion"], "2.1.0");
}

#[test]
fn b01_a_silent_charger_boots_without_identity_after_the_wait() {
    let mut h = identity_station(30);
    assert!(h.pump().is_empty());
    h.advance(29);
    assert!(h.pump().is_empty());
    h.advance(1);
    let (_, boot) = h.expect_call("BootNotification");
    assert!(boot["chargingStation"].get("serialNumber").is_none());
    assert!(boot["chargingStation"].get("firmwareVersion").is_none());
}
