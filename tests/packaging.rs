//! Packaging files agree with the repository they ship: the Yocto crate list with Cargo.lock, the
//! recipe and the Buildroot package with the files they install, the Debian package with what it
//! must contain, the systemd unit with the hardening it promises, and the CI entry point with the
//! README's test command.

#[path = "packaging/buildroot.rs"]
mod buildroot;
#[path = "packaging/cross.rs"]
mod cross;
#[path = "packaging/deb.rs"]
mod deb;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

const LAYER: &str = "yocto/meta-ocpp-gw";
const RECIPE_DIR: &str = "yocto/meta-ocpp-gw/recipes-core/ocpp-gw";
const CRATES_INC: &str = "yocto/meta-ocpp-gw/recipes-core/ocpp-gw/ocpp-gw-crates.inc";
const UNIT: &str = "etc/systemd/ocpp-gw.service";
const REGEN: &str = "run `python3 scripts/yocto-crates.py` and commit the result";

/// Yocto release series this layer may declare itself compatible with.
const KNOWN_SERIES: &[&str] = &[
    "kirkstone",
    "scarthgap",
    "styhead",
    "walnascar",
    "whinlatter",
    "wrynose",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    fs::read_to_string(repo().join(rel)).unwrap_or_else(|e| panic!("cannot read {rel}: {e}"))
}

/// The string value of `key = "value"` among `lines`, first match.
fn quoted_value<'a>(lines: impl IntoIterator<Item = &'a str>, key: &str) -> Option<&'a str> {
    lines.into_iter().find_map(|line| {
        line.strip_prefix(key)?
            .trim_start()
            .strip_prefix('=')?
            .trim()
            .strip_prefix('"')?
            .strip_suffix('"')
    })
}

/// `<name>-<version>` -> checksum for every package that Cargo.lock takes from a registry.
fn lock_crates() -> BTreeMap<String, String> {
    let lock = read("Cargo.lock");
    let mut crates = BTreeMap::new();
    for block in lock.split("[[package]]").skip(1) {
        let field = |key| quoted_value(block.lines(), key);
        if field("source").is_none() {
            continue; // this workspace's own package
        }
        let (Some(name), Some(version)) = (field("name"), field("version")) else {
            panic!("Cargo.lock: package without name or version:\n{block}");
        };
        let checksum = field("checksum").unwrap_or_default();
        crates.insert(format!("{name}-{version}"), checksum.to_string());
    }
    assert!(!crates.is_empty(), "Cargo.lock lists no registry packages");
    crates
}

/// Bitbake assignments of a .conf/.bb file, continuation lines joined; `+=`, `.=` and plain
/// assignments to one variable are concatenated in order.
fn bitbake_vars(text: &str) -> BTreeMap<String, String> {
    let joined = text.replace("\\\n", " ");
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    for line in joined.lines().map(str::trim) {
        if line.starts_with('#') {
            continue;
        }
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        let name = lhs.trim_end_matches(['+', '.', '?', ':', ' ']).trim();
        let Some(value) = rhs
            .trim()
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
        else {
            continue;
        };
        if name.is_empty() || name.contains(' ') {
            continue;
        }
        let entry = vars.entry(name.to_string()).or_default();
        entry.push(' ');
        entry.push_str(value);
    }
    vars.into_iter()
        .map(|(k, v)| (k, v.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect()
}

/// The recipe file; its name carries the version it builds.
fn recipe_path() -> PathBuf {
    let dir = repo().join(RECIPE_DIR);
    let recipes: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {RECIPE_DIR}: {e}"))
        .map(|entry| entry.expect("readable directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "bb"))
        .collect();
    assert_eq!(
        recipes.len(),
        1,
        "expected one recipe in {RECIPE_DIR}, found {recipes:?}"
    );
    recipes.into_iter().next().expect("one recipe")
}

/// `Key=value` pairs of one section of the unit file, in order (keys may repeat).
fn unit_section(section: &str) -> Vec<(String, String)> {
    let unit = read(UNIT);
    let header = format!("[{section}]");
    unit.lines()
        .map(str::trim)
        .skip_while(|line| *line != header)
        .skip(1)
        .take_while(|line| !line.starts_with('['))
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let (k, v) = line.split_once('=').unwrap_or((line, ""));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

/// The one value of `key` in the unit's [Service] section.
fn unit_value(key: &str) -> String {
    let values: Vec<String> = unit_section("Service")
        .into_iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v)
        .collect();
    match <[String; 1]>::try_from(values) {
        Ok([value]) => value,
        Err(values) => panic!("{UNIT}: [Service] {key} set {} times", values.len()),
    }
}

/// A string field of Cargo.toml's [package] section.
fn package_field(key: &str) -> String {
    let manifest = read("Cargo.toml");
    let package = manifest.split("\n[").next().expect("[package] section");
    quoted_value(package.lines(), key)
        .unwrap_or_else(|| panic!("Cargo.toml: no package.{key}"))
        .to_string()
}

/// Repository paths that `text` names after `prefix` (such as `${S}/`), up to a space, quote or
/// backslash.
fn referenced_files<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .map(|(at, _)| {
            let rest = &text[at + prefix.len()..];
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '"' || c == '\\')
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .collect()
}

/// Fails unless `rel` (a file, or `dir/*suffix`) matches a file in the repository.
fn assert_in_repo(rel: &str, who: &str) {
    match rel.rsplit_once("/*") {
        Some((dir, suffix)) => {
            let matches = fs::read_dir(repo().join(dir))
                .unwrap_or_else(|e| panic!("{who} installs {rel}, but {dir}: {e}"))
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(suffix))
                .count();
            assert!(matches > 0, "{who} installs {rel}, which matches no file");
        }
        None => assert!(
            repo().join(rel).is_file(),
            "{who} installs {rel}, which is not in the repository"
        ),
    }
}

#[test]
fn crates_inc_lists_exactly_the_registry_packages_of_cargo_lock() {
    let lock = lock_crates();
    let inc = read(CRATES_INC);

    let mut uris = BTreeSet::new();
    for line in inc.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("crate://crates.io/") else {
            continue;
        };
        let rest = rest.trim_end_matches('\\').trim_end();
        let (path, params) = rest.split_once(';').unwrap_or((rest, ""));
        let (name, version) = path
            .split_once('/')
            .unwrap_or_else(|| panic!("{CRATES_INC}: malformed crate URI: {line}"));
        let key = format!("{name}-{version}");
        assert_eq!(
            params,
            format!("name={key}"),
            "{CRATES_INC}: {line} must carry name={key} so its checksum key is unique"
        );
        assert!(uris.insert(key), "{CRATES_INC}: duplicate entry {line}");
    }

    let mut sums = BTreeMap::new();
    for line in inc.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix("SRC_URI[") else {
            continue;
        };
        let (key, value) = rest
            .split_once(".sha256sum]")
            .unwrap_or_else(|| panic!("{CRATES_INC}: malformed checksum line: {line}"));
        let sum = value
            .trim()
            .strip_prefix('=')
            .and_then(|v| v.trim().strip_prefix('"')?.strip_suffix('"'))
            .unwrap_or_else(|| panic!("{CRATES_INC}: malformed checksum line: {line}"));
        assert!(
            sums.insert(key.to_string(), sum.to_string()).is_none(),
            "{CRATES_INC}: duplicate checksum for {key}"
        );
    }

    let want: BTreeSet<String> = lock.keys().cloned().collect();
    let missing: Vec<_> = want.difference(&uris).collect();
    let extra: Vec<_> = uris.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{CRATES_INC} is out of date with Cargo.lock ({REGEN}): missing {missing:?}, extra {extra:?}"
    );
    let wrong: Vec<_> = lock
        .iter()
        .filter(|(key, sum)| sums.get(*key) != Some(*sum))
        .map(|(key, _)| key)
        .chain(sums.keys().filter(|key| !lock.contains_key(*key)))
        .collect();
    assert!(
        wrong.is_empty(),
        "{CRATES_INC}: checksums missing or differing from Cargo.lock ({REGEN}): {wrong:?}"
    );
    assert!(
        lock.values().all(|sum| sum.len() == 64),
        "a Cargo.lock registry package lacks a sha256 checksum"
    );
}

#[test]
fn layer_conf_declares_the_layer() {
    let vars = bitbake_vars(&read(&format!("{LAYER}/conf/layer.conf")));
    let var = |name: &str| {
        vars.get(name)
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| panic!("layer.conf: {name} missing or empty"))
            .as_str()
    };

    assert!(var("BBPATH").contains("${LAYERDIR}"));
    assert!(
        var("BBFILES").contains("${LAYERDIR}/recipes-*/*/*.bb"),
        "layer.conf: BBFILES does not cover {RECIPE_DIR}"
    );
    assert!(var("BBFILE_COLLECTIONS").split(' ').any(|c| c == "ocpp-gw"));
    assert_eq!(var("BBFILE_PATTERN_ocpp-gw"), "^${LAYERDIR}/");
    assert!(var("BBFILE_PRIORITY_ocpp-gw").parse::<u32>().is_ok());
    assert!(var("LAYERVERSION_ocpp-gw").parse::<u32>().is_ok());
    assert!(var("LAYERDEPENDS_ocpp-gw").split(' ').any(|d| d == "core"));
    for series in var("LAYERSERIES_COMPAT_ocpp-gw").split(' ') {
        assert!(
            KNOWN_SERIES.contains(&series),
            "layer.conf: LAYERSERIES_COMPAT names unknown release series {series:?}"
        );
    }
}

#[test]
fn recipe_builds_this_version_and_installs_files_that_exist() {
    let path = recipe_path();
    let recipe = fs::read_to_string(&path).expect("readable recipe");
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("UTF-8 name");
    let recipe_version = file_name
        .strip_prefix("ocpp-gw_")
        .and_then(|n| n.strip_suffix(".bb"))
        .unwrap_or_else(|| panic!("recipe name {file_name} is not ocpp-gw_<version>.bb"));
    assert_eq!(
        recipe_version,
        package_field("version"),
        "rename the recipe to match the version in Cargo.toml"
    );

    let inherited: BTreeSet<&str> = recipe
        .lines()
        .filter_map(|l| l.strip_prefix("inherit "))
        .flat_map(str::split_whitespace)
        .collect();
    for class in ["cargo", "systemd", "useradd"] {
        assert!(inherited.contains(class), "recipe does not inherit {class}");
    }
    assert!(
        recipe
            .lines()
            .any(|l| l.trim() == "require ocpp-gw-crates.inc"),
        "recipe does not require ocpp-gw-crates.inc"
    );

    let referenced = referenced_files(&recipe, "${S}/");
    for rel in [UNIT, "etc/ocpp-gw.toml", "etc/templates/*.toml"] {
        assert!(referenced.contains(&rel), "recipe does not install {rel}");
    }
    for rel in referenced {
        assert_in_repo(rel, "recipe");
    }

    let vars = bitbake_vars(&recipe);
    assert_eq!(
        vars.get("SYSTEMD_SERVICE:${PN}").map(String::as_str),
        Path::new(UNIT).file_name().and_then(|n| n.to_str())
    );
    let useradd = vars
        .get("USERADD_PARAM:${PN}")
        .expect("USERADD_PARAM:${PN}");
    assert!(
        useradd.contains("--groups dialout"),
        "ocpp-gw user is not in dialout: {useradd}"
    );
    let user = useradd.split(' ').next_back().expect("user name");
    assert_eq!(
        unit_value("User"),
        user,
        "unit and recipe name different users"
    );
    assert!(
        recipe.contains("${D}${sysconfdir}/ocpp-gw/ocpp-gw.toml"),
        "recipe does not install the configuration where the unit's ExecStart reads it"
    );
}

#[test]
fn systemd_unit_runs_unprivileged_and_hardened() {
    let service = unit_section("Service");
    let required = [
        ("Type", "notify"),
        ("NotifyAccess", "main"),
        ("User", "ocpp-gw"),
        ("SupplementaryGroups", "dialout"),
        (
            "ExecStart",
            "/usr/bin/ocpp-gw run --config /etc/ocpp-gw/ocpp-gw.toml",
        ),
        ("ExecReload", "/bin/kill -HUP $MAINPID"),
        ("Restart", "on-failure"),
        ("ProtectSystem", "strict"),
        ("ReadWritePaths", "/var/lib/ocpp-gw"),
        ("StateDirectory", "ocpp-gw"),
        ("NoNewPrivileges", "yes"),
        ("CapabilityBoundingSet", ""),
        ("PrivateTmp", "yes"),
        ("ProtectHome", "yes"),
        // The daemon cannot raise it itself under SystemCallFilter=~@resources.
        ("LimitNOFILE", "65536"),
    ];
    for (key, value) in required {
        let values: Vec<&str> = service
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(values, [value], "{UNIT}: [Service] {key}");
    }
    let watchdog: Vec<&str> = service
        .iter()
        .filter(|(k, _)| k == "WatchdogSec")
        .map(|(_, v)| v.as_str())
        .collect();
    let [watchdog] = watchdog[..] else {
        panic!("{UNIT}: [Service] needs exactly one WatchdogSec, found {watchdog:?}");
    };
    let seconds = watchdog
        .strip_suffix('s')
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("{UNIT}: WatchdogSec={watchdog} is not <seconds>s"));
    assert!(
        (10..=300).contains(&seconds),
        "{UNIT}: WatchdogSec={watchdog}: too short for a loaded board or too long to matter"
    );
    let install = unit_section("Install");
    assert!(
        install
            .iter()
            .any(|(k, v)| k == "WantedBy" && v == "multi-user.target"),
        "{UNIT}: not wanted by multi-user.target"
    );
}

#[test]
fn ci_entry_point_runs_the_test_script() {
    let run = read(".ci/run");
    let mut lines = run.lines().map(str::trim);
    assert_eq!(lines.next(), Some("#!/usr/bin/env bash"), ".ci/run shebang");
    let body: Vec<&str> = lines
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    assert_eq!(body.first().copied(), Some("set -euo pipefail"));
    assert!(
        body.iter()
            .any(|l| l.starts_with("exec ") && l.contains("scripts/test.sh")),
        ".ci/run does not exec scripts/test.sh"
    );

    let test = read("scripts/test.sh");
    for step in [
        "cargo fmt --check",
        "cargo clippy --all-targets -- -D warnings",
        "cargo test --all-targets",
    ] {
        assert!(test.contains(step), "scripts/test.sh does not run `{step}`");
    }

    for script in [
        ".ci/run",
        "scripts/setup.sh",
        "scripts/test.sh",
        "scripts/demo.sh",
        "scripts/yocto-crates.py",
        "scripts/make-ota-bundle.sh",
        "scripts/ota-update.sh",
        "cross/build.sh",
        "debian/postinst",
        "debian/postrm",
    ] {
        let mode = fs::metadata(repo().join(script))
            .unwrap_or_else(|e| panic!("{script}: {e}"))
            .permissions()
            .mode();
        assert!(
            mode & 0o111 != 0,
            "{script} is not executable (mode {mode:o})"
        );
    }
}
