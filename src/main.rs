//! The `ocpp-gw` command: daemon, config check, demo.

use std::process::ExitCode;

use ocpp_gw::cli::{self, Command, USAGE};
use ocpp_gw::{config, daemon, logging};

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
        Command::CheckConfig { config } => match config::load(&config) {
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
        },
        Command::Run { config } => {
            let config = match config::load(&config) {
                Ok(c) => c,
                Err(errors) => {
                    eprintln!("{errors}");
                    return ExitCode::from(2);
                }
            };
            logging::init(config.system.log_level);
            match daemon::run_until_signal(&config) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    log::error!("{e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Demo { chargers, duration } => demo(chargers, duration),
        Command::DiagEl(cmd) => {
            let code = ocpp_gw::diag::el::run(&cmd, &mut std::io::stdout(), &mut std::io::stderr());
            ExitCode::from(code)
        }
    }
}

#[cfg(feature = "sim")]
fn demo(chargers: usize, duration: Option<u64>) -> ExitCode {
    match ocpp_gw::demo::run(chargers, duration.map(std::time::Duration::from_secs)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ocpp-gw demo: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "sim"))]
fn demo(_: usize, _: Option<u64>) -> ExitCode {
    eprintln!("ocpp-gw: this build has no simulators (built without the `sim` feature)");
    ExitCode::from(2)
}
