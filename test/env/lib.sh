# shellcheck shell=bash disable=SC2034 # the variables are used by the scripts that source this file
# Shared settings and helpers for test/env/up, test/env/down and test/image/build.
# Sourced, not executed. Everything here is derived from the repository path, so two checkouts on one
# machine get separate Redis ports, Docker engines, bridges and sockets and do not interfere.

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
TEST_TMP="$REPO/test/.tmp"
ENV_FILE="$REPO/test/.env"
REPO_HASH="$(printf '%s' "$REPO" | sha256sum | cut -c1-8)"

ROCK_TEST_IMAGE_DEFAULT="rock-test-sandbox:latest"

# --- Redis -----------------------------------------------------------------------------------------
REDIS_DIR="$TEST_TMP/redis"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"
REDIS_PORTFILE="$REDIS_DIR/port"
REDIS_LOG="$REDIS_DIR/redis.log"

# --- Docker ----------------------------------------------------------------------------------------
# The data root (images, layers) lives in the repo so the test image survives between runs.
DOCKER_DIR="$TEST_TMP/docker"
DOCKER_DATA_ROOT="$DOCKER_DIR/data"
DOCKER_LOG="$DOCKER_DIR/dockerd.log"
DOCKER_CONFIG_FILE="$DOCKER_DIR/daemon.json"
# Unix socket paths are limited to 108 bytes, and dockerd/containerd create further sockets below the
# exec root (containerd/containerd.sock.ttrpc, libnetwork/<id>.sock, ...). When the checkout path is
# long, put the socket, exec root and pidfile in a short directory under /tmp keyed by the repo path.
if (( ${#DOCKER_DIR} <= 60 )); then
  DOCKER_RUN_DIR="$DOCKER_DIR"
else
  DOCKER_RUN_DIR="/tmp/rock-test-$REPO_HASH"
fi
DOCKER_SOCK="$DOCKER_RUN_DIR/docker.sock"
DOCKER_EXEC_ROOT="$DOCKER_RUN_DIR/exec"
DOCKER_PIDFILE="$DOCKER_RUN_DIR/dockerd.pid"
# Our own bridge instead of docker0: a system dockerd (or another checkout) may own docker0.
# Interface names are limited to 15 characters.
DOCKER_BRIDGE="rockt$REPO_HASH"
DOCKER_BRIDGE_CIDR_FILE="$DOCKER_DIR/bridge.cidr"

log() { printf '[test-env] %s\n' "$*" >&2; }
die() { printf '[test-env] ERROR: %s\n' "$*" >&2; exit 1; }

# The docker CLI talks only to our private engine; DOCKER_HOST/DOCKER_CONTEXT from the caller's
# environment would otherwise conflict with -H or point somewhere else.
dk() { env -u DOCKER_HOST -u DOCKER_CONTEXT docker -H "unix://$DOCKER_SOCK" "$@"; }

# pid_alive PIDFILE NAME: true when the pidfile names a live process whose command is NAME
# (guards against a stale pidfile whose pid was reused by an unrelated process).
pid_alive() {
  local pidfile="$1" name="$2" pid comm
  [[ -s "$pidfile" ]] || return 1
  pid="$(tr -dc '0-9' < "$pidfile")"
  [[ -n "$pid" ]] || return 1
  comm="$(cat "/proc/$pid/comm" 2>/dev/null)" || return 1
  [[ "$comm" == "$name"* ]] || return 1
  # A zombie (exited, not yet reaped by whoever adopted it) still has /proc/PID: count it as dead.
  local stat
  stat="$(cat "/proc/$pid/stat" 2>/dev/null)" || return 1
  stat="${stat##*) }"
  [[ ${stat:0:1} != Z ]]
}

# stop_pid PIDFILE NAME TIMEOUT: SIGTERM, wait up to TIMEOUT seconds, then SIGKILL.
stop_pid() {
  local pidfile="$1" name="$2" timeout="$3" pid i
  pid_alive "$pidfile" "$name" || { rm -f "$pidfile"; return 0; }
  pid="$(tr -dc '0-9' < "$pidfile")"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$name (pid $pid) did not stop within ${timeout}s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    sleep 0.5
  fi
  rm -f "$pidfile"
}

# Reads the Docker socket the tests should use: environment first, then test/.env, then our default.
resolve_docker_sock() {
  local v="${ROCK_TEST_DOCKER_SOCKET:-}"
  if [[ -z "$v" && -f "$ENV_FILE" ]]; then
    v="$(sed -n 's/^ROCK_TEST_DOCKER_SOCKET=//p' "$ENV_FILE" | tail -n1)"
    v="${v#\"}"; v="${v%\"}"
  fi
  printf '%s' "${v:-$DOCKER_SOCK}"
}

resolve_image() {
  local v="${ROCK_TEST_IMAGE:-}"
  if [[ -z "$v" && -f "$ENV_FILE" ]]; then
    v="$(sed -n 's/^ROCK_TEST_IMAGE=//p' "$ENV_FILE" | tail -n1)"
    v="${v#\"}"; v="${v%\"}"
  fi
  printf '%s' "${v:-$ROCK_TEST_IMAGE_DEFAULT}"
}

# The real Bun executable (node_modules/.bin/bun is a symlink to it after bun's postinstall).
# Tests bind-mount compiled Bun programs into sandbox containers, so the image must carry its libraries.
bun_real_path() {
  local p
  p="$(readlink -f "$REPO/node_modules/.bin/bun" 2>/dev/null || true)"
  if [[ -n "$p" && -f "$p" ]] && head -c4 "$p" | grep -q 'ELF'; then
    printf '%s' "$p"; return 0
  fi
  # postinstall not run: the platform package still holds the binary.
  for p in "$REPO"/node_modules/@oven/bun-linux-*/bin/bun; do
    if [[ -f "$p" ]] && head -c4 "$p" | grep -q 'ELF'; then printf '%s' "$p"; return 0; fi
  done
  return 1
}
