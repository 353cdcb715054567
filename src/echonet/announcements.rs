//! Announcements (INF, INFC) from nodes. ECHONET Lite has no authentication: anyone on the link
//! can send an INF with a node's source address, so an INF is only a hint. A node may send
//! `inf_limit` of them (a token bucket per node); the rest are dropped, counted and logged at
//! most every [`LOG_EVERY`] per node. A value an INF reports never reaches the hub as such: it makes the
//! device due for a Get (see `Tracker::announced`), and only the node's answer is reported.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::{Datagram, Session};
use crate::echonet::discovery::{first_charger, instance_list};
use crate::echonet::frame::{Eoj, Esv, Frame, Property};
use crate::echonet::propmap::check_edt;
use crate::echonet::settings::InfLimit;

/// Shortest time between two log lines about one node's discarded INF.
const LOG_EVERY: Duration = Duration::from_secs(5);

/// One node's INF token bucket and the discards not logged yet.
#[derive(Debug, Default)]
pub(crate) struct InfBucket {
    tokens: f64,
    /// When tokens were last added; `None` before the first INF (the bucket starts full).
    refilled: Option<Instant>,
    /// Discarded since the last log line.
    unlogged: u64,
    logged: Option<Instant>,
}

impl InfBucket {
    /// Takes a token for one INF; `false` when the node is over its rate.
    fn admit(&mut self, limit: InfLimit, now: Instant) -> bool {
        let burst = f64::from(limit.burst.max(1));
        self.tokens = match self.refilled {
            None => burst,
            Some(at) => {
                let earned = now.saturating_duration_since(at).as_secs_f64()
                    * f64::from(limit.per_second.max(1));
                (self.tokens + earned).min(burst)
            }
        };
        self.refilled = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return true;
        }
        self.unlogged += 1;
        false
    }

    /// How many INF were discarded since the last log line, when one is due.
    fn log_due(&mut self, now: Instant) -> Option<u64> {
        let recent = self
            .logged
            .is_some_and(|at| now.saturating_duration_since(at) < LOG_EVERY);
        if self.unlogged == 0 || recent {
            return None;
        }
        self.logged = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }
}

impl Session {
    /// An INF or INFC from a configured node within its rate: answers an INFC, learns instance
    /// lists, and asks the node's devices to confirm what it announced.
    pub(super) fn notification(&mut self, from: SocketAddr, frame: Frame, now: Instant) {
        let ip = from.ip();
        let limit = self.settings.inf_limit;
        let Some(node) = self.nodes.get_mut(&ip) else {
            log::trace!(
                "echonet: ignoring {} from {from}: not a polled node",
                frame.esv
            );
            return;
        };
        let admitted = node.inf.admit(limit, now);
        if !admitted {
            self.counters.inf_discarded += 1;
            crate::metrics::ECHONET_INF_DISCARDED.inc();
        }
        // Checked on admitted INF too, so the end of a flood is logged when it is over.
        if let Some(n) = node.inf.log_due(now) {
            log::warn!(
                "echonet: {ip} announces more than {}/s (burst {}): {n} INF discarded; \
                 spoofed, or a faulty node",
                limit.per_second,
                limit.burst
            );
        }
        if !admitted {
            return;
        }
        if frame.esv == Esv::InfC {
            let props = frame.props.iter().map(|p| Property::empty(p.epc)).collect();
            let reply = Frame::new(frame.tid, frame.deoj, frame.seoj, Esv::InfCRes, props);
            if let Ok(bytes) = reply.encode() {
                self.out.push_back(Datagram { to: from, bytes });
            }
        }
        self.learn_from(ip, &frame, now);
        let props = self.well_formed(ip, frame.seoj, frame.props);
        for t in self.devices.values_mut() {
            if t.ip == ip && t.eoj == Some(frame.seoj) {
                t.announced(&props, now);
            }
        }
    }

    /// Records an instance list the node profile at `ip` sent (0xD5 or 0xD6) and binds the
    /// node's devices configured without an object.
    pub(super) fn learn_from(&mut self, ip: IpAddr, frame: &Frame, now: Instant) {
        let Some(list) = instance_list(frame) else {
            return;
        };
        let Some(node) = self.nodes.get_mut(&ip) else {
            log::debug!("echonet: node {ip} is not configured; ignoring its instance list");
            return;
        };
        let instances = match list {
            Ok(l) => l,
            Err(e) => {
                self.counters.malformed += 1;
                log::debug!("echonet: bad instance list from {ip}: {e}");
                return;
            }
        };
        let charger = first_charger(&instances);
        node.instances = Some(instances);
        for t in self.devices.values_mut() {
            if t.ip == ip && t.device.eoj.is_none() && t.eoj != charger {
                match charger {
                    Some(eoj) => log::info!("{}: bound to object {eoj} of {ip}", t.device.name),
                    None => log::warn!("{}: {ip} lists no EV charger object", t.device.name),
                }
                t.eoj = charger;
                t.poll_now(now);
            }
        }
    }

    /// The properties in `props` whose value fits its definition; the others are dropped, as
    /// if refused, and counted, so that no malformed value is taken for a reading.
    pub(super) fn well_formed(
        &mut self,
        ip: IpAddr,
        eoj: Eoj,
        props: Vec<Property>,
    ) -> Vec<Property> {
        let counters = &mut self.counters;
        props
            .into_iter()
            .filter(|p| match check_edt(eoj, p.epc, &p.edt) {
                Ok(()) => true,
                Err(e) => {
                    counters.bad_values += 1;
                    log::debug!("echonet: {ip} object {eoj}: {e}; value ignored");
                    false
                }
            })
            .collect()
    }
}

#[cfg(test)]
#[path = "announcements_tests.rs"]
mod tests;
