//! Provisioning (block B): boot, heartbeat, status.

use serde::{Deserialize, Serialize};

use super::{Action, BootReason, ChargingStation, ConnectorStatus, RegistrationStatus, StatusInfo};

/// BootNotification: the station announces itself after (re)connecting.
#[derive(Debug, Clone, Copy)]
pub struct BootNotification;

impl Action for BootNotification {
    const NAME: &'static str = "BootNotification";
    type Request = BootNotificationRequest;
    type Response = BootNotificationResponse;
}

/// BootNotification CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BootNotificationRequest {
    /// Why the station booted.
    pub reason: BootReason,
    /// What the station is.
    pub charging_station: ChargingStation,
}

/// BootNotification CALLRESULT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BootNotificationResponse {
    /// The CSMS's clock, RFC 3339.
    pub current_time: String,
    /// Heartbeat interval in seconds when Accepted, else the minimum wait before booting again.
    pub interval: i32,
    /// Whether the station is registered.
    pub status: RegistrationStatus,
    /// Why, in more detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_info: Option<StatusInfo>,
}

/// Heartbeat: keeps the connection and the station's clock in step with the CSMS.
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat;

impl Action for Heartbeat {
    const NAME: &'static str = "Heartbeat";
    type Request = HeartbeatRequest;
    type Response = HeartbeatResponse;
}

/// Heartbeat CALL payload (empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatRequest {}

/// Heartbeat CALLRESULT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeartbeatResponse {
    /// The CSMS's clock, RFC 3339.
    pub current_time: String,
}

/// StatusNotification: a connector changed state.
#[derive(Debug, Clone, Copy)]
pub struct StatusNotification;

impl Action for StatusNotification {
    const NAME: &'static str = "StatusNotification";
    type Request = StatusNotificationRequest;
    type Response = StatusNotificationResponse;
}

/// StatusNotification CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusNotificationRequest {
    /// When the status took effect, RFC 3339.
    pub timestamp: String,
    /// The new status.
    pub connector_status: ConnectorStatus,
    /// EVSE the connector belongs to (1-based).
    pub evse_id: i32,
    /// Connector within the EVSE (1-based).
    pub connector_id: i32,
}

/// StatusNotification CALLRESULT payload (empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusNotificationResponse {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocpp::messages::test_support::check;
    use serde_json::json;

    use crate::ocpp::messages::{call, decode_request, decode_response};

    #[test]
    fn boot_notification_matches_the_spec_example() {
        let req = BootNotificationRequest {
            reason: BootReason::PowerUp,
            charging_station: ChargingStation {
                model: "SingleSocketCharger".into(),
                vendor_name: "VendorX".into(),
                serial_number: None,
                firmware_version: None,
            },
        };
        check(
            &req,
            json!({"reason": "PowerUp",
                   "chargingStation": {"model": "SingleSocketCharger", "vendorName": "VendorX"}}),
        );
        let full = BootNotificationRequest {
            reason: BootReason::Watchdog,
            charging_station: ChargingStation {
                serial_number: Some("SN-1".into()),
                firmware_version: Some("1.2.3".into()),
                ..req.charging_station
            },
        };
        check(
            &full,
            json!({"reason": "Watchdog",
                   "chargingStation": {"model": "SingleSocketCharger", "vendorName": "VendorX",
                                       "serialNumber": "SN-1", "firmwareVersion": "1.2.3"}}),
        );
        let res = BootNotificationResponse {
            current_time: "2013-02-01T20:53:32.486Z".into(),
            interval: 300,
            status: RegistrationStatus::Accepted,
            status_info: None,
        };
        check(
            &res,
            json!({"currentTime": "2013-02-01T20:53:32.486Z", "interval": 300, "status": "Accepted"}),
        );
        let pending = BootNotificationResponse {
            status: RegistrationStatus::Pending,
            status_info: Some(StatusInfo {
                reason_code: "NotYet".into(),
                additional_info: None,
            }),
            ..res
        };
        check(
            &pending,
            json!({"currentTime": "2013-02-01T20:53:32.486Z", "interval": 300, "status": "Pending",
                   "statusInfo": {"reasonCode": "NotYet"}}),
        );
    }

    #[test]
    fn heartbeat_and_status_notification() {
        check(&HeartbeatRequest {}, json!({}));
        check(
            &HeartbeatResponse {
                current_time: "2024-01-01T00:00:00.000Z".into(),
            },
            json!({"currentTime": "2024-01-01T00:00:00.000Z"}),
        );
        check(
            &StatusNotificationRequest {
                timestamp: "2024-01-01T00:00:00.000Z".into(),
                connector_status: ConnectorStatus::Occupied,
                evse_id: 1,
                connector_id: 2,
            },
            json!({"timestamp": "2024-01-01T00:00:00.000Z", "connectorStatus": "Occupied",
                   "evseId": 1, "connectorId": 2}),
        );
        check(&StatusNotificationResponse {}, json!({}));
    }

    #[test]
    fn call_builds_the_frame_and_decode_names_the_bad_field() {
        let frame = call::<Heartbeat>("42", &HeartbeatRequest {}).ok();
        assert_eq!(
            frame.map(|f| f.to_text()),
            Some(r#"[2,"42","Heartbeat",{}]"#.to_owned())
        );
        let bad =
            json!({"currentTime": "2024-05-01T10:00:00Z", "interval": "300", "status": "Accepted"});
        let err = decode_response::<BootNotification>(&bad).expect_err("interval is a string");
        assert_eq!(err.action, "BootNotification");
        assert_eq!(err.path, "interval");
        let bad_status =
            json!({"currentTime": "2024-05-01T10:00:00Z", "interval": 1, "status": "Maybe"});
        assert_eq!(
            decode_response::<BootNotification>(&bad_status).map_err(|e| e.path),
            Err("status".to_owned())
        );
        let req = json!({"timestamp": "2024-05-01T10:00:00Z", "connectorStatus": "Faulted",
                   "evseId": 1, "connectorId": 1});
        assert_eq!(
            decode_request::<StatusNotification>(&req).map(|r| r.connector_status),
            Ok(ConnectorStatus::Faulted)
        );
    }
}
