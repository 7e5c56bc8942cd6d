# MillionWS recipes. `bash tools/setup.sh` installs everything these need.

set shell := ["bash", "-euo", "pipefail", "-c"]

default:
    @just --list

# Configure and build a preset: release (default), debug, asan, plain-release or clang
build preset="release":
    cmake --preset {{preset}} >/dev/null
    cmake --build --preset {{preset}}

# Build and run the server; extra arguments are passed on (e.g. just run --port 9000)
run *args: (build "release")
    ./build/release/millionws {{args}}

# Every test: static checks, unit and end-to-end tests (release, ASan+UBSan), other builds, deployment
test: lint (test-preset "release") (test-preset "asan") builds fuzz-smoke deploy-checks

# Unit and end-to-end tests on one preset
test-preset preset: (build preset)
    ctest --preset {{preset}} --timeout 900

# Unit tests only (fast): the server's and the load generator's
unit preset="release": (build preset)
    ./build/{{preset}}/tests/mws_unit
    ./build/{{preset}}/load/tests/mws_load_unit

# The builds users and packagers make: plain CMake Release (-O3) and clang, warnings as errors;
# `cmake --install` puts exactly the two binaries under bin/
builds: (build "plain-release") (build "clang")
    d=$(mktemp -d) && cmake --install build/plain-release --prefix "$d" >/dev/null && \
      got=$(cd "$d" && find . -type f | sort | tr '\n' ' ') && rm -rf "$d" && \
      if [ "$got" != "./bin/millionws ./bin/millionws-load " ]; then \
        echo "cmake --install installed: $got (expected bin/millionws bin/millionws-load)" >&2; exit 1; fi

# Static checks: formatting, include direction, shell scripts
lint: fmt-check layers
    f=$(git ls-files '*.sh') && [ -n "$f" ] && shellcheck $f

# Check that includes point one way down the layers (README, Layout)
layers:
    /usr/bin/python3 tools/check-layers.py

# The README's promise on a brand-new Debian 12 root (debootstrap minbase, Debian's Node.js 18),
# in its light form: setup, build, unit tests. Uses the committed HEAD; needs root and the
# workplace's fresh-debian12.sh (../shared/tools or /work/shared/tools; skipped, saying so, if absent).
fresh-check cmd="bash tools/setup.sh && just unit":
    for t in ../shared/tools/fresh-debian12.sh /work/shared/tools/fresh-debian12.sh; do \
      if [ -x "$t" ]; then exec "$t" '{{cmd}}'; fi; done; \
    echo "SKIP fresh-check: no fresh-debian12.sh in ../shared/tools or /work/shared/tools"

# Format every C++ source in place
fmt:
    f=$(git ls-files '*.h' '*.cpp') && [ -n "$f" ] && clang-format -i $f

# Check formatting without changing files
fmt-check:
    f=$(git ls-files '*.h' '*.cpp') && [ -n "$f" ] && clang-format --dry-run --Werror $f

# The deployment checks: container image and local stack, Kubernetes and Terraform, Locust
deploy-checks: image-check local-check k8s-check terraform-check locust-check

clean:
    rm -rf build

import "bench/bench.just"
import "deploy/container.just"
import "deploy/kubernetes.just"
import "locust/locust.just"
import "tests/fuzz/fuzz.just"
import "tools/tls.just"
