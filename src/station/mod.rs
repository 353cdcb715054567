//! One virtual OCPP 2.0.1 charging station as a sans-IO state machine.
//!
//! Inputs are link events, CSMS frames, device-derived connector states and the passing of time;
//! outputs are [`Effect`]s (connect, send a frame) and the next deadline. The hub owns one per
//! device and does all I/O; everything here is deterministic given `now` and a seeded RNG.

mod backoff;
mod calls;
pub mod device_model;

use std::time::{Duration, Instant, SystemTime};

use crate::ocpp::frame::{ErrorCode, Frame};
use crate::ocpp::messages::ConnectorStatus;
use crate::util::rng::Rng;

pub use backoff::Backoff;
use calls::{Call, Outstanding};

/// What a station needs to know about itself.
#[derive(Debug, Clone)]
pub struct StationSettings {
    /// The station identity (last URL path segment).
    pub ocpp_id: String,
    pub vendor_name: String,
    pub model: String,
    pub firmware_version: String,
    /// Heartbeat interval until the CSMS sets its own.
    pub heartbeat_interval: Duration,
    /// How long to wait for the CALLRESULT of one of our CALLs.
    pub response_timeout: Duration,
    pub backoff: Backoff,
    /// Connectors, one per EVSE, numbered from 1.
    pub connectors: usize,
}

/// Something the hub must do for the station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Open the WebSocket (answered by `connected` or `link_down`).
    Connect,
    /// Send this OCPP-J frame.
    Send(String),
}

/// Where the station stands with the CSMS (B01–B03).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// No BootNotification answered yet.
    Unknown,
    Pending,
    Rejected,
    Accepted,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    Down { retry_at: Instant },
    Connecting,
    Up,
}

#[derive(Debug, Clone, Copy, Default)]
struct Connector {
    /// What the device says now; `None` until it is known.
    current: Option<ConnectorStatus>,
    /// What the CSMS last acknowledged.
    reported: Option<ConnectorStatus>,
}

/// One virtual charging station.
#[derive(Debug)]
pub struct Station {
    settings: StationSettings,
    rng: Rng,
    id_prefix: u32,
    next_id: u64,
    link: Link,
    failures: u32,
    registration: Registration,
    /// Earliest time a BootNotification may be (re)sent.
    boot_at: Instant,
    heartbeat_interval: Duration,
    last_call_at: Instant,
    outstanding: Option<Outstanding>,
    connectors: Vec<Connector>,
}

impl Station {
    /// A station that will connect at the first `pump`.
    pub fn new(settings: StationSettings, mut rng: Rng, now: Instant) -> Self {
        let connectors = vec![Connector::default(); settings.connectors.max(1)];
        Station {
            heartbeat_interval: settings.heartbeat_interval,
            id_prefix: rng.next_u64() as u32,
            settings,
            rng,
            next_id: 0,
            link: Link::Down { retry_at: now },
            failures: 0,
            registration: Registration::Unknown,
            boot_at: now,
            last_call_at: now,
            outstanding: None,
            connectors,
        }
    }

    /// The station identity.
    pub fn ocpp_id(&self) -> &str {
        &self.settings.ocpp_id
    }

    /// The registration state, for status reports.
    pub fn registration(&self) -> Registration {
        self.registration
    }

    /// True while the WebSocket is open.
    pub fn is_connected(&self) -> bool {
        self.link == Link::Up
    }

    /// The status of connector `index` (0-based) as the device reports it, and as the CSMS
    /// last acknowledged it.
    pub fn connector_status(
        &self,
        index: usize,
    ) -> Option<(Option<ConnectorStatus>, Option<ConnectorStatus>)> {
        self.connectors.get(index).map(|c| (c.current, c.reported))
    }

    /// The WebSocket opened.
    pub fn connected(&mut self, now: Instant) {
        self.link = Link::Up;
        self.failures = 0;
        self.last_call_at = now;
    }

    /// The WebSocket closed or could not be opened: retry after the back-off.
    pub fn link_down(&mut self, now: Instant) {
        let wait = self.settings.backoff.wait(self.failures, &mut self.rng);
        self.failures = self.failures.saturating_add(1);
        self.link = Link::Down {
            retry_at: now + wait,
        };
        // An unanswered CALL is lost with the connection; what it carried is derived again.
        self.outstanding = None;
    }

    /// The device-derived status of connector `index` (0-based) changed.
    pub fn set_connector_status(&mut self, index: usize, status: Option<ConnectorStatus>) {
        if let Some(c) = self.connectors.get_mut(index) {
            c.current = status;
        }
    }

    /// Handles one text frame from the CSMS.
    pub fn received(&mut self, now: Instant, text: &str, out: &mut Vec<Effect>) {
        if self.link != Link::Up {
            return;
        }
        match Frame::parse(text) {
            Ok(Frame::Call { id, action, .. }) => self.incoming_call(id, &action, out),
            Ok(Frame::CallResult { id, payload }) => match self.take_outstanding(&id) {
                Some(call) => self.call_succeeded(now, call, payload),
                None => log::warn!("{}: CALLRESULT for unknown id {id}", self.ocpp_id()),
            },
            Ok(Frame::CallError {
                id,
                code,
                description,
                ..
            }) => match self.take_outstanding(&id) {
                Some(call) => {
                    log::warn!(
                        "{}: CSMS answered {} with {}: {description}",
                        self.ocpp_id(),
                        call.action(),
                        code.as_str()
                    );
                    self.call_failed(now, call);
                }
                None => log::warn!("{}: CALLERROR for unknown id {id}", self.ocpp_id()),
            },
            Err(e) => {
                log::warn!("{}: malformed frame from CSMS: {e}", self.ocpp_id());
                if let Some(reply) = e.reply() {
                    out.push(Effect::Send(reply.to_text()));
                }
            }
        }
    }

    /// Emits everything that is due at `now`: connecting, timeouts, the next CALL.
    pub fn pump(&mut self, now: Instant, wall: SystemTime, out: &mut Vec<Effect>) {
        if let Link::Down { retry_at } = self.link {
            if retry_at <= now {
                self.link = Link::Connecting;
                out.push(Effect::Connect);
            }
            return;
        }
        if let Some(o) = &self.outstanding {
            if o.deadline > now {
                return;
            }
            let call = o.call;
            log::warn!("{}: no answer to {} in time", self.ocpp_id(), call.action());
            self.outstanding = None;
            self.call_failed(now, call);
        }
        if self.link != Link::Up {
            return;
        }
        if let Some(call) = self.next_call(now) {
            let id = format!("{:08x}-{}", self.id_prefix, self.next_id);
            self.next_id += 1;
            let frame = match calls::build(call, &id, &self.settings, wall) {
                Ok(frame) => frame,
                Err(e) => {
                    log::error!("{}: cannot build {}: {e}", self.ocpp_id(), call.action());
                    return;
                }
            };
            self.outstanding = Some(Outstanding {
                id,
                call,
                deadline: now + self.settings.response_timeout,
            });
            self.last_call_at = now;
            out.push(Effect::Send(frame.to_text()));
        }
    }

    /// When `pump` next has something to do, if ever without new input.
    pub fn next_deadline(&self) -> Option<Instant> {
        match self.link {
            Link::Down { retry_at } => Some(retry_at),
            Link::Connecting => None,
            Link::Up => match &self.outstanding {
                Some(o) => Some(o.deadline),
                None if self.registration != Registration::Accepted => Some(self.boot_at),
                None if self.status_to_send().is_some() => Some(self.last_call_at),
                None => Some(self.last_call_at + self.heartbeat_interval),
            },
        }
    }

    fn next_call(&self, now: Instant) -> Option<Call> {
        if self.registration != Registration::Accepted {
            return (self.boot_at <= now).then_some(Call::Boot);
        }
        if let Some((index, status)) = self.status_to_send() {
            return Some(Call::Status { index, status });
        }
        (self.last_call_at + self.heartbeat_interval <= now).then_some(Call::Heartbeat)
    }

    fn status_to_send(&self) -> Option<(usize, ConnectorStatus)> {
        self.connectors
            .iter()
            .enumerate()
            .find_map(|(i, c)| match c.current {
                Some(s) if c.reported != Some(s) => Some((i, s)),
                _ => None,
            })
    }

    fn take_outstanding(&mut self, id: &str) -> Option<Call> {
        match &self.outstanding {
            Some(o) if o.id == id => self.outstanding.take().map(|o| o.call),
            _ => None,
        }
    }

    fn call_succeeded(&mut self, now: Instant, call: Call, payload: serde_json::Value) {
        match call {
            Call::Boot => match calls::boot_response(&payload) {
                Ok((registration, interval)) => self.registered(now, registration, interval),
                Err(e) => {
                    log::warn!("{}: bad BootNotificationResponse: {e}", self.ocpp_id());
                    self.call_failed(now, call);
                }
            },
            Call::Status { index, status } => {
                if let Some(c) = self.connectors.get_mut(index) {
                    c.reported = Some(status);
                }
            }
            Call::Heartbeat => {}
        }
    }

    fn registered(&mut self, now: Instant, registration: Registration, interval: Duration) {
        log::info!("{}: BootNotification {registration:?}", self.ocpp_id());
        self.registration = registration;
        if registration == Registration::Accepted {
            if !interval.is_zero() {
                self.heartbeat_interval = interval;
            }
            // B01: after boot the CSMS learns every connector's status.
            for c in &mut self.connectors {
                c.reported = None;
            }
        } else {
            let wait = if interval.is_zero() {
                self.settings.backoff.wait_minimum
            } else {
                interval
            };
            self.boot_at = now + wait;
        }
    }

    fn call_failed(&mut self, now: Instant, call: Call) {
        match call {
            Call::Boot => self.boot_at = now + self.settings.backoff.wait_minimum,
            // The CSMS refused it; sending the same status again would be refused again.
            Call::Status { index, status } => {
                if let Some(c) = self.connectors.get_mut(index) {
                    c.reported = Some(status);
                }
            }
            Call::Heartbeat => {}
        }
    }

    fn incoming_call(&mut self, id: String, action: &str, out: &mut Vec<Effect>) {
        if self.registration == Registration::Rejected {
            // B03: a rejected station stays silent until its retry interval.
            log::info!("{}: ignoring {action} while rejected", self.ocpp_id());
            return;
        }
        let reply = Frame::error(
            &id,
            ErrorCode::NotImplemented,
            format!("{action} is not supported"),
        );
        out.push(Effect::Send(reply.to_text()));
    }
}

#[cfg(test)]
mod tests;
