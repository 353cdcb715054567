//! Transactions (block E): TransactionEvent, plus the EVSE reference and the schema check
//! shared by every message block.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use thiserror::Error;

use super::meter_values::validate_meter_values;
use super::{Action, IdToken, IdTokenInfo, MeterValue};
use crate::ocpp::types::{check_len, TooLong};

/// A payload of ours that its OCPP schema would reject; the CSMS would answer it with a
/// CALLERROR, so it is caught before sending.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SchemaViolation {
    /// A string is longer than the schema's `maxLength`.
    #[error(transparent)]
    TooLong(#[from] TooLong),
    /// An array the schema requires to hold at least one item is empty.
    #[error("{field} is empty, OCPP requires at least one item")]
    Empty {
        /// The array's JSON name.
        field: &'static str,
    },
    /// A number is NaN or infinite, which JSON cannot carry.
    #[error("{field} is not a finite number")]
    NotFinite {
        /// The number's JSON name.
        field: &'static str,
    },
}

/// An EVSE, optionally narrowed to one of its connectors (`EVSEType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evse {
    /// The EVSE (1-based; 0 means the whole station where a message allows it).
    pub id: i32,
    /// The connector within the EVSE (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_id: Option<i32>,
}

wire_enum! {
    /// Where in its life a transaction is (`TransactionEventEnumType`).
    pub enum TransactionEventType {
        /// The first event of a transaction.
        Started,
        /// Any event between the first and the last.
        Updated,
        /// The last event of a transaction.
        Ended,
    }
}

wire_enum! {
    /// The charging state within a transaction (`ChargingStateEnumType`).
    pub enum ChargingState {
        /// Energy is flowing to the EV.
        Charging,
        /// An EV is connected, no energy is flowing and none is being asked for.
        EVConnected,
        /// The EV paused charging.
        SuspendedEV,
        /// The station paused charging (e.g. a limit or no authorization).
        SuspendedEVSE,
        /// No EV is connected.
        Idle,
    }
}

wire_enum! {
    /// What caused a TransactionEvent (`TriggerReasonEnumType`).
    pub enum TriggerReason {
        /// A token was authorized.
        Authorized,
        /// The cable was plugged in.
        CablePluggedIn,
        /// The charging rate changed by more than the configured threshold.
        ChargingRateChanged,
        /// The charging state changed.
        ChargingStateChanged,
        /// The transaction was deauthorized.
        Deauthorized,
        /// The energy limit was reached.
        EnergyLimitReached,
        /// Communication with the EV was lost.
        EVCommunicationLost,
        /// The EV was not connected in time after authorization.
        EVConnectTimeout,
        /// A clock-aligned meter value is due.
        MeterValueClock,
        /// A periodic meter value is due.
        MeterValuePeriodic,
        /// The time limit was reached.
        TimeLimitReached,
        /// The CSMS asked for the event (TriggerMessage).
        Trigger,
        /// The connector was unlocked by UnlockConnector.
        UnlockCommand,
        /// A token stopped the transaction.
        StopAuthorized,
        /// The EV left the parking bay.
        EVDeparted,
        /// An EV was detected in the parking bay.
        EVDetected,
        /// The CSMS stopped the transaction (RequestStopTransaction).
        RemoteStop,
        /// The CSMS started the transaction (RequestStartTransaction).
        RemoteStart,
        /// Something abnormal happened.
        AbnormalCondition,
        /// Signed meter data arrived.
        SignedDataReceived,
        /// The station is about to reset (Reset).
        ResetCommand,
    }
}

wire_enum! {
    /// Why a transaction stopped (`ReasonEnumType`).
    pub enum Reason {
        /// The token was deauthorized.
        DeAuthorized,
        /// The emergency stop was pressed.
        EmergencyStop,
        /// The energy limit was reached.
        EnergyLimitReached,
        /// The EV was disconnected.
        EVDisconnected,
        /// A ground fault tripped.
        GroundFault,
        /// An immediate reset.
        ImmediateReset,
        /// Stopped at the station (e.g. a local token or button).
        Local,
        /// The local credit ran out.
        LocalOutOfCredit,
        /// A master pass stopped it.
        MasterPass,
        /// Any other reason.
        Other,
        /// An overcurrent fault tripped.
        OvercurrentFault,
        /// The power failed.
        PowerLoss,
        /// The power quality was too poor.
        PowerQuality,
        /// The station rebooted.
        Reboot,
        /// The CSMS stopped it.
        Remote,
        /// The state-of-charge limit was reached.
        SOCLimitReached,
        /// The EV stopped it.
        StoppedByEV,
        /// The time limit was reached.
        TimeLimitReached,
        /// A timeout (e.g. the EV was not connected in time).
        Timeout,
    }
}

/// The transaction a TransactionEvent is about (`TransactionType`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transaction {
    /// The station-assigned id (at most [`Transaction::TRANSACTION_ID_MAX`] characters).
    pub transaction_id: String,
    /// The charging state, sent when it changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charging_state: Option<ChargingState>,
    /// Seconds spent charging so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_spent_charging: Option<i32>,
    /// Why the transaction stopped; only in the Ended event (absent means Local).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_reason: Option<Reason>,
    /// The id of the RequestStartTransaction that started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_start_id: Option<i32>,
}

impl Transaction {
    /// Schema `maxLength` of `transactionId`.
    pub const TRANSACTION_ID_MAX: usize = 36;

    /// Checks the transaction id against its schema length limit.
    pub fn validate(&self) -> Result<(), SchemaViolation> {
        check_len(
            "transactionId",
            &self.transaction_id,
            Self::TRANSACTION_ID_MAX,
        )?;
        Ok(())
    }
}

/// TransactionEvent: a transaction started, changed or ended.
#[derive(Debug, Clone, Copy)]
pub struct TransactionEvent;

impl Action for TransactionEvent {
    const NAME: &'static str = "TransactionEvent";
    type Request = TransactionEventRequest;
    type Response = TransactionEventResponse;
}

/// TransactionEvent CALL payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionEventRequest {
    /// Started, Updated or Ended.
    pub event_type: TransactionEventType,
    /// When the event happened, RFC 3339.
    pub timestamp: String,
    /// What caused it.
    pub trigger_reason: TriggerReason,
    /// Per-transaction sequence number, from 0, so the CSMS can spot gaps.
    pub seq_no: i32,
    /// The event happened while the station was offline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offline: Option<bool>,
    /// Phases used for charging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_phases_used: Option<i32>,
    /// The cable's maximum current, A.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cable_max_current: Option<i32>,
    /// The reservation this transaction ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservation_id: Option<i32>,
    /// The transaction.
    pub transaction_info: Transaction,
    /// Where it happens; required in the first event after the EVSE became known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evse: Option<Evse>,
    /// The token, sent once when it is first known for the transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<IdToken>,
    /// Meter readings (at least one when present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meter_value: Option<Vec<MeterValue>>,
}

impl TransactionEventRequest {
    /// Checks everything built from our own data against the schema, so the CSMS never sees
    /// a request it must reject.
    pub fn validate(&self) -> Result<(), SchemaViolation> {
        self.transaction_info.validate()?;
        if let Some(token) = &self.id_token {
            token.validate()?;
        }
        match &self.meter_value {
            Some(values) => validate_meter_values(values),
            None => Ok(()),
        }
    }
}

/// TransactionEvent CALLRESULT payload.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionEventResponse {
    /// The running or final cost, in the CSMS's currency.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cost: Option<f64>,
    /// Priority of this transaction, from -9 to 9.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charging_priority: Option<i32>,
    /// The CSMS's verdict on the token, when the request carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_info: Option<IdTokenInfo>,
    /// A message for the driver (`MessageContentType`); the gateway has no display to show it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_personal_message: Option<Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ocpp::messages::test_support::check;
    use serde_json::json;

    use crate::ocpp::messages::{
        decode_request, decode_response, AuthorizationStatus, IdTokenType, Measurand,
        ReadingContext, SampledValue,
    };

    fn energy(context: ReadingContext, wh: f64) -> MeterValue {
        MeterValue {
            timestamp: "2024-05-01T10:00:00.000Z".into(),
            sampled_value: vec![SampledValue {
                value: wh,
                context: Some(context),
                measurand: Some(Measurand::EnergyActiveImportRegister),
                phase: None,
                location: None,
                unit_of_measure: None,
            }],
        }
    }

    #[test]
    fn started_event_with_token_and_meter_value() {
        let req = TransactionEventRequest {
            event_type: TransactionEventType::Started,
            timestamp: "2024-05-01T10:00:00.000Z".into(),
            trigger_reason: TriggerReason::RemoteStart,
            seq_no: 0,
            offline: None,
            number_of_phases_used: Some(3),
            cable_max_current: None,
            reservation_id: None,
            transaction_info: Transaction {
                transaction_id: "gw-cp1-1-000042".into(),
                charging_state: Some(ChargingState::EVConnected),
                time_spent_charging: None,
                stopped_reason: None,
                remote_start_id: Some(7),
            },
            evse: Some(Evse {
                id: 1,
                connector_id: Some(1),
            }),
            id_token: Some(IdToken {
                id_token: "04A2B3C4".into(),
                kind: IdTokenType::ISO14443,
                additional_info: None,
            }),
            meter_value: Some(vec![energy(ReadingContext::TransactionBegin, 1520.0)]),
        };
        check(
            &req,
            json!({"eventType": "Started", "timestamp": "2024-05-01T10:00:00.000Z",
                   "triggerReason": "RemoteStart", "seqNo": 0, "numberOfPhasesUsed": 3,
                   "transactionInfo": {"transactionId": "gw-cp1-1-000042",
                                       "chargingState": "EVConnected", "remoteStartId": 7},
                   "evse": {"id": 1, "connectorId": 1},
                   "idToken": {"idToken": "04A2B3C4", "type": "ISO14443"},
                   "meterValue": [{"timestamp": "2024-05-01T10:00:00.000Z",
                       "sampledValue": [{"value": 1520.0, "context": "Transaction.Begin",
                                         "measurand": "Energy.Active.Import.Register"}]}]}),
        );
        assert_eq!(req.validate(), Ok(()));
    }

    #[test]
    fn ended_event_carries_the_stopped_reason() {
        let req = TransactionEventRequest {
            event_type: TransactionEventType::Ended,
            timestamp: "2024-05-01T11:00:00.000Z".into(),
            trigger_reason: TriggerReason::EVCommunicationLost,
            seq_no: 5,
            offline: Some(true),
            number_of_phases_used: None,
            cable_max_current: Some(32),
            reservation_id: Some(3),
            transaction_info: Transaction {
                transaction_id: "tx-1".into(),
                charging_state: Some(ChargingState::SuspendedEVSE),
                time_spent_charging: Some(3600),
                stopped_reason: Some(Reason::SOCLimitReached),
                remote_start_id: None,
            },
            evse: None,
            id_token: None,
            meter_value: None,
        };
        check(
            &req,
            json!({"eventType": "Ended", "timestamp": "2024-05-01T11:00:00.000Z",
                   "triggerReason": "EVCommunicationLost", "seqNo": 5, "offline": true,
                   "cableMaxCurrent": 32, "reservationId": 3,
                   "transactionInfo": {"transactionId": "tx-1", "chargingState": "SuspendedEVSE",
                                       "timeSpentCharging": 3600,
                                       "stoppedReason": "SOCLimitReached"}}),
        );
    }

    #[test]
    fn response_with_cost_and_token_info() {
        let res = TransactionEventResponse {
            total_cost: Some(4.25),
            charging_priority: Some(-2),
            id_token_info: Some(IdTokenInfo::new(AuthorizationStatus::Accepted)),
            updated_personal_message: Some(json!({"format": "UTF8", "content": "Welcome"})),
        };
        check(
            &res,
            json!({"totalCost": 4.25, "chargingPriority": -2,
                   "idTokenInfo": {"status": "Accepted"},
                   "updatedPersonalMessage": {"format": "UTF8", "content": "Welcome"}}),
        );
        check(&TransactionEventResponse::default(), json!({}));
        let decoded = decode_response::<TransactionEvent>(&json!({"totalCost": 1}));
        assert_eq!(decoded.ok().and_then(|r| r.total_cost), Some(1.0));
    }

    #[test]
    fn decode_names_the_bad_enum_and_validate_the_long_id() {
        let bad = json!({"eventType": "Started", "timestamp": "2024-05-01T10:00:00Z",
                         "triggerReason": "Authorized",
                         "seqNo": 0, "transactionInfo": {"transactionId": "x",
                                                         "stoppedReason": "Bored"}});
        assert_eq!(
            decode_request::<TransactionEvent>(&bad).map_err(|e| e.path),
            Err("transactionInfo.stoppedReason".to_owned())
        );
        let mut tx = Transaction {
            transaction_id: "t".repeat(Transaction::TRANSACTION_ID_MAX),
            charging_state: None,
            time_spent_charging: None,
            stopped_reason: None,
            remote_start_id: None,
        };
        assert_eq!(tx.validate(), Ok(()));
        tx.transaction_id.push('x');
        assert_eq!(
            tx.validate(),
            Err(SchemaViolation::TooLong(TooLong {
                field: "transactionId",
                len: 37,
                max: 36
            }))
        );
        let req = TransactionEventRequest {
            event_type: TransactionEventType::Updated,
            timestamp: "2024-05-01T10:00:00.000Z".into(),
            trigger_reason: TriggerReason::MeterValuePeriodic,
            seq_no: 1,
            offline: None,
            number_of_phases_used: None,
            cable_max_current: None,
            reservation_id: None,
            transaction_info: Transaction {
                transaction_id: "tx".into(),
                ..tx
            },
            evse: None,
            id_token: None,
            meter_value: Some(vec![]),
        };
        assert_eq!(
            req.validate(),
            Err(SchemaViolation::Empty {
                field: "meterValue"
            })
        );
    }

    #[test]
    fn enums_have_every_spec_value() {
        assert_eq!(TransactionEventType::ALL.len(), 3);
        assert_eq!(ChargingState::ALL.len(), 5);
        assert_eq!(TriggerReason::ALL.len(), 21);
        assert_eq!(Reason::ALL.len(), 19);
        assert_eq!(
            TriggerReason::parse("EVDeparted"),
            Some(TriggerReason::EVDeparted)
        );
        assert_eq!(json!(Reason::DeAuthorized), json!("DeAuthorized"));
    }
}
