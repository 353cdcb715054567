//! Remote control (blocks B and F): the CSMS starts and stops transactions, resets the
//! station, unlocks connectors, triggers messages and asks about transactions.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Action, Evse, IdToken, SchemaViolation, StatusInfo, Transaction};
use crate::ocpp::types::check_len;

wire_enum! {
    /// The station's answer to a remote start or stop (`RequestStartStopStatusEnumType`).
    pub enum RequestStartStopStatus {
        /// The station will try.
        Accepted,
        /// The station will not.
        Rejected,
    }
}

wire_enum! {
    /// When a reset should happen (`ResetEnumType`).
    pub enum ResetType {
        /// Now, stopping any transaction.
        Immediate,
        /// Once no transaction is in progress.
        OnIdle,
    }
}

wire_enum! {
    /// The station's answer to a reset (`ResetStatusEnumType`).
    pub enum ResetStatus {
        /// The reset will happen now.
        Accepted,
        /// The reset will not happen.
        Rejected,
        /// The reset will happen once the running transactions end.
        Scheduled,
    }
}

wire_enum! {
    /// The outcome of an unlock (`UnlockStatusEnumType`).
    pub enum UnlockStatus {
        /// The connector is unlocked.
        Unlocked,
        /// The connector could not be unlocked.
        UnlockFailed,
        /// An authorized transaction is running on the connector, so it stays locked.
        OngoingAuthorizedTransaction,
        /// No such connector.
        UnknownConnector,
    }
}

wire_enum! {
    /// The message a TriggerMessage asks for (`MessageTriggerEnumType`).
    pub enum MessageTrigger {
        /// BootNotification.
        BootNotification,
        /// LogStatusNotification.
        LogStatusNotification,
        /// FirmwareStatusNotification.
        FirmwareStatusNotification,
        /// Heartbeat.
        Heartbeat,
        /// MeterValues.
        MeterValues,
        /// SignCertificate for the charging station certificate.
        SignChargingStationCertificate,
        /// SignCertificate for the V2G certificate.
        SignV2GCertificate,
        /// StatusNotification.
        StatusNotification,
        /// TransactionEvent.
        TransactionEvent,
        /// SignCertificate for both certificates.
        SignCombinedCertificate,
        /// PublishFirmwareStatusNotification.
        PublishFirmwareStatusNotification,
    }
}

wire_enum! {
    /// The station's answer to a TriggerMessage (`TriggerMessageStatusEnumType`).
    pub enum TriggerMessageStatus {
        /// The message will be sent.
        Accepted,
        /// The message will not be sent.
        Rejected,
        /// The station does not implement the requested message.
        NotImplemented,
    }
}

/// RequestStartTransaction: the CSMS asks the station to start a transaction.
#[derive(Debug, Clone, Copy)]
pub struct RequestStartTransaction;

impl Action for RequestStartTransaction {
    const NAME: &'static str = "RequestStartTransaction";
    type Request = RequestStartTransactionRequest;
    type Response = RequestStartTransactionResponse;
}

/// RequestStartTransaction CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestStartTransactionRequest {
    /// The EVSE to start on; absent lets the station choose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse_id: Option<i32>,
    /// The CSMS's id for this request, echoed in the TransactionEvent.
    pub remote_start_id: i32,
    /// The token to start the transaction for.
    pub id_token: IdToken,
    /// A charging profile for the transaction (`ChargingProfileType`), not interpreted here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charging_profile: Option<Value>,
    /// The token's group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id_token: Option<IdToken>,
}

/// RequestStartTransaction CALLRESULT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestStartTransactionResponse {
    /// Whether the station will try to start.
    pub status: RequestStartStopStatus,
    /// Why, in more detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_info: Option<StatusInfo>,
    /// The transaction already running on the EVSE (e.g. the cable was plugged in first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

impl RequestStartTransactionResponse {
    /// Checks the transaction id against its schema length limit.
    pub fn validate(&self) -> Result<(), SchemaViolation> {
        if let Some(id) = &self.transaction_id {
            check_len("transactionId", id, Transaction::TRANSACTION_ID_MAX)?;
        }
        Ok(())
    }
}

/// RequestStopTransaction: the CSMS asks the station to stop a transaction.
#[derive(Debug, Clone, Copy)]
pub struct RequestStopTransaction;

impl Action for RequestStopTransaction {
    const NAME: &'static str = "RequestStopTransaction";
    type Request = RequestStopTransactionRequest;
    type Response = RequestStopTransactionResponse;
}

/// RequestStopTransaction CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestStopTransactionRequest {
    /// The transaction to stop.
    pub transaction_id: String,
}

/// RequestStopTransaction CALLRESULT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestStopTransactionResponse {
    /// Whether the station will try to stop.
    pub status: RequestStartStopStatus,
    /// Why, in more detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_info: Option<StatusInfo>,
}

/// Reset: the CSMS asks the station (or one EVSE) to reset.
#[derive(Debug, Clone, Copy)]
pub struct Reset;

impl Action for Reset {
    const NAME: &'static str = "Reset";
    type Request = ResetRequest;
    type Response = ResetResponse;
}

/// Reset CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetRequest {
    /// Now or when idle.
    #[serde(rename = "type")]
    pub kind: ResetType,
    /// The EVSE to reset; absent means the whole station.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse_id: Option<i32>,
}

/// Reset CALLRESULT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetResponse {
    /// Whether and when the reset happens.
    pub status: ResetStatus,
    /// Why, in more detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_info: Option<StatusInfo>,
}

/// UnlockConnector: the CSMS asks the station to release a stuck cable.
#[derive(Debug, Clone, Copy)]
pub struct UnlockConnector;

impl Action for UnlockConnector {
    const NAME: &'static str = "UnlockConnector";
    type Request = UnlockConnectorRequest;
    type Response = UnlockConnectorResponse;
}

/// UnlockConnector CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnlockConnectorRequest {
    /// The EVSE (1-based).
    pub evse_id: i32,
    /// The connector within the EVSE (1-based).
    pub connector_id: i32,
}

/// UnlockConnector CALLRESULT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnlockConnectorResponse {
    /// The outcome.
    pub status: UnlockStatus,
    /// Why, in more detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_info: Option<StatusInfo>,
}

/// TriggerMessage: the CSMS asks the station to send a message now.
#[derive(Debug, Clone, Copy)]
pub struct TriggerMessage;

impl Action for TriggerMessage {
    const NAME: &'static str = "TriggerMessage";
    type Request = TriggerMessageRequest;
    type Response = TriggerMessageResponse;
}

/// TriggerMessage CALL payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerMessageRequest {
    /// The message to send.
    pub requested_message: MessageTrigger,
    /// The EVSE (and connector) the message should be about; absent means all or the station.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse: Option<Evse>,
}

/// TriggerMessage CALLRESULT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerMessageResponse {
    /// Whether the message will be sent.
    pub status: TriggerMessageStatus,
    /// Why, in more detail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_info: Option<StatusInfo>,
}

/// GetTransactionStatus: the CSMS asks whether a transaction is running and whether
/// messages about it are still queued.
#[derive(Debug, Clone, Copy)]
pub struct GetTransactionStatus;

impl Action for GetTransactionStatus {
    const NAME: &'static str = "GetTransactionStatus";
    type Request = GetTransactionStatusRequest;
    type Response = GetTransactionStatusResponse;
}

/// GetTransactionStatus CALL payload.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetTransactionStatusRequest {
    /// The transaction asked about; absent asks about any queued transaction messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
}

/// GetTransactionStatus CALLRESULT payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetTransactionStatusResponse {
    /// Whether the transaction is still running; absent when no transaction was asked about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ongoing_indicator: Option<bool>,
    /// Whether transaction messages are still waiting to be delivered.
    pub messages_in_queue: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::ocpp::frame::ErrorCode;
    use crate::ocpp::messages::test_support::check;
    use crate::ocpp::messages::{decode_request, IdTokenType};

    fn rejected(code: &str) -> Option<StatusInfo> {
        Some(StatusInfo {
            reason_code: code.into(),
            additional_info: None,
        })
    }

    #[test]
    fn request_start_transaction_both_ways() {
        let req = RequestStartTransactionRequest {
            evse_id: Some(1),
            remote_start_id: 1234,
            id_token: IdToken {
                id_token: "APP-USER-9".into(),
                kind: IdTokenType::Central,
                additional_info: None,
            },
            charging_profile: Some(json!({"id": 1, "stackLevel": 0})),
            group_id_token: Some(IdToken {
                id_token: "FLEET".into(),
                kind: IdTokenType::Local,
                additional_info: None,
            }),
        };
        check(
            &req,
            json!({"evseId": 1, "remoteStartId": 1234,
                   "idToken": {"idToken": "APP-USER-9", "type": "Central"},
                   "chargingProfile": {"id": 1, "stackLevel": 0},
                   "groupIdToken": {"idToken": "FLEET", "type": "Local"}}),
        );
        let minimal = json!({"remoteStartId": 1,
                             "idToken": {"idToken": "", "type": "NoAuthorization"}});
        let decoded = decode_request::<RequestStartTransaction>(&minimal).ok();
        assert_eq!(decoded.as_ref().map(|r| r.evse_id), Some(None));
        assert_eq!(
            decoded.map(|r| r.id_token.kind),
            Some(IdTokenType::NoAuthorization)
        );
        let res = RequestStartTransactionResponse {
            status: RequestStartStopStatus::Accepted,
            status_info: None,
            transaction_id: Some("tx-9".into()),
        };
        check(&res, json!({"status": "Accepted", "transactionId": "tx-9"}));
        assert_eq!(res.validate(), Ok(()));
        let long = RequestStartTransactionResponse {
            transaction_id: Some("t".repeat(37)),
            ..res
        };
        assert!(matches!(
            long.validate(),
            Err(SchemaViolation::TooLong(e)) if e.field == "transactionId"
        ));
    }

    #[test]
    fn request_stop_transaction_both_ways() {
        check(
            &RequestStopTransactionRequest {
                transaction_id: "tx-9".into(),
            },
            json!({"transactionId": "tx-9"}),
        );
        check(
            &RequestStopTransactionResponse {
                status: RequestStartStopStatus::Rejected,
                status_info: rejected("UnknownTransaction"),
            },
            json!({"status": "Rejected", "statusInfo": {"reasonCode": "UnknownTransaction"}}),
        );
    }

    #[test]
    fn reset_uses_type_on_the_wire() {
        check(
            &ResetRequest {
                kind: ResetType::OnIdle,
                evse_id: Some(2),
            },
            json!({"type": "OnIdle", "evseId": 2}),
        );
        check(
            &ResetRequest {
                kind: ResetType::Immediate,
                evse_id: None,
            },
            json!({"type": "Immediate"}),
        );
        check(
            &ResetResponse {
                status: ResetStatus::Scheduled,
                status_info: None,
            },
            json!({"status": "Scheduled"}),
        );
    }

    #[test]
    fn an_integer_the_schema_allows_but_i32_cannot_hold_is_a_property_violation() {
        let big = json!({"evseId": 1_099_511_627_776_i64, "connectorId": 1});
        let err = decode_request::<UnlockConnector>(&big).expect_err("beyond i32");
        assert_eq!(
            (err.path.as_str(), err.code()),
            ("evseId", ErrorCode::PropertyConstraintViolation)
        );
    }

    #[test]
    fn unlock_connector_both_ways() {
        check(
            &UnlockConnectorRequest {
                evse_id: 1,
                connector_id: 1,
            },
            json!({"evseId": 1, "connectorId": 1}),
        );
        check(
            &UnlockConnectorResponse {
                status: UnlockStatus::OngoingAuthorizedTransaction,
                status_info: None,
            },
            json!({"status": "OngoingAuthorizedTransaction"}),
        );
        assert_eq!(UnlockStatus::ALL.len(), 4);
    }

    #[test]
    fn trigger_message_both_ways() {
        check(
            &TriggerMessageRequest {
                requested_message: MessageTrigger::StatusNotification,
                evse: Some(Evse {
                    id: 1,
                    connector_id: Some(1),
                }),
            },
            json!({"requestedMessage": "StatusNotification",
                   "evse": {"id": 1, "connectorId": 1}}),
        );
        check(
            &TriggerMessageRequest {
                requested_message: MessageTrigger::SignV2GCertificate,
                evse: None,
            },
            json!({"requestedMessage": "SignV2GCertificate"}),
        );
        check(
            &TriggerMessageResponse {
                status: TriggerMessageStatus::NotImplemented,
                status_info: None,
            },
            json!({"status": "NotImplemented"}),
        );
        assert_eq!(MessageTrigger::ALL.len(), 11);
    }

    #[test]
    fn get_transaction_status_both_ways() {
        check(&GetTransactionStatusRequest::default(), json!({}));
        check(
            &GetTransactionStatusRequest {
                transaction_id: Some("tx-9".into()),
            },
            json!({"transactionId": "tx-9"}),
        );
        check(
            &GetTransactionStatusResponse {
                ongoing_indicator: Some(true),
                messages_in_queue: false,
            },
            json!({"ongoingIndicator": true, "messagesInQueue": false}),
        );
        check(
            &GetTransactionStatusResponse {
                ongoing_indicator: None,
                messages_in_queue: true,
            },
            json!({"messagesInQueue": true}),
        );
    }
}
