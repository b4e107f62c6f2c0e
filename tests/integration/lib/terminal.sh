# A real terminal for interactive tests: tmux runs COMMAND in a WIDTHxHEIGHT pty, stopped when the
# test ends. Usage: start_terminal WIDTH HEIGHT COMMAND; then terminal_keys KEYS… (tmux send-keys),
# terminal_resize WIDTH HEIGHT, screen (what it shows), wait_for_screen TEXT WHAT [SECONDS].
start_terminal() {
  command -v tmux >/dev/null || fail "tmux is not installed (apt-get install tmux)"
  TERMINAL_SOCKET="runcvm-test-$$-$RANDOM"
  on_exit "tmux -L $TERMINAL_SOCKET kill-server 2>/dev/null"
  tmux -L "$TERMINAL_SOCKET" new-session -d -s term -x "$1" -y "$2" "$3"
}
terminal_keys() { tmux -L "$TERMINAL_SOCKET" send-keys -t term "$@"; }
terminal_resize() { tmux -L "$TERMINAL_SOCKET" resize-window -t term -x "$1" -y "$2"; }
screen() { tmux -L "$TERMINAL_SOCKET" capture-pane -p -t term; }
wait_for_screen() {
  local tenths=$(( ${3:-10} * 10 ))
  for _ in $(seq "$tenths"); do screen | grep -qF -- "$1" && return 0; sleep 0.1; done
  fail "$2: the terminal shows: $(screen | grep -v '^$')"
}
