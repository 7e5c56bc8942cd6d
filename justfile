# MillionWS recipes. `bash tools/setup.sh` installs everything these need.

set shell := ["bash", "-euo", "pipefail", "-c"]

default:
    @just --list

# Configure and build a preset: release (default), debug or asan
build preset="release":
    cmake --preset {{preset}} >/dev/null
    cmake --build --preset {{preset}}

# Build and run the server; extra arguments are passed on (e.g. just run --port 9000)
run *args: (build "release")
    ./build/release/millionws {{args}}

# Unit and end-to-end tests on the release build and on the ASan+UBSan build
test: (test-preset "release") (test-preset "asan")

# Unit and end-to-end tests on one preset
test-preset preset: (build preset)
    ctest --preset {{preset}} --timeout 900

# Unit tests only (fast)
unit preset="release": (build preset)
    ./build/{{preset}}/tests/mws_unit

# Format every C++ source in place
fmt:
    clang-format -i $(git ls-files '*.h' '*.cpp')

# Check formatting without changing files
fmt-check:
    clang-format --dry-run --Werror $(git ls-files '*.h' '*.cpp')

clean:
    rm -rf build
import "bench/bench.just"
