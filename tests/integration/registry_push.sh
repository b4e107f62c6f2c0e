#!/usr/bin/env bash
# The registry client against a real registry (Debian's docker-registry on 127.0.0.1), with and
# without basic auth: an OCI layout pushed monolithically and in chunks, pulled back by digest with
# the same digests (skopeo reads the pulled layout), and bad input — an unreachable registry,
# missing or wrong credentials, a blob corrupted in the registry, an upload cut off mid-chunk
# (resumed) — each ends in one clear line or recovers, leaving nothing half-written.
source "$(dirname "$0")/lib.sh"

command -v docker-registry >/dev/null || fail "docker-registry is not installed (apt-get install docker-registry)"
command -v htpasswd >/dev/null || fail "htpasswd is not installed (apt-get install apache2-utils)"

# A small image: a layer of random data (so chunks matter) in an OCI layout.
mkdir -p "$SCRATCH/tree/bin"
head -c 3000000 /dev/urandom >"$SCRATCH/tree/bin/blob"
python3 - "$SCRATCH" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
scratch = sys.argv[1]
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode="w") as tar:
    tar.add(os.path.join(scratch, "tree"), arcname=".")
layer = gzip.compress(raw.getvalue(), mtime=0)
config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
                     "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]}}).encode()
blobs = os.path.join(scratch, "oci", "blobs", "sha256")
os.makedirs(blobs)
def store(data):
    digest = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, digest), "wb").write(data)
    return "sha256:" + digest
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": store(config), "size": len(config)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": store(layer), "size": len(layer)}]}).encode()
index = {"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
         "digest": store(manifest), "size": len(manifest)}]}
open(os.path.join(scratch, "oci", "index.json"), "w").write(json.dumps(index))
open(os.path.join(scratch, "oci", "oci-layout"), "w").write('{"imageLayoutVersion":"1.0.0"}')
PY
expected=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifests"][0]["digest"])' "$SCRATCH/oci/index.json")

serve_registry() {  # name port [auth]
  local name=$1 port=$2 auth=${3:-}
  mkdir -p "$SCRATCH/$name"
  {
    printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' "$SCRATCH/$name/data" "$port"
    [[ -n "$auth" ]] && printf 'auth:\n  htpasswd:\n    realm: runcvm-test\n    path: %s\n' "$auth"
  } >"$SCRATCH/$name/config.yml"
  docker-registry serve "$SCRATCH/$name/config.yml" >"$SCRATCH/$name/log" 2>&1 &
  on_exit "kill $!"
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && return 0; sleep 0.1; done
  fail "docker-registry on port $port did not start: $(tail -3 "$SCRATCH/$name/log")"
}
htpasswd -Bbn alice secret >"$SCRATCH/htpasswd" 2>/dev/null
serve_registry plain 15000
serve_registry auth 15001 "$SCRATCH/htpasswd"

digest=$("$RUNCVM_BUILD" push "$SCRATCH/oci" 127.0.0.1:15000/runcvm/test:1) || fail "push"
[[ "$digest" == "$expected" ]] || fail "push returned $digest, the layout's manifest is $expected"
digest=$(RUNCVM_REGISTRY_CHUNK=1M "$RUNCVM_BUILD" push "$SCRATCH/oci" 127.0.0.1:15000/runcvm/chunked:1) || fail "chunked push"
"$RUNCVM_BUILD" pull "127.0.0.1:15000/runcvm/chunked@$expected" "$SCRATCH/pulled" >/dev/null || fail "pull by digest"
diff <(cd "$SCRATCH/oci/blobs/sha256" && ls) <(cd "$SCRATCH/pulled/blobs/sha256" && ls) >/dev/null || fail "the pulled blobs differ"
(cd "$SCRATCH/pulled/blobs/sha256" && for f in *; do [[ "$(sha256sum "$f" | cut -c1-64)" == "$f" ]] || exit 1; done) || fail "a pulled blob does not match its name"
assert_contains "$(skopeo inspect "oci:$SCRATCH/pulled")" "\"Digest\": \"$expected\"" "skopeo inspect of the pulled layout"
pass "push (monolithic and 1 MiB chunks) and pull by digest against docker-registry: $expected both ways"

digest=$(RUNCVM_REGISTRY_MOUNT_FROM=runcvm/test "$RUNCVM_BUILD" push "$SCRATCH/oci" 127.0.0.1:15000/other/mounted:1 2>"$SCRATCH/mount.log") ||
  fail "push with a cross-repository mount: $(cat "$SCRATCH/mount.log")"
[[ "$digest" == "$expected" && $(grep -c "^mounted sha256:.* from runcvm/test" "$SCRATCH/mount.log") -eq 2 ]] ||
  fail "the layer and config were not mounted from runcvm/test: $(cat "$SCRATCH/mount.log")"
pass "a push to another repository mounts both blobs from runcvm/test instead of uploading them"

expect_one_line_error "requires credentials (401)" "$RUNCVM_BUILD" push "$SCRATCH/oci" 127.0.0.1:15001/runcvm/test:1
RUNCVM_REGISTRY_USER=alice RUNCVM_REGISTRY_PASSWORD=wrong expect_one_line_error "refused" "$RUNCVM_BUILD" push "$SCRATCH/oci" 127.0.0.1:15001/runcvm/test:1
digest=$(RUNCVM_REGISTRY_USER=alice RUNCVM_REGISTRY_PASSWORD=secret "$RUNCVM_BUILD" push "$SCRATCH/oci" 127.0.0.1:15001/runcvm/test:1) ||
  fail "push with basic auth"
[[ "$digest" == "$expected" ]] || fail "push with basic auth returned $digest"
RUNCVM_REGISTRY_USER=alice RUNCVM_REGISTRY_PASSWORD=secret "$RUNCVM_BUILD" pull "127.0.0.1:15001/runcvm/test@$expected" "$SCRATCH/pulled-auth" >/dev/null ||
  fail "pull with basic auth"
pass "basic auth: without or with wrong credentials one line (401); with them, push and pull by digest"

# Blobs redirected to a CDN on another origin (Docker Hub and GHCR answer 307): followed, streamed
# to a file while hashed, cut off at the manifest's size; the credentials stay with the registry.
/usr/bin/python3 "$SOURCE_DIR/tests/integration/redirect_front.py" "$SCRATCH/front.port" 15001 "$SCRATCH/oci/blobs/sha256" \
  "$SCRATCH/cdn.log" alice secret &
on_exit "kill $!"
for _ in $(seq 50); do [[ -s "$SCRATCH/front.port" ]] && break; sleep 0.1; done
front=127.0.0.1:$(cat "$SCRATCH/front.port")
as_alice() { RUNCVM_REGISTRY_USER=alice RUNCVM_REGISTRY_PASSWORD=secret "$@"; }
as_alice "$RUNCVM_BUILD" pull "$front/runcvm/redirected@$expected" "$SCRATCH/pulled-redirected" >/dev/null || fail "pull through 307 redirects"
diff <(cd "$SCRATCH/oci/blobs/sha256" && ls) <(cd "$SCRATCH/pulled-redirected/blobs/sha256" && ls) >/dev/null || fail "the redirected pull's blobs differ"
[[ $(grep -c "^cdn /blobs/" "$SCRATCH/cdn.log") -eq 2 ]] || fail "the blobs did not come from the CDN: $(cat "$SCRATCH/cdn.log")"
grep -v "auth=-$" "$SCRATCH/cdn.log" && fail "the registry's credentials went to the CDN (above)"
pass "blobs behind 307 redirects to another origin arrive intact, and the credentials do not follow them"

as_alice expect_one_line_error "refusing plain HTTP to \"http://runcvm-cdn.example/blobs/" \
  "$RUNCVM_BUILD" pull "$front/runcvm/plain-http@$expected" "$SCRATCH/plain-http"
assert_absent "$SCRATCH/plain-http"
as_alice expect_one_line_error "more than 5 redirects" "$RUNCVM_BUILD" pull "$front/runcvm/loop@$expected" "$SCRATCH/loop"
as_alice expect_one_line_error "bytes the manifest declares; nothing was written" \
  "$RUNCVM_BUILD" pull "$front/runcvm/big@$expected" "$SCRATCH/big"
assert_absent "$SCRATCH/big"
ls "$SCRATCH" | grep -q "^big\." && fail "a partial layout of the oversized pull was left: $(ls "$SCRATCH")"
pass "a redirect to plain HTTP off loopback, a redirect loop and a blob longer than its descriptor each fail in one line"

# pull adds to an earlier layout only: never to a directory of the user's.
mkdir -p "$SCRATCH/mine" && echo keep >"$SCRATCH/mine/notes"
expect_one_line_error "exists and is not an earlier output (it has no oci-layout); refusing to replace it" \
  "$RUNCVM_BUILD" pull "127.0.0.1:15000/runcvm/test@$expected" "$SCRATCH/mine"
[[ "$(cat "$SCRATCH/mine/notes")" == keep ]] || fail "pull touched a directory that was not its output"
"$RUNCVM_BUILD" pull "127.0.0.1:15000/runcvm/test@$expected" "$SCRATCH/pulled-redirected" >/dev/null || fail "pull into an earlier layout"
pass "pull adds to an earlier OCI layout, and refuses a directory that is not one: $LAST_ERROR"

# Bearer tokens: docker-registry's token auth with a token service that signs JWTs (python3-jwt).
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$SCRATCH/token.key" -out "$SCRATCH/token.crt" -days 2 -subj /CN=runcvm-token 2>/dev/null
/usr/bin/python3 "$SOURCE_DIR/tests/integration/token_server.py" "$SCRATCH/token.port" "$SCRATCH/token.key" "$SCRATCH/token.crt" \
  runcvm-issuer alice secret &
on_exit "kill $!"
for _ in $(seq 50); do [[ -s "$SCRATCH/token.port" ]] && break; sleep 0.1; done
mkdir -p "$SCRATCH/bearer"
printf 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:15002\nauth:\n  token:\n    realm: http://127.0.0.1:%s/token\n    service: runcvm-test\n    issuer: runcvm-issuer\n    rootcertbundle: %s\n' \
  "$SCRATCH/bearer/data" "$(cat "$SCRATCH/token.port")" "$SCRATCH/token.crt" >"$SCRATCH/bearer/config.yml"
docker-registry serve "$SCRATCH/bearer/config.yml" >"$SCRATCH/bearer/log" 2>&1 &
on_exit "kill $!"
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:15002/v2/" && break; sleep 0.1; done
RUNCVM_REGISTRY_USER=alice RUNCVM_REGISTRY_PASSWORD=wrong expect_one_line_error "the token service" "$RUNCVM_BUILD" push "$SCRATCH/oci" 127.0.0.1:15002/runcvm/test:1
digest=$(RUNCVM_REGISTRY_USER=alice RUNCVM_REGISTRY_PASSWORD=secret "$RUNCVM_BUILD" push "$SCRATCH/oci" 127.0.0.1:15002/runcvm/test:1) ||
  fail "push with a Bearer token"
RUNCVM_REGISTRY_USER=alice RUNCVM_REGISTRY_PASSWORD=secret "$RUNCVM_BUILD" pull "127.0.0.1:15002/runcvm/test@$expected" "$SCRATCH/pulled-bearer" >/dev/null ||
  fail "pull with a Bearer token"
[[ "$digest" == "$expected" ]] || fail "push with a Bearer token returned $digest"
pass "Bearer tokens: the client gets tokens (for pull, then pull+push) from the realm the 401 names; wrong credentials fail in one line"

start=$(date +%s)
expect_one_line_error "cannot reach 127.0.0.1:15999" "$RUNCVM_BUILD" pull 127.0.0.1:15999/runcvm/test:1 "$SCRATCH/unreachable"
(( $(date +%s) - start >= 1 )) || fail "an unreachable registry was not retried"
assert_absent "$SCRATCH/unreachable"
layer_blob=$(find "$SCRATCH/plain/data" -path "*/blobs/sha256/*/data" -size +1M | head -1)
cp "$layer_blob" "$SCRATCH/layer.saved"
corrupt_byte "$layer_blob" 1000
expect_one_line_error "received content with digest" "$RUNCVM_BUILD" pull "127.0.0.1:15000/runcvm/test@$expected" "$SCRATCH/corrupt"
assert_absent "$SCRATCH/corrupt"
cp "$SCRATCH/layer.saved" "$layer_blob"
pass "an unreachable registry (retried) and a corrupted blob fail in one line and leave no layout behind"

# An upload cut off mid-chunk: a proxy drops the connection once, during the second chunk; the
# client asks the registry where the upload stands and resumes from there, or starts the upload
# again when the registry has dropped it (docker-registry does).
python3 - "$SCRATCH/proxy.port" <<'PY' &
import socket, sys, threading
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen(16)
open(sys.argv[1], "w").write(str(listener.getsockname()[1]))
state = {"patches": 0}
def pipe(src, dst, cut):
    sent = 0
    try:
        while data := src.recv(65536):
            if cut is not None and sent + len(data) > cut:
                dst.sendall(data[: max(cut - sent, 0)]); break
            dst.sendall(data); sent += len(data)
    except OSError:
        pass
    for s in (src, dst):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
def handle(client):
    upstream = socket.create_connection(("127.0.0.1", 15000))
    first = client.recv(65536, socket.MSG_PEEK)
    cut = None
    if first.startswith(b"PATCH"):
        state["patches"] += 1
        if state["patches"] == 2: cut = 300000  # part of the second chunk, then the line drops
    threading.Thread(target=pipe, args=(upstream, client, None), daemon=True).start()
    pipe(client, upstream, cut)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=handle, args=(conn,), daemon=True).start()
PY
on_exit "kill $!"
for _ in $(seq 50); do [[ -s "$SCRATCH/proxy.port" ]] && break; sleep 0.1; done
port=$(cat "$SCRATCH/proxy.port")
digest=$(RUNCVM_REGISTRY_CHUNK=1M "$RUNCVM_BUILD" push "$SCRATCH/oci" "127.0.0.1:$port/runcvm/resumed:1" 2>"$SCRATCH/resume.err") ||
  fail "the interrupted upload was not resumed: $(cat "$SCRATCH/resume.err")"
[[ "$digest" == "$expected" ]] || fail "the resumed push returned $digest"
rm -rf "$SCRATCH/pulled"
"$RUNCVM_BUILD" pull "127.0.0.1:15000/runcvm/resumed@$expected" "$SCRATCH/pulled" >/dev/null || fail "pulling the resumed upload back"
pass "an upload cut off mid-chunk recovers (docker-registry drops the broken upload, so the client starts it again) and arrives intact"
