//! Messages outside the transaction queue that go out once: triggered messages, security
//! events, NotifyEvent and NotifyReport.
//!
//! A peer can fill this list (a CSMS repeating TriggerMessage, a CSMS that keeps refusing our
//! credentials), so it is bounded: beyond [`MAX_ONE_OFF`] the oldest message that is not in
//! flight is dropped. Security events of a kind already waiting are folded into that one
//! message (latest timestamp, a count and the latest techInfo) instead of queueing one per
//! failed connection attempt. A message the CSMS did not answer in time is sent again, up to
//! [`ATTEMPTS`] times; one it refused is dropped.

use std::collections::VecDeque;

use serde_json::Value;

/// Messages that may wait; a thousand stations each holding this many stay small.
pub(super) const MAX_ONE_OFF: usize = 256;

/// Sends of one message before a CSMS that never answers it makes us give up.
pub(super) const ATTEMPTS: u32 = 3;

/// The action of a security event.
const SECURITY_EVENT: &str = "SecurityEventNotification";

/// Longest techInfo the schema allows.
const TECH_INFO_MAX: usize = 255;

/// One message waiting to be sent.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct OneOff {
    pub action: &'static str,
    pub payload: Value,
    /// Sent because the CSMS asked for it (TriggerMessage): allowed while Pending (B02).
    pub triggered: bool,
    /// Sends that went unanswered.
    attempts: u32,
    /// Security events folded into this one, itself included.
    occurrences: u32,
}

/// The waiting messages, oldest first.
#[derive(Debug, Default)]
pub(super) struct OneOffs {
    items: VecDeque<OneOff>,
}

impl OneOffs {
    /// Queues a message the station decided to send.
    pub fn push_back(&mut self, (action, payload): (&'static str, Value)) {
        self.push(action, payload, false, false);
    }

    /// Queues a message; `in_flight` says the front one is sent and waits for its answer.
    pub fn push(&mut self, action: &'static str, payload: Value, triggered: bool, in_flight: bool) {
        self.items.push_back(OneOff {
            action,
            payload,
            triggered,
            attempts: 0,
            occurrences: 1,
        });
        if self.items.len() > MAX_ONE_OFF {
            let victim = usize::from(in_flight);
            if let Some(dropped) = self.items.remove(victim) {
                log::warn!(
                    "more than {MAX_ONE_OFF} messages wait for the CSMS; dropped a {}",
                    dropped.action
                );
            }
        }
    }

    /// Queues a SecurityEventNotification, or folds it into a waiting one of the same kind.
    pub fn push_security_event(&mut self, payload: Value, in_flight: bool) {
        let kind = payload["type"].clone();
        let waiting = self
            .items
            .iter_mut()
            .skip(usize::from(in_flight))
            .find(|m| m.action == SECURITY_EVENT && m.payload["type"] == kind);
        let Some(waiting) = waiting else {
            self.push(SECURITY_EVENT, payload, false, in_flight);
            return;
        };
        waiting.occurrences = waiting.occurrences.saturating_add(1);
        let latest = payload["techInfo"].as_str().unwrap_or("no details");
        let info = format!("{} times; latest: {latest}", waiting.occurrences);
        waiting.payload = payload;
        waiting.payload["techInfo"] = Value::String(info.chars().take(TECH_INFO_MAX).collect());
    }

    /// The next message to send.
    pub fn front(&self) -> Option<&OneOff> {
        self.items.front()
    }

    /// The CSMS answered the front message, or refused it: either way it is done.
    pub fn pop_front(&mut self) {
        self.items.pop_front();
    }

    /// The front message went unanswered: it is sent again, until the last attempt.
    pub fn timed_out(&mut self) -> Option<OneOff> {
        let front = self.items.front_mut()?;
        front.attempts += 1;
        if front.attempts < ATTEMPTS {
            return None;
        }
        self.items.pop_front()
    }

    /// How many messages of `action` wait (the one in flight included).
    pub fn count(&self, action: &str) -> usize {
        self.items.iter().filter(|m| m.action == action).count()
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

    fn event(kind: &str, info: &str, ts: &str) -> Value {
        json!({"type": kind, "timestamp": ts, "techInfo": info})
    }

    #[test]
    fn security_events_of_one_kind_fold_into_one_with_a_count() {
        let mut q = OneOffs::default();
        for n in 0..50 {
            q.push_security_event(
                event("FailedToAuthenticateAtCsms", &format!("401 #{n}"), "t"),
                false,
            );
        }
        q.push_security_event(event("InvalidCsmsCertificate", "bad", "t"), false);
        q.push_security_event(event("FailedToAuthenticateAtCsms", "401 last", "t2"), false);
        assert_eq!(q.items.len(), 2);
        let first = q.front().unwrap();
        assert_eq!(first.payload["timestamp"], "t2");
        assert_eq!(first.payload["techInfo"], "51 times; latest: 401 last");
    }

    #[test]
    fn a_message_in_flight_is_neither_folded_into_nor_dropped() {
        let mut q = OneOffs::default();
        q.push_security_event(event("A", "one", "t"), false);
        q.push_security_event(event("A", "two", "t"), true);
        assert_eq!(q.items.len(), 2, "the front one is sent as it was");
        assert_eq!(q.front().unwrap().payload["techInfo"], "one");
        for n in 0..MAX_ONE_OFF {
            q.push("MeterValues", json!({ "n": n }), true, true);
        }
        assert_eq!(q.items.len(), MAX_ONE_OFF);
        assert_eq!(q.front().unwrap().payload["techInfo"], "one");
    }

    #[test]
    fn unanswered_messages_are_sent_again_then_dropped() {
        let mut q = OneOffs::default();
        q.push_back(("NotifyEvent", json!({})));
        for _ in 1..ATTEMPTS {
            assert!(q.timed_out().is_none());
            assert!(!q.is_empty());
        }
        assert_eq!(q.timed_out().unwrap().action, "NotifyEvent");
        assert!(q.is_empty());
    }
}
