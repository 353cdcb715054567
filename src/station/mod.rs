//! One virtual OCPP 2.0.1 charging station as a sans-IO state machine.
//!
//! Inputs are link events, CSMS frames, device-derived EVSE inputs and the passing of time;
//! outputs are [`Effect`]s (connect, send a frame, command the device) and the next deadline.
//! The hub owns one per device and does all I/O; everything here is deterministic given `now`
//! and a seeded RNG.

mod answers;
mod authorize;
mod backoff;
mod calls;
mod commands;
mod cycle;
pub mod device_model;
mod effects;
mod events;
pub mod evse;
mod handlers;
mod journaling;
pub mod local;
mod meter;
mod oneoff;
mod queue;
mod registration;
mod settings;
pub mod transaction;
mod variables;

use std::time::{Duration, Instant, SystemTime};

use crate::journal::JournalOp;
use crate::ocpp::frame::Frame;
use crate::ocpp::messages::{BootReason, ConnectorStatus};
use crate::util::rng::Rng;

pub use backoff::Backoff;
use calls::{Call, Outstanding};
pub use commands::{WriteReport, UNLOCK_DEADLINE};
pub use effects::{DeviceCommand, Effect};
use evse::EvseInputs;
pub use queue::Retry;
use queue::TxQueue;
pub use settings::{Capabilities, StationSettings};
use transaction::TxTracker;
pub use variables::{BootIdentity, ExternalDef};

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
    Down {
        retry_at: Instant,
    },
    Connecting,
    Up,
    /// Closing for a reset; reconnects as soon as the link is down.
    Resetting,
}

#[derive(Debug, Default)]
struct Evse {
    inputs: EvseInputs,
    /// What the CSMS last acknowledged.
    reported: Option<ConnectorStatus>,
    tx: TxTracker,
    inoperative: bool,
    /// ChangeAvailability that waits for the running transaction to end.
    scheduled_inoperative: Option<bool>,
    /// The token the reader showed last, so each presentation is acted on once.
    presented: Option<String>,
    authorizing: Option<authorize::PendingAuth>,
    /// The CSMS asked for this EVSE's status (TriggerMessage): sent even while Pending.
    status_triggered: bool,
    /// The device link as the CSMS was last told of it by NotifyEvent.
    notified_online: Option<bool>,
    /// The transaction state the journal holds.
    saved: Option<transaction::TxSnapshot>,
    /// The device has answered a read since the start: until then its status is unknown and
    /// neither a connector status nor a (resumed) transaction may be inferred from it.
    known: bool,
}

impl Evse {
    /// The connector status the CSMS should see; `None` while the device has not been read
    /// (an unreachable device is known to be Unavailable).
    fn status(&self) -> Option<ConnectorStatus> {
        if !self.known && self.inputs.online == Some(true) {
            return None;
        }
        self.inputs.connector_status(!self.inoperative)
    }
}

/// A reset that waits for idle EVSEs (OnIdle) or for the reply to go out (Immediate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PendingReset {
    on_idle: bool,
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
    boot_reason: BootReason,
    /// The CSMS asked for the next BootNotification (reason Triggered).
    boot_triggered: bool,
    /// Earliest time a BootNotification may be (re)sent.
    boot_at: Instant,
    heartbeat_interval: Duration,
    heartbeat_due: bool,
    last_call_at: Instant,
    outstanding: Option<Outstanding>,
    evses: Vec<Evse>,
    queue: TxQueue,
    /// Non-transaction messages to send once (triggered messages, security events).
    extra: oneoff::OneOffs,
    reset: Option<PendingReset>,
    /// The next clock-aligned sample.
    next_clock: Option<Instant>,
    /// The eventId of the last NotifyEvent.
    next_event_id: i32,
    model: device_model::DeviceModel,
    external: variables::External,
    /// The report being sent, one NotifyReport page at a time.
    report: Option<device_model::ReportCursor>,
    /// Queue and transaction changes are written to the journal (see `resume_from_journal`).
    journaling: bool,
    /// Journal writes found while restoring, not yet handed out.
    journal_ops: Vec<JournalOp>,
    /// Journal writes were handed out and the hub has not said they are on disk: no
    /// transaction message goes out meanwhile.
    journal_unwritten: bool,
    /// When the link to the CSMS was lost, for OfflineThreshold.
    offline_since: Option<Instant>,
    /// When the open link opened.
    connected_at: Option<Instant>,
    /// An UnlockConnector waiting for the charger's write result.
    pending_unlock: Option<commands::PendingUnlock>,
    /// Template variables (component, variable) whose last write failed, as the CSMS was told.
    failed_writes: Vec<(String, String)>,
    /// The first BootNotification waits until then for the charger's identity.
    identity_until: Instant,
}

/// A link that stayed open this long (or on which the CSMS answered a CALL) worked: the next
/// reconnect starts from the shortest wait. A CSMS that accepts the WebSocket and closes it at
/// once does not reset the back-off.
pub const STABLE_LINK: Duration = Duration::from_secs(60);

impl Station {
    /// A station that will connect at the first `pump`.
    pub fn new(settings: StationSettings, mut rng: Rng, now: Instant) -> Self {
        let evses = (0..settings.evses.max(1))
            .map(|_| Evse::default())
            .collect();
        let model = variables::build_model(&settings);
        let identity_until = now + settings.identity.wait;
        Station {
            model,
            external: variables::External::default(),
            report: None,
            heartbeat_interval: settings.heartbeat_interval,
            id_prefix: rng.next_u64() as u32,
            settings,
            rng,
            next_id: 0,
            link: Link::Down { retry_at: now },
            failures: 0,
            registration: Registration::Unknown,
            boot_reason: BootReason::PowerUp,
            boot_triggered: false,
            boot_at: now,
            heartbeat_due: false,
            last_call_at: now,
            outstanding: None,
            evses,
            queue: TxQueue::default(),
            extra: oneoff::OneOffs::default(),
            reset: None,
            next_clock: None,
            next_event_id: 0,
            journaling: false,
            journal_ops: Vec::new(),
            journal_unwritten: false,
            offline_since: None,
            connected_at: None,
            pending_unlock: None,
            failed_writes: Vec::new(),
            identity_until,
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

    /// The status of EVSE `index` (0-based) as the device makes it, and as the CSMS last
    /// acknowledged it.
    pub fn connector_status(
        &self,
        index: usize,
    ) -> Option<(Option<ConnectorStatus>, Option<ConnectorStatus>)> {
        self.evses.get(index).map(|e| (e.status(), e.reported))
    }

    /// The id of the transaction running on EVSE `index`, if any.
    pub fn transaction_id(&self, index: usize) -> Option<&str> {
        self.evses
            .get(index)?
            .tx
            .transaction()
            .map(|t| t.id.as_str())
    }

    /// Transaction-related messages waiting for the CSMS.
    pub fn queued_messages(&self) -> usize {
        self.queue.len()
    }

    /// The WebSocket opened.
    pub fn connected(&mut self, now: Instant) {
        self.link = Link::Up;
        self.connected_at = Some(now);
        self.last_call_at = now;
        // After an offline period longer than OfflineThreshold the CSMS hears every
        // connector's status again; after a shorter one only what changed.
        if let Some(since) = self.offline_since.take() {
            if now.saturating_duration_since(since) > self.model.offline_threshold() {
                for e in &mut self.evses {
                    e.reported = None;
                }
            }
        }
    }

    /// The WebSocket closed or could not be opened: retry after the back-off.
    pub fn link_down(&mut self, now: Instant) {
        self.offline_since.get_or_insert(now);
        self.pending_unlock = None;
        let stable = self
            .connected_at
            .take()
            .is_some_and(|at| now.saturating_duration_since(at) >= STABLE_LINK);
        if stable {
            self.failures = 0;
        }
        if self.link == Link::Resetting {
            self.link = Link::Down { retry_at: now };
        } else {
            let wait = self.settings.backoff.wait(self.failures, &mut self.rng);
            self.failures = self.failures.saturating_add(1);
            self.link = Link::Down {
                retry_at: now + wait,
            };
        }
        if let Some(o) = self.outstanding.take() {
            // An unanswered transaction message is retried; other CALLs are derived again.
            if o.call == Call::Queued {
                log::info!(
                    "{}: transaction message unanswered, resending later",
                    self.ocpp_id()
                );
            }
        }
    }

    /// The link could not be opened because TLS or HTTP authentication failed; the CSMS hears
    /// of it once connected again (A: security events).
    pub fn auth_failed(&mut self, now: Instant, wall: SystemTime, reason: &str) {
        let kind = if reason.to_ascii_lowercase().contains("certificate") {
            "InvalidCsmsCertificate"
        } else {
            "FailedToAuthenticateAtCsms"
        };
        self.security_event(kind, wall, Some(reason));
        self.link_down(now);
    }

    /// New device-derived inputs for EVSE `index` (0-based).
    pub fn set_inputs(&mut self, index: usize, inputs: EvseInputs) {
        if let Some(e) = self.evses.get_mut(index) {
            e.inputs = inputs;
        }
    }

    /// Handles one text frame from the CSMS.
    pub fn received(&mut self, now: Instant, wall: SystemTime, text: &str, out: &mut Vec<Effect>) {
        if self.link != Link::Up {
            return;
        }
        self.handle_frame(now, wall, text, out);
        self.flush_journal(out);
    }

    fn handle_frame(&mut self, now: Instant, wall: SystemTime, text: &str, out: &mut Vec<Effect>) {
        match Frame::parse(text) {
            Ok(Frame::Call {
                id,
                action,
                payload,
            }) => self.incoming_call(now, wall, id, &action, &payload, out),
            Ok(Frame::CallResult { id, payload }) => match self.take_outstanding(&id) {
                Some(call) => {
                    // The CSMS answers on this link: the next reconnect starts from the
                    // shortest wait.
                    self.failures = 0;
                    self.call_succeeded(now, wall, call, payload, out)
                }
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
                    self.call_failed(now, call, calls::Failure::Refused);
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

    /// Emits everything that is due at `now`: transaction events, connecting, timeouts, the
    /// next CALL.
    pub fn pump(&mut self, now: Instant, wall: SystemTime, out: &mut Vec<Effect>) {
        self.check_presented_tokens(out);
        self.update_transactions(now, wall, out);
        self.mirror_availability();
        self.notify_device_link(wall);
        self.sample_clock(now, wall);
        self.apply_pending_reset(now, wall, out);
        self.expire_unlock(now, out);
        self.feed_report(wall);
        self.flush_journal(out);
        match self.link {
            Link::Down { retry_at } if retry_at <= now => {
                self.link = Link::Connecting;
                out.push(Effect::Connect);
                return;
            }
            Link::Up => {}
            _ => return,
        }
        if let Some(o) = &self.outstanding {
            if o.deadline > now {
                return;
            }
            let call = o.call;
            log::warn!("{}: no answer to {} in time", self.ocpp_id(), call.action());
            self.outstanding = None;
            self.call_failed(now, call, calls::Failure::TimedOut);
        }
        // A message dropped after its last attempt leaves the journal before the next goes out.
        self.flush_journal(out);
        let Some(call) = self.next_call(now) else {
            return;
        };
        let id = format!("{:08x}-{}", self.id_prefix, self.next_id);
        self.next_id += 1;
        let frame = match call {
            Call::Queued => self.queue.ready(now).map(|q| Frame::Call {
                id: id.clone(),
                action: q.action.to_string(),
                payload: q.payload.clone(),
            }),
            Call::Extra => self.extra.front().map(|m| Frame::Call {
                id: id.clone(),
                action: m.action.to_string(),
                payload: m.payload.clone(),
            }),
            Call::Authorize { index } => match self.authorize_frame(index, &id) {
                Some(Ok(frame)) => Some(frame),
                Some(Err(e)) => {
                    log::error!("{}: cannot build Authorize: {e}", self.ocpp_id());
                    self.authorize_failed(index);
                    None
                }
                None => None,
            },
            _ => match calls::build(call, &id, &self.settings, self.boot_reason_now(), wall) {
                Ok(frame) => Some(frame),
                Err(e) => {
                    log::error!("{}: cannot build {}: {e}", self.ocpp_id(), call.action());
                    None
                }
            },
        };
        let Some(frame) = frame else { return };
        self.outstanding = Some(Outstanding {
            id,
            call,
            deadline: now + self.settings.response_timeout,
        });
        self.last_call_at = now;
        if call == Call::Heartbeat {
            self.heartbeat_due = false;
        }
        out.push(Effect::Send(frame.to_text()));
    }

    /// When `pump` next has something to do, if ever without new input.
    pub fn next_deadline(&self) -> Option<Instant> {
        let tx = self
            .evses
            .iter()
            .filter_map(|e| e.tx.next_deadline())
            .chain(self.next_clock)
            .chain(self.unlock_deadline())
            .min();
        let link = match self.link {
            Link::Down { retry_at } => Some(retry_at),
            Link::Connecting | Link::Resetting => None,
            Link::Up => match &self.outstanding {
                Some(o) => Some(o.deadline),
                None if self.registration != Registration::Accepted => {
                    match self.triggered_call() {
                        Some(_) => Some(self.last_call_at.min(self.boot_due())),
                        None => Some(self.boot_due()),
                    }
                }
                None if self.has_work() => {
                    Some(self.queue.not_before().unwrap_or(self.last_call_at))
                }
                None => Some(self.last_call_at + self.heartbeat_interval),
            },
        };
        match (tx, link) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn has_work(&self) -> bool {
        if self.queue_held() {
            return false;
        }
        !self.queue.is_empty()
            || !self.extra.is_empty()
            || self.report.is_some()
            || self.heartbeat_due
            || self.status_to_send().is_some()
            || self.next_authorize().is_some()
    }

    fn next_call(&self, now: Instant) -> Option<Call> {
        if self.registration != Registration::Accepted {
            if self.boot_due() <= now {
                return Some(Call::Boot);
            }
            return self.triggered_call();
        }
        if self.queue_held() {
            return None;
        }
        if self.queue.ready(now).is_some() {
            return Some(Call::Queued);
        }
        if let Some((index, status)) = self.status_to_send() {
            return Some(Call::Status { index, status });
        }
        if let Some(index) = self.next_authorize() {
            return Some(Call::Authorize { index });
        }
        if !self.extra.is_empty() {
            return Some(Call::Extra);
        }
        (self.heartbeat_due || self.last_call_at + self.heartbeat_interval <= now)
            .then_some(Call::Heartbeat)
    }

    /// Transaction messages wait while the journal writes before them are not on disk, and
    /// no other CALL overtakes them meanwhile: the CSMS would hear of a state (a connector
    /// Available, say) before the transaction events that led to it.
    fn queue_held(&self) -> bool {
        self.journal_unwritten && !self.queue.is_empty()
    }

    fn status_to_send(&self) -> Option<(usize, ConnectorStatus)> {
        self.evses
            .iter()
            .enumerate()
            .find_map(|(i, e)| match e.status() {
                Some(s) if e.reported != Some(s) => Some((i, s)),
                _ => None,
            })
    }

    fn security_event(&mut self, kind: &str, wall: SystemTime, tech_info: Option<&str>) {
        let payload = calls::security_event(kind, wall, tech_info);
        let in_flight = self.extra_in_flight();
        self.extra.push_security_event(payload, in_flight);
    }

    /// True while the front one-off message waits for its answer.
    fn extra_in_flight(&self) -> bool {
        self.outstanding
            .as_ref()
            .is_some_and(|o| o.call == Call::Extra)
    }

    fn take_outstanding(&mut self, id: &str) -> Option<Call> {
        match &self.outstanding {
            Some(o) if o.id == id => self.outstanding.take().map(|o| o.call),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod transaction_tests;
