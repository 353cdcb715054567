//! Masks secrets in a log record before it is written anywhere: the value of a variable that
//! holds a secret (a SetVariables of BasicAuthPassword) and the credentials of an
//! `Authorization` header. This is the last line of defence; the first is that no code and no
//! crate logs frames or handshakes at a level we let through (see [`super::ceiling`]).

use std::borrow::Cow;

/// Device-model variables whose values are secrets.
const SECRET_VARIABLES: [&str; 1] = ["BasicAuthPassword"];
/// What replaces a secret.
pub(super) const MASK: &str = "<redacted>";

/// `record` with every secret masked; borrowed when there is none.
pub(super) fn redact(record: &str) -> Cow<'_, str> {
    let mut out = Cow::Borrowed(record);
    if SECRET_VARIABLES.iter().any(|name| record.contains(name)) {
        out = Cow::Owned(mask_from_value(&out, "attributeValue"));
    }
    if contains_ignore_case(&out, "authorization") {
        out = Cow::Owned(mask_authorization(&out));
    }
    out
}

/// Cuts the record at the first value of `key`: a record that names a secret variable cannot
/// be taken apart reliably (JSON, escaped JSON, hex dumps), so nothing after that point stays.
fn mask_from_value(record: &str, key: &str) -> String {
    let Some(at) = record.find(key) else {
        return record.to_string();
    };
    let value = at + key.len();
    let end = record.trim_end_matches(['\r', '\n']).len().max(value);
    let (head, tail) = record.split_at(end);
    format!("{}{MASK}{tail}", head.get(..value).unwrap_or(head))
}

/// Masks what follows the scheme of each `Authorization:` header, up to the end of its line
/// or of the quoted string it sits in.
fn mask_authorization(record: &str) -> String {
    let lower = record.to_ascii_lowercase();
    let mut out = String::with_capacity(record.len());
    let mut rest = 0;
    let mut from = 0;
    while let Some(found) = lower.get(from..).and_then(|s| s.find("authorization")) {
        let key_end = from + found + "authorization".len();
        from = key_end;
        let bytes = record.as_bytes();
        // `Authorization: Basic xyz`, `"authorization": "Basic xyz"`, `\"authorization\": …`
        let mut i = key_end;
        let mut separated = false;
        while let Some(b @ (b'"' | b'\\' | b':' | b' ' | b'=')) = bytes.get(i) {
            separated |= matches!(b, b':' | b'=');
            i += 1;
        }
        if !separated {
            continue;
        }
        // Keep the scheme (`Basic`, `Bearer`) so the line still says what was sent.
        while bytes.get(i).is_some_and(u8::is_ascii_alphabetic) {
            i += 1;
        }
        let start = i;
        let mut end = start;
        while bytes
            .get(end)
            .is_some_and(|b| !matches!(b, b'"' | b'\\' | b'\r' | b'\n' | b','))
        {
            end += 1;
        }
        if end > start {
            out.push_str(record.get(rest..start).unwrap_or_default());
            out.push(' ');
            out.push_str(MASK);
            rest = end;
            from = end;
        }
    }
    out.push_str(record.get(rest..).unwrap_or_default());
    out
}

fn contains_ignore_case(text: &str, needle: &str) -> bool {
    text.to_ascii_lowercase().contains(needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_variable_values_are_cut() {
        let frame = r#"[2,"1","SetVariables",{"setVariableData":[{"attributeValue":"s3cret-pass","component":{"name":"SecurityCtrlr"},"variable":{"name":"BasicAuthPassword"}}]}]"#;
        let line = format!("TRACE frame {frame}\n");
        let out = redact(&line);
        assert!(!out.contains("s3cret-pass"), "{out}");
        assert!(out.starts_with("TRACE frame [2,\"1\",\"SetVariables\""));
        assert!(out.ends_with(&format!("attributeValue{MASK}\n")), "{out}");
        // Escaped inside a Debug string, and over several lines.
        let debug = format!("{:?}\nmore\n", format!("{frame}\nnext"));
        assert!(!redact(&debug).contains("s3cret-pass"));
        // Other variables keep their values.
        let plain = r#"{"attributeValue":"300","variable":{"name":"HeartbeatInterval"}}"#;
        assert_eq!(redact(plain), plain);
    }

    #[test]
    fn authorization_credentials_are_masked() {
        let line = "Request: \"GET /ocpp/CP001 HTTP/1.1\\r\\nauthorization: Basic Q1AwMDE6c2VjcmV0\\r\\nhost: x\\r\\n\"\n";
        let out = redact(line);
        assert!(!out.contains("Q1AwMDE6c2VjcmV0"), "{out}");
        assert!(
            out.contains("authorization: Basic <redacted>\\r\\nhost: x"),
            "{out}"
        );
        let header = "Authorization: Bearer ogw_0123abcd\n";
        assert_eq!(redact(header), "Authorization: Bearer <redacted>\n");
        assert_eq!(redact("no authorization needed"), "no authorization needed");
    }
}
