//! Loads template files (`<templates_dir>/<id>.toml`), merges `extends` chains, and checks the
//! merged result.
//!
//! Each file is read and checked on its own once; each template a device uses is then resolved
//! through its parents: a child's variable replaces the parent's with the same `ocpp_name` (and
//! `phase`) in place, and new ones follow. Problems are reported in the file and at the key
//! where they were written, also when found through a child.

mod cross;
mod layout;
mod values;
mod variable;

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use crate::mapping::Template;

use super::devices::is_template_name;
use super::error::Problems;
use super::parse::{lenient, parse_toml};
use super::raw::{RawTemplate, RawTemplateFile, RawVariable};
use super::ConfigError;

use variable::check_variable;

/// Longest `vendor_name` (OCPP BootNotification chargingStation.vendorName).
const MAX_VENDOR_NAME: usize = 50;
/// Longest `model` (OCPP BootNotification chargingStation.model).
const MAX_MODEL: usize = 20;

/// The outcome of looking for one template.
#[derive(Debug, Clone)]
pub(super) enum Loaded {
    Found(Arc<Template>),
    /// No such file: the path looked for.
    Missing(PathBuf),
    /// The template or one of its parents has problems (already recorded).
    Invalid,
}

/// One template file as written, checked on its own.
#[derive(Debug)]
struct TemplateFile {
    file: PathBuf,
    header: RawTemplate,
    /// `None` where a variable could not be parsed (already reported).
    variables: Vec<Option<RawVariable>>,
    /// Whether the file has problems of its own.
    broken: bool,
}

/// A file looked for once.
#[derive(Debug, Clone)]
enum FileState {
    Missing(PathBuf),
    /// Unreadable or not a template at all (already reported).
    Unusable,
    Parsed(Rc<TemplateFile>),
}

/// Where a merged variable was written: its file and index there.
#[derive(Debug, Clone, Copy)]
struct Origin<'a> {
    file: &'a Path,
    index: usize,
}

/// Resolves templates from one directory, reading each file once.
pub(super) struct Templates<'a> {
    dir: &'a Path,
    files: BTreeMap<String, FileState>,
    resolved: BTreeMap<String, Loaded>,
    errors: Vec<ConfigError>,
}

impl<'a> Templates<'a> {
    /// Templates from `dir`.
    pub(super) fn new(dir: &'a Path) -> Self {
        Templates {
            dir,
            files: BTreeMap::new(),
            resolved: BTreeMap::new(),
            errors: Vec::new(),
        }
    }

    /// Template `id` with its parents merged in.
    pub(super) fn resolve(&mut self, id: &str) -> Loaded {
        if let Some(loaded) = self.resolved.get(id) {
            return loaded.clone();
        }
        let loaded = self.resolve_uncached(id);
        self.resolved.insert(id.to_string(), loaded.clone());
        loaded
    }

    /// Every problem found in the files, each once, in the order found.
    pub(super) fn into_errors(self) -> Vec<ConfigError> {
        let mut seen = Vec::new();
        for e in self.errors {
            if !seen.contains(&e) {
                seen.push(e);
            }
        }
        seen
    }

    fn resolve_uncached(&mut self, id: &str) -> Loaded {
        let Some(chain) = self.chain(id) else {
            return Loaded::Invalid;
        };
        let chain = match chain {
            Ok(chain) => chain,
            Err(missing) => return Loaded::Missing(missing),
        };
        let before = self.errors.len();
        let merged = merge(&chain);
        let checked: Vec<_> = merged
            .iter()
            .map(|(origin, v)| {
                let mut p = Problems::new(origin.file);
                let c = check_variable(origin.index, v, id, &mut p);
                self.errors.extend(p.into_errors());
                c
            })
            .collect();
        cross::check(&merged, &checked, &mut self.errors);
        let broken = chain
            .iter()
            .any(|f| f.broken || f.variables.iter().any(Option::is_none));
        let variables: Option<Vec<_>> = checked.into_iter().map(|c| c.variable).collect();
        match variables {
            Some(variables) if !broken && self.errors.len() == before => {
                let first = |get: fn(&RawTemplate) -> Option<&String>| {
                    chain.iter().find_map(|f| get(&f.header).cloned())
                };
                Loaded::Found(Arc::new(Template {
                    id: id.to_string(),
                    description: first(|h| h.description.as_ref()).unwrap_or_default(),
                    extends: chain.first().and_then(|f| f.header.extends.clone()),
                    vendor_name: first(|h| h.vendor_name.as_ref()),
                    model: first(|h| h.model.as_ref()),
                    variables,
                }))
            }
            _ => Loaded::Invalid,
        }
    }

    /// The files of `id` and its ancestors, child first. `Some(Err(path))`: `id` itself does
    /// not exist; `None`: the chain is broken (reported).
    fn chain(&mut self, id: &str) -> Option<Result<Vec<Rc<TemplateFile>>, PathBuf>> {
        let mut chain: Vec<Rc<TemplateFile>> = Vec::new();
        let mut ids: Vec<String> = Vec::new();
        let mut next = id.to_string();
        loop {
            let extends_error = |chain: &[Rc<TemplateFile>], message: String| ConfigError {
                file: chain.last().map_or_else(PathBuf::new, |f| f.file.clone()),
                key: "template.extends".into(),
                message,
            };
            if ids.contains(&next) {
                let path = format!("{} -> {next}", ids.join(" -> "));
                let e = extends_error(&chain, format!("{next:?} closes a cycle: {path}"));
                self.errors.push(e);
                return None;
            }
            let file = match self.file(&next) {
                FileState::Parsed(file) => file,
                FileState::Unusable => return None,
                FileState::Missing(path) if chain.is_empty() => return Some(Err(path)),
                FileState::Missing(path) => {
                    let message = format!("no template {next:?} (looked for {})", path.display());
                    self.errors.push(extends_error(&chain, message));
                    return None;
                }
            };
            let parent = file.header.extends.clone();
            ids.push(next);
            chain.push(file);
            match parent {
                None => return Some(Ok(chain)),
                Some(parent) if is_template_name(&parent) => next = parent,
                Some(parent) => {
                    let message = format!(
                        "{parent:?} is not a template name (A-Z a-z 0-9 . _ -, not starting with '.')"
                    );
                    self.errors.push(extends_error(&chain, message));
                    return None;
                }
            }
        }
    }

    /// Reads and checks file `id` on its own, once.
    fn file(&mut self, id: &str) -> FileState {
        if let Some(state) = self.files.get(id) {
            return state.clone();
        }
        let state = self.read(id);
        self.files.insert(id.to_string(), state.clone());
        state
    }

    fn read(&mut self, id: &str) -> FileState {
        let file = self.dir.join(format!("{id}.toml"));
        let text = match fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) if e.kind() == ErrorKind::NotFound => return FileState::Missing(file),
            Err(e) => {
                self.errors.push(ConfigError {
                    file,
                    key: String::new(),
                    message: format!("cannot read: {e}"),
                });
                return FileState::Unusable;
            }
        };
        let root: toml::Table = match parse_toml(&file, &text) {
            Ok(root) => root,
            Err(e) => {
                self.errors.push(e);
                return FileState::Unusable;
            }
        };
        let mut errors = Vec::new();
        let header = lenient::<RawTemplateFile>(&file, "", toml::Value::Table(root), &mut errors)
            .and_then(|raw| lenient::<RawTemplate>(&file, "template", raw.template, &mut errors));
        let Some(mut header) = header else {
            self.errors.extend(errors);
            return FileState::Unusable;
        };
        let variables = std::mem::take(&mut header.variables)
            .into_iter()
            .enumerate()
            .map(|(i, v)| lenient(&file, &format!("template.variables[{i}]"), v, &mut errors))
            .collect();
        let mut p = Problems::new(&file);
        if header.id != id {
            p.add(
                "template.id",
                format!("{:?} does not match the file name {id}.toml", header.id),
            );
        }
        check_len(
            &mut p,
            "template.vendor_name",
            header.vendor_name.as_deref(),
            MAX_VENDOR_NAME,
        );
        check_len(&mut p, "template.model", header.model.as_deref(), MAX_MODEL);
        let broken = !errors.is_empty() || !p.is_empty();
        self.errors.extend(errors);
        self.errors.extend(p.into_errors());
        FileState::Parsed(Rc::new(TemplateFile {
            file,
            header,
            variables,
            broken,
        }))
    }
}

/// The variables of `chain` (child first), ancestors first: a descendant's variable replaces
/// an ancestor's with the same `ocpp_name` and `phase` in place; the others follow in order.
fn merge(chain: &[Rc<TemplateFile>]) -> Vec<(Origin<'_>, &RawVariable)> {
    let mut merged: Vec<(Origin<'_>, &RawVariable, usize)> = Vec::new();
    for (depth, f) in chain.iter().enumerate().rev() {
        for (index, v) in f.variables.iter().enumerate() {
            let Some(v) = v else { continue };
            let origin = Origin {
                file: &f.file,
                index,
            };
            let key = override_key(v);
            let inherited = merged
                .iter_mut()
                .find(|(_, old, d)| *d > depth && override_key(old) == key);
            match inherited {
                Some(slot) => *slot = (origin, v, depth),
                None => merged.push((origin, v, depth)),
            }
        }
    }
    merged.into_iter().map(|(o, v, _)| (o, v)).collect()
}

/// What a child variable must match to override a parent's: the name as the vocabulary
/// understands it (so `AvailabilityState` overrides `Connector.Status`), and the phase.
fn override_key(v: &RawVariable) -> (String, Option<&str>) {
    let name = crate::mapping::OcppName::parse(&v.ocpp_name)
        .map_or_else(|| v.ocpp_name.clone(), |n| n.to_string());
    (name, v.phase.as_deref())
}

/// An optional text that must be non-empty and at most `max` characters.
pub(super) fn check_len(p: &mut Problems, key: &str, value: Option<&str>, max: usize) {
    match value {
        Some("") => p.add(key, "must not be empty"),
        Some(v) if v.chars().count() > max => p.add(key, format!("longer than {max} characters")),
        _ => {}
    }
}
