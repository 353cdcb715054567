//! HTTP/1.1 for the admin server, sans-IO: parsing a request head and encoding an answer.
//!
//! Only what the admin routes need: one request per connection (every answer says
//! `Connection: close`), bodies by `Content-Length` only, heads and bodies of bounded size.

use std::fmt::Write as _;

/// Largest request head (request line and headers).
pub(super) const MAX_HEAD: usize = 16 * 1024;
/// Most header lines in a head.
const MAX_HEADERS: usize = 64;
/// Largest request body; a device table is far smaller.
pub(super) const MAX_BODY: usize = 64 * 1024;

/// A parsed request line and headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Head {
    pub method: String,
    /// The request target as sent: path and optional `?query`.
    pub target: String,
    pub headers: Vec<(String, String)>,
    /// The body length the client announced (0 when none).
    pub content_length: usize,
}

impl Head {
    /// The value of header `name` (any case), the first if repeated.
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether the client waits for `100 Continue` before sending its body.
    pub(super) fn expects_continue(&self) -> bool {
        self.header("Expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    }
}

/// Why a request head is refused; each maps to the status it is answered with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum HeadError {
    #[error("malformed request: {0}")]
    Malformed(&'static str),
    #[error(
        "the request head is larger than {MAX_HEAD} bytes or has more than {MAX_HEADERS} headers"
    )]
    TooLarge,
    #[error("the request body is larger than {MAX_BODY} bytes")]
    BodyTooLarge,
    #[error("transfer encodings are not supported; send a Content-Length")]
    TransferEncoding,
    #[error("only HTTP/1.0 and HTTP/1.1 are served")]
    Version,
}

impl HeadError {
    /// The status code of the answer.
    pub(super) fn status(&self) -> u16 {
        match self {
            HeadError::Malformed(_) => 400,
            HeadError::TooLarge => 431,
            HeadError::BodyTooLarge => 413,
            HeadError::TransferEncoding => 501,
            HeadError::Version => 505,
        }
    }
}

/// Parses the head at the start of `buf`: `Ok(None)` while it is incomplete, else the head and
/// how many bytes of `buf` it took (the body, if any, follows).
pub(super) fn parse_head(buf: &[u8]) -> Result<Option<(Head, usize)>, HeadError> {
    let Some(end) = find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_HEAD {
            Err(HeadError::TooLarge)
        } else {
            Ok(None)
        };
    };
    if end + 4 > MAX_HEAD {
        return Err(HeadError::TooLarge);
    }
    let text = std::str::from_utf8(buf.get(..end).unwrap_or_default())
        .map_err(|_| HeadError::Malformed("the head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::Malformed("bad request line"));
    };
    if method.is_empty() || !method.bytes().all(is_token_byte) {
        return Err(HeadError::Malformed("bad method"));
    }
    if !target.starts_with('/') || !target.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(HeadError::Malformed("bad request target"));
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(HeadError::Version);
    }
    let mut headers = Vec::new();
    let mut content_length: Option<usize> = None;
    for line in lines {
        if headers.len() >= MAX_HEADERS {
            return Err(HeadError::TooLarge);
        }
        let (name, value) = line
            .split_once(':')
            .ok_or(HeadError::Malformed("a header line without a colon"))?;
        if name.is_empty() || !name.bytes().all(is_token_byte) {
            return Err(HeadError::Malformed("bad header name"));
        }
        let value = value.trim_matches([' ', '\t']);
        if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
            return Err(HeadError::Malformed("control character in a header value"));
        }
        if name.eq_ignore_ascii_case("Transfer-Encoding") {
            return Err(HeadError::TransferEncoding);
        }
        if name.eq_ignore_ascii_case("Content-Length") {
            let n: usize = value
                .parse()
                .map_err(|_| HeadError::Malformed("bad Content-Length"))?;
            if content_length.is_some_and(|m| m != n) {
                return Err(HeadError::Malformed("conflicting Content-Length headers"));
            }
            content_length = Some(n);
        }
        headers.push((name.to_string(), value.to_string()));
    }
    let content_length = content_length.unwrap_or(0);
    if content_length > MAX_BODY {
        return Err(HeadError::BodyTooLarge);
    }
    let head = Head {
        method: method.to_string(),
        target: target.to_string(),
        headers,
        content_length,
    };
    Ok(Some((head, end + 4)))
}

/// The bytes of an answer: status line, headers (`Content-Length` and `Connection: close`
/// added), body. A header whose name or value could split the head is left out.
pub(super) fn encode_answer(status: u16, headers: &[(&str, String)], body: &[u8]) -> Vec<u8> {
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        let clean = name.bytes().all(is_token_byte)
            && !value.bytes().any(|b| b.is_ascii_control() && b != b'\t');
        if clean && !name.is_empty() {
            let _ = write!(head, "{name}: {value}\r\n");
        }
    }
    let _ = write!(
        head,
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// The reason phrase of the statuses the admin server answers with.
fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        201 => "Created",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_head_and_leaves_the_body() {
        let raw = b"POST /api/v1/devices?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization:  Bearer t \r\n\
                    content-length: 2\r\n\r\n{}";
        let (head, used) = parse_head(raw).unwrap().unwrap();
        assert_eq!(head.method, "POST");
        assert_eq!(head.target, "/api/v1/devices?x=1");
        assert_eq!(head.header("authorization"), Some("Bearer t"));
        assert_eq!(head.content_length, 2);
        assert_eq!(&raw[used..], b"{}");
    }

    #[test]
    fn waits_for_a_whole_head() {
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\nHost: a\r\n"), Ok(None));
        assert_eq!(parse_head(b""), Ok(None));
    }

    #[test]
    fn refuses_what_it_does_not_serve() {
        let err = |raw: &[u8]| parse_head(raw).unwrap_err().status();
        assert_eq!(err(b"GET / HTTP/2.0\r\n\r\n"), 505);
        assert_eq!(err(b"GET  / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(err(b"GET x HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(err(b"GET / HTTP/1.1\r\nno colon\r\n\r\n"), 400);
        assert_eq!(err(b"GET / HTTP/1.1\r\n folded: x\r\n\r\n"), 400);
        assert_eq!(
            err(b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
            400
        );
        assert_eq!(
            err(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            501
        );
        assert_eq!(
            err(format!(
                "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
                MAX_BODY + 1
            )
            .as_bytes()),
            413
        );
        assert_eq!(err(&vec![b'a'; MAX_HEAD + 1]), 431);
        let many = format!(
            "GET / HTTP/1.1\r\n{}\r\n",
            "X: y\r\n".repeat(MAX_HEADERS + 1)
        );
        assert_eq!(err(many.as_bytes()), 431);
    }

    #[test]
    fn encodes_an_answer_and_drops_unsafe_headers() {
        let out = encode_answer(
            404,
            &[
                ("Content-Type", "application/json".into()),
                ("X-Bad", "a\r\nSet-Cookie: x".into()),
            ],
            b"{}",
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n\
             Content-Length: 2\r\nConnection: close\r\n\r\n{}"
        );
    }

    /// What the transport answers before any route is chosen is documented on every route,
    /// with the limits the server really applies.
    #[test]
    fn transport_answers_are_documented_on_every_route() {
        let doc: serde_json::Value =
            serde_json::from_str(super::super::routes::OPENAPI).expect("openapi.json is JSON");
        let refusals = [
            HeadError::Malformed("x"),
            HeadError::TooLarge,
            HeadError::BodyTooLarge,
            HeadError::TransferEncoding,
            HeadError::Version,
        ];
        // 408: head or body too slow; 503: refused at the connection cap.
        let statuses: Vec<u16> = refusals
            .iter()
            .map(HeadError::status)
            .chain([408, 503])
            .collect();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                for status in &statuses {
                    assert!(
                        op["responses"][status.to_string()].is_object(),
                        "{method} {path}: {status} is not documented"
                    );
                }
            }
        }
        let described =
            |name: &str| doc["components"]["responses"][name]["description"].to_string();
        assert!(described("ContentTooLarge").contains(&MAX_BODY.to_string()));
        assert!(described("HeadersTooLarge").contains(&MAX_HEAD.to_string()));
        assert!(described("HeadersTooLarge").contains(&MAX_HEADERS.to_string()));
    }
}
