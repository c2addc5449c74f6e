#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine for airut-ts's integration tests and `npm run demo`, which run real parts (see
# "Testing with real parts" in DESIGN.md): a private Dovecot per test, podman with runc, Docker (Debian's docker.io;
# the sandbox and task tests run against both runtimes), headless Chromium, and the docker-registry program (the
# Kubernetes tests start private registries; the packaged service is turned off). Safe to run again: it only installs what is
# missing, only writes configuration that is not already there, and starts dockerd only when it does not answer.
#
# Node: when the machine's Node is older than 24, Node 24 LTS from the npm registry into the project's .node/
# (scripts/node-setup.sh; npm's scripts run it through scripts/node). Not done here: `npm ci`.
#
# Environment:
#   SKIP_PODMAN_SMOKE=1   skip the `podman run` smoke test (it imports a one-file busybox image and removes it again)
#   SKIP_DOCKER=1         neither install nor start Docker (the tests then skip their Docker half, unless
#                         AIRUT_TEST_REQUIRE_DOCKER=1, which .ci/run sets)
set -euo pipefail

log() { printf 'ci-setup: %s\n' "$*" >&2; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  log "must run as root (or with sudo available)"
  exit 1
fi

# --- packages ---------------------------------------------------------------------------------------------------------
# busybox-static: the tests build their container images FROM scratch around a static busybox (no registry needed).
# buildah (podman recommends it; named so it is there): a reaper test removes a container's storage behind podman's back.
# docker-registry: a real OCI registry; the Kubernetes tests push images to private ones (test/harness/registry.ts).
packages=(dovecot-imapd podman buildah runc chromium git curl ca-certificates busybox-static docker-registry)
[ "${SKIP_DOCKER:-0}" = 1 ] || packages+=(docker.io)
missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing: ${missing[*]}"
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
  # runc first, so podman's "crun | runc" dependency is already met and crun (which fails on hybrid cgroups) stays out.
  if [[ " ${missing[*]} " == *" runc "* ]]; then
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q runc
  fi
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
else
  log "packages already installed: ${packages[*]}"
fi

# --- system Dovecot ---------------------------------------------------------------------------------------------------
# Tests start private Dovecots on high ports from generated configs; the packaged service would only hold port 143.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  for unit in dovecot.socket dovecot.service; do
    if systemctl is-enabled --quiet "$unit" 2>/dev/null || systemctl is-active --quiet "$unit" 2>/dev/null; then
      log "disabling $unit"
      "${SUDO[@]}" systemctl disable --now "$unit" || true
    fi
  done
elif [ -x /etc/init.d/dovecot ]; then
  if "${SUDO[@]}" /etc/init.d/dovecot status >/dev/null 2>&1; then
    log "stopping the system dovecot"
    "${SUDO[@]}" /etc/init.d/dovecot stop || true
  fi
  if command -v update-rc.d >/dev/null 2>&1 && ls /etc/rc[2-5].d/S*dovecot >/dev/null 2>&1; then
    "${SUDO[@]}" update-rc.d dovecot disable >/dev/null 2>&1 || true
  fi
fi

# --- system docker-registry --------------------------------------------------------------------------------------------
# Tests start private registries on free ports from generated configs; the packaged service would only hold port 5000.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  if systemctl is-enabled --quiet docker-registry.service 2>/dev/null || systemctl is-active --quiet docker-registry.service 2>/dev/null; then
    log "disabling docker-registry.service"
    "${SUDO[@]}" systemctl disable --now docker-registry.service || true
  fi
elif [ -x /etc/init.d/docker-registry ]; then
  if "${SUDO[@]}" /etc/init.d/docker-registry status >/dev/null 2>&1; then
    log "stopping the system docker-registry"
    "${SUDO[@]}" /etc/init.d/docker-registry stop || true
  fi
  if command -v update-rc.d >/dev/null 2>&1 && ls /etc/rc[2-5].d/S*docker-registry >/dev/null 2>&1; then
    "${SUDO[@]}" update-rc.d docker-registry disable >/dev/null 2>&1 || true
  fi
fi

# --- podman: runc, cgroupfs, ulimits within the hard limit --------------------------------------------------------------
# crun fails on these hosts' hybrid cgroups, there is no systemd to manage cgroups, and podman's default ulimits exceed
# the hard limit, so `podman run` fails without these three settings.
conf=/etc/containers/containers.conf
dropin_dir=/etc/containers/containers.conf.d
dropin="$dropin_dir/50-airut-ts.conf"
wanted='# Written by airut-ts scripts/ci-setup.sh
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
'
has_settings() {
  [ -f "$1" ] &&
    grep -Eq '^[[:space:]]*cgroup_manager[[:space:]]*=[[:space:]]*"cgroupfs"' "$1" &&
    grep -Eq '^[[:space:]]*runtime[[:space:]]*=[[:space:]]*"runc"' "$1" &&
    grep -Eq '^[[:space:]]*default_ulimits[[:space:]]*=.*nofile=1024:1024' "$1" &&
    grep -Eq 'nproc=4096:4096' "$1"
}
if has_settings "$conf"; then
  log "$conf already has the podman settings"
elif [ ! -e "$conf" ] || ! grep -Eq '^[[:space:]]*[^#[:space:]]' "$conf"; then
  log "writing $conf"
  "${SUDO[@]}" mkdir -p /etc/containers
  printf '%s' "$wanted" | "${SUDO[@]}" tee "$conf" >/dev/null
elif has_settings "$dropin"; then
  log "$dropin already has the podman settings"
else
  # An existing containers.conf with other content: merging TOML tables in shell is fragile, and a drop-in (read
  # after the main file, podman >= 4) overrides just these keys.
  log "$conf has other settings; writing $dropin"
  "${SUDO[@]}" mkdir -p "$dropin_dir"
  printf '%s' "$wanted" | "${SUDO[@]}" tee "$dropin" >/dev/null
fi
if [ -n "${CONTAINERS_CONF:-}" ]; then
  log "note: CONTAINERS_CONF=$CONTAINERS_CONF is set and replaces the system containers.conf for this environment"
fi

# --- verify -----------------------------------------------------------------------------------------------------------
[ -x /usr/sbin/dovecot ] || { log "/usr/sbin/dovecot is missing"; exit 1; }
log "dovecot $(/usr/sbin/dovecot --version)"
[ -x /usr/bin/docker-registry ] || { log "/usr/bin/docker-registry is missing"; exit 1; }

runtime_info=$("${SUDO[@]}" podman info --format '{{.Host.OCIRuntime.Name}} {{.Host.CgroupManager}}')
log "podman $(podman --version | awk '{print $3}'): runtime/cgroup manager = $runtime_info"
if [ "$runtime_info" != "runc cgroupfs" ]; then
  log "podman does not use runc with cgroupfs (got: $runtime_info)"
  exit 1
fi

# The smoke test needs a static busybox (busybox-static): it is the whole image.
busybox_is_static() { [ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1; }
if [ "${SKIP_PODMAN_SMOKE:-0}" != 1 ] && busybox_is_static; then
  image=localhost/airut-ci-smoke:latest
  workdir=$(mktemp -d)
  trap 'rm -rf "$workdir"' EXIT
  mkdir -p "$workdir/rootfs/bin"
  cp /bin/busybox "$workdir/rootfs/bin/busybox"
  tar -C "$workdir/rootfs" -cf "$workdir/rootfs.tar" .
  "${SUDO[@]}" podman import -q "$workdir/rootfs.tar" "$image" >/dev/null
  if out=$("${SUDO[@]}" podman run --rm "$image" /bin/busybox sh -c 'echo ok; ulimit -n' 2>&1); then
    log "podman run works (nofile limit in container: $(printf '%s' "$out" | tail -n1))"
    "${SUDO[@]}" podman rmi -f "$image" >/dev/null 2>&1 || true
  else
    "${SUDO[@]}" podman rmi -f "$image" >/dev/null 2>&1 || true
    log "podman run failed: $out"
    exit 1
  fi
fi

# --- docker: dockerd running, answering ---------------------------------------------------------------------------------
# With systemd the package's unit starts it; without (containers, these CI machines) dockerd is started by hand, detached,
# with its log in /var/log/dockerd.log. It picks runc and the overlay2 storage driver on these hosts (ext4).
docker_answers() { timeout 10 "${SUDO[@]}" docker info >/dev/null 2>&1; }
if [ "${SKIP_DOCKER:-0}" != 1 ]; then
  if docker_answers; then
    log "dockerd already answers"
  elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
    log "starting docker.service"
    "${SUDO[@]}" systemctl start docker.service
  else
    log "starting dockerd by hand (no systemd); log: /var/log/dockerd.log"
    "${SUDO[@]}" sh -c 'setsid dockerd --host=unix:///var/run/docker.sock >>/var/log/dockerd.log 2>&1 < /dev/null &'
  fi
  for _ in $(seq 1 60); do docker_answers && break; sleep 1; done
  if ! docker_answers; then
    log "dockerd does not answer after 60 s; its log:"
    "${SUDO[@]}" tail -n 20 /var/log/dockerd.log >&2 || true
    exit 1
  fi
  log "docker $("${SUDO[@]}" docker info --format '{{.ServerVersion}}: runtime {{.DefaultRuntime}}, storage {{.Driver}}, cgroup {{.CgroupDriver}} v{{.CgroupVersion}}')"
fi

# --- node: Node 24 LTS for this project when the machine's Node is older (project-local .node/, not over the system's)
bash "$(dirname "$0")/node-setup.sh"

command -v chromium >/dev/null 2>&1 && log "$(chromium --version 2>/dev/null || echo 'chromium installed')"
log "done"
