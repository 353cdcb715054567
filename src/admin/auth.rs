//! Bearer tokens, roles and the per-address limit on failed authentications.
//!
//! Tokens are known only by their SHA-256: a leaked config file does not leak a usable token.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use ring::digest;
use ring::rand::{SecureRandom, SystemRandom};

use crate::config::{Role, TokenConfig};

/// Bytes of randomness in a new token.
const TOKEN_BYTES: usize = 32;
/// Every token starts with this, so secret scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "ogw_";
/// The window over which failed authentications are counted.
const WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at most; beyond that the oldest windows are forgotten first.
const MAX_TRACKED: usize = 4096;

/// Who made an authenticated request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's name from the config.
    pub name: String,
    pub role: Role,
}

/// The outcome of checking a request's `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// No header, or not a bearer token.
    Missing,
    /// A bearer token that matches no configured token.
    Unknown,
    Valid(Caller),
}

/// The configured tokens.
#[derive(Debug, Clone)]
pub struct Tokens(Vec<TokenConfig>);

impl Tokens {
    /// Tokens as configured.
    pub fn new(tokens: Vec<TokenConfig>) -> Tokens {
        Tokens(tokens)
    }

    /// Checks the value of an `Authorization` header.
    pub fn check(&self, header: Option<&str>) -> Auth {
        let Some(token) = header.and_then(bearer) else {
            return Auth::Missing;
        };
        let hash = sha256(token.as_bytes());
        // Every entry is compared in full, so timing tells nothing about which one matched.
        let mut found = None;
        for t in &self.0 {
            if constant_time_eq(&t.sha256, &hash) {
                found = Some(t);
            }
        }
        match found {
            Some(t) => Auth::Valid(Caller {
                name: t.name.clone(),
                role: t.role,
            }),
            None => Auth::Unknown,
        }
    }
}

/// The token of `Bearer <token>` (scheme in any case).
fn bearer(header: &str) -> Option<&str> {
    let (scheme, token) = header.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// A new random token and its SHA-256 in hex, for `ocpp-gw token new`.
pub fn new_token() -> Result<(String, String), ring::error::Unspecified> {
    let mut bytes = [0u8; TOKEN_BYTES];
    SystemRandom::new().fill(&mut bytes)?;
    let token = format!("{TOKEN_PREFIX}{}", hex(&bytes));
    let hash = hex(&sha256(token.as_bytes()));
    Ok((token, hash))
}

/// Counts failed authentications per client address in fixed one-minute windows; an address
/// that reached the limit is refused until its window ends.
#[derive(Debug)]
pub struct FailureLimiter {
    limit: u32,
    windows: HashMap<IpAddr, (Instant, u32)>,
}

impl FailureLimiter {
    /// A limiter allowing `limit` failures per minute per address.
    pub fn new(limit: u32) -> FailureLimiter {
        FailureLimiter {
            limit: limit.max(1),
            windows: HashMap::new(),
        }
    }

    /// `Some(wait)` while `addr` is locked out.
    pub fn blocked(&self, addr: IpAddr, now: Instant) -> Option<Duration> {
        let (start, count) = self.windows.get(&addr)?;
        let end = *start + WINDOW;
        (*count >= self.limit && end > now).then(|| end - now)
    }

    /// Records one failed authentication from `addr`.
    pub fn failed(&mut self, addr: IpAddr, now: Instant) {
        if self.windows.len() >= MAX_TRACKED && !self.windows.contains_key(&addr) {
            self.windows.retain(|_, (start, _)| *start + WINDOW > now);
            if self.windows.len() >= MAX_TRACKED {
                if let Some(oldest) = self
                    .windows
                    .iter()
                    .min_by_key(|(_, (start, _))| *start)
                    .map(|(a, _)| *a)
                {
                    self.windows.remove(&oldest);
                }
            }
        }
        let entry = self.windows.entry(addr).or_insert((now, 0));
        if entry.0 + WINDOW <= now {
            *entry = (now, 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> (Tokens, String) {
        let (token, hash) = new_token().unwrap();
        let entry = TokenConfig {
            name: "ops".into(),
            role: Role::Operator,
            sha256: crate::config::parse_sha256(&hash).unwrap(),
        };
        (Tokens::new(vec![entry]), token)
    }

    #[test]
    fn checks_bearer_tokens() {
        let (t, token) = tokens();
        assert!(token.starts_with(TOKEN_PREFIX) && token.len() == 4 + 64);
        let valid = Auth::Valid(Caller {
            name: "ops".into(),
            role: Role::Operator,
        });
        assert_eq!(t.check(Some(&format!("Bearer {token}"))), valid);
        assert_eq!(t.check(Some(&format!("bearer  {token} "))), valid);
        assert_eq!(t.check(Some("Bearer ogw_nope")), Auth::Unknown);
        assert_eq!(t.check(Some(&format!("Basic {token}"))), Auth::Missing);
        assert_eq!(t.check(Some("Bearer ")), Auth::Missing);
        assert_eq!(t.check(None), Auth::Missing);
    }

    #[test]
    fn new_tokens_differ() {
        assert_ne!(new_token().unwrap().0, new_token().unwrap().0);
    }

    #[test]
    fn known_sha256() {
        assert_eq!(
            hex(&sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn limits_failures_per_address_and_window() {
        let mut l = FailureLimiter::new(3);
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.blocked(a, t0), None);
            l.failed(a, t0);
        }
        assert_eq!(l.blocked(a, t0), Some(WINDOW));
        assert_eq!(l.blocked(b, t0), None);
        assert_eq!(l.blocked(a, t0 + WINDOW), None);
        l.failed(a, t0 + WINDOW);
        assert_eq!(l.blocked(a, t0 + WINDOW), None);
    }
}
