//! OCPP-J RPC framing (OCPP 2.0.1 part 4): the CALL / CALLRESULT / CALLERROR JSON arrays.
//!
//! Sans-IO: text in, [`Frame`] out and back. Parse failures say what was wrong and carry the
//! message id when it could be read, so a broken CALL can still be answered with a CALLERROR.

use serde_json::{Map, Value};
use thiserror::Error;

/// Longest message id OCPP-J allows.
pub const MAX_MESSAGE_ID_LEN: usize = 36;

/// Longest CALLERROR description OCPP-J allows.
pub const MAX_ERROR_DESCRIPTION_LEN: usize = 255;

/// Message id OCPP-J prescribes for a CALLERROR answering a message whose id could not be read.
pub const UNKNOWN_MESSAGE_ID: &str = "-1";

const CALL: u64 = 2;
const CALL_RESULT: u64 = 3;
const CALL_ERROR: u64 = 4;

wire_enum! {
    /// RPC framework error codes of OCPP 2.0.1 (`RPCErrorCodes`).
    pub enum ErrorCode {
        /// Payload for the action is syntactically incorrect.
        FormatViolation,
        /// Any other error.
        GenericError,
        /// The receiver hit an internal error while handling a valid message.
        InternalError,
        /// The message type id is not one the receiver supports.
        MessageTypeNotSupported,
        /// The action is unknown to the receiver.
        NotImplemented,
        /// The action is known but not supported by the receiver.
        NotSupported,
        /// A field occurs too often or too rarely in the payload.
        OccurrenceConstraintViolation,
        /// A field value breaks a constraint (e.g. a length or range).
        PropertyConstraintViolation,
        /// The payload is incomplete.
        ProtocolError,
        /// The message is not a valid OCPP-J RPC message, e.g. its id is unreadable.
        RpcFrameworkError,
        /// The receiver refused for security reasons (e.g. not yet accepted).
        SecurityError,
        /// A field has the wrong data type.
        TypeConstraintViolation,
    }
}

/// One OCPP-J message.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `[2, id, action, payload]`: a request.
    Call {
        id: String,
        action: String,
        payload: Value,
    },
    /// `[3, id, payload]`: the successful answer to the CALL with the same id.
    CallResult { id: String, payload: Value },
    /// `[4, id, code, description, details]`: the failed answer to the CALL with the same id.
    CallError {
        id: String,
        code: ErrorCode,
        description: String,
        details: Value,
    },
}

/// Which part of a message was wrong.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameErrorKind {
    /// The text is not JSON.
    #[error("not valid JSON: {0}")]
    NotJson(String),
    /// The JSON is not an array.
    #[error("not a JSON array")]
    NotArray,
    /// The first element is missing or not a non-negative integer.
    #[error("message type id missing or not an integer")]
    BadMessageType,
    /// The message type id is not 2, 3 or 4.
    #[error("unknown message type id {0}")]
    UnknownMessageType(u64),
    /// The message id is missing, not a string, empty or too long.
    #[error(
        "message id missing, not a string, empty or longer than {MAX_MESSAGE_ID_LEN} characters"
    )]
    BadMessageId,
    /// The array has the wrong number of elements for its type.
    #[error("expected {expected} elements, got {got}")]
    WrongLength { expected: usize, got: usize },
    /// A CALL's action is not a non-empty string.
    #[error("action missing or not a non-empty string")]
    BadAction,
    /// A CALL or CALLRESULT payload is not an object.
    #[error("payload is not a JSON object")]
    PayloadNotObject,
    /// A CALLERROR's code is not a string.
    #[error("error code is not a string")]
    BadErrorCodeType,
    /// A CALLERROR's code is not an OCPP 2.0.1 error code.
    #[error("unknown error code {0:?}")]
    UnknownErrorCode(String),
    /// A CALLERROR's description is not a string.
    #[error("error description is not a string")]
    BadErrorDescription,
    /// A CALLERROR's details are not an object.
    #[error("error details are not a JSON object")]
    BadErrorDetails,
}

/// A message that is not a valid OCPP-J frame.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid OCPP-J message (message id {}): {kind}", .id.as_deref().unwrap_or("unreadable"))]
pub struct FrameError {
    /// What was wrong.
    pub kind: FrameErrorKind,
    /// The message id, when it could be read.
    pub id: Option<String>,
    /// The message type id, when it could be read.
    pub message_type: Option<u64>,
}

impl FrameError {
    fn new(kind: FrameErrorKind, id: Option<&str>, message_type: Option<u64>) -> Self {
        FrameError {
            kind,
            id: id.map(str::to_owned),
            message_type,
        }
    }

    /// The RPC error code OCPP-J prescribes for this failure.
    pub fn code(&self) -> ErrorCode {
        match self.kind {
            FrameErrorKind::UnknownMessageType(_) => ErrorCode::MessageTypeNotSupported,
            FrameErrorKind::PayloadNotObject => ErrorCode::FormatViolation,
            _ => ErrorCode::RpcFrameworkError,
        }
    }

    /// The CALLERROR to send back, or `None` when the broken message was itself an answer
    /// (CALLRESULT or CALLERROR), which OCPP-J never answers.
    pub fn reply(&self) -> Option<Frame> {
        if matches!(self.message_type, Some(CALL_RESULT | CALL_ERROR)) {
            return None;
        }
        let id = self.id.as_deref().unwrap_or(UNKNOWN_MESSAGE_ID);
        Some(Frame::error(id, self.code(), self.kind.to_string()))
    }
}

impl Frame {
    /// Parses one WebSocket text message.
    pub fn parse(text: &str) -> Result<Frame, FrameError> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| FrameError::new(FrameErrorKind::NotJson(e.to_string()), None, None))?;
        let Value::Array(items) = value else {
            return Err(FrameError::new(FrameErrorKind::NotArray, None, None));
        };
        let mut items = items.into_iter();
        let message_type = items
            .next()
            .and_then(|v| v.as_u64())
            .ok_or_else(|| FrameError::new(FrameErrorKind::BadMessageType, None, None))?;
        let id = match items.next() {
            Some(Value::String(id)) if valid_id(&id) => Some(id),
            _ => None,
        };
        let expected = match message_type {
            CALL => 4,
            CALL_RESULT => 3,
            CALL_ERROR => 5,
            other => {
                return Err(FrameError::new(
                    FrameErrorKind::UnknownMessageType(other),
                    id.as_deref(),
                    Some(other),
                ))
            }
        };
        let Some(id) = id else {
            return Err(FrameError::new(
                FrameErrorKind::BadMessageId,
                None,
                Some(message_type),
            ));
        };
        let fail = |kind| Err(FrameError::new(kind, Some(&id), Some(message_type)));
        let rest: Vec<Value> = items.collect();
        if rest.len() + 2 != expected {
            return fail(FrameErrorKind::WrongLength {
                expected,
                got: rest.len() + 2,
            });
        }
        let mut rest = rest.into_iter();
        // The length was checked above; the Null fallback only keeps this free of panics.
        let mut next = || rest.next().unwrap_or(Value::Null);
        match message_type {
            CALL => {
                let action = match next() {
                    Value::String(a) if !a.is_empty() => a,
                    _ => return fail(FrameErrorKind::BadAction),
                };
                let payload = next();
                if !payload.is_object() {
                    return fail(FrameErrorKind::PayloadNotObject);
                }
                Ok(Frame::Call {
                    id,
                    action,
                    payload,
                })
            }
            CALL_RESULT => {
                let payload = next();
                if !payload.is_object() {
                    return fail(FrameErrorKind::PayloadNotObject);
                }
                Ok(Frame::CallResult { id, payload })
            }
            _ => {
                let code = match next() {
                    Value::String(c) => match ErrorCode::parse(&c) {
                        Some(code) => code,
                        None => return fail(FrameErrorKind::UnknownErrorCode(c)),
                    },
                    _ => return fail(FrameErrorKind::BadErrorCodeType),
                };
                let Value::String(description) = next() else {
                    return fail(FrameErrorKind::BadErrorDescription);
                };
                let details = next();
                if !details.is_object() {
                    return fail(FrameErrorKind::BadErrorDetails);
                }
                Ok(Frame::CallError {
                    id,
                    code,
                    description,
                    details,
                })
            }
        }
    }

    /// A CALLERROR with empty details, its description cut to the 255 characters OCPP-J allows.
    pub fn error(id: &str, code: ErrorCode, description: impl Into<String>) -> Frame {
        let mut description = description.into();
        if let Some((cut, _)) = description.char_indices().nth(MAX_ERROR_DESCRIPTION_LEN) {
            description.truncate(cut);
        }
        Frame::CallError {
            id: id.to_owned(),
            code,
            description,
            details: Value::Object(Map::new()),
        }
    }

    /// The message id.
    pub fn id(&self) -> &str {
        match self {
            Frame::Call { id, .. } | Frame::CallResult { id, .. } | Frame::CallError { id, .. } => {
                id
            }
        }
    }

    /// The frame as a JSON array value.
    pub fn to_value(&self) -> Value {
        match self {
            Frame::Call {
                id,
                action,
                payload,
            } => Value::Array(vec![
                CALL.into(),
                id.as_str().into(),
                action.as_str().into(),
                payload.clone(),
            ]),
            Frame::CallResult { id, payload } => Value::Array(vec![
                CALL_RESULT.into(),
                id.as_str().into(),
                payload.clone(),
            ]),
            Frame::CallError {
                id,
                code,
                description,
                details,
            } => Value::Array(vec![
                CALL_ERROR.into(),
                id.as_str().into(),
                code.as_str().into(),
                description.as_str().into(),
                details.clone(),
            ]),
        }
    }

    /// The WebSocket text message carrying this frame.
    pub fn to_text(&self) -> String {
        self.to_value().to_string()
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().count() <= MAX_MESSAGE_ID_LEN
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(text: &str) -> FrameError {
        Frame::parse(text).expect_err(text)
    }

    #[test]
    fn parses_and_round_trips_all_three_types() {
        let cases = [
            (
                r#"[2,"19223201","BootNotification",{"reason":"PowerUp"}]"#,
                Frame::Call {
                    id: "19223201".into(),
                    action: "BootNotification".into(),
                    payload: json!({"reason": "PowerUp"}),
                },
            ),
            (
                r#"[3,"19223201",{"status":"Accepted"}]"#,
                Frame::CallResult {
                    id: "19223201".into(),
                    payload: json!({"status": "Accepted"}),
                },
            ),
            (
                r#"[4,"162376037","NotSupported","SetDisplayMessageRequest not implemented",{}]"#,
                Frame::CallError {
                    id: "162376037".into(),
                    code: ErrorCode::NotSupported,
                    description: "SetDisplayMessageRequest not implemented".into(),
                    details: json!({}),
                },
            ),
        ];
        for (text, frame) in cases {
            assert_eq!(Frame::parse(text), Ok(frame.clone()), "{text}");
            assert_eq!(frame.to_text(), text);
            assert_eq!(frame.id(), frame.to_value()[1].as_str().unwrap_or(""));
        }
    }

    #[test]
    fn error_codes_round_trip() {
        assert_eq!(ErrorCode::ALL.len(), 12);
        for &code in ErrorCode::ALL {
            assert_eq!(ErrorCode::parse(code.as_str()), Some(code));
            assert_eq!(serde_json::to_value(code).ok(), Some(json!(code.as_str())));
        }
        assert_eq!(ErrorCode::parse("FormationViolation"), None);
    }

    #[test]
    fn unreadable_id_is_answered_with_minus_one() {
        for text in [
            "not json",
            "{}",
            "[]",
            r#"["2","a","X",{}]"#,
            r#"[2,5,"X",{}]"#,
        ] {
            let e = err(text);
            assert_eq!(e.id, None, "{text}");
            assert_eq!(e.code(), ErrorCode::RpcFrameworkError, "{text}");
            match e.reply() {
                Some(Frame::CallError { id, code, .. }) => {
                    assert_eq!(id, UNKNOWN_MESSAGE_ID);
                    assert_eq!(code, ErrorCode::RpcFrameworkError);
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        let too_long = format!(r#"[2,"{}","Heartbeat",{{}}]"#, "x".repeat(37));
        assert_eq!(err(&too_long).kind, FrameErrorKind::BadMessageId);
        let longest = format!(r#"[2,"{}","Heartbeat",{{}}]"#, "x".repeat(36));
        assert!(Frame::parse(&longest).is_ok());
    }

    #[test]
    fn unknown_message_type_keeps_the_id() {
        let e = err(r#"[5,"abc",{}]"#);
        assert_eq!(e.kind, FrameErrorKind::UnknownMessageType(5));
        assert_eq!(e.id.as_deref(), Some("abc"));
        assert_eq!(e.code(), ErrorCode::MessageTypeNotSupported);
        assert_eq!(e.reply().map(|f| f.id().to_owned()), Some("abc".into()));
        let no_id = err(r#"[7]"#);
        assert_eq!(no_id.code(), ErrorCode::MessageTypeNotSupported);
        assert_eq!(no_id.reply().map(|f| f.id().to_owned()), Some("-1".into()));
    }

    #[test]
    fn payload_not_object_is_format_violation() {
        let e = err(r#"[2,"7","Heartbeat",[]]"#);
        assert_eq!(e.kind, FrameErrorKind::PayloadNotObject);
        assert_eq!(e.code(), ErrorCode::FormatViolation);
        assert_eq!(e.id.as_deref(), Some("7"));
    }

    #[test]
    fn broken_calls_are_answered_but_broken_answers_are_not() {
        let call = err(r#"[2,"7","Heartbeat"]"#);
        assert_eq!(
            call.kind,
            FrameErrorKind::WrongLength {
                expected: 4,
                got: 3
            }
        );
        assert!(call.reply().is_some());
        assert_eq!(err(r#"[2,"7","",{}]"#).kind, FrameErrorKind::BadAction);
        for (text, kind) in [
            (r#"[3,"7",1]"#, FrameErrorKind::PayloadNotObject),
            (
                r#"[4,"7","Nope","",{}]"#,
                FrameErrorKind::UnknownErrorCode("Nope".into()),
            ),
            (r#"[4,"7",1,"",{}]"#, FrameErrorKind::BadErrorCodeType),
            (
                r#"[4,"7","GenericError",1,{}]"#,
                FrameErrorKind::BadErrorDescription,
            ),
            (
                r#"[4,"7","GenericError","",null]"#,
                FrameErrorKind::BadErrorDetails,
            ),
        ] {
            let e = err(text);
            assert_eq!(e.kind, kind, "{text}");
            assert_eq!(e.id.as_deref(), Some("7"), "{text}");
            assert_eq!(e.reply(), None, "{text}");
        }
    }

    #[test]
    fn error_description_is_cut_to_255_characters() {
        let Frame::CallError { description, .. } =
            Frame::error("1", ErrorCode::InternalError, "é".repeat(300))
        else {
            panic!("not a CALLERROR");
        };
        assert_eq!(description.chars().count(), MAX_ERROR_DESCRIPTION_LEN);
    }
}
