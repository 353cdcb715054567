//! Checks payloads against the official OCPP 2.0.1 JSON schemas before serde types them, so
//! every constraint a schema states (lengths, enums, ranges, required and unknown properties,
//! array sizes, types, date-times) is enforced for every message in this one place, including
//! parts the typed layer keeps as raw JSON (charging profiles, DataTransfer data).
//!
//! Only the draft-06 keywords the 2.0.1 schemas use are interpreted: `type`, `$ref` into
//! `#/definitions`, `properties`, `required`, `additionalProperties: false`, `maxLength`,
//! `enum`, `format: date-time`, `minimum`, `maximum`, `items`, `minItems`, `maxItems`.
//! `tests/ocpp_input_schemas.rs` checks that the embedded schemas use no other constraint.

mod embedded;

use std::sync::OnceLock;

use serde_json::{Map, Value};

use crate::util::time::parse_rfc3339;

/// Deepest nesting a payload may reach; the deepest 2.0.1 schema nests about ten levels.
const MAX_DEPTH: usize = 32;

/// Longest `$ref` chain followed; the 2.0.1 schemas never chain references.
const MAX_REFS: usize = 8;

/// Which kind of OCPP-J constraint a payload breaks (OCPP-J 2.0.1 section 4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// The payload cannot be read as the message at all (`FormatViolation`).
    Format,
    /// A field has the wrong JSON type, e.g. a number where a string belongs
    /// (`TypeConstraintViolation`).
    Type,
    /// A required field is missing, a field the schema does not allow is present, or an array
    /// has too few or too many items (`OccurrenceConstraintViolation`).
    Occurrence,
    /// A value breaks a constraint: too long, not in its enumeration, out of range, not a
    /// date-time (`PropertyConstraintViolation`).
    Property,
    /// The receiver has no schema for the message (`InternalError`).
    Internal,
}

/// Why a payload does not fit its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The kind of constraint broken.
    pub violation: Violation,
    /// Where, as `a.b[2].c` (`.` for the payload itself).
    pub path: String,
    /// What was wrong.
    pub message: String,
}

/// Which half of an action a payload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    /// The CALL payload (`<Action>Request.json`).
    Request,
    /// The CALLRESULT payload (`<Action>Response.json`).
    Response,
}

/// Checks `payload` against the official schema of `action`'s `half`.
pub fn check(action: &str, half: Half, payload: &Value) -> Result<(), Failure> {
    let Some(schema) = schema(action, half) else {
        return Err(Failure {
            violation: Violation::Internal,
            path: ".".into(),
            message: format!("no schema for {action} {half:?}"),
        });
    };
    let defs = schema.get("definitions").and_then(Value::as_object);
    let mut path = Vec::new();
    Walk { defs }.node(schema, payload, &mut path)
}

/// The parsed schema of `action`'s `half`, if it is embedded and parses.
fn schema(action: &str, half: Half) -> Option<&'static Value> {
    /// `(action, request schema, response schema)`, parsed on first use.
    type Parsed = (&'static str, Option<Value>, Option<Value>);
    static PARSED: OnceLock<Vec<Parsed>> = OnceLock::new();
    let parsed = PARSED.get_or_init(|| {
        let load = |text: &str| {
            let mut schema = serde_json::from_str(text).ok()?;
            strip_annotations(&mut schema);
            Some(schema)
        };
        embedded::SCHEMAS
            .iter()
            .map(|(name, req, res)| (*name, load(req), load(res)))
            .collect()
    });
    let (_, req, res) = parsed.iter().find(|(name, _, _)| *name == action)?;
    match half {
        Half::Request => req.as_ref(),
        Half::Response => res.as_ref(),
    }
}

/// Drops the prose, which is most of the text and never checked, so the parsed schemas stay
/// small for the life of the daemon. Keys of `properties` and `definitions` are names, not
/// keywords, and stay.
fn strip_annotations(node: &mut Value) {
    let Value::Object(map) = node else { return };
    for key in ["description", "javaType", "comment", "$schema"] {
        map.remove(key);
    }
    for (key, value) in map.iter_mut() {
        match (key.as_str(), value) {
            ("properties" | "definitions", Value::Object(named)) => {
                named.values_mut().for_each(strip_annotations);
            }
            (_, sub @ Value::Object(_)) => strip_annotations(sub),
            _ => {}
        }
    }
}

/// One step of the path to the value being checked.
enum Step<'v> {
    Key(&'v str),
    Index(usize),
}

fn render(path: &[Step<'_>]) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let mut s = String::new();
    for step in path {
        match step {
            Step::Key(k) if s.is_empty() => s.push_str(k),
            Step::Key(k) => {
                s.push('.');
                s.push_str(k);
            }
            Step::Index(i) => s.push_str(&format!("[{i}]")),
        }
    }
    s
}

fn fail(violation: Violation, path: &[Step<'_>], message: String) -> Result<(), Failure> {
    Err(Failure {
        violation,
        path: render(path),
        message,
    })
}

struct Walk<'s> {
    defs: Option<&'s Map<String, Value>>,
}

impl<'s> Walk<'s> {
    /// The schema `schema` stands for, following `$ref`s into the definitions.
    fn resolve(&self, mut schema: &'s Value) -> Option<&'s Value> {
        for _ in 0..MAX_REFS {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
                return Some(schema);
            };
            let name = reference.strip_prefix("#/definitions/")?;
            schema = self.defs?.get(name)?;
        }
        None
    }

    fn node<'v>(
        &self,
        schema: &'s Value,
        value: &'v Value,
        path: &mut Vec<Step<'v>>,
    ) -> Result<(), Failure> {
        if path.len() > MAX_DEPTH {
            return fail(Violation::Format, path, "nested too deeply".into());
        }
        let Some(schema) = self.resolve(schema) else {
            return fail(Violation::Internal, path, "unresolvable schema $ref".into());
        };
        if let Some(kind) = schema.get("type").and_then(Value::as_str) {
            if !has_type(value, kind) {
                return fail(
                    Violation::Type,
                    path,
                    format!("expected {kind}, got {}", type_name(value)),
                );
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                return fail(
                    Violation::Property,
                    path,
                    "not one of the allowed values".into(),
                );
            }
        }
        match value {
            Value::String(s) => string(schema, s, path),
            Value::Number(n) => number(schema, n.as_f64().unwrap_or(f64::NAN), path),
            Value::Array(items) => self.array(schema, items, path),
            Value::Object(fields) => self.object(schema, fields, path),
            Value::Bool(_) | Value::Null => Ok(()),
        }
    }

    fn array<'v>(
        &self,
        schema: &'s Value,
        items: &'v [Value],
        path: &mut Vec<Step<'v>>,
    ) -> Result<(), Failure> {
        let n = items.len() as u64;
        if let Some(min) = schema.get("minItems").and_then(Value::as_u64) {
            if n < min {
                return fail(
                    Violation::Occurrence,
                    path,
                    format!("{n} items, at least {min} required"),
                );
            }
        }
        if let Some(max) = schema.get("maxItems").and_then(Value::as_u64) {
            if n > max {
                return fail(
                    Violation::Occurrence,
                    path,
                    format!("{n} items, at most {max} allowed"),
                );
            }
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                path.push(Step::Index(i));
                self.node(item_schema, item, path)?;
                path.pop();
            }
        }
        Ok(())
    }

    fn object<'v>(
        &self,
        schema: &'s Value,
        fields: &'v Map<String, Value>,
        path: &mut Vec<Step<'v>>,
    ) -> Result<(), Failure> {
        let properties = schema.get("properties").and_then(Value::as_object);
        let required = schema.get("required").and_then(Value::as_array);
        for name in required.into_iter().flatten().filter_map(Value::as_str) {
            if !fields.contains_key(name) {
                return fail(
                    Violation::Occurrence,
                    path,
                    format!("required property {name} is missing"),
                );
            }
        }
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (name, field) in fields {
            match properties.and_then(|p| p.get(name)) {
                Some(field_schema) => {
                    path.push(Step::Key(name));
                    self.node(field_schema, field, path)?;
                    path.pop();
                }
                None if closed => {
                    return fail(
                        Violation::Occurrence,
                        path,
                        format!("property {} is not allowed here", short(name)),
                    )
                }
                None => {}
            }
        }
        Ok(())
    }
}

fn string(schema: &Value, s: &str, path: &[Step<'_>]) -> Result<(), Failure> {
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64) {
        // The schema counts characters, not bytes.
        let len = s.chars().count() as u64;
        if len > max {
            return fail(
                Violation::Property,
                path,
                format!("{len} characters long, at most {max} allowed"),
            );
        }
    }
    if schema.get("format").and_then(Value::as_str) == Some("date-time")
        && parse_rfc3339(s).is_none()
    {
        return fail(
            Violation::Property,
            path,
            "not an RFC 3339 date-time".into(),
        );
    }
    Ok(())
}

fn number(schema: &Value, n: f64, path: &[Step<'_>]) -> Result<(), Failure> {
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64) {
        if n.is_nan() || n < min {
            return fail(Violation::Property, path, format!("{n} is below {min}"));
        }
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64) {
        if n.is_nan() || n > max {
            return fail(Violation::Property, path, format!("{n} is above {max}"));
        }
    }
    Ok(())
}

/// A peer-chosen name, cut so a hostile one cannot flood logs and error descriptions.
fn short(name: &str) -> String {
    const MAX: usize = 40;
    match name.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &name[..cut]),
        None => name.to_owned(),
    }
}

fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        // Draft 6: a number with a zero fractional part is an integer.
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "null" => value.is_null(),
        _ => true,
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn token(id: &str) -> Value {
        json!({"remoteStartId": 1, "idToken": {"idToken": id, "type": "Central"}})
    }

    fn violation(action: &str, payload: &Value) -> Option<(Violation, String)> {
        check(action, Half::Request, payload)
            .err()
            .map(|f| (f.violation, f.path))
    }

    #[test]
    fn max_length_counts_characters_and_names_the_path() {
        assert_eq!(
            violation("RequestStartTransaction", &token(&"ü".repeat(36))),
            None
        );
        assert_eq!(
            violation("RequestStartTransaction", &token(&"ü".repeat(37))),
            Some((Violation::Property, "idToken.idToken".into()))
        );
    }

    #[test]
    fn custom_data_is_open_but_its_vendor_id_is_checked() {
        let mut payload = json!({"type": "OnIdle",
                                 "customData": {"vendorId": "com.example", "x": [1, 2]}});
        assert_eq!(violation("Reset", &payload), None);
        payload["customData"] = json!({"x": 1});
        assert_eq!(
            violation("Reset", &payload),
            Some((Violation::Occurrence, "customData".into()))
        );
    }

    #[test]
    fn integers_follow_draft_6() {
        assert_eq!(
            violation("UnlockConnector", &json!({"evseId": 1.0, "connectorId": 1})),
            None
        );
        assert_eq!(
            violation("UnlockConnector", &json!({"evseId": 1.5, "connectorId": 1})),
            Some((Violation::Type, "evseId".into()))
        );
    }

    #[test]
    fn array_items_are_checked_with_their_index() {
        let payload = json!({"getVariableData": [
            {"component": {"name": "A"}, "variable": {"name": "B"}},
            {"component": {"name": "A"}, "variable": {"name": "B", "x": 1}},
        ]});
        assert_eq!(
            violation("GetVariables", &payload),
            Some((Violation::Occurrence, "getVariableData[1].variable".into()))
        );
    }

    #[test]
    fn a_hostile_property_name_is_cut_in_the_message() {
        let payload = json!({"type": "OnIdle", "k".repeat(10_000): 1});
        let failure = check("Reset", Half::Request, &payload).expect_err("extra property");
        assert!(failure.message.chars().count() < 100, "{}", failure.message);
    }

    #[test]
    fn an_action_without_a_schema_is_an_internal_error() {
        assert_eq!(
            violation("CostUpdated", &json!({})),
            Some((Violation::Internal, ".".into()))
        );
    }

    #[test]
    fn annotations_go_but_properties_of_the_same_name_stay() {
        let mut schema = json!({"description": "x", "type": "object",
            "properties": {"description": {"type": "string", "description": "y"}},
            "items": {"javaType": "Z", "type": "string"}});
        strip_annotations(&mut schema);
        assert_eq!(
            schema,
            json!({"type": "object", "properties": {"description": {"type": "string"}},
                   "items": {"type": "string"}})
        );
    }

    #[test]
    fn every_embedded_schema_parses() {
        for (action, _, _) in embedded::SCHEMAS {
            assert!(schema(action, Half::Request).is_some(), "{action}");
            assert!(schema(action, Half::Response).is_some(), "{action}");
        }
    }
}
