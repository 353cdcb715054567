//! Shared support for the integration tests: OCPP 2.0.1 JSON-schema validation of payloads and
//! of whole CSMS simulator logs.
#![allow(dead_code)]

pub mod gateway;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use jsonschema::Validator;
use ocpp_gw::ocpp::frame::{Frame, UNKNOWN_MESSAGE_ID};
use ocpp_gw::sim::csms::{Dir, Record};
use serde_json::Value;

/// Which half of an action a payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A CALL payload (`<Action>Request.json`).
    Request,
    /// A CALLRESULT payload (`<Action>Response.json`).
    Response,
}

impl Kind {
    fn suffix(self) -> &'static str {
        match self {
            Kind::Request => "Request",
            Kind::Response => "Response",
        }
    }
}

/// Where the official OCPP 2.0.1 schemas are: `$OCPP_SCHEMAS_DIR`, else `../shared/…`.
pub fn schemas_dir() -> PathBuf {
    match std::env::var_os("OCPP_SCHEMAS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/ocpp-2.0.1-schemas"),
    }
}

type Cache = Mutex<HashMap<String, Arc<Validator>>>;

fn validator(name: &str) -> Result<Arc<Validator>, String> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Cache::default);
    if let Some(v) = cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(name)
    {
        return Ok(Arc::clone(v));
    }
    // Compiled outside the lock; a racing thread at worst compiles the same schema twice.
    let path = schemas_dir().join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("no schema {name} at {}: {e}", path.display()))?;
    let schema: Value =
        serde_json::from_str(&text).map_err(|e| format!("schema {name} is not JSON: {e}"))?;
    let compiled = jsonschema::draft6::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| format!("schema {name} does not compile: {e}"))?;
    let compiled = Arc::new(compiled);
    cache
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(name.to_owned(), Arc::clone(&compiled));
    Ok(compiled)
}

/// Validates `payload` against the official `<action><Kind>` schema; the error lists every
/// violation with its JSON path.
pub fn validate_payload(action: &str, kind: Kind, payload: &Value) -> Result<(), String> {
    let name = format!("{action}{}", kind.suffix());
    let validator = validator(&name)?;
    let problems: Vec<String> = validator
        .iter_errors(payload)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{name}: {}", problems.join("; ")))
    }
}

/// Validates a simulator log: each CALL against `<Action>Request`, each CALLRESULT against the
/// `<Action>Response` of the CALL it answers (same connection and message id, other
/// direction). Returns one line per problem; empty means everything is valid.
pub fn validate_records(records: &[Record]) -> Vec<String> {
    let mut pending: HashMap<(u64, Dir, String), String> = HashMap::new();
    let mut problems = Vec::new();
    for r in records {
        let at = format!(
            "record {} ({} {:?} on connection {})",
            r.seq, r.station, r.dir, r.connection
        );
        let frame = match &r.frame {
            Value::String(raw) => {
                problems.push(format!("{at}: not JSON: {raw:?}"));
                continue;
            }
            value => match Frame::parse(&value.to_string()) {
                Ok(frame) => frame,
                Err(e) => {
                    problems.push(format!("{at}: {e}"));
                    continue;
                }
            },
        };
        let answered_dir = match r.dir {
            Dir::In => Dir::Out,
            Dir::Out => Dir::In,
        };
        match frame {
            Frame::Call {
                id,
                action,
                payload,
            } => {
                if let Err(e) = validate_payload(&action, Kind::Request, &payload) {
                    problems.push(format!("{at}: {e}"));
                }
                let key = (r.connection, r.dir, id.clone());
                if pending.insert(key, action).is_some() {
                    problems.push(format!("{at}: message id {id} reused while still pending"));
                }
            }
            Frame::CallResult { id, payload } => {
                match pending.remove(&(r.connection, answered_dir, id.clone())) {
                    Some(action) => {
                        if let Err(e) = validate_payload(&action, Kind::Response, &payload) {
                            problems.push(format!("{at}: {e}"));
                        }
                    }
                    None => problems.push(format!("{at}: CALLRESULT {id} answers no pending CALL")),
                }
            }
            Frame::CallError { id, .. } => {
                let answered = pending.remove(&(r.connection, answered_dir, id.clone()));
                if answered.is_none() && id != UNKNOWN_MESSAGE_ID {
                    problems.push(format!("{at}: CALLERROR {id} answers no pending CALL"));
                }
            }
        }
    }
    problems
}
