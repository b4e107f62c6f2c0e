# The memory a container's cgroup is charged for, in MiB, as `docker stats` reads it: the memory
# controller's usage (cgroup v1's memory.usage_in_bytes, v2's memory.current) of the cgroup its
# PID 1 is in. Sourced by the tests and the benchmarks; needs root.
# usage: container_memory_mib CONTAINER
container_memory_mib() {
  local pid path
  pid=$(docker inspect -f '{{.State.Pid}}' "$1")
  path=$(awk -F: '$2 == "memory" {print $3}' "/proc/$pid/cgroup")
  if [[ -n $path ]]; then
    echo $(($(cat "/sys/fs/cgroup/memory$path/memory.usage_in_bytes") >> 20))
  else
    path=$(awk -F: '$1 == "0" {print $3}' "/proc/$pid/cgroup")
    echo $(($(cat "/sys/fs/cgroup$path/memory.current") >> 20))
  fi
}
