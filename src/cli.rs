//! Command-line parsing: `--long-flags`, subcommands, nothing clever.

use std::net::SocketAddr;
use std::path::PathBuf;

use crate::config::{Parity, Role};
use crate::diag::modbus::{parse_operation, Operation};
use crate::modbus::rtu::SerialLine;

/// The default config file of an installed gateway.
pub const DEFAULT_CONFIG: &str = "/etc/ocpp-gw/ocpp-gw.toml";

/// Usage text printed by `--help` and after a usage error.
pub const USAGE: &str = "\
usage: ocpp-gw <command> [options]

commands:
  run [--config PATH]            run the gateway (default config /etc/ocpp-gw/ocpp-gw.toml)
  check-config [PATH]            validate a config, its templates, TLS files and paths
                                 as run loads them; exit 2 on errors
  demo [--chargers N] [--duration SECONDS] [--admin ADDR]
                                 simulated chargers + local CSMS + gateway on loopback,
                                 admin API and status page on ADDR (127.0.0.1:8080)
  status [--config PATH] [--url URL] [--token TOKEN]
                                 status of the running gateway, from its admin API
                                 (token from --token or OCPPGW_TOKEN)
  token new --role viewer|operator|admin [--name NAME]
                                 make an admin API token and its config line
  diag modbus-tcp --host H [--port 502] --unit U OPERATION
      OPERATION is  read holding|input|coil|discrete ADDR [COUNT]
                or  write holding|coil ADDR VALUE...
      ADDR is the 0-based protocol address; numbers are decimal or 0x hex
  diag modbus-rtu --port /dev/ttyX [--baud 9600] [--parity none|even|odd]
                 [--data-bits 8] [--stop-bits 1] --unit U OPERATION
                                 the same on an RS-485 bus (unit 0 writes to every unit)
  diag csms [--config PATH] [--station ID]
                                 check DNS, TCP, TLS and the OCPP WebSocket upgrade
  diag el discover [--timeout S] [--interface A]
                                 list ECHONET Lite nodes, objects and maps
  diag el get --ip A --eoj EOJ --epc EPC[,EPC...] [--timeout S] [--interface A]
                                 read properties of one object (hex codes)
  diag el set --ip A --eoj EOJ --epc EPC --edt HEX [--timeout S] [--interface A]
                                 write one property (SetC), value in hex
  --version                      print the version
  --help                         print this text";

/// What the user asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Run {
        config: PathBuf,
    },
    CheckConfig {
        config: PathBuf,
    },
    Demo {
        chargers: usize,
        duration: Option<u64>,
        admin: SocketAddr,
    },
    Status {
        config: PathBuf,
        url: Option<String>,
        token: Option<String>,
    },
    TokenNew {
        role: Role,
        name: Option<String>,
    },
    DiagModbusTcp {
        host: String,
        port: u16,
        unit: u8,
        operation: Operation,
    },
    DiagModbusRtu {
        port: String,
        line: SerialLine,
        unit: u8,
        operation: Operation,
    },
    DiagCsms {
        config: PathBuf,
        station: Option<String>,
    },
    /// `diag el …`: ECHONET Lite diagnostics.
    DiagEl(crate::diag::el::ElCommand),
    Version,
    Help,
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, String> {
    let mut it = args.iter().map(String::as_str);
    let command = match it.next() {
        None | Some("--help" | "-h" | "help") => return Ok(Command::Help),
        Some("--version" | "-V") => return Ok(Command::Version),
        Some(c) => c,
    };
    let rest: Vec<&str> = it.collect();
    match command {
        "run" => {
            let mut config = PathBuf::from(DEFAULT_CONFIG);
            let mut flags = Flags::new(&rest);
            while let Some(flag) = flags.next_flag()? {
                match flag {
                    "--config" => config = PathBuf::from(flags.value(flag)?),
                    _ => return Err(format!("run: unknown option {flag}")),
                }
            }
            Ok(Command::Run { config })
        }
        "check-config" => {
            let mut config = None;
            let mut flags = Flags::new(&rest);
            while let Some(arg) = flags.next_any() {
                match arg {
                    "--config" => config = Some(PathBuf::from(flags.value(arg)?)),
                    a if a.starts_with('-') => {
                        return Err(format!("check-config: unknown option {a}"))
                    }
                    path if config.is_none() => config = Some(PathBuf::from(path)),
                    extra => return Err(format!("check-config: unexpected argument {extra}")),
                }
            }
            Ok(Command::CheckConfig {
                config: config.unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG)),
            })
        }
        "demo" => {
            let (mut chargers, mut duration) = (3, None);
            let mut admin = SocketAddr::from(([127, 0, 0, 1], 8080));
            let mut flags = Flags::new(&rest);
            while let Some(flag) = flags.next_flag()? {
                match flag {
                    "--chargers" => chargers = flags.number(flag)?,
                    "--duration" => duration = Some(flags.number(flag)?),
                    "--admin" => {
                        let v = flags.value(flag)?;
                        admin = v
                            .parse()
                            .map_err(|_| format!("--admin: {v:?} is not an address:port"))?;
                    }
                    _ => return Err(format!("demo: unknown option {flag}")),
                }
            }
            if !(1..=1000).contains(&chargers) {
                return Err("demo: --chargers must be between 1 and 1000".into());
            }
            Ok(Command::Demo {
                chargers: chargers as usize,
                duration,
                admin,
            })
        }
        "status" => {
            let (mut config, mut url, mut token) = (PathBuf::from(DEFAULT_CONFIG), None, None);
            let mut flags = Flags::new(&rest);
            while let Some(flag) = flags.next_flag()? {
                match flag {
                    "--config" => config = PathBuf::from(flags.value(flag)?),
                    "--url" => url = Some(flags.value(flag)?.to_string()),
                    "--token" => token = Some(flags.value(flag)?.to_string()),
                    _ => return Err(format!("status: unknown option {flag}")),
                }
            }
            Ok(Command::Status { config, url, token })
        }
        "token" => parse_token(&rest),
        "diag" => parse_diag(&rest),
        other => Err(format!("unknown command {other}")),
    }
}

fn parse_token(rest: &[&str]) -> Result<Command, String> {
    let Some((&"new", rest)) = rest.split_first() else {
        return Err("token: expected `token new --role ROLE`".into());
    };
    let (mut role, mut name) = (None, None);
    let mut flags = Flags::new(rest);
    while let Some(flag) = flags.next_flag()? {
        match flag {
            "--role" => {
                let v = flags.value(flag)?;
                role =
                    Some(Role::from_name(v).ok_or_else(|| {
                        format!("--role: {v:?} is not viewer, operator or admin")
                    })?);
            }
            "--name" => name = Some(flags.value(flag)?.to_string()),
            _ => return Err(format!("token new: unknown option {flag}")),
        }
    }
    let role = role.ok_or("token new: --role is required")?;
    Ok(Command::TokenNew { role, name })
}

fn parse_diag(rest: &[&str]) -> Result<Command, String> {
    match rest.split_first() {
        Some((&"modbus-tcp", rest)) => {
            let (mut host, mut port, mut unit) = (None, 502, None);
            let mut flags = Flags::new(rest);
            let mut operation = Vec::new();
            while let Some(arg) = flags.next_any() {
                match arg {
                    "--host" => host = Some(flags.value(arg)?.to_string()),
                    "--port" => port = flags.bounded(arg, 1, u16::MAX.into())? as u16,
                    "--unit" => unit = Some(flags.bounded(arg, 0, 255)? as u8),
                    a if a.starts_with("--") => {
                        return Err(format!("diag modbus-tcp: unknown option {a}"))
                    }
                    word => operation.push(word),
                }
            }
            Ok(Command::DiagModbusTcp {
                host: host.ok_or("diag modbus-tcp: --host is required")?,
                port,
                unit: unit.ok_or("diag modbus-tcp: --unit is required")?,
                operation: parse_operation(&operation)
                    .map_err(|e| format!("diag modbus-tcp: {e}"))?,
            })
        }
        Some((&"modbus-rtu", rest)) => {
            let mut port = None;
            let mut line = SerialLine {
                baud_rate: 9600,
                data_bits: 8,
                parity: Parity::None,
                stop_bits: 1,
            };
            let mut unit = None;
            let mut flags = Flags::new(rest);
            let mut operation = Vec::new();
            while let Some(arg) = flags.next_any() {
                match arg {
                    "--port" => port = Some(flags.value(arg)?.to_string()),
                    "--baud" => line.baud_rate = flags.bounded(arg, 300, 4_000_000)? as u32,
                    "--data-bits" => line.data_bits = flags.bounded(arg, 5, 8)? as u8,
                    "--stop-bits" => line.stop_bits = flags.bounded(arg, 1, 2)? as u8,
                    "--parity" => {
                        let v = flags.value(arg)?;
                        line.parity = Parity::from_name(v)
                            .ok_or_else(|| format!("--parity: {v:?} is not none, even or odd"))?;
                    }
                    "--unit" => unit = Some(flags.bounded(arg, 0, 247)? as u8),
                    a if a.starts_with("--") => {
                        return Err(format!("diag modbus-rtu: unknown option {a}"))
                    }
                    word => operation.push(word),
                }
            }
            Ok(Command::DiagModbusRtu {
                port: port.ok_or("diag modbus-rtu: --port is required")?,
                line,
                unit: unit.ok_or("diag modbus-rtu: --unit is required")?,
                operation: parse_operation(&operation)
                    .map_err(|e| format!("diag modbus-rtu: {e}"))?,
            })
        }
        Some((&"csms", rest)) => {
            let (mut config, mut station) = (PathBuf::from(DEFAULT_CONFIG), None);
            let mut flags = Flags::new(rest);
            while let Some(flag) = flags.next_flag()? {
                match flag {
                    "--config" => config = PathBuf::from(flags.value(flag)?),
                    "--station" => {
                        let id = flags.value(flag)?;
                        if let Some(problem) = crate::config::ocpp_id_problem(id) {
                            return Err(format!("diag csms: --station: {problem}"));
                        }
                        station = Some(id.to_string());
                    }
                    _ => return Err(format!("diag csms: unknown option {flag}")),
                }
            }
            Ok(Command::DiagCsms { config, station })
        }
        Some((&"el", args)) => crate::diag::el::parse(args).map(Command::DiagEl),
        Some((other, _)) => Err(format!("diag: unknown target {other}")),
        None => Err("diag: expected a target (modbus-tcp, modbus-rtu, csms, el)".into()),
    }
}

struct Flags<'a> {
    args: &'a [&'a str],
    pos: usize,
}

impl<'a> Flags<'a> {
    fn new(args: &'a [&'a str]) -> Self {
        Flags { args, pos: 0 }
    }

    fn next_any(&mut self) -> Option<&'a str> {
        let arg = self.args.get(self.pos).copied();
        self.pos += 1;
        arg
    }

    fn next_flag(&mut self) -> Result<Option<&'a str>, String> {
        match self.next_any() {
            Some(f) if f.starts_with("--") => Ok(Some(f)),
            Some(other) => Err(format!("unexpected argument {other}")),
            None => Ok(None),
        }
    }

    fn value(&mut self, flag: &str) -> Result<&'a str, String> {
        self.next_any()
            .ok_or_else(|| format!("{flag} needs a value"))
    }

    fn number(&mut self, flag: &str) -> Result<u64, String> {
        let v = self.value(flag)?;
        v.parse()
            .map_err(|_| format!("{flag}: {v:?} is not a whole number"))
    }

    fn bounded(&mut self, flag: &str, min: u64, max: u64) -> Result<u64, String> {
        let n = self.number(flag)?;
        if (min..=max).contains(&n) {
            Ok(n)
        } else {
            Err(format!("{flag}: must be between {min} and {max}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Command, String> {
        parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn parses_each_command() {
        assert_eq!(p(&[]), Ok(Command::Help));
        assert_eq!(p(&["--version"]), Ok(Command::Version));
        assert_eq!(
            p(&["run", "--config", "x.toml"]),
            Ok(Command::Run {
                config: "x.toml".into()
            })
        );
        assert_eq!(
            p(&["check-config", "a.toml"]),
            Ok(Command::CheckConfig {
                config: "a.toml".into()
            })
        );
        assert_eq!(
            p(&["demo", "--chargers", "5", "--duration", "30"]),
            Ok(Command::Demo {
                chargers: 5,
                duration: Some(30),
                admin: ([127, 0, 0, 1], 8080).into(),
            })
        );
        assert_eq!(
            p(&["status", "--url", "http://127.0.0.1:1", "--token", "t"]),
            Ok(Command::Status {
                config: DEFAULT_CONFIG.into(),
                url: Some("http://127.0.0.1:1".into()),
                token: Some("t".into()),
            })
        );
        assert_eq!(
            p(&["token", "new", "--role", "operator"]),
            Ok(Command::TokenNew {
                role: Role::Operator,
                name: None
            })
        );
        assert_eq!(
            p(&[
                "diag",
                "modbus-tcp",
                "--host",
                "h",
                "--unit",
                "3",
                "read",
                "coil",
                "5"
            ]),
            Ok(Command::DiagModbusTcp {
                host: "h".into(),
                port: 502,
                unit: 3,
                operation: Operation::Read {
                    table: crate::device::ModbusTable::Coil,
                    address: 5,
                    count: 1
                },
            })
        );
        assert_eq!(
            p(&["diag", "csms", "--station", "CP9"]),
            Ok(Command::DiagCsms {
                config: DEFAULT_CONFIG.into(),
                station: Some("CP9".into())
            })
        );
        assert!(matches!(
            p(&["diag", "el", "discover"]),
            Ok(Command::DiagEl(_))
        ));
    }

    #[test]
    fn rejects_bad_usage() {
        assert!(p(&["run", "--bogus"]).is_err());
        assert!(p(&["run", "--config"]).is_err());
        assert!(p(&["demo", "--chargers", "x"]).is_err());
        assert!(p(&["demo", "--chargers", "0"]).is_err());
        assert!(p(&["check-config", "a", "b"]).is_err());
        assert!(p(&["frobnicate"]).is_err());
        assert!(p(&["demo", "--admin", "localhost"]).is_err());
        assert!(p(&["token", "new"]).is_err());
        assert!(p(&["token", "new", "--role", "root"]).is_err());
        assert!(p(&["token"]).is_err());
        assert!(p(&["diag"]).is_err());
        let odd = p(&["diag", "csms", "--station", "CP\"\n1"]).unwrap_err();
        assert!(
            odd.contains("--station") && odd.contains("A-Z a-z 0-9"),
            "{odd}"
        );
        assert!(p(&["diag", "csms", "--station", &"C".repeat(49)]).is_err());
        assert!(p(&["diag", "modbus-tcp", "--unit", "1", "read", "coil", "0"]).is_err());
        assert!(p(&["diag", "modbus-tcp", "--host", "h", "read", "coil", "0"]).is_err());
        assert!(p(&[
            "diag",
            "modbus-tcp",
            "--host",
            "h",
            "--unit",
            "256",
            "read",
            "coil",
            "0"
        ])
        .is_err());
        assert!(p(&["diag", "modbus-tcp", "--host", "h", "--unit", "1", "read"]).is_err());
        assert!(p(&[
            "diag",
            "modbus-tcp",
            "--host",
            "h",
            "--port",
            "0",
            "--unit",
            "1",
            "read",
            "coil",
            "0"
        ])
        .is_err());
        assert!(p(&["diag", "zz"]).is_err());
        assert!(p(&["diag", "el", "get"]).is_err());
    }
}
