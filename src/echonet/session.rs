//! The ECHONET Lite worker's state machine, sans-IO: commands, datagrams and time in;
//! datagrams to send, device events and the next deadline out.
//!
//! Each request gets a fresh TID and is matched to its answer by TID, source address and
//! object. A node gets at most `max_in_flight_per_node` requests at a time; the rest wait in
//! its queue, writes ahead of polls. An unanswered request is sent again with the same TID
//! (so a late first answer still counts) until its tries are used up.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Instant;

use crossbeam_channel::Sender;

use super::discovery::first_charger;
use super::epc::{hex_list, SELF_NODE_INSTANCES};
use super::frame::{Esv, Frame, Property};
use super::requests::{Node, Pending, Purpose, Request};
use super::settings::Settings;
use super::tracker::{PollPlan, Tracker};
use super::{CONTROLLER, MULTICAST_GROUP, NODE_PROFILE};
use crate::chan::{self, SendError};
use crate::device::{DeviceEvent, DeviceId, EchonetDevice, WriteRequest, WriteValue};

pub use super::tracker::HubGone;

/// A datagram the session wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Datagram {
    /// Destination: a node's address or the multicast group, port 3610.
    pub to: SocketAddr,
    /// One encoded frame.
    pub bytes: Vec<u8>,
}

/// What happened on the wire, for logs and metrics.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams that were not well-formed frames.
    pub malformed: u64,
    /// Answers that matched no outstanding request (late, duplicate or foreign).
    pub unmatched: u64,
    /// Requests sent again after a timeout.
    pub retransmits: u64,
    /// Requests that got no answer after every try.
    pub timeouts: u64,
    /// SNA answers received.
    pub sna: u64,
    /// Announcements dropped because their node exceeded its INF rate.
    pub inf_discarded: u64,
    /// Received property values that did not fit their definition (dropped as if refused).
    pub bad_values: u64,
}

/// The worker's whole state.
#[derive(Debug)]
pub struct Session {
    settings: Settings,
    events: Sender<DeviceEvent>,
    devices: BTreeMap<DeviceId, Tracker>,
    nodes: HashMap<IpAddr, Node>,
    pending: HashMap<u16, Pending>,
    last_tid: u16,
    out: VecDeque<Datagram>,
    counters: Counters,
}

impl Session {
    /// An empty session reporting to `events`; TIDs start after `first_tid` (random in the
    /// worker, so answers meant for an earlier run do not match).
    pub fn new(settings: Settings, events: Sender<DeviceEvent>, first_tid: u16) -> Session {
        Session {
            settings,
            events,
            devices: BTreeMap::new(),
            nodes: HashMap::new(),
            pending: HashMap::new(),
            last_tid: first_tid,
            out: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    /// What happened on the wire so far.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Datagram> {
        self.out.pop_front()
    }

    /// When `tick` next has something to do; `None` when nothing is scheduled.
    pub fn next_deadline(&self) -> Option<Instant> {
        let polls = self.devices.values().filter_map(Tracker::due);
        let answers = self.pending.values().map(|p| p.deadline);
        polls.chain(answers).min()
    }

    /// Starts polling `device` at `ip` (replacing one with the same id); a device without an
    /// object is bound by discovery.
    pub fn add(&mut self, device: EchonetDevice, ip: IpAddr, now: Instant) {
        self.remove(device.id);
        let unbound = device.eoj.is_none();
        log::info!(
            "echonet: polling {} at {ip} object {} every {:?}",
            device.name,
            device
                .eoj
                .map_or_else(|| "(discover)".to_string(), |e| format!("0x{e:06X}")),
            device.poll_interval
        );
        let mut tracker = Tracker::new(device, ip, now);
        let node = self.nodes.entry(ip).or_default();
        if unbound {
            if let Some(eoj) = node.instances.as_deref().and_then(first_charger) {
                tracker.eoj = Some(eoj);
            } else {
                self.discover(now);
            }
        }
        self.devices.insert(tracker.device.id, tracker);
    }

    /// Stops polling a device; answers to its outstanding requests are ignored.
    pub fn remove(&mut self, id: DeviceId) {
        let Some(tracker) = self.devices.remove(&id) else {
            return;
        };
        log::info!("echonet: removed {}", tracker.device.name);
        let ip = tracker.ip;
        let used = self.devices.values().any(|t| t.ip == ip);
        if let Some(node) = self.nodes.get_mut(&ip) {
            node.queue.retain(|r| r.purpose.device() != Some(id));
            if !used && node.in_flight == 0 {
                self.nodes.remove(&ip);
            }
        }
    }

    /// Sends a multicast Get of every node's instance list, unless one is outstanding.
    pub fn discover(&mut self, now: Instant) {
        if self
            .pending
            .values()
            .any(|p| p.purpose == Purpose::Discover)
        {
            return;
        }
        let to = SocketAddr::new(MULTICAST_GROUP.into(), self.settings.port);
        let request = Request {
            deoj: NODE_PROFILE,
            esv: Esv::Get,
            props: vec![Property::empty(SELF_NODE_INSTANCES)],
            purpose: Purpose::Discover,
        };
        // A multicast Get cannot fail to encode; nothing to report if it did.
        let _ = self.send(request, to, None, now);
    }

    /// Queues a SetC for `request` ahead of any poll; the outcome comes as `Written`.
    pub fn write(&mut self, request: WriteRequest, now: Instant) -> Result<(), HubGone> {
        let target = self
            .devices
            .get(&request.device)
            .ok_or_else(|| "device is not polled by this worker".to_string())
            .and_then(|t| {
                t.eoj
                    .map(|eoj| (t.ip, eoj))
                    .ok_or_else(|| format!("{}: no EV charger object bound yet", t.device.name))
            });
        let (ip, eoj, epc, edt) = match (target, request.value) {
            (Ok((ip, eoj)), WriteValue::Epc { epc, edt }) => (ip, eoj, epc, edt),
            (Err(e), _) => return self.written(request.device, request.token, Err(e)),
            (Ok(_), _) => {
                let e = "not an ECHONET Lite property write".to_string();
                return self.written(request.device, request.token, Err(e));
            }
        };
        let purpose = Purpose::Write {
            device: request.device,
            token: request.token,
        };
        self.nodes.entry(ip).or_default().queue.push_front(Request {
            deoj: eoj,
            esv: Esv::SetC,
            props: vec![Property::new(epc, edt)],
            purpose,
        });
        self.pump(ip, now)
    }

    /// Handles one received datagram from `from`.
    pub fn datagram(
        &mut self,
        from: SocketAddr,
        bytes: &[u8],
        now: Instant,
    ) -> Result<(), HubGone> {
        let frame = match Frame::decode(bytes) {
            Ok(f) => f,
            Err(e) => {
                self.counters.malformed += 1;
                super::MALFORMED_FRAMES_TOTAL.fetch_add(1, Ordering::Relaxed);
                log::debug!("echonet: malformed datagram from {from}: {e}");
                return Ok(());
            }
        };
        match frame.esv {
            Esv::Inf | Esv::InfC => {
                self.notification(from, frame, now);
                Ok(())
            }
            esv if esv.is_request() => {
                log::trace!("echonet: ignoring {esv} from {from}");
                Ok(())
            }
            Esv::InfCRes => Ok(()),
            _ => self.answer(from, frame, now),
        }
    }

    /// Retransmits or fails requests whose answer is overdue, then starts due polls.
    pub fn tick(&mut self, now: Instant) -> Result<(), HubGone> {
        let overdue: Vec<u16> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(tid, _)| *tid)
            .collect();
        let tries = self.settings.retries.saturating_add(1);
        for tid in overdue {
            let Some(p) = self.pending.get_mut(&tid) else {
                continue;
            };
            if p.tries < tries {
                p.tries += 1;
                p.deadline = now + self.settings.response_timeout;
                self.counters.retransmits += 1;
                log::debug!(
                    "echonet: no answer from {} (TID {tid}), sending again",
                    p.to
                );
                self.out.push_back(Datagram {
                    to: p.to,
                    bytes: p.bytes.clone(),
                });
                continue;
            }
            let Some(p) = self.pending.remove(&tid) else {
                continue;
            };
            if p.purpose != Purpose::Discover {
                self.counters.timeouts += 1;
            }
            let reason = format!("no answer from {} after {} tries", p.to.ip(), p.tries);
            self.complete(p.purpose, Err(reason), now)?;
            if let Some(ip) = p.node {
                self.release(ip, now)?;
            }
        }
        self.start_due_polls(now)
    }

    fn start_due_polls(&mut self, now: Instant) -> Result<(), HubGone> {
        let due: Vec<DeviceId> = self
            .devices
            .iter()
            .filter(|(_, t)| t.due().is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        let mut touched = Vec::new();
        for id in due {
            let Some(t) = self.devices.get_mut(&id) else {
                continue;
            };
            t.started(now);
            let request = match t.eoj {
                Some(eoj) => {
                    let plan = t.plan(now);
                    Request {
                        deoj: eoj,
                        esv: Esv::Get,
                        props: plan.epcs.iter().map(|&e| Property::empty(e)).collect(),
                        purpose: Purpose::Poll { device: id, plan },
                    }
                }
                None => Request {
                    deoj: NODE_PROFILE,
                    esv: Esv::Get,
                    props: vec![Property::empty(SELF_NODE_INSTANCES)],
                    purpose: Purpose::Instances { device: id },
                },
            };
            let ip = t.ip;
            self.nodes.entry(ip).or_default().queue.push_back(request);
            if !touched.contains(&ip) {
                touched.push(ip);
            }
        }
        for ip in touched {
            self.pump(ip, now)?;
        }
        Ok(())
    }

    /// Sends queued requests of the node at `ip` while it has free slots.
    fn pump(&mut self, ip: IpAddr, now: Instant) -> Result<(), HubGone> {
        let limit = self.settings.max_in_flight_per_node.max(1);
        let to = SocketAddr::new(ip, self.settings.port);
        loop {
            let Some(node) = self.nodes.get_mut(&ip) else {
                return Ok(());
            };
            if node.in_flight >= limit {
                return Ok(());
            }
            let Some(request) = node.queue.pop_front() else {
                return Ok(());
            };
            if let Err((purpose, reason)) = self.send(request, to, Some(ip), now) {
                self.complete(purpose, Err(reason), now)?;
            }
        }
    }

    /// Encodes and sends `request` with a fresh TID; hands the purpose back if it cannot.
    fn send(
        &mut self,
        request: Request,
        to: SocketAddr,
        node: Option<IpAddr>,
        now: Instant,
    ) -> Result<(), (Purpose, String)> {
        let Some(tid) = self.free_tid() else {
            return Err((request.purpose, "no free transaction id".into()));
        };
        let frame = Frame::new(tid, CONTROLLER, request.deoj, request.esv, request.props);
        let bytes = match frame.encode() {
            Ok(b) => b,
            Err(e) => return Err((request.purpose, e.to_string())),
        };
        self.out.push_back(Datagram {
            to,
            bytes: bytes.clone(),
        });
        if let Some(ip) = node {
            if let Some(n) = self.nodes.get_mut(&ip) {
                n.in_flight += 1;
            }
        }
        self.pending.insert(
            tid,
            Pending {
                to,
                node,
                deoj: request.deoj,
                bytes,
                tries: 1,
                deadline: now + self.settings.response_timeout,
                purpose: request.purpose,
            },
        );
        Ok(())
    }

    fn free_tid(&mut self) -> Option<u16> {
        for _ in 0..=u16::MAX {
            self.last_tid = self.last_tid.wrapping_add(1);
            if !self.pending.contains_key(&self.last_tid) {
                return Some(self.last_tid);
            }
        }
        None
    }

    /// Frees the slot of a finished request at `ip` and sends what waits for it.
    fn release(&mut self, ip: IpAddr, now: Instant) -> Result<(), HubGone> {
        let Some(node) = self.nodes.get_mut(&ip) else {
            return Ok(());
        };
        node.in_flight = node.in_flight.saturating_sub(1);
        if node.in_flight == 0 && !self.devices.values().any(|t| t.ip == ip) {
            self.nodes.remove(&ip);
            return Ok(());
        }
        self.pump(ip, now)
    }

    /// An answer (response or SNA): completes the request it matches.
    fn answer(&mut self, from: SocketAddr, frame: Frame, now: Instant) -> Result<(), HubGone> {
        let matches = self.pending.get(&frame.tid).is_some_and(|p| match p.node {
            Some(ip) => ip == from.ip() && p.deoj == frame.seoj,
            None => true,
        });
        if !matches {
            self.counters.unmatched += 1;
            log::debug!(
                "echonet: {} from {from} (TID {}) answers no outstanding request",
                frame.esv,
                frame.tid
            );
            return Ok(());
        }
        if frame.esv.is_sna() {
            self.counters.sna += 1;
            log::debug!(
                "echonet: {} from {from} object {}: refused EPC {}",
                frame.esv,
                frame.seoj,
                hex_list(&refused(&frame))
            );
        }
        // Every node answers a multicast request: keep it open until its deadline.
        let multicast = self
            .pending
            .get(&frame.tid)
            .is_some_and(|p| p.purpose == Purpose::Discover);
        if multicast {
            self.learn_from(from.ip(), &frame, now);
            return Ok(());
        }
        let Some(p) = self.pending.remove(&frame.tid) else {
            return Ok(());
        };
        self.complete(p.purpose, Ok((from.ip(), frame)), now)?;
        if let Some(ip) = p.node {
            self.release(ip, now)?;
        }
        Ok(())
    }

    /// Acts on the outcome of a request: an answer from a node, or why there was none.
    fn complete(
        &mut self,
        purpose: Purpose,
        outcome: Result<(IpAddr, Frame), String>,
        now: Instant,
    ) -> Result<(), HubGone> {
        let s = &self.settings;
        let (offline_after, max_backoff) = (s.offline_after_failures, s.max_backoff);
        match purpose {
            Purpose::Discover => Ok(()),
            Purpose::Write { device, token } => {
                let result = match outcome {
                    Ok((_, frame)) if frame.esv == Esv::SetRes => Ok(()),
                    Ok((_, frame)) if frame.esv == Esv::SetCSna => Err(format!(
                        "node refused EPC {} ({})",
                        hex_list(&refused(&frame)),
                        frame.esv
                    )),
                    Ok((_, frame)) => Err(format!("unexpected {} to a SetC", frame.esv)),
                    Err(reason) => Err(reason),
                };
                if let Err(e) = &result {
                    let name = self.devices.get(&device).map_or("?", |t| &t.device.name);
                    log::warn!("{name}: write failed: {e}");
                }
                self.written(device, token, result)
            }
            Purpose::Poll { device, plan } => {
                let outcome = outcome.map(|(ip, mut frame)| {
                    let props = std::mem::take(&mut frame.props);
                    frame.props = self.well_formed(ip, frame.seoj, props);
                    (ip, frame)
                });
                let Some(t) = self.devices.get_mut(&device) else {
                    return Ok(());
                };
                match outcome {
                    // An answer without one usable value (all refused or malformed) tells
                    // nothing about the charger: a failed poll, or the device would stay
                    // online with values no longer read.
                    Ok((_, frame))
                        if matches!(frame.esv, Esv::GetRes | Esv::GetSna)
                            && no_value(&plan, &frame) =>
                    {
                        let reason = format!(
                            "no usable value in {} for EPC {} (refused or malformed)",
                            frame.esv.name(),
                            hex_list(&plan.epcs)
                        );
                        t.failed(&reason, offline_after, max_backoff, &self.events, now)
                    }
                    Ok((_, frame)) if matches!(frame.esv, Esv::GetRes | Esv::GetSna) => {
                        t.answered(&plan, &frame.props, &self.events, now)
                    }
                    Ok((_, frame)) => {
                        let reason = format!("unexpected {} to a Get", frame.esv);
                        t.failed(&reason, offline_after, max_backoff, &self.events, now)
                    }
                    Err(reason) => t.failed(&reason, offline_after, max_backoff, &self.events, now),
                }
            }
            Purpose::Instances { device } => {
                if let Ok((ip, frame)) = &outcome {
                    self.learn_from(*ip, frame, now);
                }
                let Some(t) = self.devices.get_mut(&device) else {
                    return Ok(());
                };
                t.busy = false;
                if t.eoj.is_some() {
                    return Ok(());
                }
                let reason = match outcome {
                    Ok(_) => "the node lists no EV charger object".to_string(),
                    Err(reason) => reason,
                };
                t.failed(&reason, offline_after, max_backoff, &self.events, now)
            }
        }
    }

    /// Reports a write's outcome; it must not be lost, so a full channel is waited on (the
    /// hub never waits on the worker, so this cannot deadlock).
    fn written(
        &self,
        device: DeviceId,
        token: u64,
        result: Result<(), String>,
    ) -> Result<(), HubGone> {
        let event = DeviceEvent::Written {
            device,
            token,
            result,
        };
        match chan::try_send(&self.events, event, "echonet→hub") {
            Ok(()) => Ok(()),
            Err(SendError::Full(event)) => self.events.send(event).map_err(|_| HubGone),
            Err(SendError::Closed(_)) => Err(HubGone),
        }
    }
}

/// The properties an SNA refuses: refused reads come back without a value, refused writes
/// with the value that was asked for (SetGet_SNA: its Set list, then its Get list).
fn refused(frame: &Frame) -> Vec<u8> {
    let reads = matches!(frame.esv, Esv::GetSna | Esv::InfSna);
    let first = frame.props.iter().filter(|p| p.edt.is_empty() == reads);
    let gets = frame.get_props.iter().filter(|p| p.edt.is_empty());
    first.chain(gets).map(|p| p.epc).collect()
}

/// Whether an answer to `plan` carries a value for none of the properties it asked for.
fn no_value(plan: &PollPlan, frame: &Frame) -> bool {
    !plan.epcs.iter().any(|&epc| {
        frame
            .props
            .iter()
            .any(|p| p.epc == epc && !p.edt.is_empty())
    })
}

#[path = "announcements.rs"]
mod announcements;

pub(super) use announcements::InfBucket;

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
