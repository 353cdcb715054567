//! The mutating routes: operator commands for a station and device add/update/delete.

use serde::Deserialize;
use serde_json::{json, Value};

use super::auth::Caller;
use super::routes::{ask, Reply};
use super::Context;
use crate::config::{self, DeviceEdit, EditError};
use crate::hub::Query;
use crate::station::local::{CommandOutcome, LocalCommand};

/// Which operator command a route gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Command {
    Start,
    Stop,
    Unlock,
    Reset,
    Availability,
}

/// Which device edit a route makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Edit {
    Add,
    Update,
    Delete,
}

/// Body of the availability command.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AvailabilityBody {
    operative: bool,
}

/// Gives device `id`'s station `command` and answers with the station's outcome.
pub(super) fn command(
    ctx: &Context,
    id: &str,
    command: Command,
    caller: Option<&Caller>,
    body: &[u8],
) -> Reply {
    let local = match command {
        Command::Start => LocalCommand::Start {
            // The token's name is what the CSMS sees as the driver's idToken.
            token: caller.map_or_else(|| "admin".to_string(), |c| c.name.clone()),
        },
        Command::Stop => LocalCommand::Stop,
        Command::Unlock => LocalCommand::Unlock,
        Command::Reset => LocalCommand::Reset,
        Command::Availability => match serde_json::from_slice::<AvailabilityBody>(body) {
            Ok(b) => LocalCommand::Availability {
                operative: b.operative,
            },
            Err(e) => {
                return Reply::error(400, &format!("body must be {{\"operative\": bool}}: {e}"))
            }
        },
    };
    let id_owned = id.to_string();
    match ask(ctx, |reply| Query::Command {
        id: id_owned,
        command: local,
        reply,
    }) {
        Err((status, message)) => Reply::error(status, &message),
        Ok(None) => Reply::error(404, &format!("no device {id:?}")),
        Ok(Some(outcome)) => Reply::json(200, &outcome_json(&outcome)),
    }
}

fn outcome_json(o: &CommandOutcome) -> Value {
    json!({
        "status": o.status,
        "reason": o.reason,
        "transactionId": o.transaction_id,
    })
}

/// Edits the device list in the config file, then applies the new config.
pub(super) fn edit_device(ctx: &Context, edit: Edit, id: &str, body: &[u8]) -> Reply {
    let Some(path) = &ctx.config_path else {
        return Reply::error(404, "this listener serves no configuration");
    };
    let device = || -> Result<toml::Table, Reply> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| Reply::error(400, &format!("body is not JSON: {e}")))?;
        if !value.is_object() {
            return Err(Reply::error(400, "body must be a JSON object (one device)"));
        }
        // JSON null has no TOML counterpart; such a body is a bad device.
        toml::Table::try_from(value).map_err(|e| {
            Reply::json(
                422,
                &json!({"error": "the device is not valid", "problems": [e.to_string()]}),
            )
        })
    };
    let change = match edit {
        Edit::Add => device().map(DeviceEdit::Add),
        Edit::Update => device().map(|device| DeviceEdit::Update {
            id: id.to_string(),
            device,
        }),
        Edit::Delete => Ok(DeviceEdit::Delete { id: id.to_string() }),
    };
    let change = match change {
        Ok(change) => change,
        Err(reply) => return reply,
    };
    let config = match config::edit_devices(path, change).inspect(crate::fdlimit::raise_for) {
        Ok(config) => config,
        Err(e) => return edit_error(&e),
    };
    match ask(ctx, |reply| Query::Reload {
        config: Box::new(config),
        reply,
    }) {
        Ok(()) => {
            let status = if edit == Edit::Add { 201 } else { 200 };
            Reply::json(status, &json!({ "status": "applied" }))
        }
        Err((status, message)) => Reply::error(
            status,
            &format!("the config file was changed but not applied yet: {message}"),
        ),
    }
}

fn edit_error(e: &EditError) -> Reply {
    match e {
        EditError::NotFound(_) => Reply::error(404, &e.to_string()),
        EditError::Duplicate { .. } => Reply::error(409, &e.to_string()),
        EditError::Device(_) => Reply::json(
            422,
            &json!({"error": "the device is not valid", "problems": [e.to_string()]}),
        ),
        EditError::Invalid(errors) => {
            let problems: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            Reply::json(
                422,
                &json!({
                    "error": format!("{} problem(s); the config file is unchanged", problems.len()),
                    "problems": problems,
                }),
            )
        }
        EditError::Read { .. } | EditError::Parse { .. } | EditError::Write { .. } => {
            log::error!("admin: {e}");
            Reply::error(500, &e.to_string())
        }
    }
}
