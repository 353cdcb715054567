//! Per-device bookkeeping shared by the TCP pool and the RTU buses, free of I/O: when the
//! device is polled, which variables it refuses, and (through [`DeviceHealth`]) its
//! online/offline state and the values the hub has.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::pdu::ExceptionCode;
use crate::device::{DeviceEvent, DeviceId, RawValue};
use crate::health::DeviceHealth;

pub(crate) use crate::health::HubGone;

/// Name of the device-event channel in full-channel logs.
const CHANNEL: &str = "modbus device events";

/// The outcome of reading one variable during a successful poll.
pub(crate) type ReadOutcome = Result<RawValue, ExceptionCode>;

/// Health, schedule and change detection of one polled device.
#[derive(Debug)]
pub(crate) struct Tracker {
    pub(crate) next_poll: Instant,
    health: DeviceHealth,
    /// Variables whose last read got an exception, so it is logged once, not every poll.
    refused: HashSet<usize>,
}

impl Tracker {
    /// Starts tracking a device that should be polled at once.
    pub(crate) fn new(id: DeviceId, name: &str, poll_interval: Duration, now: Instant) -> Tracker {
        Tracker {
            next_poll: now,
            health: DeviceHealth::new(id, name, poll_interval, CHANNEL),
            refused: HashSet::new(),
        }
    }

    /// The config's device id, for logs.
    pub(crate) fn name(&self) -> &str {
        self.health.name()
    }

    /// Whether the hub was last told the device is online.
    pub(crate) fn is_online(&self) -> bool {
        self.health.is_online()
    }

    /// Records a poll in which the device answered every read (possibly with exceptions):
    /// reports Online if needed, then the values that changed since last reported.
    pub(crate) fn succeeded(
        &mut self,
        results: Vec<(usize, ReadOutcome)>,
        events: &Sender<DeviceEvent>,
        now: Instant,
    ) -> Result<(), HubGone> {
        let online = self.health.answered(events)?;
        self.next_poll = now + self.health.interval();
        if !online {
            return Ok(());
        }
        let mut changed = Vec::new();
        for (var, outcome) in results {
            match outcome {
                Ok(value) => {
                    if self.refused.remove(&var) {
                        log::info!("{}: variable {var} readable again", self.name());
                    }
                    if self.health.is_new(var, &value) {
                        changed.push((var, value));
                    }
                }
                Err(code) => {
                    if self.refused.insert(var) {
                        log::warn!(
                            "{}: variable {var} refused with exception {code}; skipping it",
                            self.name()
                        );
                    }
                }
            }
        }
        self.health.report(changed, events)
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
        self.health
            .failed(reason, offline_after, max_backoff, events)?;
        self.next_poll = now + self.health.interval();
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
