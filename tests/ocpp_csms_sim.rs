//! The CSMS simulator over real loopback WebSockets, and the schema validator on its logs.

mod common;

use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{validate_payload, validate_records, Kind};
use ocpp_gw::ocpp::frame::{ErrorCode, Frame, UNKNOWN_MESSAGE_ID};
use ocpp_gw::ocpp::messages::{
    self, BootNotification, BootNotificationRequest, BootNotificationResponse, BootReason,
    ChargingStation, ConnectorStatus, Heartbeat, HeartbeatRequest, RegistrationStatus,
    StatusNotification, StatusNotificationRequest,
};
use ocpp_gw::sim::csms::{CsmsOptions, CsmsSim, Dir, Record, SimError};
use ocpp_gw::util::time::{parse_rfc3339, rfc3339};
use serde_json::{json, Value};
use tungstenite::client::IntoClientRequest;
use tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tungstenite::http::HeaderValue;
use tungstenite::{Message, WebSocket};

const WAIT: Duration = Duration::from_secs(10);

type Ws = WebSocket<TcpStream>;

fn start(options: CsmsOptions) -> CsmsSim {
    CsmsSim::start("127.0.0.1:0".parse().expect("literal address"), options).expect("start sim")
}

/// Opens a WebSocket to `<sim url>/<station>`, offering `protocol` if given; returns the
/// socket and the subprotocol the server chose.
fn connect(sim: &CsmsSim, station: &str, protocol: Option<&str>) -> Result<(Ws, String), String> {
    let mut request = format!("{}/{station}", sim.url())
        .into_client_request()
        .map_err(|e| e.to_string())?;
    if let Some(p) = protocol {
        let value = HeaderValue::from_str(p).map_err(|e| e.to_string())?;
        request.headers_mut().insert(SEC_WEBSOCKET_PROTOCOL, value);
    }
    let stream = TcpStream::connect(sim.addr()).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(WAIT))
        .map_err(|e| e.to_string())?;
    let (ws, response) = tungstenite::client(request, stream).map_err(|e| e.to_string())?;
    let chosen = response
        .headers()
        .get(SEC_WEBSOCKET_PROTOCOL)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok((ws, chosen))
}

fn station(sim: &CsmsSim, id: &str) -> Ws {
    let (ws, chosen) = connect(sim, id, Some("ocpp2.0.1")).expect("connect");
    assert_eq!(chosen, "ocpp2.0.1");
    ws
}

fn read_frame(ws: &mut Ws) -> Frame {
    loop {
        match ws.read().expect("read from CSMS") {
            Message::Text(text) => return Frame::parse(text.as_str()).expect("valid frame"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

fn send_text(ws: &mut Ws, text: &str) {
    ws.send(Message::text(text)).expect("send to CSMS");
}

/// Sends `frame` and returns the CSMS's answer, which must carry the same id.
fn rpc(ws: &mut Ws, frame: &Frame) -> Frame {
    send_text(ws, &frame.to_text());
    let answer = read_frame(ws);
    assert_eq!(answer.id(), frame.id());
    answer
}

fn result_payload(frame: Frame) -> Value {
    match frame {
        Frame::CallResult { payload, .. } => payload,
        other => panic!("expected CALLRESULT, got {other:?}"),
    }
}

fn boot(ws: &mut Ws, id: &str) -> BootNotificationResponse {
    let request = BootNotificationRequest {
        reason: BootReason::PowerUp,
        charging_station: ChargingStation {
            model: "LegacyAC22".into(),
            vendor_name: "ocpp-gw".into(),
            serial_number: Some("SN-0001".into()),
            firmware_version: Some("1.0".into()),
        },
    };
    let call = messages::call::<BootNotification>(id, &request).expect("encode");
    let payload = result_payload(rpc(ws, &call));
    messages::decode_response::<BootNotification>(&payload).expect("BootNotificationResponse")
}

fn temp_log() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!("ocpp-gw-csms-{}-{nanos}.jsonl", std::process::id()))
}

#[test]
fn sim_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<CsmsSim>();
}

#[test]
fn boot_heartbeat_and_status_are_answered_logged_and_schema_valid() {
    let log_path = temp_log();
    let sim = start(CsmsOptions {
        log_path: Some(log_path.clone()),
        ..CsmsOptions::default()
    });
    let live = sim.subscribe();
    let mut ws = station(&sim, "CP1");
    // The upgrade is registered before the client sees its 101 answer.
    assert_eq!(sim.connection_count("CP1"), 1);
    assert!(sim.connected("CP1"));

    let accepted = boot(&mut ws, "b1");
    assert_eq!(accepted.status, RegistrationStatus::Accepted);
    assert_eq!(accepted.interval, 300);
    assert!(parse_rfc3339(&accepted.current_time).is_some());

    let beat = messages::call::<Heartbeat>("h1", &HeartbeatRequest {}).expect("encode");
    let beat = messages::decode_response::<Heartbeat>(&result_payload(rpc(&mut ws, &beat)));
    assert!(beat.is_ok_and(|b| parse_rfc3339(&b.current_time).is_some()));

    let status = StatusNotificationRequest {
        timestamp: rfc3339(SystemTime::now()),
        connector_status: ConnectorStatus::Available,
        evse_id: 1,
        connector_id: 1,
    };
    let status = messages::call::<StatusNotification>("s1", &status).expect("encode");
    assert_eq!(result_payload(rpc(&mut ws, &status)), json!({}));

    assert_eq!(sim.connection_count("CP1"), 1);
    assert!(sim.connected("CP1"));
    let first = live.recv_timeout(WAIT).expect("live record");
    assert_eq!(
        (first.station.as_str(), first.dir, first.seq),
        ("CP1", Dir::In, 1)
    );
    assert_eq!(first.frame[2], json!("BootNotification"));

    let records = sim.records();
    assert_eq!(records.len(), 6);
    assert_eq!(validate_records(&records), Vec::<String>::new());
    let text = std::fs::read_to_string(&log_path).expect("log file");
    let logged: Vec<Record> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("one record per line"))
        .collect();
    assert_eq!(logged, records);
    sim.stop();
    let _ = std::fs::remove_file(&log_path);
}

#[test]
fn boot_status_is_settable_per_station_and_at_run_time() {
    let sim = start(CsmsOptions::default());
    sim.set_boot_status(Some("CP2"), RegistrationStatus::Pending, 7);
    let mut cp2 = station(&sim, "CP2");
    let mut cp3 = station(&sim, "CP3");

    let pending = boot(&mut cp2, "1");
    assert_eq!(
        (pending.status, pending.interval),
        (RegistrationStatus::Pending, 7)
    );
    assert_eq!(boot(&mut cp3, "1").status, RegistrationStatus::Accepted);

    sim.set_boot_status(Some("CP2"), RegistrationStatus::Accepted, 60);
    let accepted = boot(&mut cp2, "2");
    assert_eq!(
        (accepted.status, accepted.interval),
        (RegistrationStatus::Accepted, 60)
    );

    sim.set_boot_status(None, RegistrationStatus::Rejected, 30);
    let rejected = boot(&mut cp3, "2");
    assert_eq!(
        (rejected.status, rejected.interval),
        (RegistrationStatus::Rejected, 30)
    );
    assert_eq!(boot(&mut cp2, "3").status, RegistrationStatus::Accepted);

    assert_eq!(validate_records(&sim.records()), Vec::<String>::new());
}

#[test]
fn csms_call_is_recorded_with_its_answer_and_disconnect_drops_the_socket() {
    let sim = start(CsmsOptions::default());
    let mut ws = station(&sim, "CP4");
    boot(&mut ws, "1");

    let id = sim
        .call(
            "CP4",
            "TriggerMessage",
            json!({"requestedMessage": "Heartbeat"}),
        )
        .expect("station is connected");
    match read_frame(&mut ws) {
        Frame::Call {
            id: got,
            action,
            payload,
        } => {
            assert_eq!(
                (got.as_str(), action.as_str()),
                (id.as_str(), "TriggerMessage")
            );
            assert_eq!(payload, json!({"requestedMessage": "Heartbeat"}));
        }
        other => panic!("expected a CALL, got {other:?}"),
    }
    let answer = Frame::CallResult {
        id: id.clone(),
        payload: json!({"status": "Accepted"}),
    };
    send_text(&mut ws, &answer.to_text());
    let recorded = sim.wait_for(WAIT, |r| {
        r.dir == Dir::In && r.frame[0] == json!(3) && r.frame[1] == json!(id)
    });
    assert_eq!(recorded.map(|r| r.frame), Some(answer.to_value()));
    assert_eq!(validate_records(&sim.records()), Vec::<String>::new());

    assert_eq!(
        sim.call("NOPE", "Reset", json!({"type": "Immediate"})),
        Err(SimError::NotConnected("NOPE".into()))
    );
    assert!(sim.disconnect("CP4"));
    assert!(!sim.connected("CP4"));
    assert!(ws.read().is_err(), "the CSMS closed the socket");
    assert!(!sim.disconnect("CP4"));

    let mut again = station(&sim, "CP4");
    boot(&mut again, "2");
    assert_eq!(sim.connection_count("CP4"), 2);
    assert!(sim.connected("CP4"));
    sim.stop();
    assert_eq!(
        sim.call("CP4", "Reset", json!({"type": "Immediate"})),
        Err(SimError::Stopped)
    );
}

#[test]
fn upgrade_without_ocpp201_is_refused_and_recorded() {
    let sim = start(CsmsOptions::default());
    assert!(connect(&sim, "CP5", None).is_err());
    assert!(connect(&sim, "CP5", Some("ocpp1.6")).is_err());
    assert!(!sim.connected("CP5"));
    assert_eq!(sim.connection_count("CP5"), 0);
    let refusals = sim.refusals();
    assert_eq!(refusals.len(), 2);
    for refusal in &refusals {
        assert_eq!(refusal.path, "/ocpp/CP5");
        assert!(refusal.reason.contains("ocpp2.0.1"), "{}", refusal.reason);
    }
    assert!(connect(&sim, "", Some("ocpp2.0.1")).is_err());
    let refusals = sim.refusals();
    assert_eq!(refusals.len(), 3);
    assert!(
        refusals[2].reason.contains("no station identity"),
        "{refusals:?}"
    );
    assert!(sim.records().is_empty());
}

#[test]
fn unknown_and_broken_messages_get_call_errors() {
    let sim = start(CsmsOptions::default());
    let mut ws = station(&sim, "CP6");
    let unknown = Frame::Call {
        id: "u1".into(),
        action: "DataTransfer".into(),
        payload: json!({"vendorId": "x"}),
    };
    match rpc(&mut ws, &unknown) {
        Frame::CallError { code, .. } => assert_eq!(code, ErrorCode::NotImplemented),
        other => panic!("expected CALLERROR, got {other:?}"),
    }
    send_text(&mut ws, "this is not json");
    match read_frame(&mut ws) {
        Frame::CallError { id, code, .. } => {
            assert_eq!(
                (id.as_str(), code),
                (UNKNOWN_MESSAGE_ID, ErrorCode::RpcFrameworkError)
            )
        }
        other => panic!("expected CALLERROR, got {other:?}"),
    }
    let problems = validate_records(&sim.records());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("not JSON"), "{problems:?}");
}

#[test]
fn validator_reports_schema_violations() {
    let sim = start(CsmsOptions::default());
    let mut ws = station(&sim, "CP7");
    // The simulator answers without validating, so the log holds the invalid CALL.
    let too_long_model = json!({
        "reason": "PowerUp",
        "chargingStation": {"model": "M".repeat(21), "vendorName": "V"}
    });
    let bad = Frame::Call {
        id: "1".into(),
        action: "BootNotification".into(),
        payload: too_long_model,
    };
    assert!(matches!(rpc(&mut ws, &bad), Frame::CallResult { .. }));
    let problems = validate_records(&sim.records());
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("BootNotificationRequest"),
        "{problems:?}"
    );
    assert!(
        problems[0].contains("/chargingStation/model"),
        "{problems:?}"
    );

    // A CALLRESULT is checked against the Response schema of the CALL it answers.
    let record = |seq, dir, frame: Value| Record {
        seq,
        ts: rfc3339(SystemTime::now()),
        station: "X".into(),
        dir,
        connection: 1,
        frame,
    };
    let log = [
        record(1, Dir::Out, json!([2, "a", "Heartbeat", {}])),
        record(2, Dir::In, json!([3, "a", {"currentTime": "yesterday"}])),
        record(3, Dir::In, json!([3, "zz", {}])),
    ];
    let problems = validate_records(&log);
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems[0].contains("HeartbeatResponse"), "{problems:?}");
    assert!(
        problems[1].contains("answers no pending CALL"),
        "{problems:?}"
    );

    assert!(validate_payload("Heartbeat", Kind::Request, &json!({})).is_ok());
    let missing = validate_payload(
        "BootNotification",
        Kind::Request,
        &json!({"reason": "PowerUp"}),
    );
    assert!(missing.is_err_and(|e| e.contains("chargingStation")));
    assert!(validate_payload("NoSuchAction", Kind::Request, &json!({})).is_err());
}
