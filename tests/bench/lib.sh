# Shared helpers of the benchmarks (sourced): a clock in milliseconds, the median of numbers on a
# line, and the median wall time of RUNS runs of a command.
now_ms() { echo $(($(date +%s%N) / 1000000)); }
median() { tr ' ' '\n' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
time_runs() {  # command… -> median ms of $RUNS runs; a run that fails ends the benchmark
  local times=() start
  for _ in $(seq "$RUNS"); do
    start=$(now_ms)
    "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
    times+=($(( $(now_ms) - start )))
  done
  echo "${times[*]}" | median
}
