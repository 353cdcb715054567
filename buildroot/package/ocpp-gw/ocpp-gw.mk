################################################################################
#
# ocpp-gw
#
################################################################################

# This br2-external tree lives in the ocpp-gw repository (buildroot/), so it builds the checkout
# it sits in: package and source are always the same commit. For a release image, set
# OCPP_GW_SITE to a release tarball instead (and drop SITE_METHOD): Buildroot then vendors the
# crates into its download cache and can rebuild offline.
OCPP_GW_VERSION = 0.1.0
OCPP_GW_SITE = $(realpath $(BR2_EXTERNAL_OCPP_GW_PATH)/..)
OCPP_GW_SITE_METHOD = local
OCPP_GW_LICENSE = Apache-2.0

# Build outputs and packaging trees of the checkout are not sources.
OCPP_GW_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude /target --exclude /buildroot --exclude /yocto --exclude /debian

# The simulators behind `ocpp-gw demo` stay out of the device build.
OCPP_GW_CARGO_BUILD_OPTS = --no-default-features
OCPP_GW_CARGO_INSTALL_OPTS = --no-default-features

# A local source skips the download step where the cargo infrastructure vendors the crates, so
# vendor them here, before the offline build (needs network, like any download step).
define OCPP_GW_VENDOR_CRATES
	cd $(@D) && mkdir -p .cargo && \
		$(HOST_MAKE_ENV) $(PKG_COMMON_CARGO_ENV) \
		cargo vendor --locked VENDOR > .cargo/config.toml
endef
OCPP_GW_PRE_CONFIGURE_HOOKS += OCPP_GW_VENDOR_CRATES

# The configuration may hold CSMS credentials: root writes it, the daemon's group reads it.
define OCPP_GW_INSTALL_CONFIG
	$(INSTALL) -D -m 0640 $(@D)/etc/ocpp-gw.toml $(TARGET_DIR)/etc/ocpp-gw/ocpp-gw.toml
	$(INSTALL) -d -m 0755 $(TARGET_DIR)/etc/ocpp-gw/templates
	$(INSTALL) -m 0644 $(@D)/etc/templates/*.toml $(TARGET_DIR)/etc/ocpp-gw/templates/
endef
OCPP_GW_POST_INSTALL_TARGET_HOOKS += OCPP_GW_INSTALL_CONFIG

# Enabled by Buildroot's systemd presets like every packaged unit.
define OCPP_GW_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(@D)/etc/systemd/ocpp-gw.service \
		$(TARGET_DIR)/usr/lib/systemd/system/ocpp-gw.service
endef

# dialout: the RS-485 adapters (/dev/ttyS*, /dev/ttyUSB*) belong to that group.
define OCPP_GW_USERS
	ocpp-gw -1 ocpp-gw -1 * /var/lib/ocpp-gw - dialout ocpp-gw daemon
endef

define OCPP_GW_PERMISSIONS
	/etc/ocpp-gw d 750 root ocpp-gw - - - - -
	/etc/ocpp-gw/ocpp-gw.toml f 640 root ocpp-gw - - - - -
	/var/lib/ocpp-gw d 750 ocpp-gw ocpp-gw - - - - -
endef

$(eval $(cargo-package))
