//! Availability (block G): the CSMS takes the station, an EVSE or a connector in or out of
//! service.

use serde::{Deserialize, Serialize};

use super::{Action, Evse, StatusInfo};

wire_enum! {
    /// The availability the CSMS asks for (`OperationalStatusEnumType`).
    pub enum OperationalStatus {
        /// Out of service: connectors report Unavailable.
        Inoperative,
        /// In service.
        Operative,
    }
}

wire_enum! {
    /// The station's answer to a ChangeAvailability (`ChangeAvailabilityStatusEnumType`).
    pub enum ChangeAvailabilityStatus {
        /// Done.
        Accepted,
        /// Not done.
        Rejected,
        /// Will be done once the running transactions end.
        Scheduled,
    }
}

/// ChangeAvailability: the CSMS sets the operational status.
#[derive(Debug, Clone, Copy)]
pub struct ChangeAvailability;

impl Action for ChangeAvailability {
    const NAME: &'static str = "ChangeAvailability";
    type Request = ChangeAvailabilityRequest;
    type Response = ChangeAvailabilityResponse;
}

/// ChangeAvailability CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeAvailabilityRequest {
    /// The status asked for.
    pub operational_status: OperationalStatus,
    /// The EVSE (and connector) concerned; absent means the whole station.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse: Option<Evse>,
}

/// ChangeAvailability CALLRESULT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeAvailabilityResponse {
    /// Whether and when the change takes effect.
    pub status: ChangeAvailabilityStatus,
    /// Why, in more detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_info: Option<StatusInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::ocpp::messages::decode_request;
    use crate::ocpp::messages::test_support::check;

    #[test]
    fn change_availability_both_ways() {
        check(
            &ChangeAvailabilityRequest {
                operational_status: OperationalStatus::Inoperative,
                evse: Some(Evse {
                    id: 1,
                    connector_id: None,
                }),
            },
            json!({"operationalStatus": "Inoperative", "evse": {"id": 1}}),
        );
        check(
            &ChangeAvailabilityRequest {
                operational_status: OperationalStatus::Operative,
                evse: None,
            },
            json!({"operationalStatus": "Operative"}),
        );
        check(
            &ChangeAvailabilityResponse {
                status: ChangeAvailabilityStatus::Scheduled,
                status_info: Some(StatusInfo {
                    reason_code: "TxInProgress".into(),
                    additional_info: Some("after the running session".into()),
                }),
            },
            json!({"status": "Scheduled",
                   "statusInfo": {"reasonCode": "TxInProgress",
                                  "additionalInfo": "after the running session"}}),
        );
        let bad = json!({"operationalStatus": "Operative", "evse": {"connectorId": 1}});
        assert_eq!(
            decode_request::<ChangeAvailability>(&bad).map_err(|e| e.path),
            Err("evse".to_owned())
        );
    }
}
