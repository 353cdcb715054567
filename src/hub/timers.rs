//! One pending deadline per station, earliest first.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

/// Deadlines keyed by station; setting a new one replaces the old.
#[derive(Debug, Default)]
pub struct Timers {
    queue: BTreeSet<(Instant, u32)>,
    by_key: HashMap<u32, Instant>,
}

impl Timers {
    /// Replaces `key`'s deadline (`None` clears it).
    pub fn set(&mut self, key: u32, at: Option<Instant>) {
        if let Some(old) = self.by_key.remove(&key) {
            self.queue.remove(&(old, key));
        }
        if let Some(at) = at {
            self.queue.insert((at, key));
            self.by_key.insert(key, at);
        }
    }

    /// The earliest deadline.
    pub fn next(&self) -> Option<Instant> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// Removes and returns the keys whose deadline is at or before `now`.
    pub fn due(&mut self, now: Instant) -> Vec<u32> {
        let mut keys = Vec::new();
        while let Some(&(at, key)) = self.queue.first() {
            if at > now {
                break;
            }
            self.queue.pop_first();
            self.by_key.remove(&key);
            keys.push(key);
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn replaces_and_pops_in_order() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.set(1, Some(t0 + Duration::from_secs(5)));
        t.set(2, Some(t0 + Duration::from_secs(1)));
        t.set(1, Some(t0 + Duration::from_secs(2)));
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.due(t0 + Duration::from_secs(3)), vec![2, 1]);
        assert_eq!(t.next(), None);
        t.set(3, Some(t0));
        t.set(3, None);
        assert_eq!(t.due(t0 + Duration::from_secs(9)), Vec::<u32>::new());
    }
}
