//! The CALLs a station makes and how their answers are read.

use std::time::{Duration, Instant, SystemTime};

use super::{Registration, StationSettings};
use crate::ocpp::frame::Frame;
use crate::ocpp::messages::{
    self, Action, BootNotification, BootNotificationRequest, BootReason, ChargingStation,
    ConnectorStatus, Heartbeat, HeartbeatRequest, PayloadError, RegistrationStatus,
    SecurityEventNotificationRequest, StatusNotification, StatusNotificationRequest,
};
use crate::util::time::rfc3339;

/// A CALL in flight; everything needed to react to its answer is in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Call {
    Boot,
    Heartbeat,
    /// StatusNotification of EVSE `index` (0-based; EVSE id is index + 1, connector id 1).
    Status {
        index: usize,
        status: ConnectorStatus,
    },
    /// The front of the transaction-message queue.
    Queued,
    /// The front of the one-off message list (triggered messages, security events).
    Extra,
    /// Authorize for the token waiting at EVSE `index`.
    Authorize {
        index: usize,
    },
}

impl Call {
    pub fn action(self) -> &'static str {
        match self {
            Call::Boot => BootNotification::NAME,
            Call::Heartbeat => Heartbeat::NAME,
            Call::Status { .. } => StatusNotification::NAME,
            Call::Queued => "a queued transaction message",
            Call::Extra => "a triggered message",
            Call::Authorize { .. } => "Authorize",
        }
    }
}

/// How one of our CALLs failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Failure {
    /// The CSMS answered with a CALLERROR (or an answer we cannot read).
    Refused,
    /// No answer within the response timeout: the CSMS may not have seen it at all.
    TimedOut,
}

/// Our one unanswered CALL.
#[derive(Debug)]
pub(super) struct Outstanding {
    pub id: String,
    pub call: Call,
    pub deadline: Instant,
}

/// The OCPP-J frame for one of the CALLs built from state (not from a queue).
pub(super) fn build(
    call: Call,
    id: &str,
    s: &StationSettings,
    reason: BootReason,
    wall: SystemTime,
) -> Result<Frame, PayloadError> {
    match call {
        Call::Boot => messages::call::<BootNotification>(
            id,
            &BootNotificationRequest {
                reason,
                charging_station: ChargingStation {
                    model: s.model.clone(),
                    vendor_name: s.vendor_name.clone(),
                    serial_number: s.serial_number.clone(),
                    firmware_version: s.firmware_version.clone(),
                },
            },
        ),
        Call::Heartbeat => messages::call::<Heartbeat>(id, &HeartbeatRequest {}),
        Call::Status { index, status } => messages::call::<StatusNotification>(
            id,
            &StatusNotificationRequest {
                timestamp: rfc3339(wall),
                connector_status: status,
                evse_id: index as i32 + 1,
                connector_id: 1,
            },
        ),
        Call::Queued | Call::Extra | Call::Authorize { .. } => Err(PayloadError {
            action: "queued",
            path: ".".into(),
            message: "queued messages carry their own payload".into(),
            violation: messages::schema::Violation::Internal,
        }),
    }
}

/// A SecurityEventNotification payload.
pub(super) fn security_event(
    kind: &str,
    wall: SystemTime,
    tech_info: Option<&str>,
) -> serde_json::Value {
    let request = SecurityEventNotificationRequest {
        kind: kind.to_string(),
        timestamp: rfc3339(wall),
        tech_info: tech_info.map(|t| t.chars().take(255).collect()),
    };
    // ok: a struct of strings always serializes.
    serde_json::to_value(request).unwrap_or_default()
}

/// Reads a BootNotificationResponse: the registration and the interval it sets.
pub(super) fn boot_response(
    payload: &serde_json::Value,
) -> Result<(Registration, Duration), PayloadError> {
    let r = messages::decode_response::<BootNotification>(payload)?;
    let registration = match r.status {
        RegistrationStatus::Accepted => Registration::Accepted,
        RegistrationStatus::Pending => Registration::Pending,
        RegistrationStatus::Rejected => Registration::Rejected,
    };
    Ok((registration, Duration::from_secs(r.interval.max(0) as u64)))
}
