//! What the station asks the hub to do: the station's only way to act on the world.

use crate::journal::JournalOp;

/// Something the hub must do for the station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Open the WebSocket (answered by `connected` or `link_down`).
    Connect,
    /// Close the WebSocket for a reset (close code 1000); answered by `link_down`.
    Disconnect,
    /// Send this OCPP-J frame.
    Send(String),
    /// Act on the charger through its template.
    Device(DeviceCommand),
    /// Write a template-mapped variable the CSMS set (SetVariables).
    WriteVariable {
        component: String,
        variable: String,
        value: String,
    },
    /// Store the device-model values the CSMS set, so they survive a restart.
    Persist(serde_json::Value),
    /// Write to the journal; done before any later `Send` is handed to the link.
    Journal(JournalOp),
}

/// A command for the charger; the hub turns it into a write of the mapped control variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceCommand {
    /// `Control.Charging` Start or Stop on EVSE `evse` (0-based).
    Charging { evse: usize, start: bool },
    /// `Control.Unlock`.
    Unlock { evse: usize },
    /// `Control.Reset`.
    Reset,
    /// `Control.Availability` Operative or Inoperative.
    Availability { operative: bool },
}
