# Shared by the spec capture scripts (sourced): CAPTURE_DIR/capture-runtime copies the config.json
# an engine hands its runtime to CAPTURE_DIR/last-config.json, then behaves as runc; capture_spec
# runs one container through it and keeps that spec as a golden case's in.json.
golden="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/golden"

write_capture_runtime() {
  cat >"$CAPTURE_DIR/capture-runtime" <<SCRIPT
#!/bin/sh
# Copies the bundle's config.json aside, then behaves as runc.
bundle=""; previous=""
for argument in "\$@"; do
  [ "\$previous" = "--bundle" ] && bundle=\$argument
  previous=\$argument
done
[ -n "\$bundle" ] && cp "\$bundle/config.json" "$CAPTURE_DIR/last-config.json"
exec runc "\$@"
SCRIPT
  chmod +x "$CAPTURE_DIR/capture-runtime"
}

capture_spec() {  # case-name command-running-one-container…
  local name=$1; shift
  rm -f "$CAPTURE_DIR/last-config.json"
  "$@" >/dev/null
  mkdir -p "$golden/$name"
  python3 -m json.tool --indent 2 "$CAPTURE_DIR/last-config.json" >"$golden/$name/in.json"
  echo "captured $name"
}
