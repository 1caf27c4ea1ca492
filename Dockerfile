# The otp-labs image (`make image`; docker, podman or buildah). Two stages: the
# first builds the release with the project's own scripts/install-deps (apk on
# Alpine, apt-get on Debian); the second holds only the unpacked release -- the
# binaries and the shared libraries they need -- on the bare base, and runs a
# node as an unprivileged user. Another base: --build-arg BASE_IMAGE=debian:bookworm-slim.
ARG BASE_IMAGE=alpine:3.20

FROM ${BASE_IMAGE} AS build
WORKDIR /src
# install-deps alone first, so its layer is reused until the script changes.
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps
COPY . .
RUN make -j"$(nproc)" release \
 && mkdir /out && tar -xzf build/otp-labs-*.tar.gz -C /out \
 && mv /out/otp-labs-* /out/otp-labs

FROM ${BASE_IMAGE}
COPY --from=build /out/otp-labs /opt/otp-labs
# A numeric user, so any base works without adduser; with no passwd entry,
# HOME would be "/", where the default cookie file could not be written.
# Writable state only under /tmp, so the root file system can be read-only.
# Fixed ports, so they can be published: otp-epmd's 4369, the node's, and
# health and metrics.
ENV PATH=/opt/otp-labs/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    HOME=/tmp \
    OTP_LABS_VAR_DIR=/tmp/otp-labs \
    OTP_NODE_PORT=9100 \
    OTP_HTTP_PORT=8080
USER 10001:10001
EXPOSE 4369 9100 8080
ENTRYPOINT ["/opt/otp-labs/bin/otp-labs"]
CMD ["foreground"]
