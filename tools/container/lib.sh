# shellcheck shell=bash
# Shared by tools/container/*.sh (sourced, not run): a private Docker engine and the locally
# made Debian base image. Machines here have Debian's docker.io but no registry, so the engine
# is our own dockerd (own socket, data and exec roots, no iptables, no bridge: host networking
# only) and debian:bookworm-slim is made with debootstrap instead of pulled.

# Debian's client: a client-only /usr/local/bin/docker (28.x, no buildx plugin) may come first
# on PATH, and that one refuses to build with BuildKit. Debian's has BuildKit built in.
if [ -z "${MWS_DOCKER_BIN:-}" ]; then
  if [ -x /usr/bin/docker ]; then MWS_DOCKER_BIN=/usr/bin/docker; else MWS_DOCKER_BIN=docker; fi
fi

# Root keeps its cache where system caches live; anyone else in ~/.cache (dockerd needs root
# anyway, but debootstrap's tarball and the checks' scratch files do not).
if [ "$(id -u)" -eq 0 ]; then
  MWS_CACHE_DIR=${MILLIONWS_CACHE_DIR:-/var/cache/millionws}
else
  MWS_CACHE_DIR=${MILLIONWS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/millionws}
fi
# The engine's image store persists between runs so a rebuild reuses its layer cache (~1 s);
# only processes are ever left behind by none of the scripts.
MWS_ENGINE_DIR=${MWS_ENGINE_DIR:-$MWS_CACHE_DIR/engine}
# Exec root and socket live under /run: containerd's shim and socket paths must stay below the
# 108-byte sun_path limit, and they are runtime state that must not survive a reboot.
MWS_ENGINE_RUN=${MWS_ENGINE_RUN:-/run/millionws-engine}
MWS_ENGINE_SOCK=$MWS_ENGINE_RUN/docker.sock
MWS_ENGINE_PIDFILE=$MWS_ENGINE_RUN/dockerd.pid

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { log "$*"; exit 1; }

mws_docker() { DOCKER_HOST=unix://$MWS_ENGINE_SOCK "$MWS_DOCKER_BIN" "$@"; }

# True when the pidfile names a live dockerd (a pid alone may have been reused).
engine_running() {
  local pid
  [ -s "$MWS_ENGINE_PIDFILE" ] || return 1
  pid=$(cat "$MWS_ENGINE_PIDFILE")
  [ -r "/proc/$pid/comm" ] && [ "$(cat "/proc/$pid/comm")" = dockerd ]
}

engine_start() {
  mkdir -p "$MWS_ENGINE_DIR/root" "$MWS_ENGINE_RUN/exec"
  if engine_running; then
    log "engine already running (pid $(cat "$MWS_ENGINE_PIDFILE")), reusing it"
    return 0
  fi
  rm -f "$MWS_ENGINE_PIDFILE" "$MWS_ENGINE_SOCK"
  log "starting dockerd (socket $MWS_ENGINE_SOCK, images in $MWS_ENGINE_DIR/root)"
  dockerd --data-root "$MWS_ENGINE_DIR/root" --exec-root "$MWS_ENGINE_RUN/exec" \
    --host "unix://$MWS_ENGINE_SOCK" --pidfile "$MWS_ENGINE_PIDFILE" \
    --iptables=false --ip-masq=false --ip-forward=false --bridge=none \
    >"$MWS_ENGINE_DIR/dockerd.log" 2>&1 &
  local i
  for i in $(seq 1 60); do
    if mws_docker version >/dev/null 2>&1; then
      log "engine ready after ${i} tries"
      return 0
    fi
    sleep 0.5
  done
  tail -n 20 "$MWS_ENGINE_DIR/dockerd.log" >&2 || true
  die "dockerd did not answer on $MWS_ENGINE_SOCK within 30 s"
}

# Stops the engine this tooling started, by its pidfile, then the network namespace mount
# dockerd leaves behind (a stale mount makes the next start fail).
engine_stop() {
  local pid i
  if engine_running; then
    pid=$(cat "$MWS_ENGINE_PIDFILE")
    log "stopping dockerd (pid $pid)"
    kill -TERM "$pid"
    for i in $(seq 1 60); do
      [ -d "/proc/$pid" ] || break
      sleep 0.5
    done
    if [ -d "/proc/$pid" ]; then
      log "dockerd $pid still up after 30 s, sending SIGKILL"
      kill -KILL "$pid" || true
    fi
  fi
  if mountpoint -q "$MWS_ENGINE_RUN/exec/netns/default" 2>/dev/null; then
    umount "$MWS_ENGINE_RUN/exec/netns/default" || true
  fi
  rm -f "$MWS_ENGINE_PIDFILE" "$MWS_ENGINE_SOCK"
}

# Bump when the stand-in's recipe changes: the tarball's name and the imported image's label
# carry it, so a cache made by an older recipe is rebuilt instead of reused.
MWS_BASE_VERSION=slim-2
MWS_BASE_TAR=$MWS_CACHE_DIR/debian-bookworm-$MWS_BASE_VERSION.tar

# debootstrap'd minbase bookworm, slimmed like the official debian:bookworm-slim (the same
# dpkg path-excludes and apt cleaning that debuerreotype applies), as a tarball made once
# (1-3 minutes) and kept in the cache. Without the slimming the stand-in would carry ~42 MB
# of locales, docs and man pages that the real base does not, and the image size we report
# would be wrong.
base_tar_ensure() {
  if [ -s "$MWS_BASE_TAR" ]; then return 0; fi
  command -v debootstrap >/dev/null || die "debootstrap is missing (bash tools/setup.sh installs it)"
  mkdir -p "$MWS_CACHE_DIR"
  local rootfs=$MWS_CACHE_DIR/rootfs.partial
  rm -rf "$rootfs"
  log "making the debian:bookworm-slim stand-in with debootstrap (once; cached in $MWS_BASE_TAR)"
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian >"$MWS_CACHE_DIR/debootstrap.log" 2>&1 ||
    { tail -n 20 "$MWS_CACHE_DIR/debootstrap.log" >&2; die "debootstrap failed"; }
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'CFG'
# Like debian:bookworm-slim: no docs (copyright files kept), man pages, info or locales.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
CFG
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
  printf 'Acquire::Languages "none";\n' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$rootfs"/usr/share/groff/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/linda/* \
    "$rootfs"/usr/share/lintian/* "$rootfs"/usr/share/man/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
  tar --numeric-owner -C "$rootfs" -cf "$MWS_BASE_TAR.partial" .
  mv "$MWS_BASE_TAR.partial" "$MWS_BASE_TAR"
  rm -rf "$rootfs"
}

# Both tags the Dockerfile may name resolve to the same local root, so the Dockerfile itself
# stays the one a machine with Docker Hub access builds. An image imported from an older
# recipe (other label) is replaced.
base_image_ensure() {
  local have
  have=$(mws_docker image inspect --format '{{ index .Config.Labels "org.millionws.stand-in" }}' debian:bookworm-slim 2>/dev/null || true)
  if [ "$have" = "$MWS_BASE_VERSION" ]; then return 0; fi
  base_tar_ensure
  log "importing $MWS_BASE_TAR as debian:bookworm-slim"
  mws_docker import --change 'CMD ["bash"]' --change "LABEL org.millionws.stand-in=$MWS_BASE_VERSION" \
    "$MWS_BASE_TAR" debian:bookworm-slim >/dev/null
  mws_docker tag debian:bookworm-slim debian:bookworm
}

# A free TCP port on 127.0.0.1 (bound by the kernel, then released).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
