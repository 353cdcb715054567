//! Transactions inferred from device state (OCPP 2.0.1 block E), one tracker per EVSE.
//!
//! TxStartPoint / TxStopPoint decide when a transaction starts and ends; every change the CSMS
//! must hear about becomes a TransactionEventRequest with a gap-free seqNo.
//!
//! The tracker also says when the charger must stop delivering energy although nobody asked
//! it directly (an authorization that lapsed, a token the CSMS refused: E03, E05); the station
//! turns that into a `Control.Charging` Stop.

mod ended;
mod event;
mod snapshot;

use std::time::{Duration, Instant, SystemTime};

use super::evse::EvseInputs;
pub use crate::ocpp::types::TxPoint;
pub use snapshot::TxSnapshot;

use crate::ocpp::messages::{
    ChargingState, IdToken, Measurand, MeterValue, ReadingContext, Reason, TransactionEventRequest,
    TransactionEventType, TriggerReason,
};
use event::{trigger_for, unix};

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
    /// SampledDataCtrlr.TxEndedInterval: readings of `ended_measurands` between the begin and
    /// the end that the Ended event carries; zero keeps only those two.
    pub ended_interval: Duration,
    /// AlignedDataCtrlr.TxEndedInterval (zero: none) and AlignedDataCtrlr.TxEndedMeasurands:
    /// clock-aligned readings the Ended event carries.
    pub aligned_ended_interval: Duration,
    pub aligned_ended_measurands: Vec<Measurand>,
    /// TxCtrlr.StopTxOnEVSideDisconnect: unplugging ends the transaction whatever the
    /// TxStopPoint (the device cannot tell which side was unplugged, so every unplug counts).
    pub stop_tx_on_ev_side_disconnect: bool,
    /// TxCtrlr.StopTxOnInvalidId: a token the CSMS refuses in a TransactionEventResponse ends
    /// the transaction; otherwise only energy stops, after `max_energy_on_invalid_id_wh`.
    pub stop_tx_on_invalid_id: bool,
    /// TxCtrlr.MaxEnergyOnInvalidId in Wh.
    pub max_energy_on_invalid_id_wh: u64,
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
            ended_interval: Duration::ZERO,
            aligned_ended_interval: Duration::ZERO,
            aligned_ended_measurands: Vec::new(),
            stop_tx_on_ev_side_disconnect: true,
            stop_tx_on_invalid_id: true,
            max_energy_on_invalid_id_wh: 0,
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
    /// E05 without StopTxOnInvalidId: the energy register (Wh) at which energy must stop.
    energy_cap: Option<f64>,
    /// Readings of the ended measurands for the Ended event, oldest first.
    ended_readings: Vec<MeterValue>,
    next_ended_reading: Option<Instant>,
    next_aligned_reading: Option<Instant>,
}

/// Who or what took the authorization away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Deauth {
    /// RequestStopTransaction.
    Remote,
    /// The token presented again at the reader.
    Local,
    /// The CSMS refused the token in a TransactionEventResponse (E05).
    Invalid,
}

/// What happened, for the trigger reason and the stop reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Plugged,
    Unplugged,
    Authorized { remote: bool },
    Deauthorized(Deauth),
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
    /// Set by a stop; cleared once it has been acted on.
    deauthorized: Option<Deauth>,
    ev_connected: bool,
    /// A new transaction may start only after the start condition was false since the last one.
    spent: bool,
    /// The charger must stop delivering energy; see `take_stop_energy`.
    stop_energy: bool,
}

impl TxTracker {
    /// The running transaction, if any.
    pub fn transaction(&self) -> Option<&Tx> {
        self.tx.as_ref()
    }

    /// True once after the charger was enabled for what no longer holds (an authorization
    /// that ran out without a vehicle, a token the CSMS refused): it must be stopped.
    pub fn take_stop_energy(&mut self) -> bool {
        std::mem::take(&mut self.stop_energy)
    }

    /// The token the EVSE is authorized with, if any.
    pub fn authorized_token(&self) -> Option<&str> {
        self.auth.as_ref().map(|a| a.id_token.id_token.as_str())
    }

    /// The EVSE is authorized (remote start or an accepted local token). A new authorization
    /// is a new start condition: with the cable still in after a stop, it starts a new
    /// transaction rather than enabling the charger behind the CSMS's back (F01/F02).
    pub fn authorize(&mut self, auth: Authorization) {
        self.auth = Some(auth);
        self.deauthorized = None;
        if self.tx.is_none() {
            self.spent = false;
        }
    }

    /// False when a remote start could not show in any TransactionEvent: the running
    /// transaction already carries a token of its own.
    pub fn takes_remote_start(&self) -> bool {
        !self.tx.as_ref().is_some_and(|t| t.token_sent)
    }

    /// A stop request (remote: RequestStopTransaction; local: token presented again).
    pub fn deauthorize(&mut self, remote: bool) {
        self.deauthorized = Some(if remote {
            Deauth::Remote
        } else {
            Deauth::Local
        });
    }

    /// E05: the CSMS refused the token of transaction `id` (`energy_wh`: the register now).
    /// With StopTxOnInvalidId the transaction ends (Deauthorized); without it the transaction
    /// goes on and energy stops once MaxEnergyOnInvalidId more has flowed (at once when the
    /// register is unknown). False when `id` is not the running transaction.
    pub fn token_refused(
        &mut self,
        id: &str,
        settings: &TxSettings,
        energy_wh: Option<f64>,
    ) -> bool {
        let Some(tx) = self.tx.as_mut().filter(|t| t.id == id) else {
            return false;
        };
        if settings.stop_tx_on_invalid_id {
            self.deauthorized = Some(Deauth::Invalid);
            self.stop_energy = true;
        } else {
            let allowed = settings.max_energy_on_invalid_id_wh as f64;
            // Unknown register: a cap every reading meets (finite, so the journal keeps it).
            tx.energy_cap = Some(energy_wh.map_or(f64::MIN, |wh| wh + allowed));
        }
        true
    }

    /// When periodic sampling or an authorization timeout next needs `update`.
    pub fn next_deadline(&self) -> Option<Instant> {
        let tx = self.tx.as_ref();
        [
            tx.and_then(|t| t.next_periodic),
            tx.and_then(|t| t.next_ended_reading),
            tx.and_then(|t| t.next_aligned_reading),
            self.auth.as_ref().and_then(|a| a.expires),
        ]
        .into_iter()
        .flatten()
        .min()
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
            self.stop_energy = true;
        }
        if ev {
            if let Some(a) = &mut self.auth {
                a.expires = None;
            }
        }
        let deauthorized = self.deauthorized.take();

        if let Some(how) = deauthorized {
            self.auth = None;
            if self.tx.is_some() {
                self.end(ctx, Cause::Deauthorized(how), out);
                self.spent = self.start_holds(ctx);
                return;
            }
        }
        if self.tx.is_some() {
            let ev_side = unplugged && ctx.settings.stop_tx_on_ev_side_disconnect;
            if ev_side || !self.stop_holds(ctx) {
                let cause = if unplugged {
                    Cause::Unplugged
                } else {
                    Cause::ChargingStateChanged
                };
                self.end(ctx, cause, out);
                if !ev {
                    // With authorization on, the next vehicle must not charge on this one's
                    // authorization: the charger is disabled until a token enables it again.
                    if self.auth.take().is_some() && ctx.settings.auth_enabled {
                        self.stop_energy = true;
                    }
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
            energy_cap: None,
            ended_readings: Vec::new(),
            next_ended_reading: None,
            next_aligned_reading: ended::next_boundary(ctx, ctx.settings.aligned_ended_interval),
        });
        self.spent = true;
        self.take_ended_reading(ctx, ReadingContext::TransactionBegin);
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
        let remote = self.auth.as_ref().map(|a| a.remote_start_id.is_some());
        self.ended_readings_due(ctx);
        let Some(tx) = &mut self.tx else { return };
        let changed = tx.observe(ctx);
        // E05: the energy a refused token may still draw has flowed.
        let capped = tx
            .energy_cap
            .is_some_and(|cap| ctx.inputs.energy_wh().map_or(true, |wh| wh >= cap));
        if capped {
            tx.energy_cap = None;
            self.stop_energy = true;
        }
        // One event carries the current charging state, so one per change is enough.
        let trigger = match remote {
            _ if capped => Some(TriggerReason::Deauthorized),
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
            Cause::Deauthorized(Deauth::Remote) => Reason::Remote,
            Cause::Deauthorized(Deauth::Local) => Reason::Local,
            Cause::Deauthorized(Deauth::Invalid) => Reason::DeAuthorized,
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
        let Some(tx) = &mut self.tx else { return };
        // E06/E09: the Ended event tells the state the EVSE is in now, not the last one sent.
        tx.observe(ctx);
        self.take_ended_reading(ctx, ReadingContext::TransactionEnd);
        let readings = self
            .tx
            .as_mut()
            .map(|t| std::mem::take(&mut t.ended_readings))
            .unwrap_or_default();
        let mut event = self.event(ctx, TransactionEventType::Ended, trigger, None);
        if let Some(e) = &mut event {
            e.transaction_info.stopped_reason = Some(reason);
            e.meter_value = (!readings.is_empty()).then_some(readings);
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
}
