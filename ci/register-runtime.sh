#!/usr/bin/env bash
# Registers a runtime in a dockerd's daemon.json, the one place outside the installer that does:
# "runtimes": {NAME: {"path": PATH, "runtimeArgs": [ARG…]}}. The file is created if absent; its
# other settings, and the entry's other keys, stay (as runcvm-install keeps an operator's); it is
# written to a temporary name and renamed. The development install (ci/main.sh) and the tests'
# private dockerds use it. usage: ci/register-runtime.sh DAEMON_JSON NAME PATH [ARG…]
set -euo pipefail
(($# >= 3)) || { echo "usage: $0 DAEMON_JSON NAME PATH [ARG…]" >&2; exit 2; }
python3 - "$@" <<'PY'
import json, os, sys
path, name, runtime, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
config = {}
if os.path.exists(path) and os.path.getsize(path):
    with open(path) as f:
        config = json.load(f)
runtimes = config.setdefault("runtimes", {})
entry = runtimes.get(name) if isinstance(runtimes.get(name), dict) else {}
entry["path"] = runtime
if args:
    entry["runtimeArgs"] = args
runtimes[name] = entry
with open(path + ".tmp", "w") as f:
    json.dump(config, f, indent=2)
    f.write("\n")
os.replace(path + ".tmp", path)
PY
