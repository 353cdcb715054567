//! Per-device bookkeeping shared by the TCP pool and the RTU buses, free of I/O: online/offline
//! state, back-off (half-open probing while offline), and which raw values the hub has already
//! been told about.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::pdu::ExceptionCode;
use crate::chan::{self, SendError};
use crate::device::{DeviceEvent, DeviceId, RawValue};

/// Name of the device-event channel in full-channel logs.
const CHANNEL: &str = "modbus device events";

/// The outcome of reading one variable during a successful poll.
pub(crate) type ReadOutcome = Result<RawValue, ExceptionCode>;

/// The hub dropped its event receiver: the pool has nobody left to report to.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct HubGone;

/// What the hub has been told about the device's reachability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Nothing yet: the device was just added.
    Unknown,
    Online,
    Offline,
}

/// Health, schedule and change detection of one polled device.
#[derive(Debug)]
pub(crate) struct Tracker {
    pub(crate) id: DeviceId,
    /// The config's device id, for logs.
    pub(crate) name: String,
    /// The configured interval, restored once the device answers.
    poll_interval: Duration,
    pub(crate) next_poll: Instant,
    link: Link,
    failures: u32,
    /// Current poll interval: the configured one, or longer while backing off.
    interval: Duration,
    /// The last value of each variable the hub accepted.
    reported: HashMap<usize, RawValue>,
    /// Variables whose last read got an exception, so it is logged once, not every poll.
    refused: HashSet<usize>,
}

impl Tracker {
    /// Starts tracking a device that should be polled at once.
    pub(crate) fn new(id: DeviceId, name: &str, poll_interval: Duration, now: Instant) -> Tracker {
        Tracker {
            id,
            name: name.to_owned(),
            poll_interval,
            next_poll: now,
            link: Link::Unknown,
            failures: 0,
            interval: poll_interval,
            reported: HashMap::new(),
            refused: HashSet::new(),
        }
    }

    /// Whether the hub was last told the device is online.
    pub(crate) fn is_online(&self) -> bool {
        self.link == Link::Online
    }

    /// Records a poll in which the device answered every read (possibly with exceptions):
    /// reports Online if needed, then the values that changed since last reported.
    pub(crate) fn succeeded(
        &mut self,
        results: Vec<(usize, ReadOutcome)>,
        events: &Sender<DeviceEvent>,
        now: Instant,
    ) -> Result<(), HubGone> {
        self.failures = 0;
        self.interval = self.poll_interval;
        self.next_poll = now + self.interval;
        let id = self.id;
        if self.link != Link::Online {
            match chan::try_send(events, DeviceEvent::Online { device: id }, CHANNEL) {
                Ok(()) => {
                    log::info!("{}: online", self.name);
                    self.link = Link::Online;
                    // The hub must see every value again after (re)connecting.
                    self.reported.clear();
                }
                // Values must not precede Online; both are retried next poll.
                Err(SendError::Full(_)) => return Ok(()),
                Err(SendError::Closed(_)) => return Err(HubGone),
            }
        }
        let mut changed = Vec::new();
        for (var, outcome) in results {
            match outcome {
                Ok(value) => {
                    if self.refused.remove(&var) {
                        log::info!("{}: variable {var} readable again", self.name);
                    }
                    if self.reported.get(&var) != Some(&value) {
                        changed.push((var, value));
                    }
                }
                Err(code) => {
                    if self.refused.insert(var) {
                        log::warn!(
                            "{}: variable {var} refused with exception {code}; skipping it",
                            self.name
                        );
                    }
                }
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        let msg = DeviceEvent::Values {
            device: id,
            values: changed.clone(),
        };
        match chan::try_send(events, msg, CHANNEL) {
            Ok(()) => {
                self.reported.extend(changed);
                Ok(())
            }
            // Leaving `reported` alone makes the next poll send these changes again.
            Err(SendError::Full(_)) => Ok(()),
            Err(SendError::Closed(_)) => Err(HubGone),
        }
    }

    /// Records a poll that failed with `reason`; reports Offline once the failures reach
    /// `offline_after`, then backs off up to `max_backoff`.
    pub(crate) fn failed(
        &mut self,
        reason: &str,
        offline_after: u32,
        max_backoff: Duration,
        events: &Sender<DeviceEvent>,
        now: Instant,
    ) -> Result<(), HubGone> {
        self.failures = self.failures.saturating_add(1);
        if self.link == Link::Offline {
            let cap = max_backoff.max(self.poll_interval);
            self.interval = self.interval.saturating_mul(2).min(cap);
            log::debug!(
                "{}: still offline ({reason}); next probe in {:?}",
                self.name,
                self.interval
            );
        } else if self.failures >= offline_after.max(1) {
            let msg = DeviceEvent::Offline {
                device: self.id,
                reason: reason.to_owned(),
            };
            match chan::try_send(events, msg, CHANNEL) {
                Ok(()) => {
                    log::warn!(
                        "{}: offline after {} failed polls: {reason}",
                        self.name,
                        self.failures
                    );
                    self.link = Link::Offline;
                }
                // Still counted as failing; Offline is retried after the next failure.
                Err(SendError::Full(_)) => {}
                Err(SendError::Closed(_)) => return Err(HubGone),
            }
        } else {
            log::info!(
                "{}: poll failed ({}/{}): {reason}",
                self.name,
                self.failures,
                offline_after.max(1)
            );
        }
        self.next_poll = now + self.interval;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracker(now: Instant) -> Tracker {
        Tracker::new(DeviceId(4), "cp4", Duration::from_secs(1), now)
    }

    fn regs(v: &[u16]) -> ReadOutcome {
        Ok(RawValue::Registers(v.to_vec()))
    }

    fn values(v: Vec<(usize, RawValue)>) -> DeviceEvent {
        DeviceEvent::Values {
            device: DeviceId(4),
            values: v,
        }
    }

    const ONLINE: DeviceEvent = DeviceEvent::Online {
        device: DeviceId(4),
    };

    #[test]
    fn online_first_then_only_changes() {
        let (tx, rx) = crossbeam_channel::bounded(8);
        let now = Instant::now();
        let mut t = tracker(now);
        t.succeeded(vec![(0, regs(&[1])), (1, regs(&[5, 6]))], &tx, now)
            .unwrap();
        assert_eq!(rx.try_recv().unwrap(), ONLINE);
        let all = vec![
            (0, RawValue::Registers(vec![1])),
            (1, RawValue::Registers(vec![5, 6])),
        ];
        assert_eq!(rx.try_recv().unwrap(), values(all));
        assert_eq!(t.next_poll, now + Duration::from_secs(1));

        t.succeeded(vec![(0, regs(&[1])), (1, regs(&[5, 7]))], &tx, now)
            .unwrap();
        let changed = vec![(1, RawValue::Registers(vec![5, 7]))];
        assert_eq!(rx.try_recv().unwrap(), values(changed));

        t.succeeded(vec![(0, regs(&[1])), (1, regs(&[5, 7]))], &tx, now)
            .unwrap();
        assert!(rx.try_recv().is_err(), "nothing changed, nothing sent");
    }

    #[test]
    fn full_channel_resends_the_change_next_poll() {
        let (tx, rx) = crossbeam_channel::bounded(2);
        let now = Instant::now();
        let mut t = tracker(now);
        t.succeeded(vec![(0, regs(&[1]))], &tx, now).unwrap();
        assert_eq!(rx.len(), 2);
        // Channel full: the change to 2 is refused and must come again.
        t.succeeded(vec![(0, regs(&[2]))], &tx, now).unwrap();
        rx.try_recv().unwrap();
        rx.try_recv().unwrap();
        t.succeeded(vec![(0, regs(&[2]))], &tx, now).unwrap();
        assert_eq!(
            rx.try_recv().unwrap(),
            values(vec![(0, RawValue::Registers(vec![2]))])
        );
    }

    #[test]
    fn full_channel_retries_online_before_any_value() {
        let (tx, rx) = crossbeam_channel::bounded(1);
        tx.send(DeviceEvent::Online {
            device: DeviceId(99),
        })
        .unwrap();
        let now = Instant::now();
        let mut t = tracker(now);
        t.succeeded(vec![(0, regs(&[1]))], &tx, now).unwrap();
        rx.try_recv().unwrap();
        assert!(rx.try_recv().is_err(), "no values without Online");
        t.succeeded(vec![(0, regs(&[1]))], &tx, now).unwrap();
        assert_eq!(rx.try_recv().unwrap(), ONLINE);
    }

    #[test]
    fn exceptions_skip_the_variable_but_keep_the_device_online() {
        let (tx, rx) = crossbeam_channel::bounded(8);
        let now = Instant::now();
        let mut t = tracker(now);
        let refused = Err(ExceptionCode::IllegalDataAddress);
        t.succeeded(vec![(0, refused), (1, regs(&[3]))], &tx, now)
            .unwrap();
        assert_eq!(rx.try_recv().unwrap(), ONLINE);
        assert_eq!(
            rx.try_recv().unwrap(),
            values(vec![(1, RawValue::Registers(vec![3]))])
        );
        t.succeeded(vec![(0, regs(&[8])), (1, regs(&[3]))], &tx, now)
            .unwrap();
        assert_eq!(
            rx.try_recv().unwrap(),
            values(vec![(0, RawValue::Registers(vec![8]))])
        );
    }

    #[test]
    fn offline_once_then_back_off_then_online_with_all_values() {
        let (tx, rx) = crossbeam_channel::bounded(8);
        let now = Instant::now();
        let cap = Duration::from_secs(5);
        let mut t = tracker(now);
        t.succeeded(vec![(0, regs(&[1]))], &tx, now).unwrap();
        rx.try_iter().for_each(drop);

        t.failed("timeout", 3, cap, &tx, now).unwrap();
        t.failed("timeout", 3, cap, &tx, now).unwrap();
        assert!(rx.try_recv().is_err());
        assert_eq!(t.next_poll, now + Duration::from_secs(1));
        t.failed("timeout", 3, cap, &tx, now).unwrap();
        assert_eq!(
            rx.try_recv().unwrap(),
            DeviceEvent::Offline {
                device: DeviceId(4),
                reason: "timeout".into()
            }
        );
        let mut delays = Vec::new();
        for _ in 0..5 {
            t.failed("timeout", 3, cap, &tx, now).unwrap();
            delays.push(t.next_poll - now);
        }
        assert!(rx.try_recv().is_err(), "Offline is sent once");
        let secs: Vec<u64> = delays.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [2, 4, 5, 5, 5]);

        t.succeeded(vec![(0, regs(&[1]))], &tx, now).unwrap();
        assert_eq!(rx.try_recv().unwrap(), ONLINE);
        assert_eq!(
            rx.try_recv().unwrap(),
            values(vec![(0, RawValue::Registers(vec![1]))]),
            "unchanged value is reported again after coming back"
        );
        assert_eq!(t.next_poll, now + Duration::from_secs(1));
    }

    #[test]
    fn never_seen_device_goes_offline_too() {
        let (tx, rx) = crossbeam_channel::bounded(8);
        let now = Instant::now();
        let mut t = tracker(now);
        t.failed("refused", 1, Duration::from_secs(5), &tx, now)
            .unwrap();
        assert!(matches!(
            rx.try_recv().unwrap(),
            DeviceEvent::Offline { .. }
        ));
    }

    #[test]
    fn closed_hub_is_reported() {
        let (tx, rx) = crossbeam_channel::bounded(8);
        drop(rx);
        let now = Instant::now();
        let mut t = tracker(now);
        assert_eq!(t.succeeded(vec![(0, regs(&[1]))], &tx, now), Err(HubGone));
        assert_eq!(
            t.failed("x", 1, Duration::from_secs(1), &tx, now),
            Err(HubGone)
        );
    }
}
