//! The station's side of the journal: restoring what a previous run left, and saying in
//! [`Effect::Journal`]s what the hub must write before the station's next frame goes out.

use std::time::{Instant, SystemTime};

use super::transaction::{TxSnapshot, TxTracker};
use super::{Effect, Station};
use crate::journal::{JournalOp, Stored};

impl Station {
    /// Turns journaling on (bounded to `max_messages` queued messages) and takes back what the
    /// journal kept: unsent messages go out first, in their order; open transactions resume
    /// with their id and seqNo once [`Station::device_known`] says the device was read.
    pub fn resume_from_journal(
        &mut self,
        now: Instant,
        wall: SystemTime,
        max_messages: usize,
        stored: Stored,
    ) {
        self.journaling = true;
        let waiting = stored.messages.len();
        for problem in self.queue.restore(max_messages, stored.messages) {
            log::error!("{}: {problem}; dropped", self.ocpp_id());
        }
        for saved in stored.transactions {
            let index = (saved.evse as usize).wrapping_sub(1);
            let snapshot = match serde_json::from_str::<TxSnapshot>(&saved.state) {
                Ok(s) => s,
                Err(e) => {
                    log::error!(
                        "{}: EVSE {}: unreadable transaction state: {e}; forgotten",
                        self.ocpp_id(),
                        saved.evse
                    );
                    self.journal_ops
                        .push(JournalOp::ClearTx { evse: saved.evse });
                    continue;
                }
            };
            let Some(evse) = self.evses.get_mut(index) else {
                log::error!(
                    "{}: transaction {} on EVSE {} which this station no longer has; forgotten",
                    self.settings.ocpp_id,
                    snapshot.transaction_id,
                    saved.evse
                );
                self.journal_ops
                    .push(JournalOp::ClearTx { evse: saved.evse });
                continue;
            };
            log::info!(
                "{}: EVSE {}: transaction {} (next seqNo {}) resumes once the device is read",
                self.settings.ocpp_id,
                saved.evse,
                snapshot.transaction_id,
                snapshot.next_seq
            );
            evse.tx = TxTracker::resume(snapshot.clone(), now, wall, &self.settings.tx);
            evse.saved = Some(snapshot);
        }
        if waiting > 0 {
            log::info!(
                "{}: {} journaled message(s) to send",
                self.ocpp_id(),
                self.queue.len()
            );
        }
    }

    /// The device of EVSE `index` has been read since the start: its connector status may be
    /// reported, and a resumed transaction compared with it (ended if the cable went, carried
    /// on if it is still plugged in).
    pub fn device_known(&mut self, index: usize) {
        if let Some(evse) = self.evses.get_mut(index) {
            evse.known = true;
        }
    }

    /// The hub has put every journal write handed out so far on disk; returns whether any
    /// was waiting, i.e. whether transaction messages may now go out that could not before.
    pub fn journal_written(&mut self) -> bool {
        std::mem::take(&mut self.journal_unwritten)
    }

    /// Hands the journal writes due so far to the hub, in order: queue changes, then the
    /// transaction state of every EVSE whose state changed with them. No transaction message
    /// goes out until the hub confirms them with [`Station::journal_written`].
    pub(super) fn flush_journal(&mut self, out: &mut Vec<Effect>) {
        if !self.journaling {
            return;
        }
        let before = out.len();
        self.hand_out_journal_ops(out);
        if out.len() > before {
            self.journal_unwritten = true;
        }
    }

    fn hand_out_journal_ops(&mut self, out: &mut Vec<Effect>) {
        out.extend(self.journal_ops.drain(..).map(Effect::Journal));
        out.extend(self.queue.take_ops().map(Effect::Journal));
        for (index, evse) in self.evses.iter_mut().enumerate() {
            let now = evse.tx.snapshot();
            if now == evse.saved {
                continue;
            }
            let id = index as u32 + 1;
            let op = match &now {
                Some(snapshot) => match serde_json::to_string(snapshot) {
                    Ok(state) => JournalOp::SaveTx { evse: id, state },
                    Err(e) => {
                        log::error!(
                            "{}: cannot encode transaction state: {e}",
                            self.settings.ocpp_id
                        );
                        continue;
                    }
                },
                None => JournalOp::ClearTx { evse: id },
            };
            out.push(Effect::Journal(op));
            evse.saved = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Instant, SystemTime};

    use super::super::evse::EvseInputs;
    use super::super::transaction::{TxContext, TxSettings, TxSnapshot, TxTracker};
    use crate::ocpp::messages::{ChargingState, Reason};

    #[test]
    fn a_snapshot_survives_json_and_resumes_the_same_transaction() {
        let (now, wall) = (Instant::now(), SystemTime::now());
        let settings = TxSettings::default();
        let inputs = EvseInputs {
            online: Some(true),
            vehicle_connected: Some(true),
            charging_state: Some(ChargingState::Charging),
            ..EvseInputs::default()
        };
        let ctx = TxContext {
            now,
            wall,
            evse_id: 1,
            settings: &settings,
            inputs: &inputs,
            offline: true,
        };
        let mut tracker = TxTracker::default();
        assert!(tracker.snapshot().is_none());
        let mut events = Vec::new();
        tracker.update(&ctx, &mut || "tx-1".to_string(), &mut events);
        tracker.trigger(&ctx, &mut events);
        let snapshot = tracker.snapshot().unwrap();
        assert_eq!((snapshot.next_seq, snapshot.ev_connected), (2, true));

        let json = serde_json::to_string(&snapshot).unwrap();
        let back: TxSnapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back, snapshot);
        let mut resumed = TxTracker::resume(back, now, wall, &settings);
        assert_eq!(resumed.snapshot().unwrap(), snapshot);

        let unplugged = EvseInputs {
            vehicle_connected: Some(false),
            charging_state: None,
            ..inputs.clone()
        };
        let ctx = TxContext {
            inputs: &unplugged,
            ..ctx
        };
        let mut events = Vec::new();
        resumed.update(&ctx, &mut || "tx-2".to_string(), &mut events);
        let [ended] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(ended.seq_no, 2);
        assert_eq!(ended.transaction_info.transaction_id, "tx-1");
        assert_eq!(
            ended.transaction_info.stopped_reason,
            Some(Reason::EVDisconnected)
        );
        assert!(resumed.snapshot().is_none());
    }
}
