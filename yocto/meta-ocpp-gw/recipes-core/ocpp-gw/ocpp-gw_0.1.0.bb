SUMMARY = "OCPP 2.0.1 gateway for legacy Modbus and ECHONET Lite EV chargers"
DESCRIPTION = "ocpp-gw presents legacy EV chargers (Modbus RTU/TCP, ECHONET Lite) to a CSMS \
as OCPP 2.0.1 charging stations."
LICENSE = "Apache-2.0"
# The source tree carries no licence text of its own; OE-Core's copy is the same licence.
LIC_FILES_CHKSUM = "file://${COMMON_LICENSE_DIR}/Apache-2.0;md5=89aea4e17d99a7cacdbeed46a0096b10"

inherit cargo systemd useradd

# This layer lives in the ocpp-gw repository (yocto/meta-ocpp-gw), so it builds the checkout it
# sits in: layer and source are always the same commit. Point EXTERNALSRC:pn-ocpp-gw elsewhere
# in local.conf to build another tree. Only the crates below are fetched.
inherit externalsrc
OCPP_GW_SRCDIR := "${@os.path.normpath(os.path.join(d.getVar('THISDIR'), '..', '..', '..', '..'))}"
EXTERNALSRC ?= "${OCPP_GW_SRCDIR}"

# crates.io dependencies, generated from Cargo.lock by scripts/yocto-crates.py.
require ocpp-gw-crates.inc

# The simulators behind `ocpp-gw demo` stay out of the device build unless asked for.
PACKAGECONFIG ??= ""
PACKAGECONFIG[sim] = "--features sim"
CARGO_BUILD_FLAGS:append = " --no-default-features ${PACKAGECONFIG_CONFARGS}"

USERADD_PACKAGES = "${PN}"
# dialout: the RS-485 adapters (/dev/ttyS*, /dev/ttyUSB*) belong to that group.
USERADD_PARAM:${PN} = "--system --user-group --groups dialout \
    --home-dir ${localstatedir}/lib/ocpp-gw --no-create-home \
    --shell ${base_sbindir}/nologin ocpp-gw"

SYSTEMD_SERVICE:${PN} = "ocpp-gw.service"

do_install:append() {
    install -D -m 0644 ${S}/etc/systemd/ocpp-gw.service \
        ${D}${systemd_system_unitdir}/ocpp-gw.service

    # The configuration holds the CSMS credentials: readable by the daemon's group only.
    install -d -m 0750 -o root -g ocpp-gw ${D}${sysconfdir}/ocpp-gw/templates
    install -m 0640 -o root -g ocpp-gw ${S}/etc/ocpp-gw.toml ${D}${sysconfdir}/ocpp-gw/ocpp-gw.toml
    install -m 0640 -o root -g ocpp-gw ${S}/etc/templates/*.toml ${D}${sysconfdir}/ocpp-gw/templates/

    install -d -m 0750 -o ocpp-gw -g ocpp-gw ${D}${localstatedir}/lib/ocpp-gw
}

CONFFILES:${PN} = "${sysconfdir}/ocpp-gw/ocpp-gw.toml"
