//! The hub's side of the journal: each station's unwritten writes in an ordered, compacted
//! [`Backlog`], written before the frames after them and retried after a failure, and the
//! health the metrics and the status API show.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use super::charger::Charger;
use crate::journal::{Backlog, Journal, JournalError, JournalOp, RemoveReason};
use crate::metrics;

/// How soon a failed journal write is tried again.
const JOURNAL_RETRY: Duration = Duration::from_secs(1);

/// The open journal, the bound each station's queue gets, and the writes not on disk yet.
pub(super) struct HubJournal {
    store: Journal,
    max_messages: usize,
    /// Per station identity (a station restarted by a reload keeps its backlog), the writes
    /// that failed or were not tried yet.
    backlogs: HashMap<String, Backlog>,
    /// Writes waiting over every backlog.
    unwritten: usize,
    /// Set while writes fail: when the next may be tried.
    retry_at: Option<Instant>,
}

/// Gives the station of `charger` what the journal kept for it.
pub(super) fn restore(charger: &mut Charger, journal: &mut HubJournal, now: Instant) {
    let station = &mut charger.station;
    // A station restarted by a reload may have writes of its previous run still waiting.
    if !journal.write(station.ocpp_id(), now) {
        log::error!(
            "{}: restarting with journal writes of its previous run not on disk; it may send \
             again what the CSMS already has",
            station.ocpp_id()
        );
    }
    let stored = match journal.store.load(station.ocpp_id()) {
        Ok(stored) => stored,
        Err(e) => {
            log::error!(
                "{}: cannot read the journal: {e}; starting without its messages",
                station.ocpp_id()
            );
            Default::default()
        }
    };
    station.resume_from_journal(now, SystemTime::now(), journal.max_messages, stored);
}

impl HubJournal {
    pub(super) fn new(store: Journal, max_messages: usize) -> Self {
        metrics::JOURNAL_HEALTHY.set(1);
        HubJournal {
            store,
            max_messages,
            backlogs: HashMap::new(),
            unwritten: 0,
            retry_at: None,
        }
    }

    /// Queues `op` of `station` behind its unwritten ones.
    pub(super) fn push(&mut self, station: &str, op: JournalOp) {
        if let JournalOp::Remove {
            reason: RemoveReason::Overflow,
            ..
        } = op
        {
            metrics::JOURNAL_DROPPED.inc();
        }
        let backlog = match self.backlogs.get_mut(station) {
            Some(backlog) => backlog,
            None => self.backlogs.entry(station.to_owned()).or_default(),
        };
        let before = backlog.len();
        backlog.push(op);
        let after = backlog.len();
        self.count(before, after);
    }

    /// Writes the backlog of `station` in one commit; true when nothing of it is left
    /// unwritten. After a failure nothing is tried before the retry time; the first success
    /// after it also writes the backlogs of stations that a reload removed meanwhile.
    pub(super) fn write(&mut self, station: &str, now: Instant) -> bool {
        if self.backlogs.get(station).map_or(true, Backlog::is_empty) {
            return true;
        }
        if self.retry_at.is_some_and(|at| now < at) {
            return false;
        }
        if let Err(e) = self.apply(station) {
            metrics::JOURNAL_WRITE_ERRORS.inc();
            metrics::JOURNAL_HEALTHY.set(0);
            if self.retry_at.is_none() {
                log::error!(
                    "{station}: journal write failed: {e}; transaction messages wait until \
                     the write succeeds (retried every {}s)",
                    JOURNAL_RETRY.as_secs()
                );
            } else {
                log::debug!("{station}: journal write failed again: {e}");
            }
            self.retry_at = Some(now + JOURNAL_RETRY);
            return false;
        }
        if self.retry_at.take().is_some() {
            let others: Vec<String> = self
                .backlogs
                .iter()
                .filter(|(_, b)| !b.is_empty())
                .map(|(id, _)| id.clone())
                .collect();
            for other in others {
                if let Err(e) = self.apply(&other) {
                    log::debug!("{other}: journal write failed again: {e}");
                }
            }
            if self.unwritten == 0 {
                metrics::JOURNAL_HEALTHY.set(1);
                log::info!("journal: writes succeed again; every backlog is on disk");
            } else {
                self.retry_at = Some(now + JOURNAL_RETRY);
            }
        }
        true
    }

    /// When a station that could not write should try again.
    pub(super) fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    fn apply(&mut self, station: &str) -> Result<(), JournalError> {
        let Some(backlog) = self.backlogs.get_mut(station) else {
            return Ok(());
        };
        self.store.apply(station, backlog.ops())?;
        let before = backlog.len();
        self.backlogs.remove(station);
        self.count(before, 0);
        Ok(())
    }

    /// Keeps the unwritten total up to date after a backlog went from `before` to `after`
    /// writes.
    fn count(&mut self, before: usize, after: usize) {
        self.unwritten = (self.unwritten + after).saturating_sub(before);
        let unwritten = i64::try_from(self.unwritten).unwrap_or(i64::MAX);
        metrics::JOURNAL_UNWRITTEN.set(unwritten);
    }
}
