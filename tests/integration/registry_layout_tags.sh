#!/usr/bin/env bash
# Tags in OCI layouts, checked with the tools that read them (no dockerd): `runcvm-build pull REF
# DIR` tags the image as skopeo and umoci do (index.json's org.opencontainers.image.ref.name), so
# `umoci unpack --image DIR:TAG` gives its files; a second tag pulled into the same layout joins
# the first (`umoci ls` lists both); `push DIR:TAG` sends one image of a two-tag layout with its
# digest; `skopeo … oci:DIR:TAG` reads the layout; a tag moved to another image leaves no blob
# behind that `umoci gc` would collect; bad DIR:TAG input fails in one line and changes nothing.
source "$(dirname "$0")/lib.sh"

for tool in docker-registry skopeo umoci; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install docker-registry skopeo umoci)"
done

# Two one-file images made with umoci, put in a docker-registry on loopback with skopeo.
umoci init --layout "$SCRATCH/src"
for tag in 1 2; do
  mkdir -p "$SCRATCH/files"
  echo "image $tag" >"$SCRATCH/files/which"
  umoci new --image "$SCRATCH/src:$tag"
  umoci insert --image "$SCRATCH/src:$tag" "$SCRATCH/files/which" /etc/which >/dev/null
done
port=$(free_port)
mkdir -p "$SCRATCH/registry"
printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$SCRATCH/registry/data" "$port" \
  >"$SCRATCH/registry/config.yml"
docker-registry serve "$SCRATCH/registry/config.yml" >"$SCRATCH/registry/log" 2>&1 &
on_exit "kill $!"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
REPO=127.0.0.1:$port/acc/bb
declare -A DIGEST
for tag in 1 2; do
  skopeo copy -q --dest-tls-verify=false "oci:$SCRATCH/src:$tag" "docker://$REPO:$tag" || fail "skopeo copy to the registry"
  DIGEST[$tag]=$(skopeo inspect --tls-verify=false "docker://$REPO:$tag" | jq -r .Digest)
done

L=$SCRATCH/layout
unpacked() {  # TAG: /etc/which of the image `umoci unpack --image $L:TAG` gives
  rm -rf "$SCRATCH/unpacked"
  umoci unpack --rootless --image "$L:$1" "$SCRATCH/unpacked" >/dev/null 2>&1 || fail "umoci unpack --image layout:$1"
  cat "$SCRATCH/unpacked/rootfs/etc/which"
}
digest=$("$RUNCVM_BUILD" pull "$REPO:1" "$L") || fail "pull $REPO:1"
[[ "$digest" == "${DIGEST[1]}" ]] || fail "pull printed $digest, the registry has ${DIGEST[1]}"
[[ "$(umoci ls --layout "$L")" == 1 ]] || fail "umoci ls: $(umoci ls --layout "$L")"
[[ "$(unpacked 1)" == "image 1" ]] || fail "umoci unpack gave the wrong files: $(unpacked 1)"
pass "pull REF:1 DIR tags the image 1: umoci ls lists it and umoci unpack --image DIR:1 gives its files"

"$RUNCVM_BUILD" pull "$REPO:2" "$L" >/dev/null || fail "pull $REPO:2 into the same layout"
[[ "$(umoci ls --layout "$L" | sort | paste -sd,)" == 1,2 ]] || fail "umoci ls after the second pull: $(umoci ls --layout "$L")"
[[ "$(unpacked 2)" == "image 2" && "$(unpacked 1)" == "image 1" ]] || fail "the layout's images are not both whole"
for tag in 1 2; do
  [[ "$(skopeo inspect "oci:$L:$tag" | jq -r .Digest)" == "${DIGEST[$tag]}" ]] || fail "skopeo inspect oci:DIR:$tag"
done
skopeo copy -q "oci:$L:2" "oci:$SCRATCH/copied:two" || fail "skopeo copy oci:DIR:2"
[[ "$(umoci ls --layout "$SCRATCH/copied")" == two ]] || fail "skopeo's copy of DIR:2"
pass "a second tag pulled into the layout joins the first: umoci ls lists 1 and 2, skopeo reads and copies oci:DIR:TAG"

digest=$("$RUNCVM_BUILD" push "$L:2" "127.0.0.1:$port/acc/back:x") || fail "push DIR:2"
[[ "$digest" == "${DIGEST[2]}" ]] || fail "push DIR:2 sent $digest, the layout's image 2 is ${DIGEST[2]}"
"$RUNCVM_BUILD" pull "127.0.0.1:$port/acc/back@$digest" "$SCRATCH/back:again" >/dev/null || fail "pulling the pushed image back"
[[ "$(jq -r '.manifests[0].digest + " " + .manifests[0].annotations["org.opencontainers.image.ref.name"]' "$SCRATCH/back/index.json")" == "${DIGEST[2]} again" ]] ||
  fail "the image pulled back: $(cat "$SCRATCH/back/index.json")"
pass "push DIR:2 from a two-tag layout sends image 2 ($digest), and it comes back by digest as DIR:again"

# Bad input: one line naming the value and what is right; the layout stays as it was.
index_before=$(sha256sum <"$L/index.json")
expect_one_line_error "holds 2 images (\"1\", \"2\"); name one as DIR:TAG" "$RUNCVM_BUILD" push "$L" "127.0.0.1:$port/acc/back:y"
expect_one_line_error "no image tagged \"3\" (the layout has \"1\", \"2\")" "$RUNCVM_BUILD" push "$L:3" "127.0.0.1:$port/acc/back:y"
expect_one_line_error "\"bad tag\" is not a valid tag: expected letters and digits" "$RUNCVM_BUILD" pull "$REPO:1" "$L:bad tag"
expect_one_line_error "HTTP 404" "$RUNCVM_BUILD" pull "$REPO:absent" "$L:3"
expect_one_line_error "HTTP 404" "$RUNCVM_BUILD" pull "$REPO:absent" "$SCRATCH/new"
[[ "$(sha256sum <"$L/index.json")" == "$index_before" ]] || fail "a failed command changed the layout's index.json"
assert_absent "$SCRATCH/new"
leftovers=$(find "$SCRATCH" -maxdepth 1 -name '.*tmp*')
[[ -z "$leftovers" ]] || fail "staging left behind: $leftovers"
pass "push without a tag from a two-tag layout, an unknown tag, an invalid tag, an absent image: one line each, nothing written"

# The tag moves: the blobs only the old image used go, nothing umoci gc would collect is left.
"$RUNCVM_BUILD" pull "$REPO:2" "$L:1" >/dev/null || fail "pull $REPO:2 as tag 1"
[[ "$(skopeo inspect "oci:$L:1" | jq -r .Digest)" == "${DIGEST[2]}" ]] || fail "tag 1 did not move to image 2"
[[ ! -e "$L/blobs/sha256/${DIGEST[1]#sha256:}" ]] || fail "image 1's manifest is still in the layout"
blobs=$(ls "$L/blobs/sha256" | wc -l)
umoci gc --layout "$L"
[[ "$(ls "$L/blobs/sha256" | wc -l)" == "$blobs" ]] || fail "umoci gc found blobs no tag uses"
pass "a tag pulled again for another image moves; its old image's blobs go ($blobs left, as umoci gc would keep)"

# A path with ':' that exists is the layout; DIR:TAG beside it names a tag.
mkdir "$SCRATCH/with:colon"
"$RUNCVM_BUILD" pull "$REPO:1" "$SCRATCH/with:colon" >/dev/null || fail "pull into an existing directory with ':'"
"$RUNCVM_BUILD" pull "$REPO:2" "$SCRATCH/with:colon:two" >/dev/null || fail "pull into DIR:TAG with ':' in DIR"
# (umoci refuses such paths; skopeo splits oci:DIR:TAG at the first ':'.)
tags=$(jq -r '[.manifests[].annotations["org.opencontainers.image.ref.name"]] | join(",")' "$SCRATCH/with:colon/index.json")
[[ "$tags" == 1,two ]] || fail "the layout with ':' in its path has tags $tags"
digest=$("$RUNCVM_BUILD" push "$SCRATCH/with:colon:two" "127.0.0.1:$port/acc/colon:1") || fail "push DIR:TAG with ':' in DIR"
[[ "$digest" == "${DIGEST[2]}" ]] || fail "push of with:colon:two sent $digest"
pass "a layout at a path with ':': the existing directory is the layout, DIR:TAG adds a tag to it and pushes it"
