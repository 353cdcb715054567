//! ECHONET Lite: the frame and property codecs (sans-IO), the UDP worker that polls EV charger
//! objects (and polls again to confirm what they announce), discovery, and a blocking client
//! for `ocpp-gw diag el`.

pub mod client;
pub mod discovery;
pub mod epc;
mod error;
pub mod frame;
pub(crate) mod io;
pub mod propmap;
mod requests;
mod session;
mod settings;
mod tracker;
mod worker;

use std::net::Ipv4Addr;
use std::sync::atomic::AtomicU64;

pub use error::{FrameError, PropertyError, RequestError};
pub use frame::{Eoj, Esv, Frame, Property};
pub use session::{Counters, Datagram, Session};
pub use settings::{InfLimit, Settings};
pub use worker::spawn_worker;

/// The ECHONET Lite UDP port, for requests, answers and notifications.
pub const PORT: u16 = 3610;
/// The IPv4 multicast group every node listens to.
pub const MULTICAST_GROUP: Ipv4Addr = Ipv4Addr::new(224, 0, 23, 0);
/// The gateway's own object: a controller, instance 1.
pub const CONTROLLER: Eoj = Eoj {
    group: 0x05,
    class: 0xFF,
    instance: 0x01,
};
/// The node profile object every node has.
pub const NODE_PROFILE: Eoj = Eoj {
    group: 0x0E,
    class: 0xF0,
    instance: 0x01,
};
/// Class of node profiles (instance 1 general node, 2 transmission-only node).
pub const CLASS_NODE_PROFILE: u16 = 0x0EF0;
/// Class of electric vehicle chargers.
pub const CLASS_EV_CHARGER: u16 = 0x02A1;
/// Class of electric vehicle chargers/dischargers.
pub const CLASS_EV_CHARGER_DISCHARGER: u16 = 0x027E;

/// Datagrams that were not well-formed ECHONET Lite frames, for the metrics endpoint.
pub static MALFORMED_FRAMES_TOTAL: AtomicU64 = AtomicU64::new(0);

/// Whether `eoj` is an EV charger or charger/discharger object.
pub fn is_ev_charger(eoj: Eoj) -> bool {
    matches!(
        eoj.class_code(),
        CLASS_EV_CHARGER | CLASS_EV_CHARGER_DISCHARGER
    )
}
