#!/usr/bin/env bash
# The Dockerfile makes the image users would otherwise get from `runcvm-build bundle`: from a
# Debian base made here (debootstrap; no registry is reachable), `docker build` compiles runcvm,
# fetches the kernel and puts /opt/runcvm alone in a one-layer image whose entrypoint is the
# installer. Its tree has the same files, kinds and modes as the one `runcvm-build bundle --out`
# writes on this machine; installing from it registers the runtime, and a static busybox image
# and the Debian image boot as VMs with its QEMU, virtiofsd and kernel.
source "$(dirname "$0")/lib.sh"

"$RUNCVM_BUILD" kernels --recipe debian-bookworm --out "$SCRATCH/kernels" --cache "$SCRATCH/cache" >/dev/null 2>&1 ||
  fail "runcvm-build kernels failed"
"$RUNCVM_BUILD" bundle --kernels "$SCRATCH/kernels" --out "$SCRATCH/host-bundle" 2>"$SCRATCH/bundle.log" ||
  fail "runcvm-build bundle: $(cat "$SCRATCH/bundle.log")"

mkdir -p "$SCRATCH/etc-docker" "$SCRATCH/opt-runcvm"
echo '{}' >"$SCRATCH/etc-docker/daemon.json"
start_dockerd "$SCRATCH/etc-docker/daemon.json"
import_debian_image debian:bookworm
# A network that inspects TLS (this one does, with a CA of its own that the host trusts) needs its
# CA in the base image, as a site's base images carry theirs: the build fetches kernels over https.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  mkdir -p "$SCRATCH/base-ca"
  cp /usr/local/share/ca-certificates/*.crt "$SCRATCH/base-ca/"
  printf 'FROM debian:bookworm\nCOPY *.crt /usr/local/share/ca-certificates/\n' >"$SCRATCH/base-ca/Dockerfile"
  DOCKER_BUILDKIT=0 docker build -q -t debian:bookworm "$SCRATCH/base-ca" >/dev/null 2>&1 || fail "adding the site's CA to the base image"
fi

started=$SECONDS
DOCKER_BUILDKIT=0 docker build -t runcvm:dockerfile "$SOURCE_DIR" >"$SCRATCH/build.log" 2>&1 ||
  fail "docker build: $(tail -5 "$SCRATCH/build.log")"
layers=$(docker image inspect -f '{{len .RootFS.Layers}} {{json .Config.Entrypoint}}' runcvm:dockerfile)
[[ "$layers" == '1 ["/opt/runcvm/bin/runcvm-install"]' ]] ||
  fail "the image should be one layer with the installer as entrypoint; it is: $layers"
pass "docker build from debian:bookworm in $((SECONDS - started)) s: one layer, entrypoint runcvm-install"

out=$(docker run --rm -v "$SCRATCH/opt-runcvm:/runcvm" -v "$SCRATCH/etc-docker:/etc/docker" runcvm:dockerfile \
  --host-path "$SCRATCH/opt-runcvm") || fail "the installer failed: $out"
assert_contains "$out" "Reload dockerd" "the installer's report"
# VERSION names the tree's own digest, which differs with the compiler's paths; the rest must match.
tree_listing() { (cd "$1" && find . -path ./VERSION -prune -o -printf '%P %y %m\n' | sort); }
tree_listing "$SCRATCH/host-bundle" >"$SCRATCH/host.list"
tree_listing "$SCRATCH/opt-runcvm/current/" >"$SCRATCH/image.list"
diff -u "$SCRATCH/host.list" "$SCRATCH/image.list" >"$SCRATCH/tree.diff" ||
  fail "the Dockerfile's tree differs from runcvm-build bundle --out: $(head -20 "$SCRATCH/tree.diff" | tr '\n' ' ')"
pass "installed from the image: the same $(wc -l <"$SCRATCH/host.list") files, kinds and modes as runcvm-build bundle --out"

reload_dockerd_for_runcvm
kernel=$(readlink "$SCRATCH/opt-runcvm/current/kernels/debian/latest")
import_busybox_image runcvm-test/dockerfile-busybox debian
out=$(docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg runcvm-test/dockerfile-busybox uname -r) || fail "busybox VM: $out"
[[ "$out" == "$kernel" ]] || fail "busybox VM: uname -r is $out, expected $kernel"
out=$(docker run --rm --runtime=runcvm -e RUNCVM_QEMU_ACCEL=tcg debian:bookworm sh -c '. /etc/os-release; echo $ID; uname -r') ||
  fail "Debian VM: $out"
[[ "$out" == debian$'\n'"$kernel" ]] || fail "Debian VM: $out"
pass "VMs from the Dockerfile's bundle: busybox (static) and Debian (glibc) images boot $kernel"
