# MillionWS container image: `just image` builds it, `just image-check` proves it.
# No "# syntax=" line on purpose: it makes BuildKit pull a frontend image from a registry,
# which machines without Docker Hub (and air-gapped CI) cannot do.

# --- build: compilers, -dev packages, release build, unit tests ------------------------------
FROM debian:bookworm-slim AS build
# The same Debian packages tools/setup.sh installs for building, minus everything only the
# end-to-end tests, benchmarks and linters need.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      cmake ninja-build g++ pkg-config \
      libssl-dev libspdlog-dev libcli11-dev node-llhttp prometheus-cpp-dev nlohmann-json3-dev \
      googletest libgtest-dev libgmock-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
# Unit tests run here so a broken build never becomes an image; the end-to-end tests (ctest
# label `e2e`: they drive the binary with Python clients and belong to `just test`) are left out.
# --no-tests=error: if test registration ever breaks, this fails instead of passing on nothing.
# DESTDIR stages exactly what `cmake --install` installs, so the runtime stage copies that set
# and nothing else from the build tree.
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DMWS_BUILD_TESTS=ON \
 && cmake --build /build \
 && ctest --test-dir /build -LE '^e2e$' --no-tests=error --output-on-failure \
 && DESTDIR=/staging cmake --install /build --prefix /usr/local

# --- runtime: shared libraries and the two binaries, no compiler, no headers -----------------
FROM debian:bookworm-slim
# The shared libraries the binaries link (ldd): OpenSSL (libssl3 holds libcrypto and libssl),
# spdlog + fmt, prometheus-cpp core (the admin port serves HTTP itself; no civetweb). CLI11 and nlohmann-json are header-only; llhttp is
# compiled in. `just image-check` runs both binaries, so a missing library fails it.
# `apt-get clean`: the official slim base already drops downloaded .debs after installing,
# other Debian bases do not (that would be ~80 MB of .debs and apt caches in this layer).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libssl3 libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /staging/usr/local/ /usr/local/

# Configuration is the MILLIONWS_* environment (README, Configuration); flags given as
# `docker run IMAGE --flag` still win. The drain timeout is cut from 10 s to 5 s so that
# SIGTERM -> Close 1001 -> exit 0 ends well inside `docker stop`'s and Kubernetes' default
# grace periods (10 s / 30 s) even when clients never answer the Close.
ENV MILLIONWS_BIND=0.0.0.0 \
    MILLIONWS_PORT=8080 \
    MILLIONWS_ADMIN_BIND=0.0.0.0 \
    MILLIONWS_ADMIN_PORT=9090 \
    MILLIONWS_DRAIN_TIMEOUT=5s
EXPOSE 8080 9090
# Numeric, so Kubernetes' runAsNonRoot can verify it without an /etc/passwd lookup.
USER 10001:10001
# Exec form: the server is PID 1 and receives SIGTERM itself. A shell-form ENTRYPOINT puts
# /bin/sh in between, which swallows the signal (docker stop then ends with SIGKILL, 137).
ENTRYPOINT ["/usr/local/bin/millionws"]
