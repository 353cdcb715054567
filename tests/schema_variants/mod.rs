//! Instances of the official OCPP 2.0.1 schemas built mechanically from the schema text: a
//! minimal and a full valid instance, and variants of the full one that each break exactly one
//! constraint, labelled with the OCPP-J error code that constraint maps to.

use std::path::Path;

use serde_json::{json, Map, Value};

/// A timestamp every `date-time` field gets.
const T0: &str = "2024-05-01T10:00:00Z";

/// One schema-invalid payload.
#[derive(Debug, Clone)]
pub struct Variant {
    /// What was broken, and where.
    pub what: String,
    /// The whole payload.
    pub payload: Value,
    /// The OCPP-J error code a receiver must answer with.
    pub code: &'static str,
}

/// An official schema, read from the schemas directory.
pub struct Schema {
    root: Value,
}

impl Schema {
    /// Reads `<dir>/<name>.json`.
    pub fn load(dir: &Path, name: &str) -> Schema {
        let path = dir.join(format!("{name}.json"));
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let root = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        Schema { root }
    }

    fn resolve<'a>(&'a self, node: &'a Value) -> &'a Value {
        match node["$ref"].as_str() {
            Some(r) => {
                let name = r.trim_start_matches("#/definitions/");
                self.resolve(&self.root["definitions"][name])
            }
            None => node,
        }
    }

    /// A valid instance with only the required properties and the fewest array items.
    pub fn minimal(&self) -> Value {
        self.instance(&self.root, false)
    }

    /// A valid instance with every property and at least one item in every array.
    pub fn full(&self) -> Value {
        self.instance(&self.root, true)
    }

    fn instance(&self, node: &Value, full: bool) -> Value {
        let node = self.resolve(node);
        if let Some(first) = node["enum"].as_array().and_then(|e| e.first()) {
            return first.clone();
        }
        match node["type"].as_str() {
            Some("object") => {
                let required = names(&node["required"]);
                let mut map = Map::new();
                for (name, sub) in node["properties"].as_object().into_iter().flatten() {
                    if full || required.contains(name) {
                        map.insert(name.clone(), self.instance(sub, full));
                    }
                }
                Value::Object(map)
            }
            Some("array") => {
                let min = node["minItems"].as_u64().unwrap_or(0);
                let n = if full { min.max(1) } else { min };
                Value::Array(
                    (0..n)
                        .map(|_| self.instance(&node["items"], full))
                        .collect(),
                )
            }
            Some("string") if node["format"] == "date-time" => json!(T0),
            Some("string") => json!("1"),
            Some("integer") => json!(bounded(node, 1.0) as i64),
            Some("number") => json!(bounded(node, 1.5)),
            Some("boolean") => json!(false),
            _ => json!("1"),
        }
    }

    /// Every single-constraint violation of the full instance; the first breaks the type of the
    /// payload itself.
    pub fn variants(&self) -> Vec<Variant> {
        let full = self.full();
        let mut out = vec![Variant {
            what: "payload is not an object".into(),
            payload: json!([]),
            code: "FormatViolation",
        }];
        self.walk(&self.root, &full, &full, "", &mut out);
        out
    }

    fn walk(&self, node: &Value, base: &Value, here: &Value, at: &str, out: &mut Vec<Variant>) {
        let node = self.resolve(node);
        let mut push = |what: String, value: Value, code: &'static str| {
            let mut payload = base.clone();
            replace(&mut payload, at, value);
            out.push(Variant {
                what: format!("{}: {what}", if at.is_empty() { "/" } else { at }),
                payload,
                code,
            });
        };
        if !at.is_empty() {
            if let Some(kind) = node["type"].as_str() {
                push(
                    format!("{kind} of the wrong type"),
                    wrong_type(kind),
                    "TypeConstraintViolation",
                );
            }
        }
        if node["enum"].is_array() {
            push(
                "unknown enum value".into(),
                json!("NoSuchValue"),
                "PropertyConstraintViolation",
            );
        }
        if let Some(max) = node["maxLength"].as_u64() {
            push(
                format!("{} characters, maxLength {max}", max + 1),
                json!("x".repeat(max as usize + 1)),
                "PropertyConstraintViolation",
            );
        }
        if node["format"] == "date-time" {
            push(
                "not a date-time".into(),
                json!("yesterday"),
                "PropertyConstraintViolation",
            );
        }
        if let Some(min) = node["minimum"].as_f64() {
            push(
                format!("below minimum {min}"),
                number_like(node, min - 1.0),
                "PropertyConstraintViolation",
            );
        }
        if let Some(max) = node["maximum"].as_f64() {
            push(
                format!("above maximum {max}"),
                number_like(node, max + 1.0),
                "PropertyConstraintViolation",
            );
        }
        match here {
            Value::Object(fields) => {
                if node["additionalProperties"] == false {
                    let mut extended = fields.clone();
                    extended.insert("unexpectedProperty".into(), json!("1"));
                    push(
                        "an extra property".into(),
                        Value::Object(extended),
                        "OccurrenceConstraintViolation",
                    );
                }
                for name in names(&node["required"]) {
                    let mut reduced = fields.clone();
                    reduced.remove(&name);
                    push(
                        format!("required {name} missing"),
                        Value::Object(reduced),
                        "OccurrenceConstraintViolation",
                    );
                }
                for (name, value) in fields {
                    let sub = &node["properties"][name.as_str()];
                    self.walk(sub, base, value, &format!("{at}/{name}"), out);
                }
            }
            Value::Array(items) => {
                if node["minItems"].as_u64().is_some_and(|m| m > 0) {
                    push(
                        "too few items".into(),
                        json!([]),
                        "OccurrenceConstraintViolation",
                    );
                }
                if let (Some(max), Some(item)) = (node["maxItems"].as_u64(), items.first()) {
                    push(
                        format!("{} items, maxItems {max}", max + 1),
                        Value::Array(vec![item.clone(); max as usize + 1]),
                        "OccurrenceConstraintViolation",
                    );
                }
                if let Some(item) = items.first() {
                    self.walk(&node["items"], base, item, &format!("{at}/0"), out);
                }
            }
            _ => {}
        }
    }
}

impl Schema {
    /// The full instance with each other value of each enumeration in turn, all valid.
    pub fn enum_values(&self) -> Vec<(String, Value)> {
        let full = self.full();
        let mut out = Vec::new();
        self.enums(&self.root, &full, &full, "", &mut out);
        out
    }

    fn enums(
        &self,
        node: &Value,
        base: &Value,
        here: &Value,
        at: &str,
        out: &mut Vec<(String, Value)>,
    ) {
        let node = self.resolve(node);
        for value in node["enum"].as_array().into_iter().flatten().skip(1) {
            let mut payload = base.clone();
            replace(&mut payload, at, value.clone());
            out.push((format!("{at} = {value}"), payload));
        }
        match here {
            Value::Object(fields) => {
                for (name, value) in fields {
                    let sub = &node["properties"][name.as_str()];
                    self.enums(sub, base, value, &format!("{at}/{name}"), out);
                }
            }
            Value::Array(items) => {
                if let Some(item) = items.first() {
                    self.enums(&node["items"], base, item, &format!("{at}/0"), out);
                }
            }
            _ => {}
        }
    }
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect()
}

/// `preferred`, moved inside the node's minimum and maximum.
fn bounded(node: &Value, preferred: f64) -> f64 {
    let low = node["minimum"].as_f64().unwrap_or(f64::MIN);
    let high = node["maximum"].as_f64().unwrap_or(f64::MAX);
    preferred.max(low).min(high)
}

fn number_like(node: &Value, n: f64) -> Value {
    if node["type"] == "integer" {
        json!(n as i64)
    } else {
        json!(n)
    }
}

fn wrong_type(kind: &str) -> Value {
    match kind {
        "string" => json!(12),
        "object" | "array" => json!("1"),
        _ => json!("12"),
    }
}

/// Replaces the value at JSON pointer `at`.
fn replace(payload: &mut Value, at: &str, value: Value) {
    match payload.pointer_mut(at) {
        Some(slot) => *slot = value,
        None => panic!("no {at} in {payload}"),
    }
}
