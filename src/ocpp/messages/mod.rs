//! OCPP 2.0.1 request and response payloads, one zero-sized [`Action`] type per message.
//!
//! Every payload read goes through [`decode_request`] or [`decode_response`], which first check
//! it against the action's official schema ([`schema`]) and only then type it, so nothing that
//! breaks a schema constraint reaches a handler. `customData`, which the schemas allow on every
//! object, is checked and then ignored.

use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use super::frame::{ErrorCode, Frame};
pub use super::types::{
    BootReason, ChargingStation, ConnectorStatus, RegistrationStatus, StatusInfo,
};

mod actions;
mod authorization;
mod availability;
mod data_transfer;
mod device_model;
mod events;
mod meter_values;
mod provisioning;
mod remote;
pub mod schema;
mod security;
mod transactions;

pub use actions::*;
pub use authorization::*;
pub use availability::*;
pub use data_transfer::*;
pub use device_model::*;
pub use events::*;
pub use meter_values::*;
pub use provisioning::*;
pub use remote::*;
pub use security::*;
pub use transactions::*;

use schema::{Half, Violation};

/// One OCPP action: its wire name and the payload types of its CALL and CALLRESULT.
pub trait Action {
    /// The action name in a CALL.
    const NAME: &'static str;
    /// The CALL payload.
    type Request: Serialize + DeserializeOwned;
    /// The CALLRESULT payload.
    type Response: Serialize + DeserializeOwned;
}

/// A payload that does not fit its message type.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{action} payload does not fit the message type at {path}: {message}")]
pub struct PayloadError {
    /// The action the payload belongs to.
    pub action: &'static str,
    /// JSON path of the offending field (`.` for the payload itself).
    pub path: String,
    /// What was wrong.
    pub message: String,
    /// Which kind of constraint the payload breaks.
    pub violation: Violation,
}

impl PayloadError {
    /// The OCPP-J error code of a CALLERROR refusing the payload.
    pub fn code(&self) -> ErrorCode {
        match self.violation {
            Violation::Format => ErrorCode::FormatViolation,
            Violation::Type => ErrorCode::TypeConstraintViolation,
            Violation::Occurrence => ErrorCode::OccurrenceConstraintViolation,
            Violation::Property => ErrorCode::PropertyConstraintViolation,
            Violation::Internal => ErrorCode::InternalError,
        }
    }
}

/// Reads the CALLRESULT payload of action `A`.
pub fn decode_response<A: Action>(payload: &Value) -> Result<A::Response, PayloadError> {
    decode::<A, A::Response>(Half::Response, payload)
}

/// Reads the CALL payload of action `A`.
pub fn decode_request<A: Action>(payload: &Value) -> Result<A::Request, PayloadError> {
    decode::<A, A::Request>(Half::Request, payload)
}

/// The schema decides what is acceptable; serde only types what the schema let through.
fn decode<A: Action, T: DeserializeOwned>(half: Half, payload: &Value) -> Result<T, PayloadError> {
    schema::check(A::NAME, half, payload).map_err(|f| PayloadError {
        action: A::NAME,
        path: f.path,
        message: f.message,
        violation: f.violation,
    })?;
    serde_path_to_error::deserialize(payload).map_err(|e| {
        let message = e.inner().to_string();
        PayloadError {
            action: A::NAME,
            path: e.path().to_string(),
            violation: serde_violation(&message),
            message,
        }
    })
}

/// Classifies what serde refuses after the schema accepted it: numbers beyond the Rust type
/// (an `integer` without bounds that does not fit `i32`) and the like.
fn serde_violation(message: &str) -> Violation {
    if message.starts_with("missing field") {
        Violation::Occurrence
    } else if message.starts_with("invalid type") {
        Violation::Type
    } else if message.starts_with("invalid value") || message.starts_with("unknown variant") {
        Violation::Property
    } else {
        Violation::Format
    }
}

/// Builds the CALL frame that sends `request` under message id `id`.
pub fn call<A: Action>(id: impl Into<String>, request: &A::Request) -> Result<Frame, PayloadError> {
    let payload = serde_json::to_value(request).map_err(|e| PayloadError {
        action: A::NAME,
        path: ".".to_owned(),
        message: e.to_string(),
        violation: Violation::Internal,
    })?;
    Ok(Frame::Call {
        id: id.into(),
        action: A::NAME.to_owned(),
        payload,
    })
}

#[cfg(test)]
pub(super) mod test_support {
    use serde::de::DeserializeOwned;
    use serde::Serialize;
    use serde_json::{json, Value};

    /// Serializes to exactly `expected`, parses back to `msg`, and ignores a `customData` the
    /// CSMS adds to the payload.
    pub(in crate::ocpp::messages) fn check<T>(msg: &T, expected: Value)
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        round_trip(msg, expected, false);
    }

    /// As [`check`], with `customData` added to every nested object too; only for messages
    /// without raw-JSON fields, which keep what they are given.
    pub(in crate::ocpp::messages) fn check_deep<T>(msg: &T, expected: Value)
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        round_trip(msg, expected, true);
    }

    fn round_trip<T>(msg: &T, expected: Value, deep: bool)
    where
        T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        assert_eq!(serde_json::to_value(msg).ok(), Some(expected.clone()));
        assert_eq!(
            serde_json::from_value::<T>(expected.clone()).ok().as_ref(),
            Some(msg)
        );
        let mut extended = expected;
        add_custom_data(&mut extended, deep);
        assert_eq!(
            serde_json::from_value::<T>(extended).ok().as_ref(),
            Some(msg)
        );
    }

    fn add_custom_data(v: &mut Value, deep: bool) {
        match v {
            Value::Object(map) => {
                if deep {
                    for child in map.values_mut() {
                        add_custom_data(child, deep);
                    }
                }
                map.insert(
                    "customData".into(),
                    json!({"vendorId": "com.example", "x": 1}),
                );
            }
            Value::Array(items) if deep => {
                items.iter_mut().for_each(|i| add_custom_data(i, deep));
            }
            _ => {}
        }
    }
}
