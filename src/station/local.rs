//! Commands an operator gives a station through the admin API, not through the CSMS.
//!
//! Start and stop are local authorizations (IdToken type `Local`), so the CSMS sees them as a
//! driver at the charger: triggerReason Authorized and StopAuthorized. Unlock, reset and
//! availability go through the very handlers the CSMS's requests take, so both paths always
//! decide alike; their reply frame is taken back here instead of being sent.

use std::time::Instant;

use serde_json::{json, Value};

use super::handlers::{encode, Unlock};
use super::transaction::Authorization;
use super::{DeviceCommand, Effect, Registration, Station};
use crate::ocpp::frame::Frame;
use crate::ocpp::messages::{
    Action, ChangeAvailability, IdToken, IdTokenType, Reset, UnlockConnector,
    UnlockConnectorResponse,
};

/// An operator's command for a station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalCommand {
    /// Authorize EVSE 1 locally with `token` and enable charging.
    Start { token: String },
    /// Stop the running transaction as if its driver had presented the token again.
    Stop,
    /// Unlock connector 1 of EVSE 1.
    Unlock,
    /// Immediate reset of the whole station.
    Reset,
    /// Make the whole station (in)operative.
    Availability { operative: bool },
}

/// How the station took a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The OCPP status word: Accepted, Rejected, Scheduled, Unlocked, UnlockFailed, …
    pub status: String,
    /// Why, when the status alone does not say.
    pub reason: Option<String>,
    /// The transaction the command concerns, when one runs.
    pub transaction_id: Option<String>,
}

impl CommandOutcome {
    fn new(status: &str, reason: Option<&str>) -> CommandOutcome {
        CommandOutcome {
            status: status.to_string(),
            reason: reason.map(str::to_string),
            transaction_id: None,
        }
    }

    fn rejected(reason: &str) -> CommandOutcome {
        CommandOutcome::new("Rejected", Some(reason))
    }
}

impl Station {
    /// Carries out an operator's command; the effects go to `out` like those of a CSMS request.
    pub fn local_command(
        &mut self,
        now: Instant,
        command: LocalCommand,
        out: &mut Vec<Effect>,
    ) -> CommandOutcome {
        let outcome = match command {
            LocalCommand::Start { token } => self.local_start(now, token, out),
            LocalCommand::Stop => self.local_stop(out),
            LocalCommand::Unlock => self.as_the_csms::<UnlockConnector>(|st| {
                match st.unlock(&json!({"evseId": 1, "connectorId": 1}), out)? {
                    Unlock::Answer(status) => encode(&UnlockConnectorResponse {
                        status,
                        status_info: None,
                    }),
                    // An operator's command has no CALL to answer once the charger reports.
                    Unlock::Commanded { .. } => Ok(json!({"status": "Accepted"})),
                }
            }),
            LocalCommand::Reset => {
                self.as_the_csms::<Reset>(|st| st.reset_request(&json!({"type": "Immediate"})))
            }
            LocalCommand::Availability { operative } => {
                let status = if operative {
                    "Operative"
                } else {
                    "Inoperative"
                };
                self.as_the_csms::<ChangeAvailability>(|st| {
                    st.change_availability(&json!({ "operationalStatus": status }), out)
                })
            }
        };
        log::info!(
            "{}: local command answered {}{}",
            self.ocpp_id(),
            outcome.status,
            outcome
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default()
        );
        outcome
    }

    fn local_start(
        &mut self,
        now: Instant,
        token: String,
        out: &mut Vec<Effect>,
    ) -> CommandOutcome {
        if matches!(
            self.registration,
            Registration::Pending | Registration::Rejected
        ) {
            // B02.FR.05 / B03: no transaction while the CSMS holds the registration back.
            return CommandOutcome::rejected("the CSMS has not accepted the station");
        }
        if !self.settings.capabilities.start_stop {
            return CommandOutcome::rejected("the template maps no Control.Charging");
        }
        let timeout = self.settings.tx.ev_connection_timeout;
        let Some(evse) = self.evses.first_mut() else {
            return CommandOutcome::rejected("the station has no EVSE");
        };
        if evse.inoperative || evse.inputs.online != Some(true) || evse.inputs.faulted {
            return CommandOutcome::rejected("the EVSE is inoperative, offline or faulted");
        }
        if evse.tx.authorized_token().is_some() {
            return CommandOutcome::rejected("the EVSE is authorized already");
        }
        evse.tx.authorize(Authorization {
            id_token: IdToken {
                id_token: token.chars().take(IdToken::ID_TOKEN_MAX).collect(),
                kind: IdTokenType::Local,
                additional_info: None,
            },
            remote_start_id: None,
            expires: Some(now + timeout),
        });
        out.push(Effect::Device(DeviceCommand::Charging {
            evse: 0,
            start: true,
        }));
        CommandOutcome {
            transaction_id: evse.tx.transaction().map(|t| t.id.clone()),
            ..CommandOutcome::new("Accepted", None)
        }
    }

    fn local_stop(&mut self, out: &mut Vec<Effect>) -> CommandOutcome {
        let running = self
            .evses
            .iter()
            .enumerate()
            .find_map(|(i, e)| e.tx.transaction().map(|t| (i, t.id.clone())));
        let Some((index, transaction_id)) = running else {
            return CommandOutcome::rejected("no transaction is running");
        };
        if !self.settings.capabilities.start_stop {
            return CommandOutcome::rejected("the template maps no Control.Charging");
        }
        if let Some(evse) = self.evses.get_mut(index) {
            evse.tx.deauthorize(false);
        }
        out.push(Effect::Device(DeviceCommand::Charging {
            evse: index,
            start: false,
        }));
        CommandOutcome {
            transaction_id: Some(transaction_id),
            ..CommandOutcome::new("Accepted", None)
        }
    }

    /// Runs the handler of the CSMS request `A`, as if the CSMS had sent it, and reads its
    /// answer as the operator's outcome.
    fn as_the_csms<A: Action>(
        &mut self,
        handle: impl FnOnce(&mut Station) -> Result<Value, Frame>,
    ) -> CommandOutcome {
        if self.registration == Registration::Rejected {
            return CommandOutcome::rejected("the CSMS rejected this station's registration");
        }
        match handle(self) {
            Ok(payload) => {
                let status = payload
                    .get("status")
                    .and_then(Value::as_str)
                    .unwrap_or("Rejected");
                CommandOutcome::new(status, explain(A::NAME, status))
            }
            Err(Frame::CallError { description, .. }) => CommandOutcome::rejected(&description),
            Err(_) => CommandOutcome::rejected("the station gave no answer"),
        }
    }
}

/// Why a handler answered as it did, for statuses whose cause is not obvious to an operator.
fn explain(action: &str, status: &str) -> Option<&'static str> {
    match (action, status) {
        (UnlockConnector::NAME, "UnlockFailed") => {
            Some("the template maps no Control.Unlock, or an unlock is under way")
        }
        (UnlockConnector::NAME, "Accepted") => {
            Some("the unlock is written to the charger; a failed write shows in the device status")
        }
        (UnlockConnector::NAME, "OngoingAuthorizedTransaction") => {
            Some("a transaction runs; stop it first")
        }
        (UnlockConnector::NAME, "UnknownConnector") => Some("the station has no connector 1"),
        (ChangeAvailability::NAME, "Scheduled") => {
            Some("a transaction runs; the change takes effect when it ends")
        }
        (Reset::NAME, "Scheduled") => Some("a transaction runs; the reset waits for it"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ocpp::messages::{ConnectorStatus, Measurand};
    use crate::station::evse::EvseInputs;
    use crate::station::transaction::TxSettings;
    use crate::station::{Backoff, Capabilities, Retry, StationSettings};
    use crate::util::rng::Rng;

    fn station(capabilities: Capabilities) -> Station {
        let settings = StationSettings {
            ocpp_id: "CP1".into(),
            vendor_name: "V".into(),
            model: "M".into(),
            serial_number: None,
            firmware_version: Some("1".into()),
            identity: crate::station::BootIdentity::default(),
            heartbeat_interval: Duration::from_secs(300),
            response_timeout: Duration::from_secs(30),
            backoff: Backoff {
                wait_minimum: Duration::from_secs(10),
                random_range: Duration::ZERO,
                repeat_times: 3,
            },
            ping_interval: Duration::ZERO,
            security_profile: 0,
            basic_auth_password: None,
            measurands: vec![Measurand::EnergyActiveImportRegister],
            evses: 1,
            supply_phases: 3,
            tx: TxSettings::default(),
            aligned_interval: Duration::ZERO,
            aligned_measurands: Vec::new(),
            retry: Retry {
                attempts: 3,
                interval: Duration::from_secs(60),
            },
            capabilities,
        };
        let mut st = Station::new(settings, Rng::seeded(1), Instant::now());
        st.set_inputs(
            0,
            EvseInputs {
                online: Some(true),
                connector_status: Some(ConnectorStatus::Available),
                ..Default::default()
            },
        );
        st
    }

    fn run(st: &mut Station, command: LocalCommand) -> (CommandOutcome, Vec<Effect>) {
        let mut out = Vec::new();
        let outcome = st.local_command(Instant::now(), command, &mut out);
        // An operator's command is answered to the operator, never to the CSMS.
        assert!(!out.iter().any(|e| matches!(e, Effect::Send(_))), "{out:?}");
        (outcome, out)
    }

    fn devices(out: &[Effect]) -> Vec<DeviceCommand> {
        out.iter()
            .filter_map(|e| match e {
                Effect::Device(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    const ALL: Capabilities = Capabilities {
        start_stop: true,
        unlock: true,
        reset: true,
        availability: true,
    };

    #[test]
    fn start_authorizes_once_and_stop_needs_a_transaction() {
        let mut st = station(ALL);
        let start = LocalCommand::Start {
            token: "x".repeat(50),
        };
        let (outcome, out) = run(&mut st, start.clone());
        assert_eq!(outcome.status, "Accepted");
        assert_eq!(
            devices(&out),
            vec![DeviceCommand::Charging {
                evse: 0,
                start: true
            }]
        );
        let token = st.evses[0].tx.authorized_token().map(str::len);
        assert_eq!(token, Some(IdToken::ID_TOKEN_MAX));
        assert_eq!(run(&mut st, start).0.status, "Rejected");
        let (stop, out) = run(&mut st, LocalCommand::Stop);
        assert_eq!(stop.reason.as_deref(), Some("no transaction is running"));
        assert!(devices(&out).is_empty());
    }

    #[test]
    fn unlock_and_availability_answer_as_the_csms_handlers() {
        let mut st = station(ALL);
        let (unlock, out) = run(&mut st, LocalCommand::Unlock);
        assert_eq!(unlock.status, "Accepted", "the write's outcome comes later");
        assert_eq!(devices(&out), vec![DeviceCommand::Unlock { evse: 0 }]);
        let off = LocalCommand::Availability { operative: false };
        let (outcome, out) = run(&mut st, off);
        assert_eq!(outcome.status, "Accepted");
        assert_eq!(
            devices(&out),
            vec![DeviceCommand::Availability { operative: false }]
        );
        let (outcome, _) = run(&mut st, LocalCommand::Reset);
        assert_eq!(outcome.status, "Accepted");
    }

    #[test]
    fn unmapped_controls_are_refused_with_a_reason() {
        let mut st = station(Capabilities::default());
        let (start, out) = run(&mut st, LocalCommand::Start { token: "t".into() });
        assert_eq!(start.status, "Rejected");
        assert_eq!(
            start.reason.as_deref(),
            Some("the template maps no Control.Charging")
        );
        assert!(devices(&out).is_empty());
        let (unlock, out) = run(&mut st, LocalCommand::Unlock);
        assert_eq!(unlock.status, "UnlockFailed");
        assert_eq!(
            unlock.reason.as_deref(),
            Some("the template maps no Control.Unlock, or an unlock is under way")
        );
        assert!(devices(&out).is_empty());
    }
}
