//! Transaction-related messages waiting for the CSMS, in order, with the spec's retries, the
//! journal writes that mirror them, and the bound on how many may wait.
//!
//! Bound policy (`max_messages` per station): when a new message makes the queue longer than
//! the bound, the oldest waiting periodic or clock-aligned meter-value TransactionEvent
//! (Updated, trigger MeterValuePeriodic / MeterValueClock) is dropped; when there is none, the
//! oldest other Updated event that carries no idToken. Started and Ended events, and an
//! Updated event with the idToken, are never dropped, so the queue may exceed the bound by
//! those alone. The front message is never dropped: it may be in flight.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::journal::{JournalOp, RemoveReason, StoredMessage};

/// One queued CALL.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    /// The journal key: grows in queue order.
    pub key: u64,
    pub action: &'static str,
    pub payload: serde_json::Value,
    /// Failed attempts so far.
    pub attempts: u32,
}

/// MessageAttemptsTransactionEvent and MessageAttemptIntervalTransactionEvent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub attempts: u32,
    pub interval: Duration,
}

/// How readily the bound policy drops a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// Periodic or clock-aligned meter values: dropped first.
    MeterValues,
    /// Other intermediate events.
    Update,
    /// Started, Ended, or what carries the idToken: never dropped.
    Kept,
}

fn class_of(action: &str, payload: &serde_json::Value) -> Class {
    if action != "TransactionEvent"
        || payload["eventType"] != "Updated"
        || payload.get("idToken").is_some()
    {
        return Class::Kept;
    }
    match payload["triggerReason"].as_str() {
        Some("MeterValuePeriodic" | "MeterValueClock") => Class::MeterValues,
        _ => Class::Update,
    }
}

/// Messages sent strictly in order: the front one goes out, the rest wait for its answer.
#[derive(Debug, Default)]
pub struct TxQueue {
    items: VecDeque<Queued>,
    /// The front message may not be retried before this.
    not_before: Option<Instant>,
    next_key: u64,
    /// `Some(max_messages)` once the queue is journaled; `None` writes nothing.
    journal: Option<usize>,
    /// Journal writes not yet handed to the hub.
    ops: Vec<JournalOp>,
}

impl TxQueue {
    /// Turns journaling on with a bound of `max_messages`, and puts back what the journal held
    /// (in its order) ahead of anything queued since. Entries that cannot be read back are
    /// removed from the journal and returned with why.
    pub fn restore(&mut self, max_messages: usize, stored: Vec<StoredMessage>) -> Vec<String> {
        self.journal = Some(max_messages.max(1));
        let mut problems = Vec::new();
        let mut restored = VecDeque::new();
        for m in stored {
            self.next_key = self.next_key.max(m.key.saturating_add(1));
            let action = match m.action.as_str() {
                "TransactionEvent" => "TransactionEvent",
                other => {
                    problems.push(format!("journal entry {}: unknown action {other}", m.key));
                    self.removed(m.key, RemoveReason::Rejected);
                    continue;
                }
            };
            match serde_json::from_str(&m.payload) {
                Ok(payload) => restored.push_back(Queued {
                    key: m.key,
                    action,
                    payload,
                    attempts: 0,
                }),
                Err(e) => {
                    problems.push(format!("journal entry {}: unreadable payload: {e}", m.key));
                    self.removed(m.key, RemoveReason::Rejected);
                }
            }
        }
        // Anything queued before the journal was read gets keys after the stored ones.
        for mut q in std::mem::take(&mut self.items) {
            q.key = self.next_key;
            self.next_key += 1;
            self.appended(&q);
            restored.push_back(q);
        }
        self.items = restored;
        problems
    }

    /// Appends a message behind every earlier one; returns what the bound made it drop.
    pub fn push(&mut self, action: &'static str, payload: serde_json::Value) -> Option<Queued> {
        let q = Queued {
            key: self.next_key,
            action,
            payload,
            attempts: 0,
        };
        self.next_key += 1;
        self.appended(&q);
        self.items.push_back(q);
        let max = self.journal?;
        if self.items.len() <= max {
            return None;
        }
        let victim = self
            .items
            .iter()
            .enumerate()
            .skip(1)
            .map(|(i, q)| (class_of(q.action, &q.payload), i))
            .filter(|(class, _)| *class != Class::Kept)
            .min()?
            .1;
        let dropped = self.items.remove(victim)?;
        self.removed(dropped.key, RemoveReason::Overflow);
        Some(dropped)
    }

    /// The message to send now, if its retry wait is over.
    pub fn ready(&self, now: Instant) -> Option<&Queued> {
        if self.not_before.is_some_and(|t| t > now) {
            return None;
        }
        self.items.front()
    }

    /// When the front message may be retried.
    pub fn not_before(&self) -> Option<Instant> {
        self.items.front().and(self.not_before)
    }

    /// The CSMS answered the front message.
    pub fn delivered(&mut self) {
        if let Some(q) = self.items.pop_front() {
            self.removed(q.key, RemoveReason::Delivered);
        }
        self.not_before = None;
    }

    /// The front message failed (CALLERROR or no answer): wait `interval × attempts`, or drop
    /// it after the last attempt. Returns the dropped message.
    pub fn failed(&mut self, now: Instant, retry: Retry) -> Option<Queued> {
        let front = self.items.front_mut()?;
        front.attempts += 1;
        if front.attempts >= retry.attempts.max(1) {
            self.not_before = None;
            let dropped = self.items.pop_front()?;
            self.removed(dropped.key, RemoveReason::Rejected);
            return Some(dropped);
        }
        self.not_before = Some(now + retry.interval * front.attempts);
        None
    }

    /// Messages waiting, including one in flight.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when nothing waits.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Journal writes since the last call, in order.
    pub fn take_ops(&mut self) -> impl Iterator<Item = JournalOp> + '_ {
        self.ops.drain(..)
    }

    fn appended(&mut self, q: &Queued) {
        if self.journal.is_some() {
            self.ops.push(JournalOp::Append {
                key: q.key,
                action: q.action.to_string(),
                payload: q.payload.to_string(),
            });
        }
    }

    fn removed(&mut self, key: u64, reason: RemoveReason) {
        if self.journal.is_some() {
            self.ops.push(JournalOp::Remove { key, reason });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn retries_with_growing_waits_then_drops() {
        let t0 = Instant::now();
        let retry = Retry {
            attempts: 3,
            interval: Duration::from_secs(10),
        };
        let mut q = TxQueue::default();
        q.push("TransactionEvent", json!({"seqNo": 0}));
        q.push("TransactionEvent", json!({"seqNo": 1}));
        assert!(q.failed(t0, retry).is_none());
        assert!(q.ready(t0 + Duration::from_secs(9)).is_none());
        assert!(q.ready(t0 + Duration::from_secs(10)).is_some());
        assert!(q.failed(t0, retry).is_none());
        assert_eq!(q.not_before(), Some(t0 + Duration::from_secs(20)));
        let dropped = q.failed(t0, retry).unwrap();
        assert_eq!(dropped.payload["seqNo"], 0);
        assert_eq!(q.ready(t0).unwrap().payload["seqNo"], 1);
        q.delivered();
        assert!(q.is_empty());
        assert_eq!(q.take_ops().count(), 0, "not journaled: no writes");
    }

    fn event(seq: i32, kind: &str, trigger: &str) -> serde_json::Value {
        json!({"seqNo": seq, "eventType": kind, "triggerReason": trigger})
    }

    fn seqs(q: &TxQueue) -> Vec<i64> {
        q.items
            .iter()
            .map(|i| i.payload["seqNo"].as_i64().unwrap())
            .collect()
    }

    #[test]
    fn the_bound_drops_meter_values_first_then_updates_never_started_or_ended() {
        let mut q = TxQueue::default();
        q.restore(4, Vec::new());
        q.push("TransactionEvent", event(0, "Started", "CablePluggedIn"));
        q.push(
            "TransactionEvent",
            event(1, "Updated", "ChargingStateChanged"),
        );
        q.push(
            "TransactionEvent",
            event(2, "Updated", "MeterValuePeriodic"),
        );
        q.push("TransactionEvent", event(3, "Updated", "MeterValueClock"));
        let _ = q.take_ops().count();
        let dropped = q
            .push(
                "TransactionEvent",
                event(4, "Updated", "MeterValuePeriodic"),
            )
            .unwrap();
        assert_eq!(dropped.payload["seqNo"], 2, "oldest meter value first");
        let ops: Vec<JournalOp> = q.take_ops().collect();
        assert!(matches!(ops[0], JournalOp::Append { key: 4, .. }));
        assert_eq!(
            ops[1],
            JournalOp::Remove {
                key: 2,
                reason: RemoveReason::Overflow
            }
        );
        q.push(
            "TransactionEvent",
            event(5, "Updated", "MeterValuePeriodic"),
        );
        q.push(
            "TransactionEvent",
            event(6, "Updated", "MeterValuePeriodic"),
        );
        assert_eq!(seqs(&q), [0, 1, 5, 6]);
        // Only the state change left to drop besides meter values of lower rank.
        let dropped = q.push("TransactionEvent", event(7, "Ended", "EVCommunicationLost"));
        assert_eq!(dropped.unwrap().payload["seqNo"], 5);
        q.push("TransactionEvent", event(0, "Started", "CablePluggedIn"));
        assert_eq!(seqs(&q), [0, 1, 7, 0]);
        q.push("TransactionEvent", event(1, "Ended", "EVCommunicationLost"));
        assert_eq!(seqs(&q), [0, 7, 0, 1], "then the other update");
        assert!(q
            .push("TransactionEvent", event(2, "Started", "CablePluggedIn"))
            .is_none());
        assert_eq!(q.len(), 5, "Started and Ended are kept past the bound");
    }

    #[test]
    fn the_front_and_events_with_the_token_are_never_dropped() {
        let mut q = TxQueue::default();
        q.restore(1, Vec::new());
        q.push(
            "TransactionEvent",
            event(0, "Updated", "MeterValuePeriodic"),
        );
        let mut with_token = event(1, "Updated", "Authorized");
        with_token["idToken"] = json!({"idToken": "A", "type": "ISO14443"});
        assert!(q.push("TransactionEvent", with_token).is_none());
        assert_eq!(seqs(&q), [0, 1]);
    }

    #[test]
    fn restore_puts_stored_messages_first_and_journals_every_change() {
        let mut q = TxQueue::default();
        q.push("TransactionEvent", json!({"seqNo": 9}));
        let stored = vec![
            StoredMessage {
                key: 4,
                action: "TransactionEvent".into(),
                payload: "{\"seqNo\":1}".into(),
            },
            StoredMessage {
                key: 5,
                action: "Frobnicate".into(),
                payload: "{}".into(),
            },
            StoredMessage {
                key: 6,
                action: "TransactionEvent".into(),
                payload: "{not json".into(),
            },
        ];
        let problems = q.restore(100, stored);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(seqs(&q), [1, 9]);
        let ops: Vec<JournalOp> = q.take_ops().collect();
        assert_eq!(
            ops,
            [
                JournalOp::Remove {
                    key: 5,
                    reason: RemoveReason::Rejected
                },
                JournalOp::Remove {
                    key: 6,
                    reason: RemoveReason::Rejected
                },
                JournalOp::Append {
                    key: 7,
                    action: "TransactionEvent".into(),
                    payload: "{\"seqNo\":9}".into()
                },
            ]
        );
        q.delivered();
        assert_eq!(
            q.take_ops().collect::<Vec<_>>(),
            [JournalOp::Remove {
                key: 4,
                reason: RemoveReason::Delivered
            }]
        );
        q.push("TransactionEvent", json!({"seqNo": 10}));
        assert!(matches!(
            q.take_ops().next(),
            Some(JournalOp::Append { key: 8, .. })
        ));
    }
}
