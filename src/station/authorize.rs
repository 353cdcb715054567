//! Authorization (block C): tokens presented at the charger's own reader, and remote starts
//! when AuthorizeRemoteStart is set, are checked with the CSMS before charging is enabled.

use std::time::Instant;

use super::transaction::Authorization;
use super::{DeviceCommand, Effect, Station};
use crate::ocpp::frame::Frame;
use crate::ocpp::messages::{
    self, AuthorizationStatus, Authorize, AuthorizeRequest, IdToken, IdTokenType, PayloadError,
    TransactionEvent,
};

/// A token waiting for the CSMS's verdict.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct PendingAuth {
    pub token: IdToken,
    /// Set when the token came with RequestStartTransaction.
    pub remote_start_id: Option<i32>,
    /// The Authorize request is out; its answer is awaited.
    pub sent: bool,
}

impl Station {
    /// C01/C09: notices tokens newly presented at each EVSE's reader. Presenting the token that
    /// started the running transaction again stops it (StopAuthorized) and the charger with it.
    pub(super) fn check_presented_tokens(&mut self, out: &mut Vec<Effect>) {
        for (index, evse) in self.evses.iter_mut().enumerate() {
            let seen = evse.inputs.id_token.clone().filter(|t| !t.is_empty());
            if seen == evse.presented {
                continue;
            }
            evse.presented = seen.clone();
            let Some(token) = seen else { continue };
            if evse.tx.transaction().is_some() && evse.tx.authorized_token() == Some(token.as_str())
            {
                evse.tx.deauthorize(false);
                // E07: ending the transaction alone would leave the EV drawing energy.
                if self.settings.capabilities.start_stop {
                    out.push(Effect::Device(DeviceCommand::Charging {
                        evse: index,
                        start: false,
                    }));
                }
                continue;
            }
            if token.chars().count() > IdToken::ID_TOKEN_MAX {
                log::warn!(
                    "{}: EVSE {}: token longer than OCPP allows, ignored",
                    self.settings.ocpp_id,
                    index + 1
                );
                continue;
            }
            evse.authorizing = Some(PendingAuth {
                token: IdToken {
                    id_token: token,
                    kind: IdTokenType::ISO14443,
                    additional_info: None,
                },
                remote_start_id: None,
                sent: false,
            });
        }
    }

    /// The EVSE whose token should be sent for authorization next.
    pub(super) fn next_authorize(&self) -> Option<usize> {
        self.evses
            .iter()
            .position(|e| e.authorizing.as_ref().is_some_and(|p| !p.sent))
    }

    /// The Authorize CALL for EVSE `index`; marks it sent.
    pub(super) fn authorize_frame(
        &mut self,
        index: usize,
        id: &str,
    ) -> Option<Result<Frame, PayloadError>> {
        let pending = self.evses.get_mut(index)?.authorizing.as_mut()?;
        pending.sent = true;
        let request = AuthorizeRequest {
            id_token: pending.token.clone(),
        };
        Some(messages::call::<Authorize>(id, &request))
    }

    /// The CSMS's verdict on EVSE `index`'s token: an accepted token authorizes the EVSE and
    /// enables the charger.
    pub(super) fn authorize_answered(
        &mut self,
        now: Instant,
        index: usize,
        payload: &serde_json::Value,
        out: &mut Vec<Effect>,
    ) {
        let Some(pending) = self.evses.get_mut(index).and_then(|e| e.authorizing.take()) else {
            return;
        };
        let status = match messages::decode_response::<Authorize>(payload) {
            Ok(r) => r.id_token_info.status,
            Err(e) => {
                log::warn!("{}: bad AuthorizeResponse: {e}", self.settings.ocpp_id);
                return;
            }
        };
        if status != AuthorizationStatus::Accepted {
            log::info!(
                "{}: EVSE {}: token refused by the CSMS ({})",
                self.settings.ocpp_id,
                index + 1,
                status.as_str()
            );
            return;
        }
        let expires = Some(now + self.settings.tx.ev_connection_timeout);
        self.evses[index].tx.authorize(Authorization {
            id_token: pending.token,
            remote_start_id: pending.remote_start_id,
            expires,
        });
        if self.settings.capabilities.start_stop {
            out.push(Effect::Device(DeviceCommand::Charging {
                evse: index,
                start: true,
            }));
        }
    }

    /// E05: the CSMS's verdict on the token a TransactionEvent `request` carried; a refused
    /// token stops the transaction or its energy as TxCtrlr.StopTxOnInvalidId says.
    pub(super) fn transaction_answered(
        &mut self,
        request: &serde_json::Value,
        payload: &serde_json::Value,
    ) {
        if request.get("idToken").is_none() {
            return;
        }
        let status = match messages::decode_response::<TransactionEvent>(payload) {
            Ok(r) => match r.id_token_info {
                Some(info) => info.status,
                None => return,
            },
            Err(e) => {
                log::warn!(
                    "{}: bad TransactionEventResponse: {e}",
                    self.settings.ocpp_id
                );
                return;
            }
        };
        let Some(id) = request["transactionInfo"]["transactionId"].as_str() else {
            return;
        };
        if status == AuthorizationStatus::Accepted {
            return;
        }
        if !self.settings.capabilities.start_stop {
            // Ending the transaction would not stop the charger: the energy would go unbilled.
            log::warn!(
                "{}: CSMS refused the token of transaction {id} ({}), but the template maps no \
                 Control.Charging to stop the charger; the transaction goes on",
                self.settings.ocpp_id,
                status.as_str()
            );
            return;
        }
        for (index, evse) in self.evses.iter_mut().enumerate() {
            let energy = evse.inputs.energy_wh();
            if evse.tx.token_refused(id, &self.settings.tx, energy) {
                log::info!(
                    "{}: EVSE {}: CSMS refused the token of transaction {id} ({})",
                    self.settings.ocpp_id,
                    index + 1,
                    status.as_str()
                );
            }
        }
    }

    /// No verdict (CALLERROR or timeout): the token is not authorized.
    pub(super) fn authorize_failed(&mut self, index: usize) {
        if let Some(e) = self.evses.get_mut(index) {
            e.authorizing = None;
        }
    }
}
