//! Command-line parsing: `--long-flags`, subcommands, nothing clever.

use std::path::PathBuf;

/// The default config file of an installed gateway.
pub const DEFAULT_CONFIG: &str = "/etc/ocpp-gw/ocpp-gw.toml";

/// Usage text printed by `--help` and after a usage error.
pub const USAGE: &str = "\
usage: ocpp-gw <command> [options]

commands:
  run [--config PATH]            run the gateway (default config /etc/ocpp-gw/ocpp-gw.toml)
  check-config [PATH]            validate a config and its templates; exit 2 on errors
  demo [--chargers N] [--duration SECONDS]
                                 simulated chargers + local CSMS + gateway on loopback
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
            let mut flags = Flags::new(&rest);
            while let Some(flag) = flags.next_flag()? {
                match flag {
                    "--chargers" => chargers = flags.number(flag)?,
                    "--duration" => duration = Some(flags.number(flag)?),
                    _ => return Err(format!("demo: unknown option {flag}")),
                }
            }
            if !(1..=1000).contains(&chargers) {
                return Err("demo: --chargers must be between 1 and 1000".into());
            }
            Ok(Command::Demo {
                chargers: chargers as usize,
                duration,
            })
        }
        "diag" => match rest.split_first() {
            Some((&"el", args)) => crate::diag::el::parse(args).map(Command::DiagEl),
            Some((other, _)) => Err(format!("diag: unknown subcommand {other}")),
            None => Err("diag: which one? (el)".into()),
        },
        other => Err(format!("unknown command {other}")),
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
                duration: Some(30)
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
        assert!(p(&["diag"]).is_err());
        assert!(p(&["diag", "zz"]).is_err());
        assert!(p(&["diag", "el", "get"]).is_err());
    }
}
