# The runcvm bundle image, built with `docker build` from a Debian base: the same /opt/runcvm that
# `runcvm-build bundle --docker-archive` writes, with the installer as its entrypoint.
#   docker build -t runcvm .
#   docker run --rm -v /opt/runcvm:/runcvm -v /etc/docker:/etc/docker runcvm
# (Where no registry is reachable, make debian:bookworm locally first, e.g.
#  debootstrap bookworm /tmp/b && tar -C /tmp/b -c . | docker import - debian:bookworm;
#  behind a proxy that inspects TLS, put its CA in that image's /usr/local/share/ca-certificates:
#  kernels are fetched over https.)
FROM debian:bookworm AS build
COPY ci/install-deps.sh /src/ci/install-deps.sh
RUN bash /src/ci/install-deps.sh --bundle
COPY . /src
RUN bash /src/ci/build.sh /src/build -DBUILD_TESTING=OFF \
 && /src/build/bin/runcvm-build kernels --recipe debian-bookworm --out /tmp/kernels --cache /tmp/runcvm-cache \
 && /src/build/bin/runcvm-build bundle --kernels /tmp/kernels --out /opt/runcvm \
 && rm -rf /tmp/kernels /tmp/runcvm-cache

# Everything in the bundle is static or brings its own loader and libraries: no base image.
# COPY, ENV and ENTRYPOINT cannot read handoff/bundle_layout.hpp, so they spell its paths;
# tests/unit/contracts_test.cpp checks that they are the header's.
FROM scratch
COPY --from=build /opt/runcvm /opt/runcvm
ENV PATH=/opt/runcvm/bin
ENTRYPOINT ["/opt/runcvm/bin/runcvm-install"]
