//! What the session keeps about requests: why each was sent, those waiting for a slot at
//! their node, and those waiting for an answer.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use super::frame::{Eoj, Esv, Property};
use super::session::InfBucket;
use super::tracker::PollPlan;
use crate::device::DeviceId;

/// Why a request was sent, and so what its answer completes.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Purpose {
    Poll {
        device: DeviceId,
        plan: PollPlan,
    },
    Write {
        device: DeviceId,
        token: u64,
    },
    /// A unicast Get of the node's instance list, to bind `device` to an object.
    Instances {
        device: DeviceId,
    },
    /// A multicast Get of every node's instance list.
    Discover,
}

impl Purpose {
    /// The device the request is for (none for a multicast discovery).
    pub(super) fn device(&self) -> Option<DeviceId> {
        match self {
            Purpose::Poll { device, .. }
            | Purpose::Write { device, .. }
            | Purpose::Instances { device } => Some(*device),
            Purpose::Discover => None,
        }
    }
}

/// A request waiting for a free slot at its node.
#[derive(Debug)]
pub(super) struct Request {
    pub(super) deoj: Eoj,
    pub(super) esv: Esv,
    pub(super) props: Vec<Property>,
    pub(super) purpose: Purpose,
}

/// A request sent and not yet answered.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) to: SocketAddr,
    /// The node it counts against; `None` for multicast.
    pub(super) node: Option<IpAddr>,
    pub(super) deoj: Eoj,
    pub(super) bytes: Vec<u8>,
    pub(super) tries: u32,
    pub(super) deadline: Instant,
    pub(super) purpose: Purpose,
}

/// One node (IP address) with configured devices.
#[derive(Debug, Default)]
pub(super) struct Node {
    pub(super) in_flight: usize,
    pub(super) queue: VecDeque<Request>,
    /// The objects the node last listed.
    pub(super) instances: Option<Vec<Eoj>>,
    /// Its announcements' rate limit.
    pub(super) inf: InfBucket,
}
