//! Every CSMS input is checked against the official OCPP 2.0.1 schemas before the station acts
//! on it (issue #12). Variants that break exactly one schema constraint are generated from the
//! schema text itself, confirmed invalid by the `jsonschema` crate, and sent to a registered
//! station: each must be refused with the OCPP-J code of that constraint and change nothing.
//! Valid minimal and full instances of the same schemas must still be answered normally.

mod common;
mod schema_variants;

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::gateway::{wait_register, Rig};
use common::{schemas_dir, validate_payload, Kind};
use ocpp_gw::ocpp::messages::schema::{self, Half, Violation};
use ocpp_gw::ocpp::messages::{
    decode_response, Authorize, BootNotification, Measurand, TransactionEvent, ACTIONS,
};
use ocpp_gw::sim::csms::Dir;
use ocpp_gw::station::evse::EvseInputs;
use ocpp_gw::station::transaction::TxSettings;
use ocpp_gw::station::{
    Backoff, Capabilities, DeviceCommand, Effect, Registration, Retry, Station, StationSettings,
    WriteReport,
};
use ocpp_gw::util::rng::Rng;
use schema_variants::{Schema, Variant};
use serde_json::{json, Value};

/// Every CSMS-to-station action the station handles.
const HANDLED: [&str; 12] = [
    "RequestStartTransaction",
    "RequestStopTransaction",
    "Reset",
    "UnlockConnector",
    "ChangeAvailability",
    "TriggerMessage",
    "GetTransactionStatus",
    "GetVariables",
    "SetVariables",
    "GetBaseReport",
    "GetReport",
    "DataTransfer",
];

fn settings() -> StationSettings {
    StationSettings {
        ocpp_id: "CP1".into(),
        vendor_name: "V".into(),
        model: "M".into(),
        serial_number: None,
        firmware_version: Some("1".into()),
        identity: ocpp_gw::station::BootIdentity::default(),
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
        supply_phases: 3,
        tx: TxSettings {
            updated_interval: Duration::ZERO,
            ..TxSettings::default()
        },
        aligned_interval: Duration::ZERO,
        aligned_measurands: vec![Measurand::EnergyActiveImportRegister],
        retry: Retry {
            attempts: 3,
            interval: Duration::from_secs(60),
        },
        // Everything is mapped, so an executed request would show as a device command.
        capabilities: Capabilities {
            start_stop: true,
            unlock: true,
            reset: true,
            availability: true,
        },
    }
}

fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_764_000_000)
}

fn frames(out: &[Effect]) -> Vec<Value> {
    out.iter()
        .filter_map(|e| match e {
            Effect::Send(text) => serde_json::from_str(text).ok(),
            _ => None,
        })
        .collect()
}

/// A station and the simulated CSMS answers it gets while settling.
struct Rigless {
    st: Station,
    now: Instant,
    answers: &'static HashMap<String, Value>,
}

impl Rigless {
    /// A station that has booted (Accepted), reported its EVSE Available and has nothing left
    /// to send: every later effect is caused by what the test sends it.
    fn ready(now: Instant, dir: &Path) -> Rigless {
        let mut r = Rigless::booting(now, dir);
        r.settle(true);
        r
    }

    /// A station whose BootNotification is in flight; returns it and the CALL's id.
    fn booting(now: Instant, dir: &Path) -> Rigless {
        let mut st = Station::new(settings(), Rng::seeded(7), now);
        let mut out = Vec::new();
        st.pump(now, wall(), &mut out);
        assert_eq!(out, vec![Effect::Connect]);
        st.connected(now);
        st.set_inputs(
            0,
            EvseInputs {
                online: Some(true),
                connector_status: Some(ocpp_gw::ocpp::messages::ConnectorStatus::Available),
                ..Default::default()
            },
        );
        // As the hub does after the device's first answer: only then are statuses and
        // transactions inferred.
        st.device_known(0);
        Rigless {
            st,
            now,
            answers: answers(dir),
        }
    }

    /// Pumps and answers every CALL with a valid minimal CALLRESULT until the station is quiet;
    /// with `boot` false, the first BootNotification is left unanswered.
    fn settle(&mut self, boot: bool) -> Option<String> {
        for _ in 0..20 {
            let mut out = Vec::new();
            self.st.pump(self.now, wall(), &mut out);
            let calls: Vec<Value> = frames(&out).into_iter().filter(|f| f[0] == 2).collect();
            if calls.is_empty() {
                return None;
            }
            for call in calls {
                let action = call[2].as_str().unwrap_or_default();
                if action == "BootNotification" && !boot {
                    return call[1].as_str().map(str::to_owned);
                }
                let answer = self.answers.get(action).cloned().unwrap_or(json!({}));
                self.receive(json!([3, call[1], answer]));
            }
        }
        panic!("the station never went quiet");
    }

    fn receive(&mut self, frame: Value) -> Vec<Effect> {
        let mut out = Vec::new();
        self.st
            .received(self.now, wall(), &frame.to_string(), &mut out);
        // The charger takes every write: an unlock is answered once its write is reported.
        let unlocks: Vec<DeviceCommand> = out
            .iter()
            .filter_map(|e| match e {
                Effect::Device(c @ DeviceCommand::Unlock { .. }) => Some(*c),
                _ => None,
            })
            .collect();
        for command in unlocks {
            let report = WriteReport {
                command: Some(command),
                component: "Connector".into(),
                variable: "Unlock".into(),
                value: "Unlock".into(),
                result: Ok(()),
            };
            self.st.write_finished(self.now, wall(), report, &mut out);
        }
        out
    }

    fn pump(&mut self) -> Vec<Effect> {
        let mut out = Vec::new();
        self.st.pump(self.now, wall(), &mut out);
        out
    }
}

/// A valid minimal CALLRESULT for every action, with BootNotification Accepted.
fn answers(dir: &Path) -> &'static HashMap<String, Value> {
    static ANSWERS: OnceLock<HashMap<String, Value>> = OnceLock::new();
    ANSWERS.get_or_init(|| {
        let mut answers: HashMap<String, Value> = ACTIONS
            .iter()
            .map(|a| {
                let minimal = Schema::load(dir, &format!("{a}Response")).minimal();
                (a.to_string(), minimal)
            })
            .collect();
        answers.insert(
            "BootNotification".into(),
            json!({"currentTime": "2026-01-01T00:00:00Z", "interval": 300, "status": "Accepted"}),
        );
        answers
    })
}

/// Asserts that `variant` really breaks the official schema.
fn confirmed_invalid(action: &str, kind: Kind, v: &Variant) {
    assert!(
        validate_payload(action, kind, &v.payload).is_err(),
        "{action} {}: the generated variant is valid: {}",
        v.what,
        v.payload
    );
}

#[test]
fn embedded_schemas_are_the_official_ones_and_use_only_interpreted_keywords() {
    let dir = schemas_dir();
    let embedded = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ocpp/messages/schema/json");
    let mut count = 0;
    for entry in std::fs::read_dir(&embedded).expect("embedded schemas") {
        let path = entry.expect("dir entry").path();
        let name = path.file_name().expect("file name");
        let ours = std::fs::read(&path).expect("embedded schema");
        let official = std::fs::read(dir.join(name)).expect("official schema");
        assert!(
            ours == official,
            "{} differs from the official copy",
            path.display()
        );
        let schema: Value = serde_json::from_slice(&ours).expect("schema is JSON");
        keywords_are_interpreted(&schema, &path.display().to_string());
        count += 1;
    }
    // Request and response of every action the crate types.
    assert_eq!(count, 42);
}

fn keywords_are_interpreted(node: &Value, file: &str) {
    const INTERPRETED: [&str; 12] = [
        "type",
        "$ref",
        "properties",
        "required",
        "additionalProperties",
        "maxLength",
        "enum",
        "format",
        "minimum",
        "maximum",
        "minItems",
        "maxItems",
    ];
    const ANNOTATIONS: [&str; 6] = [
        "$schema",
        "comment",
        "description",
        "javaType",
        "default",
        "definitions",
    ];
    let Some(map) = node.as_object() else { return };
    for (key, value) in map {
        match key.as_str() {
            "properties" | "definitions" => {
                for sub in value.as_object().into_iter().flatten().map(|(_, v)| v) {
                    keywords_are_interpreted(sub, file);
                }
            }
            "items" => {
                assert!(value.is_object(), "{file}: tuple items are not interpreted");
                keywords_are_interpreted(value, file);
            }
            // Only meaningful with tuple items, which the schemas never use.
            "additionalItems" => {}
            "format" => assert_eq!(value, "date-time", "{file}: format {value}"),
            "additionalProperties" => assert_eq!(value, false, "{file}: {value}"),
            k if INTERPRETED.contains(&k) || ANNOTATIONS.contains(&k) => {}
            k => panic!("{file}: keyword {k} is not interpreted"),
        }
    }
}

#[test]
fn the_embedded_check_agrees_with_jsonschema_on_every_embedded_schema() {
    let dir = schemas_dir();
    let embedded = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ocpp/messages/schema/json");
    let mut checked = 0;
    for entry in std::fs::read_dir(&embedded).expect("embedded schemas") {
        let path = entry.expect("dir entry").path();
        let name = path.file_stem().and_then(|n| n.to_str()).expect("name");
        let (action, half, kind) = match name.strip_suffix("Request") {
            Some(a) => (a, Half::Request, Kind::Request),
            None => (
                name.strip_suffix("Response").expect("Request or Response"),
                Half::Response,
                Kind::Response,
            ),
        };
        let schema = Schema::load(&dir, name);
        for valid in [schema.minimal(), schema.full()] {
            assert_eq!(
                schema::check(action, half, &valid),
                Ok(()),
                "{name}: {valid}"
            );
        }
        // The first variant is not an object at all, which the frame layer already refuses.
        for v in schema.variants().into_iter().skip(1) {
            confirmed_invalid(action, kind, &v);
            let found = schema::check(action, half, &v.payload).map_err(|f| match f.violation {
                Violation::Format => "FormatViolation",
                Violation::Type => "TypeConstraintViolation",
                Violation::Occurrence => "OccurrenceConstraintViolation",
                Violation::Property => "PropertyConstraintViolation",
                Violation::Internal => "InternalError",
            });
            assert_eq!(found, Err(v.code), "{name} {}", v.what);
            checked += 1;
        }
    }
    assert!(checked > 1000, "only {checked}");
}

#[test]
fn action_list_is_the_official_one() {
    let mut names: Vec<String> = std::fs::read_dir(schemas_dir())
        .expect("schemas dir")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|n| n.strip_suffix("Request.json").map(str::to_owned))
        .collect();
    names.sort();
    assert_eq!(names, ACTIONS.to_vec());
}

#[test]
fn every_schema_violation_in_a_csms_request_is_refused_and_nothing_happens() {
    let dir = schemas_dir();
    let now = Instant::now();
    let mut checked = 0;
    for action in HANDLED {
        let schema = Schema::load(&dir, &format!("{action}Request"));
        let variants = schema.variants();
        assert!(variants.len() > 3, "{action}: too few variants");
        for v in variants {
            confirmed_invalid(action, Kind::Request, &v);
            let mut station = Rigless::ready(now, &dir);
            let mut twin = Rigless::ready(now, &dir);
            let out = station.receive(json!([2, "v1", action, v.payload]));
            let Some((Effect::Send(first), rest)) = out.split_first() else {
                panic!("{action} {}: no answer: {out:?}", v.what);
            };
            let reply: Value = serde_json::from_str(first).expect("reply is JSON");
            assert_eq!(
                (reply[0].as_u64(), reply[1].as_str(), reply[2].as_str()),
                (Some(4), Some("v1"), Some(v.code)),
                "{action} {}: {reply}",
                v.what
            );
            // Nothing executed: the station does exactly what its untouched twin does.
            assert!(
                !rest.iter().any(|e| matches!(e, Effect::Device(_))),
                "{action} {}: executed: {rest:?}",
                v.what
            );
            assert_eq!(rest, twin.pump().as_slice(), "{action} {}", v.what);
            assert_eq!(station.pump(), twin.pump(), "{action} {}", v.what);
            checked += 1;
        }
    }
    assert!(checked > 400, "only {checked} variants");
}

#[test]
fn valid_minimal_and_full_requests_are_answered_with_a_callresult() {
    let dir = schemas_dir();
    let now = Instant::now();
    for action in HANDLED {
        let schema = Schema::load(&dir, &format!("{action}Request"));
        for payload in [schema.minimal(), schema.full()] {
            assert_eq!(
                validate_payload(action, Kind::Request, &payload),
                Ok(()),
                "{action}: generated instance is invalid"
            );
            let mut station = Rigless::ready(now, &dir);
            let out = station.receive(json!([2, "ok", action, payload]));
            let reply = frames(&out).into_iter().find(|f| f[1] == "ok");
            let reply = reply.unwrap_or_else(|| panic!("{action}: no answer"));
            assert_eq!(reply[0], 3, "{action} {payload} refused: {reply}");
            assert_eq!(
                validate_payload(action, Kind::Response, &reply[2]),
                Ok(()),
                "{action}"
            );
        }
    }
}

#[test]
fn every_enumeration_value_the_schemas_allow_is_accepted() {
    let dir = schemas_dir();
    let now = Instant::now();
    let mut checked = 0;
    for action in HANDLED {
        let schema = Schema::load(&dir, &format!("{action}Request"));
        for (what, payload) in schema.enum_values() {
            assert_eq!(validate_payload(action, Kind::Request, &payload), Ok(()));
            let mut station = Rigless::ready(now, &dir);
            let out = station.receive(json!([2, "e", action, payload]));
            let reply = frames(&out).into_iter().find(|f| f[1] == "e");
            let reply = reply.unwrap_or_else(|| panic!("{action} {what}: no answer"));
            assert_eq!(reply[0], 3, "{action} {what}: {reply}");
            checked += 1;
        }
    }
    for (action, schema) in ["BootNotification", "Authorize", "TransactionEvent"]
        .map(|a| (a, Schema::load(&dir, &format!("{a}Response"))))
    {
        for (what, payload) in schema.enum_values() {
            assert_eq!(validate_payload(action, Kind::Response, &payload), Ok(()));
            let decoded = match action {
                "BootNotification" => decode_response::<BootNotification>(&payload).map(drop),
                "Authorize" => decode_response::<Authorize>(&payload).map(drop),
                _ => decode_response::<TransactionEvent>(&payload).map(drop),
            };
            assert_eq!(decoded, Ok(()), "{action} {what}");
            checked += 1;
        }
    }
    assert!(checked > 80, "only {checked}");
}

#[test]
fn unhandled_actions_get_not_supported_and_unknown_names_not_implemented() {
    let dir = schemas_dir();
    let now = Instant::now();
    let mut station = Rigless::ready(now, &dir);
    let mut ask = |action: &str| {
        let out = station.receive(json!([2, "u1", action, {}]));
        let reply = frames(&out).into_iter().find(|f| f[1] == "u1");
        let reply = reply.unwrap_or_else(|| panic!("{action}: no answer"));
        assert_eq!(reply[0], 4, "{action}: {reply}");
        reply[2].as_str().unwrap_or_default().to_owned()
    };
    for action in ACTIONS.iter().filter(|a| !HANDLED.contains(a)) {
        assert_eq!(ask(action), "NotSupported", "{action}");
    }
    for name in [
        "FrobnicateRequest",
        "RemoteStartTransaction",
        "reset",
        "Reset ",
    ] {
        assert_eq!(ask(name), "NotImplemented", "{name}");
    }
}

#[test]
fn a_schema_invalid_boot_notification_result_does_not_register_the_station() {
    let dir = schemas_dir();
    let now = Instant::now();
    let schema = Schema::load(&dir, "BootNotificationResponse");
    let mut station = Rigless::booting(now, &dir);
    let id = station.settle(false).expect("a BootNotification");
    station.receive(json!([3, id, schema.full()]));
    assert_eq!(station.st.registration(), Registration::Accepted);
    for v in schema.variants() {
        confirmed_invalid("BootNotification", Kind::Response, &v);
        let mut station = Rigless::booting(now, &dir);
        let id = station.settle(false).expect("a BootNotification");
        let out = station.receive(json!([3, id, v.payload]));
        assert!(out.is_empty(), "{}: {out:?}", v.what);
        assert_eq!(
            station.st.registration(),
            Registration::Unknown,
            "{}",
            v.what
        );
    }
}

#[test]
fn a_schema_invalid_authorize_result_does_not_start_charging() {
    let dir = schemas_dir();
    let now = Instant::now();
    let schema = Schema::load(&dir, "AuthorizeResponse");
    let authorize = |payload: Value| {
        let mut station = Rigless::ready(now, &dir);
        station.st.set_inputs(
            0,
            EvseInputs {
                online: Some(true),
                vehicle_connected: Some(false),
                id_token: Some("CARD1".into()),
                ..Default::default()
            },
        );
        let call = frames(&station.pump())
            .into_iter()
            .find(|f| f[0] == 2 && f[2] == "Authorize")
            .expect("an Authorize");
        let mut out = station.receive(json!([3, call[1], payload]));
        out.extend(station.pump());
        out
    };
    let start = Effect::Device(DeviceCommand::Charging {
        evse: 0,
        start: true,
    });
    assert_eq!(schema.full()["idTokenInfo"]["status"], "Accepted");
    assert!(authorize(schema.full()).contains(&start));
    for v in schema.variants() {
        confirmed_invalid("Authorize", Kind::Response, &v);
        let out = authorize(v.payload.clone());
        assert!(!out.contains(&start), "{}: {out:?}", v.what);
    }
}

#[test]
fn a_schema_invalid_transaction_event_result_leaves_the_event_queued() {
    let dir = schemas_dir();
    let now = Instant::now();
    let schema = Schema::load(&dir, "TransactionEventResponse");
    // Answers the first TransactionEvent with `payload`; returns the messages still queued.
    let answer_event = |payload: Value| {
        let mut station = Rigless::ready(now, &dir);
        station.st.set_inputs(
            0,
            EvseInputs {
                online: Some(true),
                vehicle_connected: Some(true),
                connector_status: Some(ocpp_gw::ocpp::messages::ConnectorStatus::Occupied),
                ..Default::default()
            },
        );
        for _ in 0..10 {
            for call in frames(&station.pump()).into_iter().filter(|f| f[0] == 2) {
                if call[2] == "TransactionEvent" {
                    assert_eq!(station.st.queued_messages(), 1);
                    station.receive(json!([3, call[1], payload]));
                    return station.st.queued_messages();
                }
                let answer = station.answers.get(call[2].as_str().unwrap_or_default());
                let answer = answer.cloned().unwrap_or(json!({}));
                station.receive(json!([3, call[1], answer]));
            }
        }
        panic!("no TransactionEvent");
    };
    assert_eq!(answer_event(schema.full()), 0, "a valid result delivers it");
    for v in schema.variants() {
        confirmed_invalid("TransactionEvent", Kind::Response, &v);
        assert_eq!(answer_event(v.payload.clone()), 1, "{}", v.what);
    }
}

/// Holding register of `Control.Charging` in etc/templates/generic_modbus_charger.toml.
const REG_CHARGING: u16 = 20;

#[test]
fn gateway_refuses_a_5000_character_id_token_and_a_reset_with_an_unknown_property() {
    let (rig, ready) = Rig::booted("input_schemas_refused");
    let long = json!({"evseId": 1, "remoteStartId": 7,
                      "idToken": {"idToken": "A".repeat(5000), "type": "Central"}});
    let answer = rig.call_frame("RequestStartTransaction", long);
    assert_eq!(answer[0], 4, "{answer}");
    assert_eq!(answer[2], "PropertyConstraintViolation");
    let answer = rig.call_frame("Reset", json!({"type": "Immediate", "when": "now"}));
    assert_eq!(answer[0], 4, "{answer}");
    assert_eq!(answer[2], "OccurrenceConstraintViolation");
    let answer = rig.call_frame(
        "CostUpdated",
        json!({"totalCost": 1.0, "transactionId": "t"}),
    );
    assert_eq!(answer[2], "NotSupported");

    // Neither was executed: no reset (no new boot), no charging, no transaction.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(rig.charger.register(REG_CHARGING), 0);
    let after: Vec<String> = rig
        .csms
        .records()
        .into_iter()
        .filter(|r| r.seq > ready.seq && r.dir == Dir::In && r.frame[0] == 2)
        .filter_map(|r| r.frame[2].as_str().map(str::to_owned))
        .collect();
    assert!(
        !after
            .iter()
            .any(|a| a == "BootNotification" || a == "TransactionEvent"),
        "{after:?}"
    );
    // The same requests within the schema are executed.
    let answer = rig.call(
        "RequestStartTransaction",
        json!({"evseId": 1, "remoteStartId": 8,
               "idToken": {"idToken": "A".repeat(36), "type": "Central"}}),
    );
    assert_eq!(answer["status"], "Accepted");
    wait_register(&rig.charger, REG_CHARGING, 1);
}
