//! What a station may send before the CSMS accepted it (B02 Pending, B03 Rejected), and
//! how its BootNotification names the reason.

use super::calls::Call;
use super::{Registration, Station};
use crate::ocpp::messages::BootReason;

impl Station {
    /// B02: what a Pending station may send besides its boot: only what the CSMS asked for.
    pub(super) fn triggered_call(&self) -> Option<Call> {
        if self.registration != Registration::Pending {
            return None;
        }
        let status = self.evses.iter().enumerate().find_map(|(index, e)| {
            let status = e.inputs.connector_status(!e.inoperative)?;
            e.status_triggered.then_some(Call::Status { index, status })
        });
        status
            .or_else(|| {
                self.extra
                    .front()
                    .is_some_and(|m| m.triggered)
                    .then_some(Call::Extra)
            })
            .or_else(|| self.heartbeat_due.then_some(Call::Heartbeat))
    }

    /// The reason the next BootNotification gives.
    pub(super) fn boot_reason_now(&self) -> BootReason {
        if self.boot_triggered {
            BootReason::Triggered
        } else {
            self.boot_reason
        }
    }
}
