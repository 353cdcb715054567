//! The Buildroot br2-external tree (`buildroot/`): its descriptor and Kconfig wiring, and the
//! package's .mk evaluated by GNU make with the cargo infrastructure stubbed out.

use std::collections::BTreeMap;
use std::process::Command;

use super::{assert_in_repo, package_field, read, referenced_files, repo, unit_value};

const EXTERNAL: &str = "buildroot";
const PACKAGE_MK: &str = "buildroot/package/ocpp-gw/ocpp-gw.mk";
const PACKAGE_CONFIG: &str = "buildroot/package/ocpp-gw/Config.in";

/// Variables of the package .mk whose (unexpanded) values the tests read.
const VARS: &[&str] = &[
    "OCPP_GW_VERSION",
    "OCPP_GW_SITE",
    "OCPP_GW_SITE_METHOD",
    "OCPP_GW_LICENSE",
    "OCPP_GW_CARGO_BUILD_OPTS",
    "OCPP_GW_CARGO_INSTALL_OPTS",
    "OCPP_GW_PRE_CONFIGURE_HOOKS",
    "OCPP_GW_POST_INSTALL_TARGET_HOOKS",
    "OCPP_GW_VENDOR_CRATES",
    "OCPP_GW_INSTALL_CONFIG",
    "OCPP_GW_INSTALL_INIT_SYSTEMD",
    "OCPP_GW_USERS",
    "OCPP_GW_PERMISSIONS",
    "OCPP_GW_CARGO_PACKAGE_EVALUATED",
];

/// Reads the .mk the way Buildroot does (GNU make, BR2_EXTERNAL_OCPP_GW_PATH set), with
/// `cargo-package` replaced by a marker assignment, and returns every variable in `VARS`:
/// SITE expanded, the others as written. `test` names the scratch files.
fn mk_vars(test: &str) -> BTreeMap<String, String> {
    let external = repo().join(EXTERNAL);
    let mut stub = format!(
        "BR2_EXTERNAL_OCPP_GW_PATH := {}\n\
         cargo-package = OCPP_GW_CARGO_PACKAGE_EVALUATED := yes\n\
         include {}\n",
        external.display(),
        repo().join(PACKAGE_MK).display()
    );
    for var in VARS {
        let value = if *var == "OCPP_GW_SITE" {
            format!("$({var})")
        } else {
            format!("$(value {var})")
        };
        stub.push_str(&format!("$(info @@{var})\n$(info {value})\n"));
    }
    stub.push_str("all: ;\n");
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("buildroot-mk");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let stub_path = dir.join(format!("{test}.mk"));
    std::fs::write(&stub_path, stub).expect("write stub makefile");

    let out = Command::new("make")
        .args(["--no-builtin-rules", "--silent", "-f"])
        .arg(&stub_path)
        .output()
        .unwrap_or_else(|e| panic!("cannot run GNU make: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "make cannot read {PACKAGE_MK}:\n{}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut vars = BTreeMap::new();
    for section in stdout.split("@@").skip(1) {
        let (name, value) = section.split_once('\n').unwrap_or((section, ""));
        vars.insert(name.to_string(), value.trim().to_string());
    }
    vars
}

#[test]
fn external_tree_wires_the_package_into_kconfig_and_make() {
    let desc = read(&format!("{EXTERNAL}/external.desc"));
    assert!(
        desc.lines().any(|l| l.trim() == "name: OCPP_GW"),
        "external.desc must name the tree OCPP_GW (BR2_EXTERNAL_OCPP_GW_PATH)"
    );
    let external_mk = read(&format!("{EXTERNAL}/external.mk"));
    assert!(
        external_mk.contains("$(BR2_EXTERNAL_OCPP_GW_PATH)/package/*/*.mk"),
        "external.mk does not include the package makefiles"
    );
    let config = read(&format!("{EXTERNAL}/Config.in"));
    assert!(
        config
            .lines()
            .any(|l| l.trim() == "source \"$BR2_EXTERNAL_OCPP_GW_PATH/package/ocpp-gw/Config.in\""),
        "Config.in does not source the package's Config.in"
    );

    let package = read(PACKAGE_CONFIG);
    let lines: Vec<&str> = package.lines().collect();
    assert_eq!(lines.first().copied(), Some("config BR2_PACKAGE_OCPP_GW"));
    for wanted in [
        "\tbool \"ocpp-gw\"",
        "\tdepends on BR2_PACKAGE_HOST_RUSTC_TARGET_ARCH_SUPPORTS",
        "\tselect BR2_PACKAGE_HOST_RUSTC",
        "\thelp",
    ] {
        assert!(
            lines.contains(&wanted),
            "{PACKAGE_CONFIG}: no line {wanted:?}"
        );
    }
    // Kconfig help text is indented by a tab and two spaces and must not be empty.
    let help: Vec<&&str> = lines
        .iter()
        .skip_while(|l| **l != "\thelp")
        .skip(1)
        .take_while(|l| l.is_empty() || l.starts_with("\t  "))
        .filter(|l| !l.is_empty())
        .collect();
    assert!(!help.is_empty(), "{PACKAGE_CONFIG}: empty help text");
}

#[test]
fn package_mk_builds_this_checkout_with_the_cargo_infrastructure() {
    let vars = mk_vars("infrastructure");
    let var = |name: &str| vars.get(name).map(String::as_str).unwrap_or_default();

    assert_eq!(
        var("OCPP_GW_CARGO_PACKAGE_EVALUATED"),
        "yes",
        "{PACKAGE_MK} does not end in $(eval $(cargo-package))"
    );
    assert_eq!(var("OCPP_GW_VERSION"), package_field("version"));
    assert_eq!(var("OCPP_GW_LICENSE"), package_field("license"));
    assert_eq!(var("OCPP_GW_SITE_METHOD"), "local");
    let checkout = repo().canonicalize().expect("repository path");
    assert_eq!(
        std::path::Path::new(var("OCPP_GW_SITE")),
        checkout,
        "OCPP_GW_SITE is not the checkout the external tree sits in"
    );
    for opts in ["OCPP_GW_CARGO_BUILD_OPTS", "OCPP_GW_CARGO_INSTALL_OPTS"] {
        assert!(
            var(opts)
                .split_whitespace()
                .any(|o| o == "--no-default-features"),
            "{opts} must leave the simulators out"
        );
    }
    for (hooks, hook) in [
        ("OCPP_GW_PRE_CONFIGURE_HOOKS", "OCPP_GW_VENDOR_CRATES"),
        (
            "OCPP_GW_POST_INSTALL_TARGET_HOOKS",
            "OCPP_GW_INSTALL_CONFIG",
        ),
    ] {
        assert!(
            var(hooks).split_whitespace().any(|h| h == hook),
            "{hooks} lacks {hook}"
        );
        assert!(!var(hook).is_empty(), "{hook} is not defined");
    }
    assert!(
        var("OCPP_GW_VENDOR_CRATES").contains("cargo vendor --locked"),
        "crates must be vendored from Cargo.lock"
    );
}

#[test]
fn package_mk_installs_files_that_exist_where_the_unit_expects_them() {
    let vars = mk_vars("install");
    let var = |name: &str| vars.get(name).map(String::as_str).unwrap_or_default();

    let install = format!(
        "{}\n{}",
        var("OCPP_GW_INSTALL_CONFIG"),
        var("OCPP_GW_INSTALL_INIT_SYSTEMD")
    );
    let referenced = referenced_files(&install, "$(@D)/");
    for rel in [super::UNIT, "etc/ocpp-gw.toml", "etc/templates/*.toml"] {
        assert!(
            referenced.contains(&rel),
            "{PACKAGE_MK} does not install {rel}"
        );
    }
    for rel in referenced {
        assert_in_repo(rel, PACKAGE_MK);
    }
    let exec_start = unit_value("ExecStart");
    let config = exec_start
        .split_whitespace()
        .skip_while(|w| *w != "--config")
        .nth(1)
        .expect("ExecStart names --config");
    assert!(
        install.contains(&format!("$(TARGET_DIR){config}")),
        "{PACKAGE_MK} does not install the configuration at {config}, where ExecStart reads it"
    );
    assert!(
        install.contains("$(TARGET_DIR)/usr/lib/systemd/system/ocpp-gw.service"),
        "{PACKAGE_MK} does not install the unit"
    );

    // makeusers: name uid group gid password home shell groups comment
    let users: Vec<&str> = var("OCPP_GW_USERS").split_whitespace().collect();
    let [name, _, group, _, password, home, _, groups, ..] = users[..] else {
        panic!("OCPP_GW_USERS is not a makeusers line: {users:?}");
    };
    assert_eq!(
        name,
        unit_value("User"),
        "unit and package name different users"
    );
    assert_eq!(group, unit_value("Group"));
    assert_eq!(
        password, "*",
        "the daemon's account must not have a password"
    );
    assert_eq!(home, unit_value("ReadWritePaths"));
    assert!(
        groups.split(',').any(|g| g == "dialout"),
        "ocpp-gw user is not in dialout: {groups}"
    );

    // makedevs: name type mode uid gid major minor start inc count
    let permissions = var("OCPP_GW_PERMISSIONS");
    let mut modes = BTreeMap::new();
    for line in permissions.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            fields.len(),
            10,
            "OCPP_GW_PERMISSIONS: malformed line {line:?}"
        );
        modes.insert(fields[0], (fields[2], fields[3], fields[4]));
    }
    assert_eq!(modes.get(config), Some(&("640", "root", name)));
    assert_eq!(modes.get(home), Some(&("750", name, name)));
}
