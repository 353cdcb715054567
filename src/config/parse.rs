//! TOML text to raw structs, with serde errors turned into `key: message`.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_path_to_error::Segment;

use super::ConfigError;

/// Parses the contents of `file`. Syntax errors are keyed by `line:column`, others by key path.
pub(super) fn parse_toml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, ConfigError> {
    let deserializer = toml::Deserializer::parse(text).map_err(|e| {
        let key = match e.span() {
            Some(span) => line_col(text, span.start),
            None => String::new(),
        };
        ConfigError {
            file: file.to_path_buf(),
            key,
            message: e.message().to_string(),
        }
    })?;
    serde_path_to_error::deserialize(deserializer)
        .map_err(|e| translate(file, "", e.path(), e.inner().message()))
}

/// Deserializes `value` (at key path `prefix`) as `T`, reporting every unknown key and every
/// wrongly typed value in it rather than only the first: each failing key is recorded, taken
/// out, and deserializing retried. Returns `T` once what is left deserializes, which may be
/// after errors were recorded; `None` when a required key is missing (or was taken out).
pub(super) fn lenient<T: DeserializeOwned>(
    file: &Path,
    prefix: &str,
    mut value: toml::Value,
    errors: &mut Vec<ConfigError>,
) -> Option<T> {
    let mut removed: Vec<String> = Vec::new();
    loop {
        let e = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            Ok(t) => return Some(t),
            Err(e) => e,
        };
        let error = translate(file, prefix, e.path(), e.inner().message());
        if error.message == MISSING {
            if !removed.contains(&error.key) {
                errors.push(error);
            }
            return None;
        }
        // Every round removes one value, so this ends; a path that cannot be removed (the
        // value itself is wrong) or was already replaced ends it at once.
        if removed.contains(&error.key) {
            return None;
        }
        let taken = remove_at(&mut value, e.path());
        removed.push(error.key.clone());
        errors.push(error);
        if !taken {
            return None;
        }
    }
}

/// Removes the value at `path` from `value`; false if there is no such value.
fn remove_at(value: &mut toml::Value, path: &serde_path_to_error::Path) -> bool {
    let segments: Vec<&Segment> = path.iter().collect();
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut here = value;
    for segment in parents {
        let next = match (segment, here) {
            (Segment::Map { key }, toml::Value::Table(t)) => t.get_mut(key.as_str()),
            (Segment::Seq { index }, toml::Value::Array(a)) => a.get_mut(*index),
            _ => None,
        };
        match next {
            Some(next) => here = next,
            None => return false,
        }
    }
    match (last, here) {
        (Segment::Map { key }, toml::Value::Table(t)) => t.remove(key.as_str()).is_some(),
        // Removing would shift the later elements' indices; an empty table keeps them, and
        // whatever it then lacks is reported as missing.
        (Segment::Seq { index }, toml::Value::Array(a)) => match a.get_mut(*index) {
            Some(slot) => {
                *slot = toml::Value::Table(toml::Table::new());
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// The message of a missing required key.
pub(super) const MISSING: &str = "missing key";

/// Deserializes a sub-table that could only be typed after its siblings were read
/// (a device's `connection`); `prefix` is the table's key path. Every unknown key and wrong
/// type in it is reported.
pub(super) fn from_table<T: DeserializeOwned>(
    file: &Path,
    prefix: &str,
    table: toml::Table,
) -> Result<T, Vec<ConfigError>> {
    let mut errors = Vec::new();
    match lenient(file, prefix, toml::Value::Table(table), &mut errors) {
        Some(t) if errors.is_empty() => Ok(t),
        _ => Err(errors),
    }
}

/// Rewords serde's unknown/missing field messages into the user's terms: the path of an unknown
/// field already ends with it; a missing field is reported at its own (absent) key.
fn translate(
    file: &Path,
    prefix: &str,
    path: &serde_path_to_error::Path,
    message: &str,
) -> ConfigError {
    let mut key = prefix.to_string();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => key.push_str(&format!("[{index}]")),
            Segment::Map { key: k } | Segment::Enum { variant: k } => join_key(&mut key, k),
            Segment::Unknown => join_key(&mut key, "?"),
        }
    }
    // serde's wording for these two is fixed (serde::de::Error::unknown_field / missing_field).
    let message = if message.starts_with("unknown field `") {
        "unknown key".to_string()
    } else if let Some(field) = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
    {
        join_key(&mut key, field);
        MISSING.to_string()
    } else {
        message.to_string()
    };
    ConfigError {
        file: file.to_path_buf(),
        key,
        message,
    }
}

/// Appends `.name` (or just `name` at the root).
fn join_key(key: &mut String, name: &str) {
    if !key.is_empty() {
        key.push('.');
    }
    key.push_str(name);
}

/// 1-based `line:column` (column in characters) of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> String {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    format!("{line}:{column}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        inner: Vec<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Inner {
        n: u8,
    }

    fn err(text: &str) -> String {
        match parse_toml::<Outer>(Path::new("f.toml"), text) {
            Ok(v) => panic!("parsed: {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn good_input_parses() {
        match parse_toml::<Outer>(Path::new("f.toml"), "[[inner]]\nn = 7\n") {
            Ok(v) => assert_eq!(v.inner.iter().map(|i| i.n).collect::<Vec<_>>(), [7]),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn errors_name_the_key() {
        assert_eq!(
            err("[[inner]]\nn = 1\n[[inner]]\nn = 'x'\n"),
            "f.toml: inner[1].n: invalid type: string \"x\", expected u8"
        );
        assert_eq!(
            err("[[inner]]\nn = 1\nm = 2\n"),
            "f.toml: inner[0].m: unknown key"
        );
        assert_eq!(err("[[inner]]\n"), "f.toml: inner[0].n: missing key");
        assert_eq!(err(""), "f.toml: inner: missing key");
        assert_eq!(err("x = 1\n"), "f.toml: x: unknown key");
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        assert_eq!(
            err("[[inner]]\nn = \n"),
            "f.toml: 2:5: string values must be quoted, expected literal string"
        );
        assert_eq!(line_col("ab\ncdé\nf", 7), "2:4");
        assert_eq!(line_col("ab", 0), "1:1");
    }

    #[test]
    fn sub_tables_get_their_prefix() {
        let table: toml::Table = match "n = 300".parse() {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        let e = from_table::<Inner>(Path::new("f.toml"), "devices[2].connection", table);
        let lines: Option<Vec<String>> =
            e.err().map(|e| e.iter().map(ToString::to_string).collect());
        assert_eq!(
            lines,
            Some(vec![
                "f.toml: devices[2].connection.n: invalid value: integer `300`, expected u8".into()
            ])
        );
    }

    fn lenient_lines(text: &str) -> (bool, Vec<String>) {
        let value: toml::Value = match text.parse::<toml::Table>() {
            Ok(t) => toml::Value::Table(t),
            Err(e) => panic!("{e}"),
        };
        let mut errors = Vec::new();
        let parsed = lenient::<Outer>(Path::new("f.toml"), "x", value, &mut errors);
        (
            parsed.is_some(),
            errors.iter().map(ToString::to_string).collect(),
        )
    }

    #[test]
    fn lenient_reports_every_unknown_key_and_wrong_type() {
        let (parsed, lines) =
            lenient_lines("[[inner]]\nn = 1\nm = 1\n[[inner]]\nn = 2\nk = 3\n[[inner]]\nn = 300\n");
        assert_eq!(
            lines,
            [
                "f.toml: x.inner[0].m: unknown key",
                "f.toml: x.inner[1].k: unknown key",
                "f.toml: x.inner[2].n: invalid value: integer `300`, expected u8",
            ]
        );
        // A required value taken out is then missing, which ends it without a second report;
        // that is why the config parses each device and template variable on its own.
        assert!(!parsed);
    }

    #[test]
    fn lenient_returns_what_is_left_when_only_extras_were_wrong() {
        assert_eq!(
            lenient_lines("[[inner]]\nn = 1\nz = 2\n"),
            (true, vec!["f.toml: x.inner[0].z: unknown key".to_string()])
        );
        assert_eq!(lenient_lines("[[inner]]\nn = 1\n"), (true, vec![]));
        assert_eq!(
            lenient_lines("inner = 5\n"),
            (
                false,
                vec!["f.toml: x.inner: invalid type: integer `5`, expected a sequence".to_string()]
            )
        );
        assert_eq!(
            lenient_lines("[[inner]]\n"),
            (false, vec!["f.toml: x.inner[0].n: missing key".to_string()])
        );
    }
}
