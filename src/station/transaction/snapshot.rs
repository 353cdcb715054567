//! What of a running transaction survives a restart, and carrying on from it.

use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use super::event::unix;
use super::{Authorization, Tx, TxSettings, TxTracker};
use crate::ocpp::messages::{ChargingState, IdToken, MeterValue};

/// The journaled state of a running transaction, as JSON.
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
    /// E05: the energy register (Wh) at which a refused token's energy stops.
    #[serde(default)]
    pub energy_cap_wh: Option<f64>,
    /// Readings kept for the Ended event.
    #[serde(default)]
    pub ended_readings: Vec<MeterValue>,
}

impl TxTracker {
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
            energy_cap_wh: tx.energy_cap,
            ended_readings: tx.ended_readings.clone(),
        })
    }

    /// A tracker that carries on with the journaled transaction after a restart: same id, the
    /// seqNo counting on, periodic samples from `now`. The next `update` compares the device
    /// with the saved state, so a cable pulled meanwhile ends it as an unplug would have.
    pub fn resume(
        snapshot: TxSnapshot,
        now: Instant,
        wall: SystemTime,
        settings: &TxSettings,
    ) -> Self {
        let charging_since = snapshot.charging_since.map(|since| {
            let elapsed = Duration::from_secs(unix(wall).saturating_sub(since));
            now.checked_sub(elapsed).unwrap_or(now)
        });
        let every = |interval: Duration| (!interval.is_zero()).then(|| now + interval);
        let mut tracker = TxTracker {
            tx: Some(Tx {
                id: snapshot.transaction_id,
                next_seq: snapshot.next_seq,
                charging_state: snapshot.charging_state,
                charging_since,
                charging_since_unix: snapshot.charging_since,
                charged: Duration::from_secs(snapshot.charged_secs),
                next_periodic: every(settings.updated_interval),
                token_sent: snapshot.token_sent,
                remote_start_sent: snapshot.remote_start_sent,
                energy_cap: snapshot.energy_cap_wh,
                ended_readings: snapshot.ended_readings,
                next_ended_reading: every(settings.ended_interval),
                next_aligned_reading: None,
            }),
            auth: snapshot.id_token.map(|id_token| Authorization {
                id_token,
                remote_start_id: snapshot.remote_start_id,
                expires: None,
            }),
            deauthorized: None,
            ev_connected: snapshot.ev_connected,
            spent: true,
            stop_energy: false,
        };
        if let Some(tx) = &mut tracker.tx {
            let interval = settings.aligned_ended_interval;
            tx.next_aligned_reading = super::ended::boundary_after(now, wall, interval);
        }
        tracker
    }
}
