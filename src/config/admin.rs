//! `[system.admin]`: the admin API and status page, and the bearer tokens allowed to use it.

use std::collections::BTreeSet;
use std::fmt;
use std::net::SocketAddr;

use serde::Deserialize;

use super::error::Problems;

/// Where the admin server listens when `bind` is not given: loopback only.
pub const DEFAULT_ADMIN_BIND: &str = "127.0.0.1:8080";
/// Failed authentications per client address per minute before it gets 429 Too Many Requests.
const DEFAULT_MAX_FAILED_AUTH: u32 = 10;

/// `[system.admin]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    pub bind: Option<String>,
    pub https: Option<bool>,
    pub max_failed_auth_per_minute: Option<u32>,
    #[serde(default)]
    pub tokens: Vec<RawToken>,
}

/// One `tokens` entry as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawToken {
    pub name: String,
    pub role: String,
    pub sha256: String,
}

/// What a token may do; each role may do everything the roles below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Read: status, devices, variables, logs.
    Viewer,
    /// Commands: start/stop, reset, availability, reload.
    Operator,
    /// Device and config changes, token management.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// Parses the config spelling.
    pub fn from_name(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }

    /// The config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One bearer token, known only by the SHA-256 of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenConfig {
    /// Who uses it, as written in audit lines.
    pub name: String,
    pub role: Role,
    pub sha256: [u8; 32],
}

/// `[system.admin]`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminConfig {
    pub bind: SocketAddr,
    /// Serve HTTPS with `[system.security]` `tls_cert_path` and `tls_key_path`.
    pub https: bool,
    pub max_failed_auth_per_minute: u32,
    pub tokens: Vec<TokenConfig>,
}

/// Checks `[system.admin]`; `has_tls_cert` says whether `[system.security]` names a certificate.
pub(super) fn check_admin(raw: RawAdmin, has_tls_cert: bool, p: &mut Problems) -> AdminConfig {
    let bind_text = raw.bind.as_deref().unwrap_or(DEFAULT_ADMIN_BIND);
    let bind = bind_text.parse::<SocketAddr>().unwrap_or_else(|_| {
        p.add(
            "system.admin.bind",
            format!("{bind_text:?} is not an address:port such as \"127.0.0.1:8080\""),
        );
        ([127, 0, 0, 1], 8080).into()
    });
    let https = raw.https.unwrap_or(false);
    if https && !has_tls_cert {
        p.add(
            "system.admin.https",
            "needs system.security.tls_cert_path and tls_key_path",
        );
    }
    let max_failed_auth_per_minute = raw
        .max_failed_auth_per_minute
        .unwrap_or(DEFAULT_MAX_FAILED_AUTH);
    if max_failed_auth_per_minute == 0 {
        p.add(
            "system.admin.max_failed_auth_per_minute",
            "must be at least 1",
        );
    }
    let mut names = BTreeSet::new();
    let mut hashes = BTreeSet::new();
    let mut tokens = Vec::new();
    for (i, t) in raw.tokens.iter().enumerate() {
        let key = |field: &str| format!("system.admin.tokens[{i}].{field}");
        if !is_token_name(&t.name) {
            p.add(
                key("name"),
                format!(
                    "{:?} must be 1 to 64 characters of A-Z a-z 0-9 . _ -",
                    t.name
                ),
            );
        } else if !names.insert(t.name.as_str()) {
            p.add(key("name"), format!("duplicate token name {:?}", t.name));
        }
        let role = Role::from_name(&t.role);
        if role.is_none() {
            p.add(
                key("role"),
                format!(
                    "unknown role {:?} (expected viewer, operator or admin)",
                    t.role
                ),
            );
        }
        let sha256 = parse_sha256(&t.sha256);
        match sha256 {
            None => p.add(
                key("sha256"),
                "must be 64 hex digits (the SHA-256 of the token, as `ocpp-gw token new` prints)",
            ),
            Some(h) if !hashes.insert(h) => p.add(key("sha256"), "same token as another entry"),
            Some(_) => {}
        }
        if let (Some(role), Some(sha256)) = (role, sha256) {
            tokens.push(TokenConfig {
                name: t.name.clone(),
                role,
                sha256,
            });
        }
    }
    AdminConfig {
        bind,
        https,
        max_failed_auth_per_minute,
        tokens,
    }
}

/// Token names appear in audit lines, so they stay plain.
fn is_token_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// 64 hex digits, either case.
pub fn parse_sha256(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (slot, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        let digit = |b: u8| (b as char).to_digit(16);
        // ok: chunks_exact(2) yields exactly two bytes.
        let (hi, lo) = (digit(pair[0])?, digit(pair[1])?);
        *slot = (hi * 16 + lo) as u8;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(tokens: Vec<RawToken>) -> RawAdmin {
        RawAdmin {
            bind: None,
            https: None,
            max_failed_auth_per_minute: None,
            tokens,
        }
    }

    fn token(name: &str, role: &str, sha256: &str) -> RawToken {
        RawToken {
            name: name.into(),
            role: role.into(),
            sha256: sha256.into(),
        }
    }

    #[test]
    fn defaults_to_loopback() {
        let mut p = Problems::new("x.toml".as_ref());
        let a = check_admin(raw(vec![]), false, &mut p);
        assert!(p.is_empty());
        assert_eq!(a.bind, "127.0.0.1:8080".parse::<SocketAddr>().unwrap());
        assert!(!a.https);
        assert_eq!(a.max_failed_auth_per_minute, 10);
    }

    #[test]
    fn roles_are_ordered() {
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        assert_eq!(Role::from_name("operator"), Some(Role::Operator));
        assert_eq!(Role::from_name("Operator"), None);
    }

    #[test]
    fn reports_every_bad_token() {
        let good = "ab".repeat(32);
        let mut p = Problems::new("x.toml".as_ref());
        let mut r = raw(vec![
            token("ops", "operator", &good),
            token("ops", "root", "12"),
            token("bad name", "viewer", &good.to_uppercase()),
        ]);
        r.bind = Some("localhost".into());
        r.https = Some(true);
        r.max_failed_auth_per_minute = Some(0);
        let a = check_admin(r, false, &mut p);
        let keys: Vec<String> = p.into_errors().into_iter().map(|e| e.key).collect();
        assert_eq!(
            keys,
            [
                "system.admin.bind",
                "system.admin.https",
                "system.admin.max_failed_auth_per_minute",
                "system.admin.tokens[1].name",
                "system.admin.tokens[1].role",
                "system.admin.tokens[1].sha256",
                "system.admin.tokens[2].name",
                "system.admin.tokens[2].sha256",
            ]
        );
        assert_eq!(a.tokens.len(), 2);
    }

    #[test]
    fn hex_hashes() {
        assert_eq!(parse_sha256(&"0f".repeat(32)), Some([0x0f; 32]));
        assert_eq!(parse_sha256(&"0F".repeat(32)), Some([0x0f; 32]));
        assert_eq!(parse_sha256(&"0g".repeat(32)), None);
        assert_eq!(parse_sha256("00"), None);
        assert_eq!(parse_sha256(&"é".repeat(32)), None);
    }
}
