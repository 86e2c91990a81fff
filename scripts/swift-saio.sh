#!/usr/bin/env bash
# A real, single-node OpenStack Swift (Debian's packages, 2.30) on 127.0.0.1 for cfimg's tests
# and benchmarks: tempauth, the stock proxy pipeline (dlo and slo keep their defaults, so the DLO
# segment rate limit is the one Swift ships), memcached, one device per ring.
#
# Usage: scripts/swift-saio.sh start | stop [--purge] | status | env
#
#   start   install the packages if missing, set up and start; waits until the proxy answers
#           /healthcheck and a tempauth token can create a container. Quick when already up.
#   stop    stop every process this script started (by recorded pid); --purge also deletes the
#           state directory (data, rings, configs, logs).
#   status  say whether it runs; exit 0 when it does, 1 otherwise.
#   env     print `export` lines for SWIFT_AUTH_V1_URL, SWIFT_USER and SWIFT_KEY.
#
# Environment (all optional):
#   CFIMG_SAIO_DIR             state directory, default /tmp/cfimg-saio; it gets env.json
#   CFIMG_SAIO_PROXY_PORT      default 8380; the others default to the next four ports:
#   CFIMG_SAIO_ACCOUNT_PORT    8381
#   CFIMG_SAIO_CONTAINER_PORT  8382
#   CFIMG_SAIO_OBJECT_PORT     8383
#   CFIMG_SAIO_MEMCACHED_PORT  8384
#   CFIMG_SAIO_PROXY_WORKERS   default 2 (one per core on the project's machines)
#   CFIMG_SAIO_OBJECT_WORKERS  default 2
#   CFIMG_SAIO_TMPFS_SIZE      size of the tmpfs mounted when the state directory lacks user
#                              xattrs, default 50% (of memory)
#
# tempauth users: test:tester / testing (.admin of AUTH_test, the one in env.json);
# test:tester3 / testing3 (no admin: 403 in AUTH_test without an ACL);
# test2:tester2 / testing2 (no admin, account AUTH_test2).
set -euo pipefail

STATE=${CFIMG_SAIO_DIR:-/tmp/cfimg-saio}
PROXY_PORT=${CFIMG_SAIO_PROXY_PORT:-8380}
ACCOUNT_PORT=${CFIMG_SAIO_ACCOUNT_PORT:-$((PROXY_PORT + 1))}
CONTAINER_PORT=${CFIMG_SAIO_CONTAINER_PORT:-$((PROXY_PORT + 2))}
OBJECT_PORT=${CFIMG_SAIO_OBJECT_PORT:-$((PROXY_PORT + 3))}
MEMCACHED_PORT=${CFIMG_SAIO_MEMCACHED_PORT:-$((PROXY_PORT + 4))}
PROXY_WORKERS=${CFIMG_SAIO_PROXY_WORKERS:-2}
OBJECT_WORKERS=${CFIMG_SAIO_OBJECT_WORKERS:-2}
TMPFS_SIZE=${CFIMG_SAIO_TMPFS_SIZE:-50%}

ETC=$STATE/etc
LOGS=$STATE/log
RUN=$STATE/run
DEVICES=$STATE/srv
PORTS="$PROXY_PORT $ACCOUNT_PORT $CONTAINER_PORT $OBJECT_PORT $MEMCACHED_PORT"

PACKAGES=(swift swift-proxy swift-account swift-container swift-object memcached)
# Debian's Swift runs on /usr/bin/python3; a python3 from pyenv earlier on PATH cannot import it.
SYS_PATH=/usr/bin:/bin:/usr/sbin:/sbin
# In start order. The updaters only matter for account statistics and failed container updates;
# they sweep once a minute, as a shorter interval burns a large share of a core.
SERVERS=(memcached account-server container-server object-server proxy-server
  container-updater object-updater)
START_TIMEOUT=45

say() { printf 'swift-saio: %s\n' "$*" >&2; }
die() {
  say "$*"
  exit 1
}

# Runs a command with a clean environment and the system PATH.
sys() { env -i PATH="$SYS_PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 "$@"; }

# ---- packages -----------------------------------------------------------------------------------

missing_packages() {
  local pkg
  for pkg in "${PACKAGES[@]}"; do
    [[ $(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null) == 'install ok installed' ]] ||
      printf '%s\n' "$pkg"
  done
}

apt_running() {
  local f comm
  for f in /proc/[0-9]*/comm; do
    { read -r comm <"$f"; } 2>/dev/null || continue
    case $comm in apt | apt-get | aptitude | dpkg | unattended-upgr) return 0 ;; esac
  done
  return 1
}

wait_for_apt() {
  local waited=0
  while apt_running; do
    ((waited % 30 == 0)) && say "waiting for another apt/dpkg run to finish (${waited}s)"
    ((waited < 1800)) || die 'gave up waiting for the dpkg lock after 30 minutes'
    sleep 2
    waited=$((waited + 2))
  done
}

# apt-get with a wait on the dpkg lock, retried when another run grabbed a lock first.
apt_get() {
  local attempt
  for attempt in 1 2 3 4 5; do
    wait_for_apt
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@" && return 0
    say "apt-get $1 failed (attempt $attempt); retrying"
    sleep 5
  done
  return 1
}

ensure_packages() {
  [[ -z $(missing_packages) ]] && return 0
  wait_for_apt
  local missing
  missing=$(missing_packages)
  [[ -z $missing ]] && return 0
  ((EUID == 0)) || die "missing packages ($missing) and not root to install them"
  say "installing: $(tr '\n' ' ' <<<"$missing")"
  apt_get update || die 'apt-get update failed'
  # shellcheck disable=SC2086 # one package a word
  apt_get install -y $missing || die 'apt-get install failed'
  [[ -z $(missing_packages) ]] || die "still missing after install: $(missing_packages)"
}

# ---- processes ----------------------------------------------------------------------------------

# What a server's command line contains, to tell our process from a stranger with a reused pid.
marker() {
  case $1 in
  memcached) printf '%s' "-p $(cat "$RUN/memcached.port" 2>/dev/null || echo "$MEMCACHED_PORT")" ;;
  container-updater) printf '%s' "swift-$1 $ETC/container-server.conf" ;;
  object-updater) printf '%s' "swift-$1 $ETC/object-server.conf" ;;
  *) printf '%s' "$ETC/$1.conf" ;;
  esac
}

server_argv() {
  case $1 in
  memcached)
    ARGV=(/usr/bin/memcached -u root -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 -m 64)
    ;;
  container-updater) ARGV=(/usr/bin/swift-container-updater "$ETC/container-server.conf" -v) ;;
  object-updater) ARGV=(/usr/bin/swift-object-updater "$ETC/object-server.conf" -v) ;;
  *) ARGV=("/usr/bin/swift-$1" "$ETC/$1.conf" -v) ;;
  esac
}

# Prints the live (not zombie) pids whose process group is $1.
group_pids() {
  local f line rest state pgrp
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue
    rest=${line##*) }
    read -r state _ pgrp _ <<<"$rest"
    if [[ $pgrp == "$1" && $state != Z ]]; then
      f=${f#/proc/}
      printf '%s\n' "${f%/stat}"
    fi
  done
}

# Prints the process group of server $1 when a process of it still runs. Every server is started
# with setsid, so its pid is its group id and `kill -- -PGID` reaches its workers too.
server_group() {
  local name=$1 pgid pid cmd
  [[ -r $RUN/$name.pid ]] || return 1
  pgid=$(<"$RUN/$name.pid")
  [[ $pgid =~ ^[0-9]+$ ]] || return 1
  for pid in $(group_pids "$pgid"); do
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || continue
    if [[ $cmd == *"$(marker "$name")"* ]]; then
      printf '%s\n' "$pgid"
      return 0
    fi
  done
  return 1
}

launch() {
  local name=$1
  server_argv "$name"
  # Not a group leader here (no job control), so setsid execs in place and $! is the server.
  setsid env -i PATH="$SYS_PATH" HOME="${HOME:-/root}" LANG=C.UTF-8 "${ARGV[@]}" \
    >>"$LOGS/$name.log" 2>&1 </dev/null &
  printf '%s\n' "$!" >"$RUN/$name.pid"
}

# Sends $1 to the given process groups and waits up to $2 seconds for all of them to exit.
signal_and_wait() {
  local sig=$1 limit=$2 pgid left tries=0
  shift 2
  for pgid in "$@"; do kill "-$sig" -- "-$pgid" 2>/dev/null || true; done
  while ((tries < limit * 10)); do
    left=0
    for pgid in "$@"; do [[ -n $(group_pids "$pgid") ]] && left=1 && break; done
    ((left)) || return 0
    sleep 0.1
    tries=$((tries + 1))
  done
  return 1
}

stop_all() {
  local name pgid groups=() i
  for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do
    name=${SERVERS[i]}
    if pgid=$(server_group "$name"); then groups+=("$pgid"); fi
  done
  if ((${#groups[@]})) && ! signal_and_wait TERM 15 "${groups[@]}"; then
    say 'some servers ignored SIGTERM; sending SIGKILL'
    signal_and_wait KILL 5 "${groups[@]}" || die "could not stop process groups ${groups[*]}"
  fi
  for name in "${SERVERS[@]}"; do rm -f "$RUN/$name.pid"; done
  rm -f "$RUN/ports" "$RUN/memcached.port"
  printf '%s\n' "${#groups[@]}"
}

# Prints how many servers run; returns 0 only when all of them do.
count_running() {
  local name n=0
  for name in "${SERVERS[@]}"; do server_group "$name" >/dev/null && n=$((n + 1)); done
  printf '%s\n' "$n"
  ((n == ${#SERVERS[@]}))
}

port_taken() {
  local hex
  hex=$(printf '%04X' "$1")
  # Listening sockets (state 0A) on any local address with that port.
  awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { found = 1 }
    END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# ---- setup --------------------------------------------------------------------------------------

ensure_swift_conf() {
  [[ -e /etc/swift/swift.conf ]] && return 0
  mkdir -p /etc/swift
  cat >/etc/swift/swift.conf <<'EOF'
[swift-hash]
swift_hash_path_suffix = cfimg-saio
swift_hash_path_prefix =

[storage-policy:0]
name = Policy-0
default = yes
EOF
}

xattrs_work() {
  sys /usr/bin/python3 -c '
import os, sys, tempfile
with tempfile.NamedTemporaryFile(dir=sys.argv[1]) as f:
    os.setxattr(f.name, "user.cfimg.probe", b"1")
' "$1" 2>/dev/null
}

# Swift keeps object metadata in user xattrs; when the state directory's file system has none,
# the devices live on a tmpfs (data then lasts until `stop --purge` or a reboot).
ensure_storage() {
  mkdir -p "$DEVICES"
  if ! xattrs_work "$DEVICES"; then
    if ! mountpoint -q "$DEVICES"; then
      say "no user xattrs under $DEVICES; mounting a tmpfs there"
      mount -t tmpfs -o "size=$TMPFS_SIZE,mode=0755" cfimg-saio "$DEVICES"
    fi
    xattrs_work "$DEVICES" || die "no user xattrs under $DEVICES, even on tmpfs"
  fi
  mkdir -p "$DEVICES/d1"
}

# Settings every server shares.
common_conf() {
  cat <<EOF
bind_ip = 127.0.0.1
bind_port = $1
workers = $2
user = root
swift_dir = $ETC
devices = $DEVICES
mount_check = false
recon_cache_path = $STATE/cache
log_udp_host = 127.0.0.1
EOF
}

write_configs() {
  mkdir -p "$STATE/cache"
  {
    printf '[DEFAULT]\n'
    common_conf "$ACCOUNT_PORT" 1
    printf '\n[pipeline:main]\npipeline = account-server\n\n'
    printf '[app:account-server]\nuse = egg:swift#account\n'
  } >"$ETC/account-server.conf"
  {
    printf '[DEFAULT]\n'
    common_conf "$CONTAINER_PORT" 1
    printf '\n[pipeline:main]\npipeline = container-server\n\n'
    printf '[app:container-server]\nuse = egg:swift#container\n\n'
    printf '[container-updater]\ninterval = 60\nconcurrency = 1\n'
  } >"$ETC/container-server.conf"
  {
    printf '[DEFAULT]\n'
    common_conf "$OBJECT_PORT" "$OBJECT_WORKERS"
    printf '\n[pipeline:main]\npipeline = object-server\n\n'
    printf '[app:object-server]\nuse = egg:swift#object\n\n'
    printf '[object-updater]\ninterval = 60\nconcurrency = 1\n'
  } >"$ETC/object-server.conf"
  {
    printf '[DEFAULT]\n'
    common_conf "$PROXY_PORT" "$PROXY_WORKERS"
    cat <<EOF

[pipeline:main]
# Debian's stock pipeline (tempauth, not keystone).
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats container_sync bulk tempurl ratelimit tempauth copy container-quotas account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
user_test_tester3 = testing3
user_test2_tester2 = testing2

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:$MEMCACHED_PORT

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:container_sync]
use = egg:swift#container_sync

[filter:bulk]
use = egg:swift#bulk

[filter:tempurl]
use = egg:swift#tempurl

[filter:ratelimit]
use = egg:swift#ratelimit

[filter:copy]
use = egg:swift#copy

[filter:container-quotas]
use = egg:swift#container_quotas

[filter:account-quotas]
use = egg:swift#account_quotas

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes

[filter:symlink]
use = egg:swift#symlink
EOF
  } >"$ETC/proxy-server.conf"
}

build_ring() {
  local builder=$ETC/$1.builder rc=0
  rm -f "$builder" "$ETC/$1.ring.gz"
  sys swift-ring-builder "$builder" create 10 1 1 >/dev/null
  sys swift-ring-builder "$builder" add "r1z1-127.0.0.1:$2/d1" 1 >/dev/null
  # Exit status 1 is a warning (e.g. about balance); only 2 is an error.
  sys swift-ring-builder "$builder" rebalance >/dev/null || rc=$?
  ((rc <= 1))
}

# The rings hold the servers' ports: rebuild them (in parallel) when those change.
ensure_rings() {
  local stamp="127.0.0.1 $ACCOUNT_PORT $CONTAINER_PORT $OBJECT_PORT" pids=() pid
  if [[ -f $ETC/rings.stamp && $(<"$ETC/rings.stamp") == "$stamp" &&
    -f $ETC/account.ring.gz && -f $ETC/container.ring.gz && -f $ETC/object.ring.gz ]]; then
    return 0
  fi
  say 'building rings'
  build_ring account "$ACCOUNT_PORT" &
  pids+=($!)
  build_ring container "$CONTAINER_PORT" &
  pids+=($!)
  build_ring object "$OBJECT_PORT" &
  pids+=($!)
  for pid in "${pids[@]}"; do wait "$pid" || die 'swift-ring-builder failed'; done
  printf '%s\n' "$stamp" >"$ETC/rings.stamp"
}

# Waits until the proxy answers /healthcheck and tempauth hands out a token; with `smoke`, also
# creates a container with it. Prints the storage URL.
probe() {
  sys /usr/bin/python3 - "http://127.0.0.1:$PROXY_PORT" "$1" "$2" <<'EOF'
import http.client, sys, time, urllib.error, urllib.request

proxy, timeout, mode = sys.argv[1], float(sys.argv[2]), sys.argv[3]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(method, url, headers):
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with opener.open(req, timeout=5) as res:
            return res.status, res.headers
    except urllib.error.HTTPError as err:
        return err.code, err.headers


def check():
    status, _ = call('GET', proxy + '/healthcheck', {})
    if status != 200:
        raise RuntimeError(f'/healthcheck answered {status}')
    creds = {'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing'}
    status, headers = call('GET', proxy + '/auth/v1.0', creds)
    if status != 200:
        raise RuntimeError(f'/auth/v1.0 answered {status}')
    token, url = headers['X-Auth-Token'], headers['X-Storage-Url']
    if mode == 'smoke':
        status, _ = call('PUT', url + '/cfimg-saio-smoke', {'X-Auth-Token': token})
        if status not in (201, 202):
            raise RuntimeError(f'PUT container answered {status}')
    return url


deadline = time.monotonic() + timeout
while True:
    try:
        print(check())
        break
    except (OSError, http.client.HTTPException, RuntimeError, KeyError) as err:
        if time.monotonic() > deadline:
            sys.exit(f'swift-saio: Swift not ready after {timeout:.0f}s: {err}')
    time.sleep(0.2)
EOF
}

write_env_json() {
  local url="http://127.0.0.1:$PROXY_PORT"
  printf '{"authV1Url":"%s/auth/v1.0","user":"test:tester","key":"testing","proxyUrl":"%s"}\n' \
    "$url" "$url" >"$STATE/env.json.tmp"
  mv "$STATE/env.json.tmp" "$STATE/env.json"
}

# ---- commands -----------------------------------------------------------------------------------

cmd_start() {
  local name port n
  ensure_packages
  mkdir -p "$ETC" "$LOGS" "$RUN"

  if n=$(count_running); then
    [[ $(cat "$RUN/ports" 2>/dev/null) == "$PORTS" ]] ||
      die "already running on other ports than $PORTS: stop it first"
    probe 10 token >/dev/null
    write_env_json
    say "already running: http://127.0.0.1:$PROXY_PORT"
    return 0
  fi
  ((n == 0)) || say "only $n of ${#SERVERS[@]} servers run; restarting them all"
  n=$(stop_all)

  for port in $PORTS; do
    ! port_taken "$port" || die "port $port is taken by another program (see CFIMG_SAIO_*_PORT)"
  done
  ensure_swift_conf
  ensure_storage
  write_configs
  ensure_rings

  printf '%s\n' "$MEMCACHED_PORT" >"$RUN/memcached.port"
  for name in "${SERVERS[@]}"; do launch "$name"; done
  printf '%s\n' "$PORTS" >"$RUN/ports"
  if ! probe "$START_TIMEOUT" smoke >/dev/null; then
    for name in "${SERVERS[@]}"; do
      say "--- last lines of $LOGS/$name.log"
      tail -n 5 "$LOGS/$name.log" >&2 || true
    done
    n=$(stop_all)
    die 'start failed'
  fi
  write_env_json
  say "running: http://127.0.0.1:$PROXY_PORT (state in $STATE, logs in $LOGS)"
}

cmd_stop() {
  local n
  n=$(stop_all)
  say "stopped $n servers"
  if [[ ${1:-} == --purge ]]; then
    [[ -n $STATE && $STATE != / ]] || die "refusing to purge '$STATE'"
    if mountpoint -q "$DEVICES"; then umount "$DEVICES"; fi
    rm -rf -- "$STATE"
    say "removed $STATE"
  elif [[ -n ${1:-} ]]; then
    die "unknown option to stop: $1"
  fi
}

cmd_status() {
  local n
  if n=$(count_running) && probe 2 health >/dev/null 2>&1; then
    printf 'running: http://127.0.0.1:%s (%s servers, state in %s)\n' \
      "$(awk '{ print $1 }' "$RUN/ports")" "$n" "$STATE"
    return 0
  fi
  if ((n > 0)); then
    printf 'not healthy: %s of %s servers run (logs in %s)\n' "$n" "${#SERVERS[@]}" "$LOGS"
  else
    printf 'not running\n'
  fi
  return 1
}

cmd_env() {
  [[ -f $STATE/env.json ]] || die "no $STATE/env.json: run '$0 start' first"
  sys /usr/bin/python3 - "$STATE/env.json" <<'EOF'
import json, shlex, sys

env = json.load(open(sys.argv[1]))
for name, key in (('SWIFT_AUTH_V1_URL', 'authV1Url'), ('SWIFT_USER', 'user'), ('SWIFT_KEY', 'key')):
    print(f'export {name}={shlex.quote(env[key])}')
EOF
}

case ${1:-} in
start) cmd_start ;;
stop) cmd_stop "${2:-}" ;;
status) cmd_status ;;
env) cmd_env ;;
*)
  printf 'usage: %s start | stop [--purge] | status | env\n' "$0" >&2
  exit 2
  ;;
esac
