//! The journal writes of one station that are not on disk yet: an ordered log that the hub
//! applies in one commit, retried until it succeeds, while the station sends no transaction
//! message (see `Station::journal_written`).
//!
//! Applied as one SQLite transaction, only the final state of the log matters, so it is kept
//! compact: the bound on it is the station's live queue plus the rows already on disk, not the
//! length of the outage.

use super::JournalOp;

/// Unapplied journal writes of one station, compacted.
#[derive(Debug, Default)]
pub struct Backlog {
    ops: Vec<JournalOp>,
}

impl Backlog {
    /// Adds `op` after every earlier one, dropping what it makes moot.
    pub fn push(&mut self, op: JournalOp) {
        match &op {
            // Keys are never reused within a station, so a message queued and removed while
            // the disk was failing never needs a row at all.
            JournalOp::Remove { key, .. } => {
                let unwritten = self
                    .ops
                    .iter()
                    .position(|o| matches!(o, JournalOp::Append { key: k, .. } if k == key));
                if let Some(i) = unwritten {
                    self.ops.remove(i);
                    return;
                }
            }
            JournalOp::SaveTx { evse, .. } | JournalOp::ClearTx { evse } => {
                self.ops.retain(|o| {
                    !matches!(o, JournalOp::SaveTx { evse: e, .. } | JournalOp::ClearTx { evse: e } if e == evse)
                });
            }
            JournalOp::Append { .. } => {}
        }
        self.ops.push(op);
    }

    /// The writes to apply, in order.
    pub fn ops(&self) -> &[JournalOp] {
        &self.ops
    }

    /// Forgets the writes once they are on disk.
    pub fn clear(&mut self) {
        self.ops.clear();
    }

    /// Writes waiting.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// True when everything is on disk.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::RemoveReason;

    fn append(key: u64) -> JournalOp {
        JournalOp::Append {
            key,
            action: "TransactionEvent".into(),
            payload: format!("{{\"seqNo\":{key}}}"),
        }
    }

    fn remove(key: u64) -> JournalOp {
        JournalOp::Remove {
            key,
            reason: RemoveReason::Delivered,
        }
    }

    #[test]
    fn a_long_outage_keeps_only_what_changes_the_disk() {
        let mut b = Backlog::default();
        b.push(remove(1));
        for key in 2..1000 {
            b.push(append(key));
            b.push(JournalOp::SaveTx {
                evse: 1,
                state: format!("{key}"),
            });
            b.push(JournalOp::Remove {
                key,
                reason: RemoveReason::Overflow,
            });
        }
        b.push(append(1000));
        assert_eq!(
            b.ops(),
            [
                remove(1),
                JournalOp::SaveTx {
                    evse: 1,
                    state: "999".into()
                },
                append(1000)
            ]
        );
        b.push(JournalOp::ClearTx { evse: 1 });
        b.push(JournalOp::SaveTx {
            evse: 2,
            state: "x".into(),
        });
        assert_eq!(
            b.ops()[2..],
            [
                JournalOp::ClearTx { evse: 1 },
                JournalOp::SaveTx {
                    evse: 2,
                    state: "x".into()
                }
            ]
        );
        assert_eq!(b.len(), 4);
        b.clear();
        assert!(b.is_empty());
    }
}
