//! Unit tests of the station: a harness that plays the hub, and one file per OCPP block.

use std::time::{Duration, Instant, UNIX_EPOCH};

use serde_json::{json, Value};

use super::evse::{EvseInputs, Sample};
use super::transaction::TxSettings;
use super::*;
use crate::ocpp::messages::Measurand;

mod device_model;
mod properties;
mod provisioning;
mod remote;
mod transactions;

fn settings() -> StationSettings {
    StationSettings {
        ocpp_id: "CP1".into(),
        vendor_name: "V".into(),
        model: "M".into(),
        serial_number: None,
        firmware_version: Some("1".into()),
        identity: crate::station::BootIdentity::default(),
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
        self.st.device_known(0);
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
    h.st.device_known(0);
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
    h.st.device_known(0);
}
