//! Per-device bookkeeping of the ECHONET Lite worker, free of I/O: which object it is, when it
//! is polled (sooner when an announcement must be confirmed), online/offline state with
//! back-off, and which values the hub already has.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crossbeam_channel::Sender;

use super::frame::{Eoj, Property};
use crate::device::{DeviceEvent, EchonetDevice, PollClass, RawValue};
use crate::health::DeviceHealth;

pub use crate::health::HubGone;

/// Name of the device-event channel in full-channel logs.
const CHANNEL: &str = "echonet device events";
/// Read when a device maps no property, so that its liveness is still known.
const LIVENESS_EPC: u8 = 0x80;
/// Shortest time from one poll's start to a poll an announcement asks for: however many INF
/// arrive (spoofed or not), they make at most one Get per gap.
const CONFIRM_GAP: Duration = Duration::from_millis(250);

/// The classes one poll reads and the properties it asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PollPlan {
    /// Indexed by `class_index`.
    pub(crate) classes: [bool; 2],
    pub(crate) epcs: Vec<u8>,
}

fn class_index(class: PollClass) -> usize {
    match class {
        PollClass::Fast => 0,
        PollClass::Slow => 1,
    }
}

/// Health, schedule and change detection of one polled object.
#[derive(Debug)]
pub(crate) struct Tracker {
    pub(crate) device: EchonetDevice,
    pub(crate) ip: IpAddr,
    /// The object polled: configured, or bound once the node lists its instances.
    pub(crate) eoj: Option<Eoj>,
    /// A request for this device is queued or in flight; no other poll starts meanwhile.
    pub(crate) busy: bool,
    /// When each poll class is next due, by `class_index`.
    next: [Instant; 2],
    health: DeviceHealth,
    /// Properties the node refused, so each is logged once, not every poll.
    refused: BTreeSet<u8>,
    /// When the latest poll started.
    started: Option<Instant>,
    /// An announcement since the latest poll started must be confirmed by another poll.
    confirm: bool,
}

impl Tracker {
    /// Starts tracking a device whose first poll is due at once.
    pub(crate) fn new(device: EchonetDevice, ip: IpAddr, now: Instant) -> Tracker {
        let eoj = device.eoj.and_then(Eoj::from_u32);
        let health = DeviceHealth::new(device.id, &device.name, device.poll_interval, CHANNEL);
        Tracker {
            device,
            ip,
            eoj,
            busy: false,
            next: [now; 2],
            health,
            refused: BTreeSet::new(),
            started: None,
            confirm: false,
        }
    }

    /// Whether the hub was last told the device is online.
    pub(crate) fn is_online(&self) -> bool {
        self.health.is_online()
    }

    fn has_class(&self, i: usize) -> bool {
        self.device.reads.iter().any(|r| class_index(r.class) == i)
    }

    /// When the next poll is due; `None` while a request is outstanding.
    pub(crate) fn due(&self) -> Option<Instant> {
        if self.busy {
            return None;
        }
        if !self.is_online() {
            return Some(self.next[0]);
        }
        (0..2)
            .filter(|&i| self.has_class(i))
            .map(|i| self.next[i])
            .min()
            .or(Some(self.next[0]))
    }

    /// A request for the device leaves at `now`: nothing else starts until it completes, and
    /// it confirms every announcement so far.
    pub(crate) fn started(&mut self, now: Instant) {
        self.busy = true;
        self.started = Some(now);
        self.confirm = false;
    }

    /// What a poll started at `now` reads: every class until the device is online (so the
    /// hub gets every value after Online), then the classes that are due.
    pub(crate) fn plan(&self, now: Instant) -> PollPlan {
        let all = !self.is_online();
        let classes = [0, 1].map(|i| all || self.next[i] <= now);
        let mut epcs: Vec<u8> = self
            .device
            .reads
            .iter()
            .filter(|r| classes[class_index(r.class)])
            .map(|r| r.epc)
            .collect();
        epcs.sort_unstable();
        epcs.dedup();
        if epcs.is_empty() {
            epcs.push(LIVENESS_EPC);
        }
        PollPlan { classes, epcs }
    }

    /// Records an answer to `plan` (Get_Res, or Get_SNA with refused properties empty):
    /// reports Online if needed, then the values that changed.
    pub(crate) fn answered(
        &mut self,
        plan: &PollPlan,
        props: &[Property],
        events: &Sender<DeviceEvent>,
        now: Instant,
    ) -> Result<(), HubGone> {
        self.busy = false;
        let online = self.health.answered(events)?;
        let intervals = [self.device.poll_interval, self.device.slow_poll_interval];
        for ((next, read), interval) in self.next.iter_mut().zip(plan.classes).zip(intervals) {
            if read {
                *next = now + interval;
            }
        }
        self.confirm_soon(now);
        if !online {
            return Ok(());
        }
        for &epc in &plan.epcs {
            let value = props.iter().find(|p| p.epc == epc).map(|p| &p.edt);
            match value {
                Some(edt) if !edt.is_empty() => {
                    if self.refused.remove(&epc) {
                        log::info!("{}: EPC 0x{epc:02X} readable again", self.device.name);
                    }
                }
                _ => {
                    if self.refused.insert(epc) {
                        log::warn!(
                            "{}: node refused EPC 0x{epc:02X} (Get_SNA or malformed value); skipping it",
                            self.device.name
                        );
                    }
                }
            }
        }
        let vars = self
            .device
            .reads
            .iter()
            .filter(|r| plan.classes[class_index(r.class)]);
        let changed = self.changed(vars.map(|r| (r.var, r.epc)), props);
        self.health.report(changed, events)
    }

    /// Makes every class due at `now` (once no request is outstanding).
    pub(crate) fn poll_now(&mut self, now: Instant) {
        self.next = [now; 2];
    }

    /// Takes note of properties the node announced (INF/INFC). Anyone can send an INF with the
    /// node's address, so a change (or any INF while the device is not online) is not reported:
    /// the device is polled, no sooner than `CONFIRM_GAP` after the latest poll started, and
    /// only the node's answer reaches the hub.
    pub(crate) fn announced(&mut self, props: &[Property], now: Instant) {
        let vars = self.device.reads.iter().map(|r| (r.var, r.epc));
        if self.is_online() && self.changed(vars, props).is_empty() {
            return;
        }
        self.confirm = true;
        self.confirm_soon(now);
    }

    /// Brings the next poll forward for an announcement to confirm, once no request is out.
    fn confirm_soon(&mut self, now: Instant) {
        if self.busy || !self.confirm {
            return;
        }
        let at = self.started.map_or(now, |s| s + CONFIRM_GAP).max(now);
        for next in &mut self.next {
            *next = (*next).min(at);
        }
    }

    /// The variables among `vars` whose value in `props` differs from what the hub has.
    fn changed(
        &self,
        vars: impl Iterator<Item = (usize, u8)>,
        props: &[Property],
    ) -> Vec<(usize, RawValue)> {
        vars.filter_map(|(var, epc)| {
            let edt = &props
                .iter()
                .find(|p| p.epc == epc && !p.edt.is_empty())?
                .edt;
            let value = RawValue::Bytes(edt.clone());
            self.health.is_new(var, &value).then_some((var, value))
        })
        .collect()
    }

    /// Records a poll that got no answer (or could not bind an object); reports Offline once
    /// the failures reach `offline_after`, then backs off up to `max_backoff`.
    pub(crate) fn failed(
        &mut self,
        reason: &str,
        offline_after: u32,
        max_backoff: Duration,
        events: &Sender<DeviceEvent>,
        now: Instant,
    ) -> Result<(), HubGone> {
        self.busy = false;
        self.health
            .failed(reason, offline_after, max_backoff, events)?;
        self.next = [now + self.health.interval(); 2];
        self.confirm_soon(now);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{DeviceId, EpcRead};

    fn device() -> EchonetDevice {
        EchonetDevice {
            id: DeviceId(7),
            name: "el7".into(),
            ip: "127.0.0.1".into(),
            eoj: Some(0x02A101),
            poll_interval: Duration::from_secs(1),
            slow_poll_interval: Duration::from_secs(10),
            reads: vec![
                EpcRead {
                    var: 0,
                    epc: 0xC7,
                    class: PollClass::Fast,
                },
                EpcRead {
                    var: 1,
                    epc: 0xD8,
                    class: PollClass::Slow,
                },
            ],
        }
    }

    fn tracker(now: Instant) -> Tracker {
        Tracker::new(device(), "127.0.0.1".parse().unwrap(), now)
    }

    fn values(v: &[(usize, &[u8])]) -> DeviceEvent {
        DeviceEvent::Values {
            device: DeviceId(7),
            values: v
                .iter()
                .map(|(var, b)| (*var, RawValue::Bytes(b.to_vec())))
                .collect(),
        }
    }

    const ONLINE: DeviceEvent = DeviceEvent::Online {
        device: DeviceId(7),
    };

    #[test]
    fn first_poll_reads_every_class_then_only_due_ones() {
        let (tx, rx) = crossbeam_channel::bounded(8);
        let now = Instant::now();
        let mut t = tracker(now);
        assert_eq!(t.due(), Some(now));
        let plan = t.plan(now);
        assert_eq!(plan.epcs, vec![0xC7, 0xD8]);
        t.busy = true;
        assert_eq!(t.due(), None, "no second poll while one is out");
        let props = [
            Property::new(0xC7, [0x30]),
            Property::new(0xD8, [0, 0, 0, 5]),
        ];
        t.answered(&plan, &props, &tx, now).unwrap();
        assert_eq!(rx.try_recv().unwrap(), ONLINE);
        assert_eq!(
            rx.try_recv().unwrap(),
            values(&[(0, &[0x30]), (1, &[0, 0, 0, 5])])
        );
        assert_eq!(t.due(), Some(now + Duration::from_secs(1)));
        let later = now + Duration::from_secs(1);
        assert_eq!(t.plan(later).epcs, vec![0xC7], "slow class not due yet");
        let slow_due = now + Duration::from_secs(10);
        assert_eq!(t.plan(slow_due).epcs, vec![0xC7, 0xD8]);
    }

    #[test]
    fn announced_changes_are_confirmed_by_a_poll_at_most_once_per_gap() {
        let (tx, rx) = crossbeam_channel::bounded(8);
        let now = Instant::now();
        let mut t = tracker(now);
        t.started(now);
        let plan = t.plan(now);
        t.answered(&plan, &[Property::new(0xC7, [0x30])], &tx, now)
            .unwrap();
        rx.try_iter().for_each(drop);
        let soon = now + Duration::from_millis(10);
        t.announced(&[Property::new(0xC7, [0x30])], soon);
        assert_eq!(t.due(), Some(now + Duration::from_secs(1)), "no change");
        t.announced(&[Property::new(0xC7, [0x41])], soon);
        assert!(rx.try_recv().is_err(), "an INF alone reports nothing");
        assert_eq!(t.due(), Some(now + CONFIRM_GAP), "a Get, after the gap");

        let at = now + CONFIRM_GAP;
        t.started(at);
        t.announced(&[Property::new(0xC7, [0x40])], at);
        assert_eq!(t.due(), None, "one request at a time");
        let plan = t.plan(at);
        assert_eq!(plan.epcs, vec![0xC7, 0xD8], "the confirming Get reads all");
        t.answered(&plan, &[Property::new(0xC7, [0x41])], &tx, at)
            .unwrap();
        assert_eq!(rx.try_recv().unwrap(), values(&[(0, &[0x41])]));
        assert_eq!(
            t.due(),
            Some(at + CONFIRM_GAP),
            "announced while the Get was out: confirmed by the next one"
        );
    }

    #[test]
    fn announcement_before_online_polls_instead() {
        let (tx, rx) = crossbeam_channel::bounded(8);
        let now = Instant::now();
        let mut t = tracker(now);
        t.failed("timeout", 1, Duration::from_secs(30), &tx, now)
            .unwrap();
        assert!(matches!(rx.try_recv(), Ok(DeviceEvent::Offline { .. })));
        let later = now + Duration::from_millis(10);
        t.announced(&[Property::new(0xC7, [0x41])], later);
        assert!(rx.try_recv().is_err(), "no Values without Online");
        assert_eq!(t.due(), Some(later));
    }

    #[test]
    fn refused_properties_are_skipped_and_device_stays_online() {
        let (tx, rx) = crossbeam_channel::bounded(8);
        let now = Instant::now();
        let mut t = tracker(now);
        let plan = t.plan(now);
        let props = [Property::empty(0xC7), Property::new(0xD8, [0, 0, 0, 1])];
        t.answered(&plan, &props, &tx, now).unwrap();
        assert_eq!(rx.try_recv().unwrap(), ONLINE);
        assert_eq!(rx.try_recv().unwrap(), values(&[(1, &[0, 0, 0, 1])]));
        assert!(t.refused.contains(&0xC7));
        let props = [
            Property::new(0xC7, [0x30]),
            Property::new(0xD8, [0, 0, 0, 1]),
        ];
        t.answered(&plan, &props, &tx, now).unwrap();
        assert!(t.refused.is_empty());
        assert_eq!(rx.try_recv().unwrap(), values(&[(0, &[0x30])]));
    }

    #[test]
    fn offline_after_failures_then_back_off_then_all_values_again() {
        let (tx, rx) = crossbeam_channel::bounded(8);
        let now = Instant::now();
        let cap = Duration::from_secs(5);
        let mut t = tracker(now);
        let plan = t.plan(now);
        let props = [Property::new(0xC7, [0x30])];
        t.answered(&plan, &props, &tx, now).unwrap();
        rx.try_iter().for_each(drop);
        t.failed("no answer", 2, cap, &tx, now).unwrap();
        assert!(rx.try_recv().is_err());
        t.failed("no answer", 2, cap, &tx, now).unwrap();
        assert_eq!(
            rx.try_recv().unwrap(),
            DeviceEvent::Offline {
                device: DeviceId(7),
                reason: "no answer".into()
            }
        );
        let mut delays = Vec::new();
        for _ in 0..4 {
            t.failed("no answer", 2, cap, &tx, now).unwrap();
            delays.push(t.due().unwrap() - now);
        }
        let secs: Vec<u64> = delays.iter().map(Duration::as_secs).collect();
        assert_eq!(secs, [2, 4, 5, 5]);
        assert!(rx.try_recv().is_err(), "Offline is sent once");
        let plan = t.plan(now);
        assert_eq!(plan.epcs, vec![0xC7, 0xD8], "a probe reads everything");
        t.answered(&plan, &props, &tx, now).unwrap();
        assert_eq!(rx.try_recv().unwrap(), ONLINE);
        assert_eq!(rx.try_recv().unwrap(), values(&[(0, &[0x30])]));
    }

    #[test]
    fn device_without_reads_is_probed_with_operation_status() {
        let now = Instant::now();
        let mut d = device();
        d.reads.clear();
        let t = Tracker::new(d, "127.0.0.1".parse().unwrap(), now);
        assert_eq!(t.plan(now).epcs, vec![LIVENESS_EPC]);
    }

    #[test]
    fn closed_hub_is_reported() {
        let (tx, rx) = crossbeam_channel::bounded(8);
        drop(rx);
        let now = Instant::now();
        let mut t = tracker(now);
        let plan = t.plan(now);
        assert_eq!(t.answered(&plan, &[], &tx, now), Err(HubGone));
        assert_eq!(
            t.failed("x", 1, Duration::from_secs(1), &tx, now),
            Err(HubGone)
        );
    }
}
