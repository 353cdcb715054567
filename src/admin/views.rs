//! The JSON bodies of the API, built from hub snapshots (shapes as in openapi.json).

use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{json, Value};

use crate::chan::CHANNEL_FULL_TOTAL;
use crate::hub::{DeviceDetail, DeviceLink, DeviceSummary, GatewaySnapshot, Reading};
use crate::mapping;
use crate::metrics;
use crate::station::Registration;

/// The body of `GET /status`.
pub(super) fn status(s: &GatewaySnapshot, csms_url: &str) -> Value {
    let count = |link: DeviceLink| s.devices.iter().filter(|d| d.device_link == link).count();
    json!({
        "gateway": {
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_s": metrics::uptime().as_secs(),
            "channel_full_total": CHANNEL_FULL_TOTAL.load(Ordering::Relaxed),
        },
        "journal": {
            "healthy": metrics::JOURNAL_HEALTHY.get() == 1,
            "unwritten": metrics::JOURNAL_UNWRITTEN.get(),
            "write_errors_total": metrics::JOURNAL_WRITE_ERRORS.get(),
        },
        "queues": {
            "device_events": s.queues.device_event_queue,
            "link_events": s.queues.link_event_queue,
            "admin": s.queues.admin_queue,
            "modbus_tcp": s.queues.modbus_tcp_queue,
        },
        "csms": {
            "url": csms_url,
            "stations": s.devices.iter().map(|d| json!({
                "station": d.ocpp_id,
                "device": d.id,
                "connected": d.csms_connected,
                "registration": registration(d.registration),
            })).collect::<Vec<_>>(),
        },
        "devices": {
            "total": s.devices.len(),
            "online": count(DeviceLink::Online),
            "offline": count(DeviceLink::Offline),
            "unknown": count(DeviceLink::Unknown),
        },
    })
}

/// The body of `GET /devices`.
pub(super) fn devices(s: &GatewaySnapshot) -> Value {
    json!({ "devices": s.devices.iter().map(device).collect::<Vec<_>>() })
}

/// The body of `GET /devices/{id}`.
pub(super) fn device(d: &DeviceSummary) -> Value {
    json!({
        "id": d.id,
        "ocpp_id": d.ocpp_id,
        "protocol": d.protocol.as_str(),
        "template": d.template,
        "device_link": d.device_link.as_str(),
        "csms_connected": d.csms_connected,
        "registration": registration(d.registration),
        "connector_status": d.connector_status.map(|c| c.as_str()),
        "transaction_id": d.transaction_id,
        "power": d.power.as_ref().map(reading),
        "energy": d.energy.as_ref().map(reading),
        "last_error": d.last_error,
        "last_reading_age_s": d.last_reading_age.map(seconds),
    })
}

/// The body of `GET /devices/{id}/variables`.
pub(super) fn variables(detail: &DeviceDetail) -> Value {
    let variables: Vec<Value> = detail
        .variables
        .iter()
        .map(|v| {
            json!({
                "ocpp_name": v.ocpp_name,
                "value": v.value.as_ref().map(value),
                "unit": v.unit,
                "age_s": v.age.map(seconds),
            })
        })
        .collect();
    json!({ "device": detail.summary.id, "variables": variables })
}

/// The OCPP spelling of a registration state.
pub(super) fn registration(r: Registration) -> &'static str {
    match r {
        Registration::Unknown => "Unknown",
        Registration::Pending => "Pending",
        Registration::Rejected => "Rejected",
        Registration::Accepted => "Accepted",
    }
}

fn reading(r: &Reading) -> Value {
    json!({ "value": r.value, "unit": r.unit })
}

fn value(v: &mapping::Value) -> Value {
    match v {
        mapping::Value::Number(n) => json!(n),
        mapping::Value::Text(t) => json!(t),
        mapping::Value::Bool(b) => json!(b),
    }
}

/// Seconds with millisecond precision.
fn seconds(d: Duration) -> f64 {
    (d.as_millis() as f64) / 1000.0
}
