//! Faults a test can ask of the CSMS simulator: answers withheld, connections closed as soon
//! as they open; and what it saw of connections (when they opened, the close codes received).

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use super::CsmsSim;

/// Fault settings and connection observations, kept under the simulator's lock.
#[derive(Debug, Default)]
pub(super) struct Faults {
    /// Answers still to withhold, by (station, action).
    withheld: HashMap<(String, String), u32>,
    /// Stations whose connections are closed right after the upgrade.
    close_at_once: HashSet<String>,
    /// When each accepted upgrade of a station happened.
    opened: HashMap<String, Vec<Instant>>,
    /// The close code of each close frame a station sent (`None`: a close frame without one).
    close_codes: HashMap<String, Vec<Option<u16>>>,
}

impl Faults {
    /// True (and counted) when this CALL of `action` from `station` goes unanswered.
    pub fn withhold(&mut self, station: &str, action: &str) -> bool {
        let key = (station.to_owned(), action.to_owned());
        match self.withheld.get_mut(&key) {
            Some(left) if *left > 0 => {
                *left -= 1;
                true
            }
            _ => false,
        }
    }

    /// Notes an accepted upgrade; true when the connection must be closed at once.
    pub fn opened(&mut self, station: &str) -> bool {
        self.opened
            .entry(station.to_owned())
            .or_default()
            .push(Instant::now());
        self.close_at_once.contains(station)
    }

    /// Notes a close frame from `station`.
    pub fn closed(&mut self, station: &str, code: Option<u16>) {
        self.close_codes
            .entry(station.to_owned())
            .or_default()
            .push(code);
    }
}

impl CsmsSim {
    /// Leaves the next `count` CALLs of `action` from `station` unanswered (still recorded).
    pub fn withhold_answers(&self, station: &str, action: &str, count: u32) {
        self.shared
            .lock()
            .faults
            .withheld
            .insert((station.to_owned(), action.to_owned()), count);
    }

    /// Closes every connection of `station` right after accepting its upgrade, or stops that.
    pub fn set_close_at_once(&self, station: &str, close: bool) {
        let mut st = self.shared.lock();
        if close {
            st.faults.close_at_once.insert(station.to_owned());
        } else {
            st.faults.close_at_once.remove(station);
        }
    }

    /// When each accepted upgrade of `station` happened, oldest first.
    pub fn opened_at(&self, station: &str) -> Vec<Instant> {
        self.shared
            .lock()
            .faults
            .opened
            .get(station)
            .cloned()
            .unwrap_or_default()
    }

    /// The close codes of the close frames `station` sent, oldest first.
    pub fn close_codes(&self, station: &str) -> Vec<Option<u16>> {
        self.shared
            .lock()
            .faults
            .close_codes
            .get(station)
            .cloned()
            .unwrap_or_default()
    }
}
