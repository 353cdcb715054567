//! `ocpp-gw diag el …`: talk to ECHONET Lite nodes directly, without a configuration.
//!
//! Exit codes: 0 success, 1 the node did not answer or refused, 2 usage (parsing is in
//! `parse`; `main` maps its errors to 2).

use std::io::Write;
use std::net::Ipv4Addr;
use std::time::Duration;

use super::el_format::{node_lines, object_title, property_lines};
use crate::echonet::client::Client;
use crate::echonet::discovery::survey;
use crate::echonet::{Eoj, Esv, Frame, Property, RequestError, PORT};

/// Tries of one get or set.
const TRIES: u32 = 3;
/// Longest `--timeout` accepted, in seconds.
const MAX_TIMEOUT_SECS: f64 = 3600.0;

/// Options every `diag el` command takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    /// Local address to send from (`--interface`).
    pub interface: Ipv4Addr,
    /// Discover: how long to listen; get/set: wait per try.
    pub timeout: Duration,
}

/// One `diag el` command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElCommand {
    /// List the nodes that answer a multicast request, their objects and property maps.
    Discover { common: Common },
    /// Read properties of one object.
    Get {
        common: Common,
        ip: Ipv4Addr,
        eoj: Eoj,
        epcs: Vec<u8>,
    },
    /// Write one property of one object (SetC).
    Set {
        common: Common,
        ip: Ipv4Addr,
        eoj: Eoj,
        epc: u8,
        edt: Vec<u8>,
    },
}

/// Parses the arguments after `diag el`.
pub fn parse(args: &[&str]) -> Result<ElCommand, String> {
    let (&action, rest) = args
        .split_first()
        .ok_or("diag el: which command? (discover, get or set)")?;
    let mut interface = Ipv4Addr::UNSPECIFIED;
    let mut timeout = None;
    let (mut ip, mut eoj, mut epcs, mut edt) = (None, None, None, None);
    let mut it = rest.iter();
    while let Some(&flag) = it.next() {
        let mut value = || {
            it.next()
                .copied()
                .ok_or_else(|| format!("diag el {action}: {flag} needs a value"))
        };
        match flag {
            "--interface" => interface = parse_ipv4(flag, value()?)?,
            "--timeout" => timeout = Some(parse_timeout(value()?)?),
            "--ip" if action != "discover" => ip = Some(parse_ipv4(flag, value()?)?),
            "--eoj" if action != "discover" => eoj = Some(parse_eoj(value()?)?),
            "--epc" if action != "discover" => epcs = Some(parse_epcs(value()?)?),
            "--edt" if action == "set" => edt = Some(parse_edt(value()?)?),
            other => return Err(format!("diag el {action}: unknown option {other}")),
        }
    }
    let missing = |what: &str| format!("diag el {action}: {what} is required");
    let default_timeout = if action == "discover" { 3.0 } else { 1.0 };
    let common = Common {
        interface,
        timeout: timeout.unwrap_or_else(|| Duration::from_secs_f64(default_timeout)),
    };
    match action {
        "discover" => Ok(ElCommand::Discover { common }),
        "get" => Ok(ElCommand::Get {
            common,
            ip: ip.ok_or_else(|| missing("--ip"))?,
            eoj: eoj.ok_or_else(|| missing("--eoj"))?,
            epcs: epcs.ok_or_else(|| missing("--epc"))?,
        }),
        "set" => {
            let epcs = epcs.ok_or_else(|| missing("--epc"))?;
            let [epc] = epcs[..] else {
                return Err("diag el set: --epc takes one property".into());
            };
            Ok(ElCommand::Set {
                common,
                ip: ip.ok_or_else(|| missing("--ip"))?,
                eoj: eoj.ok_or_else(|| missing("--eoj"))?,
                epc,
                edt: edt.ok_or_else(|| missing("--edt"))?,
            })
        }
        other => Err(format!(
            "diag el: unknown command {other} (discover, get or set)"
        )),
    }
}

fn parse_ipv4(flag: &str, v: &str) -> Result<Ipv4Addr, String> {
    v.parse()
        .map_err(|_| format!("{flag}: {v:?} is not an IPv4 address"))
}

fn parse_timeout(v: &str) -> Result<Duration, String> {
    match v.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= MAX_TIMEOUT_SECS => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "--timeout: {v:?} is not a number of seconds above 0 and up to {MAX_TIMEOUT_SECS}"
        )),
    }
}

/// The hex digits of `v` after an optional `0x`; empty when anything else is there.
fn hex_digits(v: &str) -> &str {
    let digits = v
        .strip_prefix("0x")
        .or_else(|| v.strip_prefix("0X"))
        .unwrap_or(v);
    if digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        digits
    } else {
        ""
    }
}

fn parse_eoj(v: &str) -> Result<Eoj, String> {
    let digits = hex_digits(v);
    let bad = || format!("--eoj: {v:?} is not an object code of six hex digits (e.g. 0x02A101)");
    if digits.len() != 6 {
        return Err(bad());
    }
    u32::from_str_radix(digits, 16)
        .ok()
        .and_then(Eoj::from_u32)
        .ok_or_else(bad)
}

fn parse_epcs(v: &str) -> Result<Vec<u8>, String> {
    let epcs = v
        .split(',')
        .map(|one| {
            let digits = hex_digits(one.trim());
            match u8::from_str_radix(digits, 16) {
                Ok(epc) if epc >= 0x80 && digits.len() == 2 => Ok(epc),
                _ => Err(format!(
                    "--epc: {one:?} is not a property code (0x80 to 0xFF)"
                )),
            }
        })
        .collect::<Result<Vec<u8>, String>>()?;
    if epcs.len() > 64 {
        return Err("--epc: at most 64 properties at a time".into());
    }
    Ok(epcs)
}

fn parse_edt(v: &str) -> Result<Vec<u8>, String> {
    let digits = hex_digits(v);
    let bad = || format!("--edt: {v:?} is not 1 to 255 bytes in hex (e.g. 42 or 00000BB8)");
    if digits.is_empty() || digits.len() % 2 != 0 || digits.len() > 510 {
        return Err(bad());
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| {
            digits
                .get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(bad)
}

/// Runs `cmd`, writing results to `out` and problems to `err`; returns the exit code.
pub fn run(cmd: &ElCommand, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    match execute(cmd, out, err) {
        Ok(code) => code,
        Err(RequestError::Timeout { node, tries }) => {
            let _ = writeln!(
                err,
                "ocpp-gw diag el: {node} did not answer ({tries} tries)"
            );
            1
        }
        Err(e) => {
            let _ = writeln!(err, "ocpp-gw diag el: {e}");
            1
        }
    }
}

fn execute(cmd: &ElCommand, out: &mut dyn Write, err: &mut dyn Write) -> Result<u8, RequestError> {
    let common = match cmd {
        ElCommand::Discover { common }
        | ElCommand::Get { common, .. }
        | ElCommand::Set { common, .. } => common,
    };
    let tries = match cmd {
        ElCommand::Discover { .. } => 1,
        _ => TRIES,
    };
    let mut client = Client::bind(common.interface, common.timeout, tries)?;
    if client.port_taken() {
        writeln!(
            err,
            "note: UDP port {PORT} on {} is in use (is ocpp-gw running?); requests leave from \
             port {} instead, and nodes that always answer to port {PORT} will not be heard",
            common.interface,
            client.local_addr()?.port()
        )?;
    }
    match cmd {
        ElCommand::Discover { common } => {
            let nodes = survey(&mut client, common.timeout)?;
            if nodes.is_empty() {
                writeln!(
                    err,
                    "ocpp-gw diag el: no node answered within {:?}",
                    common.timeout
                )?;
                return Ok(1);
            }
            for node in &nodes {
                for line in node_lines(node) {
                    writeln!(out, "{line}")?;
                }
            }
            Ok(0)
        }
        ElCommand::Get { ip, eoj, epcs, .. } => {
            let answer = client.get(*ip, *eoj, epcs)?;
            print_answer(out, *ip, &answer, &answer.props, Esv::GetSna)
        }
        ElCommand::Set {
            ip, eoj, epc, edt, ..
        } => {
            let props = vec![Property::new(*epc, edt.clone())];
            let answer = client.request(*ip, *eoj, Esv::SetC, props.clone())?;
            print_answer(out, *ip, &answer, &props, Esv::SetCSna)
        }
    }
}

/// Prints `shown` (what was read, or what was written) and whether the node refused any of
/// it; exit code 1 on a refusal.
fn print_answer(
    out: &mut dyn Write,
    ip: Ipv4Addr,
    answer: &Frame,
    shown: &[Property],
    sna: Esv,
) -> Result<u8, RequestError> {
    writeln!(
        out,
        "{ip} {}: {}",
        object_title(answer.seoj),
        answer.esv.name()
    )?;
    let refused_epcs: Vec<u8> = if answer.esv == sna {
        answer
            .props
            .iter()
            .filter(|p| p.edt.is_empty() == (sna == Esv::GetSna))
            .map(|p| p.epc)
            .collect()
    } else {
        Vec::new()
    };
    for p in shown {
        for line in property_lines(answer.seoj, p, refused_epcs.contains(&p.epc)) {
            writeln!(out, "{line}")?;
        }
    }
    match answer.esv {
        Esv::GetRes => Ok(0),
        Esv::SetRes => {
            writeln!(out, "accepted")?;
            Ok(0)
        }
        esv if esv == sna => Ok(1),
        other => {
            writeln!(out, "unexpected answer {other}")?;
            Ok(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<ElCommand, String> {
        parse(args)
    }

    #[test]
    fn parses_the_three_commands() {
        assert_eq!(
            p(&["discover", "--timeout", "0.5", "--interface", "127.0.0.1"]),
            Ok(ElCommand::Discover {
                common: Common {
                    interface: Ipv4Addr::LOCALHOST,
                    timeout: Duration::from_millis(500)
                }
            })
        );
        let get = p(&[
            "get", "--ip", "10.0.0.5", "--eoj", "0x02A101", "--epc", "0x80,C7",
        ]);
        assert_eq!(
            get,
            Ok(ElCommand::Get {
                common: Common {
                    interface: Ipv4Addr::UNSPECIFIED,
                    timeout: Duration::from_secs(1)
                },
                ip: Ipv4Addr::new(10, 0, 0, 5),
                eoj: Eoj::from_u32(0x02A101).unwrap(),
                epcs: vec![0x80, 0xC7],
            })
        );
        let set = p(&[
            "set", "--ip", "10.0.0.5", "--eoj", "027E01", "--epc", "0xDA", "--edt", "42",
        ]);
        assert!(matches!(set, Ok(ElCommand::Set { epc: 0xDA, ref edt, .. }) if *edt == [0x42]));
        let long = p(&[
            "set",
            "--ip",
            "1.2.3.4",
            "--eoj",
            "02A101",
            "--epc",
            "EB",
            "--edt",
            "0x00000BB8",
        ]);
        assert!(matches!(long, Ok(ElCommand::Set { ref edt, .. }) if *edt == [0, 0, 0x0B, 0xB8]));
    }

    #[test]
    fn rejects_bad_usage() {
        let bad: &[&[&str]] = &[
            &[],
            &["frob"],
            &["discover", "--ip", "1.2.3.4"],
            &["discover", "--timeout"],
            &["discover", "--timeout", "0"],
            &["discover", "--timeout", "x"],
            &["discover", "--interface", "eth0"],
            &["get", "--eoj", "0x02A101", "--epc", "80"],
            &["get", "--ip", "1.2.3.4", "--epc", "80"],
            &["get", "--ip", "1.2.3.4", "--eoj", "0x02A1", "--epc", "80"],
            &["get", "--ip", "1.2.3.4", "--eoj", "0x02A101"],
            &[
                "get", "--ip", "1.2.3.4", "--eoj", "0x02A101", "--epc", "0x30",
            ],
            &[
                "get", "--ip", "1.2.3.4", "--eoj", "0x02A101", "--epc", "0x800",
            ],
            &[
                "get", "--ip", "1.2.3.4", "--eoj", "0x02A101", "--epc", "80", "--edt", "42",
            ],
            &["set", "--ip", "1.2.3.4", "--eoj", "0x02A101", "--epc", "DA"],
            &[
                "set", "--ip", "1.2.3.4", "--eoj", "0x02A101", "--epc", "DA,80", "--edt", "42",
            ],
            &[
                "set", "--ip", "1.2.3.4", "--eoj", "0x02A101", "--epc", "DA", "--edt", "4",
            ],
            &[
                "set", "--ip", "1.2.3.4", "--eoj", "0x02A101", "--epc", "DA", "--edt", "zz",
            ],
        ];
        for args in bad {
            assert!(p(args).is_err(), "{args:?}");
        }
    }
}
