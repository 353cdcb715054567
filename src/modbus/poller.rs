//! One polled device, whatever its transport: its read plans, when its slow class is due, and
//! its health. The TCP pool and the RTU bus each run `Polled::poll` with their own way of reading
//! one block.

use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::error::ModbusError;
use super::pdu::ExceptionCode;
use super::planner::{DevicePlans, PlanLimits, ReadBlock};
use super::tracker::{HubGone, ReadOutcome, Tracker};
use crate::device::{DeviceEvent, DeviceId, ModbusTable, RawValue, RegisterRead};

/// When a device counts as offline and how slowly it is probed then.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Health {
    /// Consecutive failed polls before Offline (0 behaves as 1).
    pub(crate) offline_after: u32,
    /// Longest probe interval while offline.
    pub(crate) max_backoff: Duration,
}

/// A device with its plans and schedule.
#[derive(Debug)]
pub(crate) struct Polled {
    pub(crate) tracker: Tracker,
    plans: DevicePlans,
    slow_interval: Duration,
    /// When the slow class must next be read.
    next_slow: Instant,
}

impl Polled {
    /// Plans `reads` and schedules the first poll now.
    pub(crate) fn new(
        id: DeviceId,
        name: &str,
        poll_interval: Duration,
        slow_interval: Duration,
        reads: &[RegisterRead],
        limits: &PlanLimits,
        now: Instant,
    ) -> Polled {
        let plans = DevicePlans::new(reads, limits);
        if !plans.all.unreadable.is_empty() {
            log::error!(
                "{name}: variables {:?} cannot be read with one Modbus request; they are skipped",
                plans.all.unreadable
            );
        }
        log::debug!(
            "{name}: {} variable(s) in {} request(s), {} of them every poll",
            reads.len(),
            plans.all.blocks.len(),
            plans.fast.blocks.len()
        );
        Polled {
            tracker: Tracker::new(id, name, poll_interval, now),
            plans,
            slow_interval,
            next_slow: now,
        }
    }

    /// When the device is next due.
    pub(crate) fn next_poll(&self) -> Instant {
        self.tracker.next_poll
    }

    /// Polls once: reads every due block with `read` and reports the outcome to the hub.
    pub(crate) fn poll<F>(
        &mut self,
        read: F,
        health: Health,
        events: &Sender<DeviceEvent>,
    ) -> Result<(), HubGone>
    where
        F: FnMut(ModbusTable, u16, u16) -> Result<RawValue, ModbusError>,
    {
        let now = Instant::now();
        // A device coming back must report every value, so it is read whole until it is online.
        let slow_due =
            now >= self.next_slow || !self.tracker.is_online() || self.plans.fast.blocks.is_empty();
        let (plan, other) = if slow_due {
            (&mut self.plans.all, &mut self.plans.fast)
        } else {
            (&mut self.plans.fast, &mut self.plans.all)
        };
        let mut refused = Vec::new();
        let outcome = read_blocks(&mut plan.blocks, read, self.tracker.name(), &mut refused);
        for block in &refused {
            DevicePlans::split_overlapping(other, block);
        }
        let outcome = match outcome {
            Ok(results) => match every_read_refused(&results) {
                Some(code) => Err(format!("every read refused with exception {code}")),
                None => Ok(results),
            },
            Err(e) => Err(e.to_string()),
        };
        let done = Instant::now();
        crate::metrics::poll_finished(self.tracker.name(), done - now, outcome.is_ok());
        match outcome {
            Ok(results) => {
                if slow_due {
                    self.next_slow = done + self.slow_interval;
                }
                self.tracker.succeeded(results, events, done)
            }
            Err(reason) => self.tracker.failed(
                &reason,
                health.offline_after,
                health.max_backoff,
                events,
                done,
            ),
        }
    }
}

/// The exception of a poll in which the device refused every read. Such a device tells
/// nothing about the charger, so the poll fails like a timeout would: otherwise it would stay
/// online with values that are no longer read.
fn every_read_refused(results: &[(usize, ReadOutcome)]) -> Option<ExceptionCode> {
    let mut code = None;
    for (_, outcome) in results {
        code = Some(*outcome.as_ref().err()?);
    }
    code
}

/// Reads `blocks` in order. Exceptions are per-variable outcomes; a merged block the device
/// refuses is replaced by single reads for good (its gap may hold unmapped addresses the device
/// rejects) and also pushed to `refused`. Any other error fails the poll.
fn read_blocks<F>(
    blocks: &mut Vec<ReadBlock>,
    mut read: F,
    name: &str,
    refused: &mut Vec<ReadBlock>,
) -> Result<Vec<(usize, ReadOutcome)>, ModbusError>
where
    F: FnMut(ModbusTable, u16, u16) -> Result<RawValue, ModbusError>,
{
    let mut results = Vec::new();
    let mut i = 0;
    while let Some(block) = blocks.get(i) {
        match read(block.table, block.address, block.count) {
            Ok(value) => {
                let Some(values) = block.split(&value) else {
                    return Err(ModbusError::WrongLength {
                        expected: block.count,
                        actual: raw_len(&value),
                    });
                };
                results.extend(values.into_iter().map(|(var, raw)| (var, Ok(raw))));
            }
            // A bridge answering for a dead unit behind it is a failed poll, not a live device.
            Err(ModbusError::Exception(code)) if !code.is_gateway_failure() => {
                if block.slots.len() > 1 {
                    log::warn!(
                        "{name}: merged read of {} at {} (count {}) refused with {code}; reading its variables one by one from now on",
                        table_name(block.table),
                        block.address,
                        block.count
                    );
                    let merged = blocks.remove(i);
                    blocks.splice(i..i, merged.clone().into_singles());
                    refused.push(merged);
                    continue;
                }
                results.extend(block.slots.iter().map(|s| (s.var, Err(code))));
            }
            Err(e) => return Err(e),
        }
        i += 1;
    }
    // Plans run table by table; the hub gets values in template order.
    results.sort_by_key(|(var, _)| *var);
    Ok(results)
}

fn raw_len(value: &RawValue) -> usize {
    match value {
        RawValue::Registers(v) => v.len(),
        RawValue::Bits(v) => v.len(),
        RawValue::Bytes(v) => v.len(),
    }
}

fn table_name(table: ModbusTable) -> &'static str {
    match table {
        ModbusTable::Coil => "coils",
        ModbusTable::DiscreteInput => "discrete inputs",
        ModbusTable::InputRegister => "input registers",
        ModbusTable::HoldingRegister => "holding registers",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::PollClass;

    fn read(var: usize, address: u16, count: u16, class: PollClass) -> RegisterRead {
        RegisterRead {
            var,
            table: ModbusTable::HoldingRegister,
            address,
            count,
            class,
        }
    }

    const HEALTH: Health = Health {
        offline_after: 2,
        max_backoff: Duration::from_secs(1),
    };

    fn polled(reads: &[RegisterRead], slow: Duration) -> Polled {
        let now = Instant::now();
        Polled::new(
            DeviceId(1),
            "cp1",
            Duration::from_millis(100),
            slow,
            reads,
            &PlanLimits::with_gap(10),
            now,
        )
    }

    /// A device whose register n holds n; addresses in `holes` refuse to be read.
    fn device<'a>(
        log: &'a mut Vec<(u16, u16)>,
        holes: &[u16],
    ) -> impl FnMut(ModbusTable, u16, u16) -> Result<RawValue, ModbusError> + 'a {
        let holes = holes.to_vec();
        move |_, address, count| {
            log.push((address, count));
            if (address..address + count).any(|a| holes.contains(&a)) {
                return Err(ModbusError::Exception(ExceptionCode::IllegalDataAddress));
            }
            Ok(RawValue::Registers((address..address + count).collect()))
        }
    }

    fn drain(rx: &crossbeam_channel::Receiver<DeviceEvent>) -> Vec<DeviceEvent> {
        rx.try_iter().collect()
    }

    #[test]
    fn slow_class_is_read_first_then_only_when_due() {
        let reads = [
            read(0, 0, 1, PollClass::Fast),
            read(1, 40, 2, PollClass::Slow),
        ];
        let mut p = polled(&reads, Duration::from_secs(3600));
        let (tx, rx) = crossbeam_channel::bounded(16);
        let mut log = Vec::new();
        p.poll(device(&mut log, &[]), HEALTH, &tx).unwrap();
        assert_eq!(log, [(0, 1), (40, 2)], "first poll reads everything");
        assert_eq!(drain(&rx).len(), 2, "Online and the values");
        log.clear();
        p.poll(device(&mut log, &[]), HEALTH, &tx).unwrap();
        assert_eq!(log, [(0, 1)], "slow class not due yet");
    }

    #[test]
    fn slow_class_comes_around_again() {
        let reads = [
            read(0, 0, 1, PollClass::Fast),
            read(1, 40, 2, PollClass::Slow),
        ];
        let mut p = polled(&reads, Duration::ZERO);
        let (tx, _rx) = crossbeam_channel::bounded(16);
        let mut log = Vec::new();
        p.poll(device(&mut log, &[]), HEALTH, &tx).unwrap();
        p.poll(device(&mut log, &[]), HEALTH, &tx).unwrap();
        assert_eq!(log, [(0, 1), (40, 2), (0, 1), (40, 2)]);
    }

    #[test]
    fn a_refused_merged_read_falls_back_to_single_reads_for_good() {
        let reads = [
            read(0, 0, 1, PollClass::Fast),
            read(1, 3, 1, PollClass::Fast),
        ];
        let mut p = polled(&reads, Duration::from_secs(3600));
        let (tx, rx) = crossbeam_channel::bounded(16);
        let mut log = Vec::new();
        // Register 1 sits in the gap and is not implemented by the device.
        p.poll(device(&mut log, &[1]), HEALTH, &tx).unwrap();
        assert_eq!(log, [(0, 4), (0, 1), (3, 1)]);
        let events = drain(&rx);
        assert_eq!(
            events.last(),
            Some(&DeviceEvent::Values {
                device: DeviceId(1),
                values: vec![
                    (0, RawValue::Registers(vec![0])),
                    (1, RawValue::Registers(vec![3]))
                ]
            })
        );
        log.clear();
        p.poll(device(&mut log, &[1]), HEALTH, &tx).unwrap();
        assert_eq!(log, [(0, 1), (3, 1)]);
    }

    #[test]
    fn failures_take_the_device_offline() {
        let reads = [read(0, 0, 1, PollClass::Fast)];
        let mut p = polled(&reads, Duration::from_secs(3600));
        let (tx, rx) = crossbeam_channel::bounded(16);
        for _ in 0..2 {
            p.poll(|_, _, _| Err(ModbusError::Timeout), HEALTH, &tx)
                .unwrap();
        }
        assert!(matches!(
            drain(&rx).as_slice(),
            [DeviceEvent::Offline { .. }]
        ));
        let short = |_, _, _| Ok(RawValue::Registers(vec![]));
        p.poll(short, HEALTH, &tx).unwrap();
        assert!(drain(&rx).is_empty(), "a short answer is a failure");
    }

    #[test]
    fn a_refusing_device_goes_offline_after_exactly_its_threshold() {
        let reads = [read(0, 0, 1, PollClass::Fast)];
        for offline_after in [1, 5] {
            let mut p = polled(&reads, Duration::from_secs(3600));
            let (tx, rx) = crossbeam_channel::bounded(16);
            let mut log = Vec::new();
            p.poll(device(&mut log, &[]), HEALTH, &tx).unwrap();
            drain(&rx);
            let health = Health {
                offline_after,
                ..HEALTH
            };
            for n in 1..offline_after {
                p.poll(device(&mut log, &[0]), health, &tx).unwrap();
                assert!(
                    drain(&rx).is_empty(),
                    "offline after {n} of {offline_after}"
                );
            }
            p.poll(device(&mut log, &[0]), health, &tx).unwrap();
            assert!(matches!(
                drain(&rx).as_slice(),
                [DeviceEvent::Offline { .. }]
            ));
        }
    }

    #[test]
    fn a_device_refusing_every_read_goes_offline_and_comes_back() {
        let reads = [
            read(0, 0, 1, PollClass::Fast),
            read(1, 3, 1, PollClass::Fast),
        ];
        let mut p = polled(&reads, Duration::from_secs(3600));
        p.tracker = Tracker::new(
            DeviceId(1),
            "refuses-all",
            Duration::from_millis(100),
            Instant::now(),
        );
        let (tx, rx) = crossbeam_channel::bounded(16);
        let mut log = Vec::new();
        p.poll(device(&mut log, &[]), HEALTH, &tx).unwrap();
        assert_eq!(drain(&rx).len(), 2, "Online and the values");
        let good = crate::metrics::device("refuses-all").last_good_poll();
        // Every register refused, with the merged read's fallback to single reads too.
        for _ in 0..2 {
            p.poll(device(&mut log, &[0, 1, 2, 3]), HEALTH, &tx)
                .unwrap();
        }
        assert_eq!(
            drain(&rx),
            [DeviceEvent::Offline {
                device: DeviceId(1),
                reason: "every read refused with exception illegal data address (2)".into()
            }]
        );
        assert_eq!(
            crate::metrics::device("refuses-all").last_good_poll(),
            good,
            "a refused poll is not a good poll: the reading's age grows"
        );
        p.poll(device(&mut log, &[]), HEALTH, &tx).unwrap();
        assert!(matches!(
            drain(&rx).as_slice(),
            [DeviceEvent::Online { .. }, DeviceEvent::Values { .. }]
        ));
    }
}
