# Container images for developing, testing and trying ocpp-gw. Nothing needs them: scripts/test.sh
# and scripts/demo.sh run on the host. Three stages:
#
#   dev      the toolchain and every tool the test suite uses, as the non-root user `dev`:
#              docker build --target dev -t ocpp-gw-dev .
#              docker run --rm -v "$PWD/../shared/ocpp-2.0.1-schemas:/schemas:ro" \
#                  -e OCPP_SCHEMAS_DIR=/schemas ocpp-gw-dev            # runs scripts/test.sh
#              docker run --rm -it ocpp-gw-dev scripts/demo.sh
#   build    the release binary without the simulators (what the Debian package, Yocto and
#            Buildroot ship)
#   runtime  (default) that binary on Debian slim, run as the system user ocpp-gw:
#              docker build -t ocpp-gw .
#              docker run --rm -v /srv/ocpp-gw/etc:/etc/ocpp-gw:ro -v ocpp-gw-state:/var/lib/ocpp-gw ocpp-gw
#            For RS-485 adapters add --device /dev/ttyUSB0 (the user is in dialout).
#
# The build stage's glibc (Debian 12: 2.36) is the runtime's, so the gnu binary's glibc
# requirement (>= 2.34) is met; see docs/deploying.md.

ARG RUST_VERSION=1.95
ARG DEBIAN_RELEASE=bookworm

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS dev
# make, openssl, curl: the packaging and OTA tests; qemu-user and the cross compilers:
# cross/build.sh and its QEMU test; shellcheck for the scripts.
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        make openssl curl shellcheck qemu-user \
        gcc-aarch64-linux-gnu libc6-dev-arm64-cross gcc-arm-linux-gnueabihf libc6-dev-armhf-cross \
    && rm -rf /var/lib/apt/lists/*
RUN rustup component add rustfmt clippy \
    && rustup target add aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf \
    && cargo install cargo-deb --locked \
    && rm -rf "$CARGO_HOME/registry"
RUN useradd --create-home --shell /bin/bash dev
USER dev
WORKDIR /home/dev/ocpp-gw
COPY --chown=dev:dev . .
CMD ["scripts/test.sh"]

FROM rust:${RUST_VERSION}-${DEBIAN_RELEASE} AS build
WORKDIR /src
# Dependencies first, so a source change rebuilds only the crate itself.
COPY Cargo.toml Cargo.lock ./
RUN cargo fetch --locked
COPY src src
RUN cargo build --release --locked --no-default-features \
    && install -m 0755 target/release/ocpp-gw /usr/local/bin/ocpp-gw

FROM debian:${DEBIAN_RELEASE}-slim AS runtime
# The same account as the Debian package and the systemd unit: no login, no home of its own
# beyond the state directory, dialout for serial ports.
RUN useradd --system --user-group --groups dialout --home-dir /var/lib/ocpp-gw --create-home \
        --shell /usr/sbin/nologin ocpp-gw \
    && chmod 0750 /var/lib/ocpp-gw
COPY --from=build /usr/local/bin/ocpp-gw /usr/bin/ocpp-gw
COPY --chown=root:ocpp-gw --chmod=0640 etc/ocpp-gw.toml /etc/ocpp-gw/ocpp-gw.toml
COPY etc/templates/ /etc/ocpp-gw/templates/
USER ocpp-gw
WORKDIR /var/lib/ocpp-gw
VOLUME ["/var/lib/ocpp-gw"]
ENTRYPOINT ["/usr/bin/ocpp-gw"]
CMD ["run", "--config", "/etc/ocpp-gw/ocpp-gw.toml"]
