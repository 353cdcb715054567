//! Fuzz target bodies: each takes arbitrary bytes, drives one decoder of peer input, and panics
//! only when an invariant breaks (a decoder panics, or what we encode does not decode back).
//!
//! The cargo-fuzz targets in `fuzz_targets/` call these; `tests/fuzz_inputs.rs` replays the
//! committed corpus and a random-input driver through the same functions on stable Rust.

use std::path::Path;
use std::time::{Duration, Instant, UNIX_EPOCH};

use ocpp_gw::device::ModbusTable;
use ocpp_gw::modbus::pdu::{Request, Response};
use ocpp_gw::modbus::{mbap, rtu};
use ocpp_gw::ocpp::frame::Frame;
use ocpp_gw::ocpp::messages::Measurand;
use ocpp_gw::station::evse::EvseInputs;
use ocpp_gw::station::transaction::TxSettings;
use ocpp_gw::station::{Backoff, Capabilities, Effect, Retry, Station, StationSettings};
use ocpp_gw::util::rng::Rng;

/// OCPP-J frame parsing: a frame we parsed and wrote again parses to the same frame.
pub fn ocpp_frame(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = Frame::parse(text) {
        let again = Frame::parse(&frame.to_text());
        assert_eq!(again.as_ref(), Ok(&frame), "re-encoded frame differs");
    }
}

/// A booted station fed one CSMS frame per input line. A line starting with `#` sets the
/// EVSE's device inputs from its bytes instead, so sequences of plug, charge and CSMS calls
/// are reachable. Every frame the station sends must be a valid OCPP-J frame.
pub fn ocpp_station(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut now = Instant::now();
    let wall0 = UNIX_EPOCH + Duration::from_secs(1_764_000_000);
    let mut st = Station::new(settings(), Rng::seeded(7), now);
    let mut out = Vec::new();
    st.connected(now);
    st.pump(now, wall0, &mut out);
    let boot_id = out.iter().find_map(|e| match e {
        Effect::Send(text) => match Frame::parse(text) {
            Ok(Frame::Call { id, .. }) => Some(id),
            _ => None,
        },
        _ => None,
    });
    if let Some(id) = boot_id {
        let accepted = format!(
            r#"[3,"{id}",{{"currentTime":"2025-11-24T16:00:00Z","interval":300,"status":"Accepted"}}]"#
        );
        st.received(now, wall0, &accepted, &mut out);
    }
    for (step, line) in text.split('\n').enumerate() {
        now += Duration::from_secs(1);
        let wall = wall0 + Duration::from_secs(step as u64 + 1);
        if let Some(bits) = line.strip_prefix('#') {
            st.set_inputs(0, inputs_from(bits.as_bytes()));
            st.device_known(0);
        } else {
            st.received(now, wall, line, &mut out);
        }
        st.pump(now, wall, &mut out);
        for effect in out.drain(..) {
            if let Effect::Send(sent) = effect {
                if let Err(e) = Frame::parse(&sent) {
                    panic!("the station sent an invalid frame ({e}): {sent}");
                }
            }
        }
    }
}

/// One EVSE that can do everything a template can map, authorization on, so that every
/// CSMS request reaches its real handler.
fn settings() -> StationSettings {
    StationSettings {
        ocpp_id: "CP1".into(),
        vendor_name: "Fuzz".into(),
        model: "Station".into(),
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
        security_profile: 1,
        basic_auth_password: None,
        measurands: vec![
            Measurand::EnergyActiveImportRegister,
            Measurand::PowerActiveImport,
        ],
        evses: 1,
        supply_phases: 3,
        tx: TxSettings {
            auth_enabled: true,
            ..TxSettings::default()
        },
        aligned_interval: Duration::from_secs(60),
        aligned_measurands: vec![Measurand::EnergyActiveImportRegister],
        retry: Retry {
            attempts: 3,
            interval: Duration::from_secs(60),
        },
        capabilities: Capabilities {
            start_stop: true,
            unlock: true,
            reset: true,
            availability: true,
        },
    }
}

fn inputs_from(bits: &[u8]) -> EvseInputs {
    let b = |i: usize| bits.get(i).copied().unwrap_or(0);
    EvseInputs {
        online: Some(b(0) & 1 == 0),
        vehicle_connected: Some(b(0) & 2 != 0),
        faulted: b(0) & 4 != 0,
        id_token: (b(0) & 8 != 0).then(|| format!("T{}", b(1))),
        ..EvseInputs::default()
    }
}

/// ECHONET Lite frames and property maps from the network: decoding never panics, and a
/// decoded frame encodes back to bytes that decode to the same frame.
pub fn echonet_frame(data: &[u8]) {
    if let Ok(frame) = ocpp_gw::echonet::Frame::decode(data) {
        let bytes = frame.encode().expect("a decoded frame encodes");
        let again = ocpp_gw::echonet::Frame::decode(&bytes).expect("an encoded frame decodes");
        assert_eq!(again, frame);
    }
    let _ = ocpp_gw::echonet::propmap::decode_property_map(data);
    let _ = ocpp_gw::echonet::propmap::decode_instance_list(data);
}

/// Modbus responses from a device: MBAP and RTU framing, then the PDU against a read request
/// chosen by the first five bytes. A decoded PDU encodes back to the same response.
pub fn modbus_response(data: &[u8]) {
    if data.len() < 5 {
        return;
    }
    let table = match data[0] & 3 {
        0 => ModbusTable::Coil,
        1 => ModbusTable::DiscreteInput,
        2 => ModbusTable::InputRegister,
        _ => ModbusTable::HoldingRegister,
    };
    let address = u16::from_be_bytes([data[1], data[2]]);
    let count = u16::from_be_bytes([data[3], data[4]]) % 126 + 1;
    let request = Request::read(table, address, count);
    let wire = &data[5..];
    if let Ok(Some((frame, used))) = mbap::decode(wire) {
        assert!(used <= wire.len());
        pdu(&request, frame.pdu);
    }
    if let Ok(Some((frame, used))) = rtu::decode_response(wire) {
        assert!(used <= wire.len());
        pdu(&request, frame.pdu);
    }
    pdu(&request, wire);
}

fn pdu(request: &Request, bytes: &[u8]) {
    if let Ok(response) = Response::decode(request, bytes) {
        let encoded = response.encode().expect("a decoded response encodes");
        assert_eq!(Response::decode(request, &encoded), Ok(response));
    }
}

/// The config loader on an arbitrary config file, or on an arbitrary template used by a
/// fixed config (first byte even: config, odd: template). Problems are reported, never panics.
pub fn config_load(data: &[u8]) {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let dir = scratch_dir();
    let templates = dir.join("templates");
    let _ = std::fs::remove_dir_all(&templates);
    if std::fs::create_dir_all(&templates).is_err() {
        return;
    }
    let config = dir.join("ocpp-gw.toml");
    let written = if which % 2 == 0 {
        std::fs::write(&config, body)
    } else {
        std::fs::write(templates.join("fuzz.toml"), body).and_then(|()| {
            std::fs::write(
                &config,
                "[system]\ntemplates_dir = \"templates\"\n[csms]\nurl = \"ws://127.0.0.1:9/ocpp\"\n\n[[devices]]\nid = \"d\"\n\
                 template = \"fuzz\"\nprotocol = \"modbus_tcp\"\nocpp_id = \"CP1\"\n\
                 [devices.connection]\nip = \"127.0.0.1\"\n",
            )
        })
    };
    if written.is_ok() {
        let _ = ocpp_gw::config::load(&config);
    }
}

/// A directory of this process's own, so parallel fuzzing jobs do not share files.
fn scratch_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ocpp-gw-fuzz-{}", std::process::id()));
    if !Path::new(&dir).exists() {
        let _ = std::fs::create_dir_all(&dir);
    }
    dir
}
