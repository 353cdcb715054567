//! Transaction-related messages waiting for the CSMS, in order, with the spec's retries.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One queued CALL.
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
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

/// Messages sent strictly in order: the front one goes out, the rest wait for its answer.
#[derive(Debug, Default)]
pub struct TxQueue {
    items: VecDeque<Queued>,
    /// The front message may not be retried before this.
    not_before: Option<Instant>,
}

impl TxQueue {
    /// Appends a message behind every earlier one.
    pub fn push(&mut self, action: &'static str, payload: serde_json::Value) {
        self.items.push_back(Queued {
            action,
            payload,
            attempts: 0,
        });
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
        self.items.pop_front();
        self.not_before = None;
    }

    /// The front message failed (CALLERROR or no answer): wait `interval × attempts`, or drop
    /// it after the last attempt. Returns the dropped message.
    pub fn failed(&mut self, now: Instant, retry: Retry) -> Option<Queued> {
        let front = self.items.front_mut()?;
        front.attempts += 1;
        if front.attempts >= retry.attempts.max(1) {
            self.not_before = None;
            return self.items.pop_front();
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
    }
}
