//! What the station does with the CSMS's answers to its own CALLs.

use std::time::{Duration, Instant, SystemTime};

use super::calls::{self, Call, Failure};
use super::{Effect, Registration, Station};
use crate::ocpp::messages::schema::{self, Half};
use crate::ocpp::messages::BootReason;

impl Station {
    pub(super) fn call_succeeded(
        &mut self,
        now: Instant,
        wall: SystemTime,
        call: Call,
        payload: serde_json::Value,
        out: &mut Vec<Effect>,
    ) {
        // A result that breaks its schema is not acted on: it counts as no answer, like a
        // CALLERROR, whether or not the call reads its payload.
        if let Some(action) = self.answered_action(now, call) {
            if let Err(e) = schema::check(action, Half::Response, &payload) {
                log::warn!(
                    "{}: {action} result breaks the schema at {}: {}",
                    self.ocpp_id(),
                    e.path,
                    e.message
                );
                self.call_failed(now, call, Failure::Refused);
                return;
            }
        }
        match call {
            Call::Boot => match calls::boot_response(&payload) {
                Ok((registration, interval)) => {
                    self.boot_triggered = false;
                    self.csms_time(&payload, wall);
                    self.registered(now, wall, registration, interval);
                }
                Err(e) => {
                    log::warn!("{}: bad BootNotificationResponse: {e}", self.ocpp_id());
                    self.call_failed(now, call, Failure::Refused);
                }
            },
            Call::Status { index, status } => {
                if let Some(e) = self.evses.get_mut(index) {
                    e.reported = Some(status);
                    e.status_triggered = false;
                }
            }
            Call::Queued => {
                let request = self.queue.ready(now).map(|q| q.payload.clone());
                self.queue.delivered();
                if let Some(request) = request {
                    self.transaction_answered(&request, &payload);
                }
            }
            Call::Extra => {
                self.extra.pop_front();
            }
            Call::Authorize { index } => self.authorize_answered(now, index, &payload, out),
            Call::Heartbeat => self.csms_time(&payload, wall),
        }
    }

    /// The action of the CALL `call` answers.
    fn answered_action(&self, now: Instant, call: Call) -> Option<&'static str> {
        match call {
            Call::Queued => self.queue.ready(now).map(|q| q.action),
            Call::Extra => self.extra.front().map(|m| m.action),
            other => Some(other.action()),
        }
    }

    fn registered(
        &mut self,
        now: Instant,
        wall: SystemTime,
        registration: Registration,
        interval: Duration,
    ) {
        log::info!("{}: BootNotification {registration:?}", self.ocpp_id());
        self.registration = registration;
        if registration == Registration::Accepted {
            if !interval.is_zero() {
                self.heartbeat_interval = interval;
                self.model.set_heartbeat_interval(interval);
            }
            // B01: after boot the CSMS learns every connector's status.
            for e in &mut self.evses {
                e.reported = None;
            }
            let event = match self.boot_reason {
                BootReason::PowerUp => "StartupOfTheDevice",
                _ => "ResetOrReboot",
            };
            self.security_event(event, wall, None);
        } else {
            let wait = if interval.is_zero() {
                self.settings.backoff.wait_minimum
            } else {
                interval
            };
            self.boot_at = now + wait;
        }
    }

    /// One of our CALLs got a CALLERROR (refused) or no answer in time (timed out).
    pub(super) fn call_failed(&mut self, now: Instant, call: Call, failure: Failure) {
        match call {
            Call::Boot => self.boot_at = now + self.settings.backoff.wait_minimum,
            // Refused: sending the same status again would be refused again. Unanswered: the
            // CSMS may never have seen it, so it stays unreported and goes out again.
            Call::Status { index, status } => {
                if let (Some(e), Failure::Refused) = (self.evses.get_mut(index), failure) {
                    e.reported = Some(status);
                    e.status_triggered = false;
                }
            }
            Call::Queued => {
                if let Some(dropped) = self.queue.failed(now, self.settings.retry) {
                    log::error!(
                        "{}: {} dropped after {} attempts: {}",
                        self.ocpp_id(),
                        dropped.action,
                        dropped.attempts,
                        dropped.payload
                    );
                }
            }
            Call::Extra => match failure {
                Failure::Refused => {
                    if let Some(action) = self.extra.front().map(|m| m.action) {
                        self.extra.pop_front();
                        self.extra_failed(action);
                    }
                }
                Failure::TimedOut => {
                    if let Some(dropped) = self.extra.timed_out() {
                        log::error!(
                            "{}: {} dropped after {} unanswered attempts",
                            self.ocpp_id(),
                            dropped.action,
                            super::oneoff::ATTEMPTS
                        );
                        self.extra_failed(dropped.action);
                    }
                }
            },
            Call::Authorize { index } => self.authorize_failed(index),
            Call::Heartbeat => {}
        }
    }
}
