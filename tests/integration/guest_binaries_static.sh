#!/usr/bin/env bash
# Every guest program must be a static ELF: no PT_INTERP (program interpreter), no DT_NEEDED.
set -euo pipefail
for binary in "$@"; do
  headers=$(readelf --program-headers --dynamic "$binary")
  if grep -q "INTERP" <<<"$headers"; then echo "FAIL: $binary has a program interpreter" >&2; exit 1; fi
  if grep -q "(NEEDED)" <<<"$headers"; then echo "FAIL: $binary needs shared libraries" >&2; exit 1; fi
  echo "ok: $binary is static"
done
