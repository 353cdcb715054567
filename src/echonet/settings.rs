//! The settings of one ECHONET Lite worker.

use std::net::Ipv4Addr;
use std::time::Duration;

use super::PORT;
use crate::config::EchonetConfig;

/// Addresses, timeouts and limits of one worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Local IPv4 address for unicast and multicast; 0.0.0.0 lets the system choose.
    pub interface: Ipv4Addr,
    /// The UDP port bound locally and addressed on nodes (3610).
    pub port: u16,
    /// Hops a multicast request may travel.
    pub multicast_ttl: u32,
    /// Wait for an answer before sending a request again.
    pub response_timeout: Duration,
    /// Times an unanswered request is sent again before it fails.
    pub retries: u32,
    /// Requests one node may have unanswered at a time (0 behaves as 1).
    pub max_in_flight_per_node: usize,
    /// Consecutive failed polls before a device is reported offline (0 behaves as 1).
    pub offline_after_failures: u32,
    /// Longest probe interval while a device is offline.
    pub max_backoff: Duration,
    /// How many announcements (INF, INFC) a node may send; the rest are dropped.
    pub inf_limit: InfLimit,
}

/// A token bucket's rate: `per_second` on average, `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InfLimit {
    /// Tokens added per second (0 behaves as 1).
    pub per_second: u32,
    /// Tokens the bucket holds, and so the longest burst (0 behaves as 1).
    pub burst: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            interface: Ipv4Addr::UNSPECIFIED,
            port: PORT,
            multicast_ttl: 1,
            response_timeout: Duration::from_secs(2),
            retries: 2,
            max_in_flight_per_node: 2,
            offline_after_failures: 3,
            max_backoff: Duration::from_secs(60),
            inf_limit: InfLimit {
                per_second: 10,
                burst: 20,
            },
        }
    }
}

impl Settings {
    /// The settings of `[echonet]`, with the default back-off.
    pub fn from_config(c: &EchonetConfig) -> Settings {
        Settings {
            interface: c.interface,
            multicast_ttl: c.multicast_ttl,
            response_timeout: c.response_timeout,
            retries: c.retries,
            max_in_flight_per_node: usize::try_from(c.max_in_flight_per_node).unwrap_or(usize::MAX),
            offline_after_failures: c.offline_after_failures,
            inf_limit: InfLimit {
                per_second: c.inf_per_second,
                burst: c.inf_burst,
            },
            ..Settings::default()
        }
    }
}
