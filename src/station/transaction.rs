//! Transactions inferred from device state (OCPP 2.0.1 block E), one tracker per EVSE.
//!
//! TxStartPoint / TxStopPoint decide when a transaction starts and ends; every change the CSMS
//! must hear about becomes a TransactionEventRequest with a gap-free seqNo.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::evse::EvseInputs;
use super::meter::meter_value;
pub use crate::ocpp::types::TxPoint;

use crate::ocpp::messages::{
    ChargingState, Evse, IdToken, IdTokenType, Measurand, ReadingContext, Reason, Transaction,
    TransactionEventRequest, TransactionEventType, TriggerReason,
};
use crate::util::time::rfc3339;

/// The device-model settings that shape transactions.
#[derive(Debug, Clone, PartialEq)]
pub struct TxSettings {
    pub start_points: Vec<TxPoint>,
    pub stop_points: Vec<TxPoint>,
    /// AuthCtrlr.Enabled: false lets charging start without a token.
    pub auth_enabled: bool,
    /// AuthCtrlr.AuthorizeRemoteStart: remote starts are checked with Authorize first.
    pub authorize_remote_start: bool,
    /// TxCtrlr.EVConnectionTimeOut: how long an authorization waits for the cable.
    pub ev_connection_timeout: Duration,
    /// SampledDataCtrlr.TxUpdatedInterval; zero sends no periodic samples.
    pub updated_interval: Duration,
    pub started_measurands: Vec<Measurand>,
    pub updated_measurands: Vec<Measurand>,
    pub ended_measurands: Vec<Measurand>,
}

impl Default for TxSettings {
    fn default() -> Self {
        TxSettings {
            start_points: vec![TxPoint::EVConnected],
            stop_points: vec![TxPoint::EVConnected],
            auth_enabled: false,
            authorize_remote_start: false,
            ev_connection_timeout: Duration::from_secs(120),
            updated_interval: Duration::from_secs(60),
            started_measurands: vec![Measurand::EnergyActiveImportRegister],
            updated_measurands: vec![
                Measurand::EnergyActiveImportRegister,
                Measurand::PowerActiveImport,
            ],
            ended_measurands: vec![Measurand::EnergyActiveImportRegister],
        }
    }
}

/// Who may charge at this EVSE.
#[derive(Debug, Clone, PartialEq)]
pub struct Authorization {
    pub id_token: IdToken,
    /// Set when the CSMS started the transaction (F01/F02).
    pub remote_start_id: Option<i32>,
    /// An authorization given before the cable is plugged in lapses at this time.
    pub expires: Option<Instant>,
}

/// A transaction in progress.
#[derive(Debug, Clone, PartialEq)]
pub struct Tx {
    pub id: String,
    next_seq: i32,
    charging_state: ChargingState,
    charging_since: Option<Instant>,
    /// `charging_since` on the wall clock (Unix seconds), so a restart can count on from it.
    charging_since_unix: Option<u64>,
    charged: Duration,
    next_periodic: Option<Instant>,
    /// The idToken of the current authorization has been sent in an event.
    token_sent: bool,
    /// The remoteStartId has been sent.
    remote_start_sent: bool,
}

/// What of a running transaction survives a restart: the journal keeps it as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TxSnapshot {
    pub transaction_id: String,
    /// The seqNo of the next event.
    pub next_seq: i32,
    pub charging_state: ChargingState,
    /// Seconds charged before the current charging period.
    pub charged_secs: u64,
    /// Start of the current charging period (Unix seconds), while charging.
    pub charging_since: Option<u64>,
    pub ev_connected: bool,
    pub token_sent: bool,
    pub remote_start_sent: bool,
    pub id_token: Option<IdToken>,
    pub remote_start_id: Option<i32>,
}

/// What happened, for the trigger reason and the stop reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Plugged,
    Unplugged,
    Authorized { remote: bool },
    Deauthorized { remote: bool },
    ChargingStateChanged,
}

/// Inputs for one `update`.
pub struct TxContext<'a> {
    pub now: Instant,
    pub wall: SystemTime,
    pub evse_id: i32,
    pub settings: &'a TxSettings,
    pub inputs: &'a EvseInputs,
    /// The events are generated while the CSMS link is down.
    pub offline: bool,
}

/// The transaction state of one EVSE.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TxTracker {
    tx: Option<Tx>,
    auth: Option<Authorization>,
    /// Set by a remote/local stop; cleared once it has been acted on.
    deauthorized: Option<bool>,
    ev_connected: bool,
    /// A new transaction may start only after the start condition was false since the last one.
    spent: bool,
    /// An authorization ran out without a vehicle (EVConnectionTimeOut); see `take_lapsed`.
    lapsed: bool,
}

impl TxTracker {
    /// The running transaction, if any.
    pub fn transaction(&self) -> Option<&Tx> {
        self.tx.as_ref()
    }

    /// The state to journal while a transaction runs; `None` when none does.
    pub fn snapshot(&self) -> Option<TxSnapshot> {
        let tx = self.tx.as_ref()?;
        Some(TxSnapshot {
            transaction_id: tx.id.clone(),
            next_seq: tx.next_seq,
            charging_state: tx.charging_state,
            charged_secs: tx.charged.as_secs(),
            charging_since: tx.charging_since_unix,
            ev_connected: self.ev_connected,
            token_sent: tx.token_sent,
            remote_start_sent: tx.remote_start_sent,
            id_token: self.auth.as_ref().map(|a| a.id_token.clone()),
            remote_start_id: self.auth.as_ref().and_then(|a| a.remote_start_id),
        })
    }

    /// A tracker that carries on with the journaled transaction after a restart: same id, the
    /// seqNo counting on, periodic samples from `now`. The next `update` compares the device
    /// with the saved state, so a cable pulled meanwhile ends it as an unplug would have.
    pub fn resume(
        snapshot: TxSnapshot,
        now: Instant,
        wall: SystemTime,
        periodic: Duration,
    ) -> Self {
        let charging_since = snapshot.charging_since.map(|since| {
            let elapsed = Duration::from_secs(unix(wall).saturating_sub(since));
            now.checked_sub(elapsed).unwrap_or(now)
        });
        TxTracker {
            tx: Some(Tx {
                id: snapshot.transaction_id,
                next_seq: snapshot.next_seq,
                charging_state: snapshot.charging_state,
                charging_since,
                charging_since_unix: snapshot.charging_since,
                charged: Duration::from_secs(snapshot.charged_secs),
                next_periodic: (!periodic.is_zero()).then(|| now + periodic),
                token_sent: snapshot.token_sent,
                remote_start_sent: snapshot.remote_start_sent,
            }),
            auth: snapshot.id_token.map(|id_token| Authorization {
                id_token,
                remote_start_id: snapshot.remote_start_id,
                expires: None,
            }),
            deauthorized: None,
            ev_connected: snapshot.ev_connected,
            spent: true,
            lapsed: false,
        }
    }

    /// True once after an authorization ran out without a vehicle: a charger enabled for it
    /// must be disabled again.
    pub fn take_lapsed(&mut self) -> bool {
        std::mem::take(&mut self.lapsed)
    }

    /// The token the EVSE is authorized with, if any.
    pub fn authorized_token(&self) -> Option<&str> {
        self.auth.as_ref().map(|a| a.id_token.id_token.as_str())
    }

    /// The EVSE is authorized (remote start or an accepted local token).
    pub fn authorize(&mut self, auth: Authorization) {
        self.auth = Some(auth);
        self.deauthorized = None;
    }

    /// A stop request (remote: RequestStopTransaction; local: token presented again).
    pub fn deauthorize(&mut self, remote: bool) {
        self.deauthorized = Some(remote);
    }

    /// When periodic sampling or an authorization timeout next needs `update`.
    pub fn next_deadline(&self) -> Option<Instant> {
        let periodic = self.tx.as_ref().and_then(|t| t.next_periodic);
        let expiry = self.auth.as_ref().and_then(|a| a.expires);
        match (periodic, expiry) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Re-evaluates the EVSE; appends the events the CSMS must receive, in order.
    pub fn update(
        &mut self,
        ctx: &TxContext<'_>,
        new_id: &mut dyn FnMut() -> String,
        out: &mut Vec<TransactionEventRequest>,
    ) {
        let inputs = ctx.inputs;
        let ev = inputs.ev_connected();
        let plugged = ev && !self.ev_connected;
        let unplugged = !ev && self.ev_connected;
        self.ev_connected = ev;
        if self
            .auth
            .as_ref()
            .and_then(|a| a.expires)
            .is_some_and(|at| at <= ctx.now && !ev)
        {
            log::info!(
                "EVSE {}: authorization lapsed, no vehicle connected",
                ctx.evse_id
            );
            self.auth = None;
            self.lapsed = true;
        }
        if ev {
            if let Some(a) = &mut self.auth {
                a.expires = None;
            }
        }
        let deauthorized = self.deauthorized.take();

        if let Some(remote) = deauthorized {
            self.auth = None;
            if self.tx.is_some() {
                let cause = Cause::Deauthorized { remote };
                self.end(ctx, cause, out);
                self.spent = self.start_holds(ctx);
                return;
            }
        }
        if self.tx.is_some() {
            if !self.stop_holds(ctx) {
                let cause = if unplugged {
                    Cause::Unplugged
                } else {
                    Cause::ChargingStateChanged
                };
                self.end(ctx, cause, out);
                if !ev {
                    self.auth = None;
                }
                // A condition that still holds (the cable after a remote stop) must first clear.
                self.spent = self.start_holds(ctx);
                return;
            }
            self.progress(ctx, plugged, out);
            return;
        }
        let holds = self.start_holds(ctx);
        if !holds {
            self.spent = false;
            if !ev && self.auth.as_ref().is_some_and(|a| a.expires.is_none()) {
                // The vehicle left: an authorization used for it does not carry over.
                self.auth = None;
            }
            return;
        }
        if self.spent {
            return;
        }
        let cause = if plugged {
            Cause::Plugged
        } else if let Some(a) = &self.auth {
            Cause::Authorized {
                remote: a.remote_start_id.is_some(),
            }
        } else if inputs.charging_state() == ChargingState::Charging {
            Cause::ChargingStateChanged
        } else {
            Cause::Plugged
        };
        self.start(ctx, cause, new_id(), out);
    }

    fn authorized(&self, ctx: &TxContext<'_>) -> bool {
        self.auth.is_some() || (!ctx.settings.auth_enabled && ctx.inputs.ev_connected())
    }

    fn point_holds(&self, p: TxPoint, ctx: &TxContext<'_>) -> Option<bool> {
        let ev = ctx.inputs.ev_connected();
        match p {
            TxPoint::EVConnected => Some(ev),
            TxPoint::Authorized => Some(self.authorized(ctx)),
            TxPoint::PowerPathClosed => Some(ev && self.authorized(ctx)),
            TxPoint::EnergyTransfer => Some(ctx.inputs.charging_state() == ChargingState::Charging),
            TxPoint::ParkingBayOccupancy | TxPoint::DataSigned => None,
        }
    }

    fn start_holds(&self, ctx: &TxContext<'_>) -> bool {
        ctx.settings
            .start_points
            .iter()
            .any(|p| self.point_holds(*p, ctx) == Some(true))
    }

    /// True while no stop point has stopped holding.
    fn stop_holds(&self, ctx: &TxContext<'_>) -> bool {
        ctx.settings
            .stop_points
            .iter()
            .all(|p| self.point_holds(*p, ctx) != Some(false))
    }

    fn start(
        &mut self,
        ctx: &TxContext<'_>,
        cause: Cause,
        id: String,
        out: &mut Vec<TransactionEventRequest>,
    ) {
        let state = ctx.inputs.charging_state();
        let periodic = ctx.settings.updated_interval;
        self.tx = Some(Tx {
            id,
            next_seq: 0,
            charging_state: state,
            charging_since: (state == ChargingState::Charging).then_some(ctx.now),
            charging_since_unix: (state == ChargingState::Charging).then(|| unix(ctx.wall)),
            charged: Duration::ZERO,
            next_periodic: (!periodic.is_zero()).then(|| ctx.now + periodic),
            token_sent: false,
            remote_start_sent: false,
        });
        self.spent = true;
        let measurands = ctx.settings.started_measurands.clone();
        let event = self.event(
            ctx,
            TransactionEventType::Started,
            trigger_for(cause),
            Some((&measurands, ReadingContext::TransactionBegin)),
        );
        out.extend(event);
    }

    /// Events inside a running transaction: plug-in after authorization, a late
    /// authorization, charging-state changes, periodic samples.
    fn progress(
        &mut self,
        ctx: &TxContext<'_>,
        plugged: bool,
        out: &mut Vec<TransactionEventRequest>,
    ) {
        let state = ctx.inputs.charging_state();
        let remote = self.auth.as_ref().map(|a| a.remote_start_id.is_some());
        let Some(tx) = &mut self.tx else { return };
        let changed = state != tx.charging_state;
        if changed {
            tx.charged += tx
                .charging_since
                .take()
                .map_or(Duration::ZERO, |s| ctx.now.saturating_duration_since(s));
            tx.charging_since_unix = None;
            if state == ChargingState::Charging {
                tx.charging_since = Some(ctx.now);
                tx.charging_since_unix = Some(unix(ctx.wall));
            }
            tx.charging_state = state;
        }
        // One event carries the current charging state, so one per change is enough.
        let trigger = match remote {
            Some(remote) if !tx.token_sent => Some(trigger_for(Cause::Authorized { remote })),
            _ if plugged => Some(TriggerReason::CablePluggedIn),
            _ if changed => Some(TriggerReason::ChargingStateChanged),
            _ => None,
        };
        let periodic_due = tx.next_periodic.is_some_and(|at| at <= ctx.now);
        if periodic_due {
            tx.next_periodic = Some(ctx.now + ctx.settings.updated_interval);
        }
        if let Some(trigger) = trigger {
            out.extend(self.event(ctx, TransactionEventType::Updated, trigger, None));
        }
        if periodic_due {
            let measurands = ctx.settings.updated_measurands.clone();
            out.extend(self.event(
                ctx,
                TransactionEventType::Updated,
                TriggerReason::MeterValuePeriodic,
                Some((&measurands, ReadingContext::SamplePeriodic)),
            ));
        }
    }

    fn end(&mut self, ctx: &TxContext<'_>, cause: Cause, out: &mut Vec<TransactionEventRequest>) {
        let reason = match cause {
            Cause::Unplugged => Reason::EVDisconnected,
            Cause::Deauthorized { remote: true } => Reason::Remote,
            Cause::Deauthorized { remote: false } => Reason::Local,
            Cause::ChargingStateChanged => Reason::StoppedByEV,
            Cause::Plugged | Cause::Authorized { .. } => Reason::Other,
        };
        self.end_with(ctx, trigger_for(cause), reason, out);
    }

    /// Ends the transaction for a reason outside the device (reset, power loss, reboot).
    pub fn end_with(
        &mut self,
        ctx: &TxContext<'_>,
        trigger: TriggerReason,
        reason: Reason,
        out: &mut Vec<TransactionEventRequest>,
    ) {
        if self.tx.is_none() {
            return;
        }
        let measurands = ctx.settings.ended_measurands.clone();
        let mut event = self.event(
            ctx,
            TransactionEventType::Ended,
            trigger,
            Some((&measurands, ReadingContext::TransactionEnd)),
        );
        if let Some(e) = &mut event {
            e.transaction_info.stopped_reason = Some(reason);
        }
        out.extend(event);
        self.tx = None;
    }

    /// J01: clock-aligned values go into the running transaction; false when none runs.
    pub fn clock(
        &mut self,
        ctx: &TxContext<'_>,
        measurands: &[Measurand],
        out: &mut Vec<TransactionEventRequest>,
    ) -> bool {
        if self.tx.is_none() {
            return false;
        }
        out.extend(self.event(
            ctx,
            TransactionEventType::Updated,
            TriggerReason::MeterValueClock,
            Some((measurands, ReadingContext::SampleClock)),
        ));
        true
    }

    /// F06: a TransactionEvent the CSMS asked for with TriggerMessage.
    pub fn trigger(&mut self, ctx: &TxContext<'_>, out: &mut Vec<TransactionEventRequest>) {
        let measurands = ctx.settings.updated_measurands.clone();
        out.extend(self.event(
            ctx,
            TransactionEventType::Updated,
            TriggerReason::Trigger,
            Some((&measurands, ReadingContext::Trigger)),
        ));
    }

    /// The next event of the running transaction, with the next seqNo.
    fn event(
        &mut self,
        ctx: &TxContext<'_>,
        event_type: TransactionEventType,
        trigger: TriggerReason,
        meter: Option<(&[Measurand], ReadingContext)>,
    ) -> Option<TransactionEventRequest> {
        let auth = self.auth.clone();
        let no_auth = !ctx.settings.auth_enabled;
        let tx = self.tx.as_mut()?;
        let seq_no = tx.next_seq;
        tx.next_seq += 1;
        let charging_for = tx.charged
            + tx.charging_since
                .map_or(Duration::ZERO, |s| ctx.now.saturating_duration_since(s));
        let id_token = match &auth {
            Some(a) if !tx.token_sent => {
                tx.token_sent = true;
                Some(a.id_token.clone())
            }
            // C: with authorization off, the transaction starts with a NoAuthorization token.
            None if no_auth && seq_no == 0 => Some(IdToken {
                id_token: String::new(),
                kind: IdTokenType::NoAuthorization,
                additional_info: None,
            }),
            _ => None,
        };
        let remote_start_id = match auth.and_then(|a| a.remote_start_id) {
            Some(id) if !tx.remote_start_sent => {
                tx.remote_start_sent = true;
                Some(id)
            }
            _ => None,
        };
        let meter_value = meter.and_then(|(measurands, context)| {
            meter_value(ctx.inputs, measurands, context, ctx.wall).map(|m| vec![m])
        });
        Some(TransactionEventRequest {
            event_type,
            timestamp: rfc3339(ctx.wall),
            trigger_reason: trigger,
            seq_no,
            offline: ctx.offline.then_some(true),
            number_of_phases_used: None,
            cable_max_current: None,
            reservation_id: None,
            transaction_info: Transaction {
                transaction_id: tx.id.clone(),
                charging_state: Some(tx.charging_state),
                time_spent_charging: Some(charging_for.as_secs().min(i32::MAX as u64) as i32),
                stopped_reason: None,
                remote_start_id,
            },
            evse: (seq_no == 0).then_some(Evse {
                id: ctx.evse_id,
                connector_id: Some(1),
            }),
            id_token,
            meter_value,
        })
    }
}

/// Whole seconds since the Unix epoch (0 before it).
fn unix(wall: SystemTime) -> u64 {
    wall.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn trigger_for(cause: Cause) -> TriggerReason {
    match cause {
        Cause::Plugged => TriggerReason::CablePluggedIn,
        // E06: the cable was pulled out on the EV side.
        Cause::Unplugged => TriggerReason::EVCommunicationLost,
        Cause::Authorized { remote: true } => TriggerReason::RemoteStart,
        Cause::Authorized { remote: false } => TriggerReason::Authorized,
        Cause::Deauthorized { remote: true } => TriggerReason::RemoteStop,
        Cause::Deauthorized { remote: false } => TriggerReason::StopAuthorized,
        Cause::ChargingStateChanged => TriggerReason::ChargingStateChanged,
    }
}
