# Builds runcvm from source and packages the Debian kernels into the /opt/runcvm layout.
# The image whose entrypoint installs the bundle on a host (with QEMU, virtiofsd and the runtime)
# is produced by `runcvm-build bundle` (issue 8); until then this image carries the builder and
# the kernels:  docker build -t runcvm-build . && docker run --rm runcvm-build ls /opt/runcvm/kernels
FROM debian:bookworm AS build
COPY ci/install-deps.sh /src/ci/install-deps.sh
RUN bash /src/ci/install-deps.sh
COPY . /src
RUN rm -rf /src/build /src/out \
 && bash /src/ci/build.sh /src/build -DBUILD_TESTING=OFF \
 && /src/build/bin/runcvm-build kernels --recipe debian-bookworm --recipe debian-trixie \
      --out /opt/runcvm --cache /tmp/runcvm-cache \
 && mkdir -p /opt/runcvm/bin \
 && cp /src/build/bin/runcvm-build /src/build/bin/runcvm-initramfs-init /opt/runcvm/bin/ \
 && rm -rf /tmp/runcvm-cache

FROM debian:bookworm
RUN apt-get update -q && apt-get install -y -q --no-install-recommends \
      libarchive13 libcurl4 libssl3 zlib1g gpgv debian-archive-keyring ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/runcvm /opt/runcvm
COPY --from=build /src/kernel-recipes /opt/runcvm/share/kernel-recipes
ENV PATH=/opt/runcvm/bin:$PATH
