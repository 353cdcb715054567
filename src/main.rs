//! The `ocpp-gw` command: daemon, config check, demo.

use std::process::ExitCode;

use std::net::SocketAddr;

use ocpp_gw::admin::console::{self, Target};
use ocpp_gw::cli::{self, Command, USAGE};
use ocpp_gw::{config, daemon, diag, logging, preflight};

/// Where `ocpp-gw status` looks for a token when `--token` is not given.
const TOKEN_ENV: &str = "OCPPGW_TOKEN";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ocpp-gw: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match command {
        Command::Help => {
            println!("{USAGE}");
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!("ocpp-gw {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::CheckConfig { config } => {
            match config::load(&config).and_then(|c| preflight::load(&c).map(|_| c)) {
                Ok(c) => {
                    println!(
                        "{}: OK ({} device(s), {} template(s))",
                        config.display(),
                        c.devices.len(),
                        c.templates.len()
                    );
                    ExitCode::SUCCESS
                }
                Err(errors) => {
                    eprintln!("{errors}");
                    ExitCode::from(2)
                }
            }
        }
        Command::Run { config } => {
            let (config, loaded) =
                match config::load(&config).and_then(|c| preflight::load(&c).map(|l| (c, l))) {
                    Ok(both) => both,
                    Err(errors) => {
                        eprintln!("{errors}");
                        return ExitCode::from(2);
                    }
                };
            logging::init_with(&logging::LogSettings::from_config(&config.system));
            match daemon::run_until_signal(&config, loaded) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    log::error!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Demo {
            chargers,
            duration,
            admin,
        } => demo(chargers, duration, admin),
        Command::DiagEl(cmd) => {
            let code = ocpp_gw::diag::el::run(&cmd, &mut std::io::stdout(), &mut std::io::stderr());
            ExitCode::from(code)
        }
        Command::Status { config, url, token } => status(&config, url, token),
        Command::TokenNew { role, name } => match console::token_new(role, name.as_deref()) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("ocpp-gw token new: {e}");
                ExitCode::FAILURE
            }
        },
        Command::DiagModbusTcp {
            host,
            port,
            unit,
            operation,
        } => diag_outcome(
            "modbus-tcp",
            diag::modbus::run_tcp(&host, port, unit, &operation),
        ),
        Command::DiagModbusRtu {
            port,
            line,
            unit,
            operation,
        } => diag_outcome(
            "modbus-rtu",
            diag::modbus::run_rtu(&port, line, unit, &operation),
        ),
        Command::DiagCsms { config, station } => {
            let config = match config::load(&config) {
                Ok(c) => c,
                Err(errors) => {
                    eprintln!("{errors}");
                    return ExitCode::from(2);
                }
            };
            let report = diag::csms::run(&config, station.as_deref());
            println!("{report}");
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn status(config: &std::path::Path, url: Option<String>, token: Option<String>) -> ExitCode {
    let Some(token) = token.or_else(|| std::env::var(TOKEN_ENV).ok()) else {
        eprintln!("ocpp-gw status: needs a viewer token: --token TOKEN or {TOKEN_ENV}");
        return ExitCode::from(2);
    };
    let target = match url {
        Some(url) => Target {
            url,
            pinned_cert: None,
        },
        None => match console::target_from_config(config) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("ocpp-gw status: {e}");
                return ExitCode::from(2);
            }
        },
    };
    match console::status(&target, &token) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("ocpp-gw status: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(feature = "sim")]
fn demo(chargers: usize, duration: Option<u64>, admin: SocketAddr) -> ExitCode {
    match ocpp_gw::demo::run(
        chargers,
        duration.map(std::time::Duration::from_secs),
        admin,
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ocpp-gw demo: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "sim"))]
fn demo(_: usize, _: Option<u64>, _: SocketAddr) -> ExitCode {
    eprintln!("ocpp-gw: this build has no simulators (built without the `sim` feature)");
    ExitCode::from(2)
}

/// Prints a diagnostic's result, or its error wrapped for an 80-column console.
fn diag_outcome(name: &str, result: Result<String, diag::modbus::DiagError>) -> ExitCode {
    match result {
        Ok(text) => {
            print!("{text}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            let prefix = format!("ocpp-gw diag {name}: ");
            eprintln!("{}", diag::wrap(&prefix, &e.to_string(), diag::WIDTH));
            ExitCode::FAILURE
        }
    }
}
