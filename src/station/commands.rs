//! What became of the device writes the station asked for: UnlockConnector is answered from
//! the write's outcome (F05), and a write the charger did not take is reported to the CSMS
//! (NotifyEvent, N07) rather than only logged, and cleared by the next write that works.

use std::time::{Duration, Instant, SystemTime};

use super::{DeviceCommand, Effect, Link, Station};
use crate::ocpp::frame::Frame;
use crate::ocpp::messages::{
    Action, ComponentRef, EventData, EventNotificationType, EventTrigger, Evse, NotifyEvent,
    NotifyEventRequest, UnlockConnectorResponse, UnlockStatus, VariableRef,
};
use crate::util::time::rfc3339;

/// Longest wait for the charger's word on an unlock before answering UnlockFailed; well
/// inside the time a CSMS waits for the answer.
pub const UNLOCK_DEADLINE: Duration = Duration::from_secs(10);

/// Longest techInfo the NotifyEvent schema allows.
const TECH_INFO_MAX: usize = 500;

/// An UnlockConnector whose answer waits for the write.
#[derive(Debug)]
pub(super) struct PendingUnlock {
    /// The CSMS's message id.
    id: String,
    evse: usize,
    deadline: Instant,
}

/// A finished (or impossible) device write, as the hub reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteReport {
    /// The station command the write carried out; `None` for a SetVariables write.
    pub command: Option<DeviceCommand>,
    /// The device-model component of the written template variable (`EVSE`, `Connector`, …).
    pub component: String,
    /// The device-model variable name of the written template variable.
    pub variable: String,
    /// The value written, as text.
    pub value: String,
    /// Done, or why not.
    pub result: Result<(), String>,
}

impl Station {
    /// Holds the answer to UnlockConnector `id` until the write to EVSE `evse` is reported.
    pub(super) fn await_unlock(&mut self, now: Instant, id: String, evse: usize) {
        self.pending_unlock = Some(PendingUnlock {
            id,
            evse,
            deadline: now + UNLOCK_DEADLINE.min(self.settings.response_timeout),
        });
    }

    /// True while an unlock waits for its write.
    pub(super) fn unlock_pending(&self) -> bool {
        self.pending_unlock.is_some()
    }

    /// When a waiting unlock is given up on.
    pub(super) fn unlock_deadline(&self) -> Option<Instant> {
        self.pending_unlock.as_ref().map(|p| p.deadline)
    }

    /// Answers UnlockFailed to an unlock the charger did not report on in time.
    pub(super) fn expire_unlock(&mut self, now: Instant, out: &mut Vec<Effect>) {
        if self
            .pending_unlock
            .as_ref()
            .is_some_and(|p| p.deadline <= now)
        {
            log::warn!(
                "{}: the charger did not report the unlock in time",
                self.ocpp_id()
            );
            self.answer_unlock(UnlockStatus::UnlockFailed, out);
        }
    }

    fn answer_unlock(&mut self, status: UnlockStatus, out: &mut Vec<Effect>) {
        let Some(pending) = self.pending_unlock.take() else {
            return;
        };
        // The CSMS's CALL died with the link it came on; it will not expect this answer.
        if self.link != Link::Up {
            return;
        }
        let reply = serde_json::to_value(UnlockConnectorResponse {
            status,
            status_info: None,
        });
        match reply {
            Ok(payload) => out.push(Effect::Send(
                Frame::CallResult {
                    id: pending.id,
                    payload,
                }
                .to_text(),
            )),
            Err(e) => log::error!("{}: cannot encode the unlock answer: {e}", self.ocpp_id()),
        }
    }

    /// The charger took (or did not take) a write the station or the CSMS asked for.
    pub fn write_finished(
        &mut self,
        now: Instant,
        wall: SystemTime,
        report: WriteReport,
        out: &mut Vec<Effect>,
    ) {
        if let Some(DeviceCommand::Unlock { evse }) = report.command {
            if self.pending_unlock.as_ref().is_some_and(|p| p.evse == evse) {
                let status = match report.result {
                    Ok(()) => UnlockStatus::Unlocked,
                    Err(_) => UnlockStatus::UnlockFailed,
                };
                self.answer_unlock(status, out);
            }
        }
        let key = (report.component.clone(), report.variable.clone());
        let known = self.failed_writes.iter().position(|k| *k == key);
        match (&report.result, known) {
            (Err(_), None) => self.failed_writes.push(key),
            (Ok(()), Some(at)) => {
                self.failed_writes.swap_remove(at);
            }
            // A repeated failure is told again (it is a new attempt); a success with no
            // failure before it is nothing to tell.
            (Err(_), Some(_)) => {}
            (Ok(()), None) => {
                self.pump(now, wall, out);
                return;
            }
        }
        self.notify_write(wall, &report);
        self.pump(now, wall, out);
    }

    /// NotifyEvent: the written variable's `Problem` (instance: the variable) turns true with
    /// why, or is cleared by a write that worked.
    fn notify_write(&mut self, wall: SystemTime, report: &WriteReport) {
        let evse = match report.command {
            Some(DeviceCommand::Charging { evse, .. } | DeviceCommand::Unlock { evse }) => evse,
            _ => 0,
        };
        let on_evse = matches!(report.component.as_str(), "EVSE" | "Connector");
        let (actual, tech_info, cleared) = match &report.result {
            Ok(()) => (
                "false",
                format!("{} = {} written", report.variable, report.value),
                Some(true),
            ),
            Err(e) => (
                "true",
                format!("{} = {} not written: {e}", report.variable, report.value),
                None,
            ),
        };
        self.next_event_id += 1;
        let event = EventData {
            event_id: self.next_event_id,
            timestamp: rfc3339(wall),
            trigger: EventTrigger::Delta,
            cause: None,
            actual_value: actual.into(),
            tech_code: Some("WriteFailed".into()),
            tech_info: Some(tech_info.chars().take(TECH_INFO_MAX).collect()),
            cleared,
            transaction_id: self
                .evses
                .get(evse)
                .and_then(|e| e.tx.transaction())
                .map(|t| t.id.clone()),
            variable_monitoring_id: None,
            event_notification_type: EventNotificationType::HardWiredNotification,
            component: ComponentRef {
                name: report.component.clone(),
                instance: None,
                evse: on_evse.then(|| Evse {
                    id: evse as i32 + 1,
                    connector_id: (report.component == "Connector").then_some(1),
                }),
            },
            variable: VariableRef {
                name: "Problem".into(),
                instance: Some(report.variable.clone()),
            },
        };
        let request = NotifyEventRequest {
            generated_at: rfc3339(wall),
            tbc: None,
            seq_no: 0,
            event_data: vec![event],
        };
        match serde_json::to_value(request) {
            Ok(payload) => self.extra.push_back((NotifyEvent::NAME, payload)),
            Err(e) => log::error!("{}: cannot encode NotifyEvent: {e}", self.ocpp_id()),
        }
    }
}
