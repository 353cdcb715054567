//! Building a TransactionEventRequest of the running transaction: seqNo, the token and
//! remoteStartId once each, the charging time and the meter reading.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Cause, Deauth, Tx, TxContext, TxTracker};
use crate::ocpp::messages::{
    ChargingState, Evse, IdToken, IdTokenType, Measurand, ReadingContext, Transaction,
    TransactionEventRequest, TransactionEventType, TriggerReason,
};
use crate::station::meter::meter_value;
use crate::util::time::rfc3339;

impl Tx {
    /// Takes in the device's charging state; true when it changed.
    pub(super) fn observe(&mut self, ctx: &TxContext<'_>) -> bool {
        let state = ctx.inputs.charging_state();
        if state == self.charging_state {
            return false;
        }
        self.charged += self
            .charging_since
            .take()
            .map_or(Duration::ZERO, |s| ctx.now.saturating_duration_since(s));
        self.charging_since_unix = None;
        if state == ChargingState::Charging {
            self.charging_since = Some(ctx.now);
            self.charging_since_unix = Some(unix(ctx.wall));
        }
        self.charging_state = state;
        true
    }
}

impl TxTracker {
    /// The next event of the running transaction, with the next seqNo.
    pub(super) fn event(
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
pub(super) fn unix(wall: SystemTime) -> u64 {
    wall.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

pub(super) fn trigger_for(cause: Cause) -> TriggerReason {
    match cause {
        Cause::Plugged => TriggerReason::CablePluggedIn,
        // E06: the cable was pulled out on the EV side.
        Cause::Unplugged => TriggerReason::EVCommunicationLost,
        Cause::Authorized { remote: true } => TriggerReason::RemoteStart,
        Cause::Authorized { remote: false } => TriggerReason::Authorized,
        Cause::Deauthorized(Deauth::Remote) => TriggerReason::RemoteStop,
        Cause::Deauthorized(Deauth::Local) => TriggerReason::StopAuthorized,
        Cause::Deauthorized(Deauth::Invalid) => TriggerReason::Deauthorized,
        Cause::ChargingStateChanged => TriggerReason::ChargingStateChanged,
    }
}
