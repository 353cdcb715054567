//! What the station does with the CSMS's answers to its own CALLs.

use std::time::{Duration, Instant, SystemTime};

use super::calls::{self, Call};
use super::{Effect, Registration, Station};
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
        match call {
            Call::Boot => match calls::boot_response(&payload) {
                Ok((registration, interval)) => {
                    self.csms_time(&payload, wall);
                    self.registered(now, wall, registration, interval);
                }
                Err(e) => {
                    log::warn!("{}: bad BootNotificationResponse: {e}", self.ocpp_id());
                    self.call_failed(now, call);
                }
            },
            Call::Status { index, status } => {
                if let Some(e) = self.evses.get_mut(index) {
                    e.reported = Some(status);
                }
            }
            Call::Queued => self.queue.delivered(),
            Call::Extra => {
                self.extra.pop_front();
            }
            Call::Authorize { index } => self.authorize_answered(now, index, &payload, out),
            Call::Heartbeat => self.csms_time(&payload, wall),
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

    pub(super) fn call_failed(&mut self, now: Instant, call: Call) {
        match call {
            Call::Boot => self.boot_at = now + self.settings.backoff.wait_minimum,
            // The CSMS refused it; sending the same status again would be refused again.
            Call::Status { index, status } => {
                if let Some(e) = self.evses.get_mut(index) {
                    e.reported = Some(status);
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
            Call::Extra => {
                if let Some((action, _)) = self.extra.pop_front() {
                    self.extra_failed(action);
                }
            }
            Call::Authorize { index } => self.authorize_failed(index),
            Call::Heartbeat => {}
        }
    }
}
