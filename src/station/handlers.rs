//! Requests the CSMS sends to the station (blocks F, G, P and TriggerMessage), each answered
//! with its CALLRESULT or the CALLERROR OCPP-J prescribes.

use std::time::{Instant, SystemTime};

use serde::Serialize;
use serde_json::{json, Value};

use super::authorize::PendingAuth;
use super::transaction::{Authorization, TxContext};
use super::{DeviceCommand, Effect, PendingReset, Registration, Station};
use crate::ocpp::frame::{ErrorCode, Frame};
use crate::ocpp::messages::{
    self, Action, ChangeAvailability, ChangeAvailabilityResponse, ChangeAvailabilityStatus,
    DataTransfer, DataTransferResponse, DataTransferStatus, GetBaseReport, GetReport,
    GetTransactionStatus, GetTransactionStatusResponse, GetVariables, MessageTrigger,
    OperationalStatus, RequestStartStopStatus, RequestStartTransaction,
    RequestStartTransactionResponse, RequestStopTransaction, RequestStopTransactionResponse, Reset,
    ResetResponse, ResetStatus, ResetType, SetVariables, TriggerMessage, TriggerMessageResponse,
    TriggerMessageStatus, UnlockConnector, UnlockConnectorResponse, UnlockStatus,
};

type Reply = Result<Value, Frame>;

impl Station {
    /// Answers one CALL from the CSMS.
    pub(super) fn incoming_call(
        &mut self,
        now: Instant,
        wall: SystemTime,
        id: String,
        action: &str,
        payload: &Value,
        out: &mut Vec<Effect>,
    ) {
        if self.registration == Registration::Rejected && !boot_trigger(action, payload) {
            // B03: a rejected station serves the CSMS nothing but a request to boot again.
            log::info!("{}: refusing {action} while rejected", self.ocpp_id());
            let refusal = Frame::error(
                &id,
                ErrorCode::SecurityError,
                format!("{action} refused: the CSMS rejected this station's registration"),
            );
            out.push(Effect::Send(refusal.to_text()));
            return;
        }
        let reply = match action {
            RequestStartTransaction::NAME => self.request_start(now, payload, out),
            RequestStopTransaction::NAME => self.request_stop(payload, out),
            Reset::NAME => self.reset_request(payload),
            UnlockConnector::NAME => match self.unlock(payload, out) {
                Ok(Unlock::Answer(status)) => encode(&UnlockConnectorResponse {
                    status,
                    status_info: None,
                }),
                // The CALLRESULT goes out once the charger reports the write.
                Ok(Unlock::Commanded { evse }) => {
                    self.await_unlock(now, id, evse);
                    self.pump(now, wall, out);
                    return;
                }
                Err(e) => Err(e),
            },
            ChangeAvailability::NAME => self.change_availability(payload, out),
            TriggerMessage::NAME => self.trigger(now, wall, payload),
            GetTransactionStatus::NAME => self.transaction_status(payload),
            GetVariables::NAME => self.get_variables(payload, wall),
            SetVariables::NAME => self.set_variables(payload, out),
            GetBaseReport::NAME => self.get_base_report(payload, wall),
            GetReport::NAME => self.get_report(payload, wall),
            DataTransfer::NAME => decode::<DataTransfer>(payload).and_then(|_| {
                encode(&DataTransferResponse {
                    status: DataTransferStatus::UnknownVendorId,
                    status_info: None,
                    data: None,
                })
            }),
            // OCPP-J: a 2.0.1 action this station does not handle is NotSupported; a name
            // that is no 2.0.1 action at all is NotImplemented.
            _ if messages::is_ocpp_action(action) => Err(Frame::error(
                "",
                ErrorCode::NotSupported,
                format!("{action} is not supported by this charging station"),
            )),
            _ => Err(Frame::error(
                "",
                ErrorCode::NotImplemented,
                format!("{action} is not an OCPP 2.0.1 action"),
            )),
        };
        let frame = match reply {
            Ok(payload) => Frame::CallResult { id, payload },
            Err(Frame::CallError {
                code, description, ..
            }) => Frame::error(&id, code, description),
            Err(other) => other,
        };
        out.push(Effect::Send(frame.to_text()));
        // Whatever the request changed is acted on in the same turn.
        self.pump(now, wall, out);
    }

    fn evse_index(&self, evse_id: Option<i32>) -> Option<usize> {
        match evse_id {
            None => Some(0),
            Some(id) if id >= 1 && (id as usize) <= self.evses.len() => Some(id as usize - 1),
            Some(_) => None,
        }
    }

    /// F01/F02: the CSMS starts charging for a token.
    fn request_start(&mut self, now: Instant, payload: &Value, out: &mut Vec<Effect>) -> Reply {
        let req = decode::<RequestStartTransaction>(payload)?;
        let rejected = |why: &str| {
            log::info!("RequestStartTransaction rejected: {why}");
            encode(&RequestStartTransactionResponse {
                status: RequestStartStopStatus::Rejected,
                status_info: None,
                transaction_id: None,
            })
        };
        if self.registration != Registration::Accepted {
            // B02.FR.05: no transactions before the CSMS accepted the station.
            return rejected("the CSMS has not accepted the station yet");
        }
        if !self.settings.capabilities.start_stop {
            return rejected("the template maps no Control.Charging");
        }
        let Some(index) = self.evse_index(req.evse_id) else {
            return rejected("unknown EVSE");
        };
        let evse = &mut self.evses[index];
        if evse.inoperative || evse.inputs.online != Some(true) || evse.inputs.faulted {
            return rejected("EVSE unavailable");
        }
        if !evse.known {
            return rejected("the device has not been read yet");
        }
        if !evse.tx.takes_remote_start() {
            return rejected("the running transaction is authorized already");
        }
        let transaction_id = evse.tx.transaction().map(|t| t.id.clone());
        if self.settings.tx.authorize_remote_start {
            // C: the token is checked first; charging is enabled once it is accepted.
            evse.authorizing = Some(PendingAuth {
                token: req.id_token,
                remote_start_id: Some(req.remote_start_id),
                sent: false,
            });
        } else {
            evse.tx.authorize(Authorization {
                id_token: req.id_token,
                remote_start_id: Some(req.remote_start_id),
                expires: Some(now + self.settings.tx.ev_connection_timeout),
            });
            out.push(Effect::Device(DeviceCommand::Charging {
                evse: index,
                start: true,
            }));
        }
        encode(&RequestStartTransactionResponse {
            status: RequestStartStopStatus::Accepted,
            status_info: None,
            transaction_id,
        })
    }

    /// F03: the CSMS stops a transaction.
    fn request_stop(&mut self, payload: &Value, out: &mut Vec<Effect>) -> Reply {
        let req = decode::<RequestStopTransaction>(payload)?;
        let found = self.evses.iter().position(|e| {
            e.tx.transaction()
                .is_some_and(|t| t.id == req.transaction_id)
        });
        let status = match found {
            Some(index) if self.settings.capabilities.start_stop => {
                self.evses[index].tx.deauthorize(true);
                out.push(Effect::Device(DeviceCommand::Charging {
                    evse: index,
                    start: false,
                }));
                RequestStartStopStatus::Accepted
            }
            _ => RequestStartStopStatus::Rejected,
        };
        encode(&RequestStopTransactionResponse {
            status,
            status_info: None,
        })
    }

    /// B11/B12: reset the station (reconnect and boot again) or one EVSE (reset the device).
    pub(super) fn reset_request(&mut self, payload: &Value) -> Reply {
        let req = decode::<Reset>(payload)?;
        let status = match req.evse_id {
            Some(id) if self.evse_index(Some(id)).is_none() => ResetStatus::Rejected,
            Some(_) if !self.settings.capabilities.reset => ResetStatus::Rejected,
            _ => {
                let busy = self.evses.iter().any(|e| e.tx.transaction().is_some());
                let on_idle = req.kind == ResetType::OnIdle;
                self.reset = Some(PendingReset { on_idle });
                if on_idle && busy {
                    ResetStatus::Scheduled
                } else {
                    ResetStatus::Accepted
                }
            }
        };
        encode(&ResetResponse {
            status,
            status_info: None,
        })
    }

    /// F05: unlock the connector where the template maps it. Whether it unlocked is only
    /// known once the charger took the write, so a commanded unlock is answered later.
    pub(super) fn unlock(
        &mut self,
        payload: &Value,
        out: &mut Vec<Effect>,
    ) -> Result<Unlock, Frame> {
        let req = decode::<UnlockConnector>(payload)?;
        let answer = match self.evse_index(Some(req.evse_id)) {
            Some(_) if req.connector_id != 1 => UnlockStatus::UnknownConnector,
            None => UnlockStatus::UnknownConnector,
            Some(i) if self.evses[i].tx.transaction().is_some() => {
                UnlockStatus::OngoingAuthorizedTransaction
            }
            Some(_) if !self.settings.capabilities.unlock => UnlockStatus::UnlockFailed,
            // One unlock at a time: a second one cannot be told apart in the write results.
            Some(_) if self.unlock_pending() => UnlockStatus::UnlockFailed,
            Some(i) => {
                out.push(Effect::Device(DeviceCommand::Unlock { evse: i }));
                return Ok(Unlock::Commanded { evse: i });
            }
        };
        Ok(Unlock::Answer(answer))
    }

    /// G03/G04: make the station or an EVSE (in)operative; Scheduled while a transaction runs.
    pub(super) fn change_availability(&mut self, payload: &Value, out: &mut Vec<Effect>) -> Reply {
        let req = decode::<ChangeAvailability>(payload)?;
        let inoperative = req.operational_status == OperationalStatus::Inoperative;
        let targets: Vec<usize> = match req.evse.as_ref().map(|e| e.id) {
            None | Some(0) => (0..self.evses.len()).collect(),
            Some(id) => match self.evse_index(Some(id)) {
                Some(i) => vec![i],
                None => {
                    return encode(&ChangeAvailabilityResponse {
                        status: ChangeAvailabilityStatus::Rejected,
                        status_info: None,
                    })
                }
            },
        };
        let mut scheduled = false;
        for i in targets {
            let evse = &mut self.evses[i];
            if evse.tx.transaction().is_some() && inoperative {
                evse.scheduled_inoperative = Some(true);
                scheduled = true;
            } else {
                evse.inoperative = inoperative;
                evse.scheduled_inoperative = None;
                if self.settings.capabilities.availability {
                    out.push(Effect::Device(DeviceCommand::Availability {
                        operative: !inoperative,
                    }));
                }
            }
        }
        let status = if scheduled {
            ChangeAvailabilityStatus::Scheduled
        } else {
            ChangeAvailabilityStatus::Accepted
        };
        encode(&ChangeAvailabilityResponse {
            status,
            status_info: None,
        })
    }

    /// F06: send a message now.
    fn trigger(&mut self, now: Instant, wall: SystemTime, payload: &Value) -> Reply {
        let req = decode::<TriggerMessage>(payload)?;
        let evse = req.evse.as_ref().map(|e| e.id);
        let connector_ok = req
            .evse
            .as_ref()
            .and_then(|e| e.connector_id)
            .map_or(true, |c| c == 1);
        let index = self.evse_index(evse).filter(|_| connector_ok);
        let status = match (req.requested_message, index) {
            (_, None) => TriggerMessageStatus::Rejected,
            // An accepted station must not boot again on request.
            (MessageTrigger::BootNotification, _)
                if self.registration == Registration::Accepted =>
            {
                TriggerMessageStatus::Rejected
            }
            (MessageTrigger::BootNotification, _) => {
                self.boot_at = now;
                self.boot_triggered = true;
                TriggerMessageStatus::Accepted
            }
            (MessageTrigger::Heartbeat, _) => {
                self.heartbeat_due = true;
                TriggerMessageStatus::Accepted
            }
            // F06.FR.12: a status is about one connector, so the CSMS must name it.
            (MessageTrigger::StatusNotification, _) if evse.is_none() => {
                TriggerMessageStatus::Rejected
            }
            (MessageTrigger::StatusNotification, Some(i)) => {
                let e = &mut self.evses[i];
                e.reported = None;
                e.status_triggered = true;
                TriggerMessageStatus::Accepted
            }
            (MessageTrigger::MeterValues, Some(i)) => {
                // Absent EVSE: every EVSE reports.
                let targets: Vec<usize> = match evse {
                    Some(_) => vec![i],
                    None => (0..self.evses.len()).collect(),
                };
                self.trigger_meter_values(&targets, wall)
            }
            (MessageTrigger::LogStatusNotification, _) => {
                // Nothing is ever uploading here: Idle, without a requestId (L01.FR.20).
                self.push_triggered("LogStatusNotification", json!({"status": "Idle"}));
                TriggerMessageStatus::Accepted
            }
            (MessageTrigger::FirmwareStatusNotification, _) => {
                // No firmware update runs here: Idle, without a requestId (L01.FR.25).
                self.push_triggered("FirmwareStatusNotification", json!({"status": "Idle"}));
                TriggerMessageStatus::Accepted
            }
            (MessageTrigger::TransactionEvent, Some(i)) => {
                let mut events = Vec::new();
                let offline = self.link != super::Link::Up;
                let e = &mut self.evses[i];
                let ctx = TxContext {
                    now,
                    wall,
                    evse_id: i as i32 + 1,
                    settings: &self.settings.tx,
                    inputs: &e.inputs,
                    offline,
                };
                e.tx.trigger(&ctx, &mut events);
                if events.is_empty() {
                    TriggerMessageStatus::Rejected
                } else {
                    self.queue_transaction_events(events);
                    TriggerMessageStatus::Accepted
                }
            }
            _ => TriggerMessageStatus::NotImplemented,
        };
        encode(&TriggerMessageResponse {
            status,
            status_info: None,
        })
    }

    /// F06: MeterValues of `targets` with AlignedDataCtrlr.Measurands (F06.FR.06); Rejected
    /// when no EVSE has a reading of them yet.
    fn trigger_meter_values(
        &mut self,
        targets: &[usize],
        wall: SystemTime,
    ) -> TriggerMessageStatus {
        let mut requests = Vec::new();
        for &i in targets {
            let value = super::meter::meter_value(
                &self.evses[i].inputs,
                &self.settings.aligned_measurands,
                messages::ReadingContext::Trigger,
                wall,
            );
            let Some(value) = value else { continue };
            let request = messages::MeterValuesRequest {
                evse_id: i as i32 + 1,
                meter_value: vec![value],
            };
            match serde_json::to_value(request) {
                Ok(p) => requests.push(p),
                Err(e) => log::error!("{}: cannot encode MeterValues: {e}", self.ocpp_id()),
            }
        }
        if requests.is_empty() {
            return TriggerMessageStatus::Rejected;
        }
        for p in requests {
            self.push_triggered(messages::MeterValues::NAME, p);
        }
        TriggerMessageStatus::Accepted
    }

    /// Queues a message the CSMS asked for; it may go out while Pending.
    fn push_triggered(&mut self, action: &'static str, payload: Value) {
        let in_flight = self.extra_in_flight();
        self.extra.push(action, payload, true, in_flight);
    }

    /// E14: is a transaction still running, and are messages for it queued?
    fn transaction_status(&self, payload: &Value) -> Reply {
        let req = decode::<GetTransactionStatus>(payload)?;
        let ongoing = req.transaction_id.as_ref().map(|id| {
            self.evses
                .iter()
                .any(|e| e.tx.transaction().is_some_and(|t| &t.id == id))
        });
        encode(&GetTransactionStatusResponse {
            ongoing_indicator: ongoing,
            messages_in_queue: !self.queue.is_empty(),
        })
    }
}

/// True for TriggerMessage(BootNotification), the one request a rejected station serves.
fn boot_trigger(action: &str, payload: &Value) -> bool {
    action == TriggerMessage::NAME && payload["requestedMessage"] == "BootNotification"
}

/// How the station takes an UnlockConnector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unlock {
    /// Answered now.
    Answer(UnlockStatus),
    /// The charger was told to unlock EVSE `evse` (0-based); answered when it reports.
    Commanded { evse: usize },
}

/// Decodes a request payload; a payload that breaks its schema gets the CALLERROR OCPP-J names.
pub(super) fn decode<A: Action>(payload: &Value) -> Result<A::Request, Frame> {
    messages::decode_request::<A>(payload).map_err(|e| Frame::error("", e.code(), e.to_string()))
}

pub(super) fn encode<T: Serialize>(response: &T) -> Reply {
    serde_json::to_value(response)
        .map_err(|e| Frame::error("", ErrorCode::InternalError, e.to_string()))
}
