#!/usr/bin/env bash
# Build every Bazel target offline, then run some py_test targets (one per test file and Keras line).
#
#   tools/bazel_build.sh                 build //..., then test the quick set (QUICK_TESTS below)
#   tools/bazel_build.sh //:test_blocks //:train_test_phases_tf_keras
#                                        build //..., then test these targets
#   tools/bazel_build.sh --all           build //..., then test every target (the whole suite: long)
#   tools/bazel_build.sh --build-only    build //... only
#
# Needs Bazel 4.2.3 as Debian ships it (`sudo apt-get install bazel-bootstrap`); nothing is downloaded.
# The Python is $KERAS_MOBILE_PYTHON (an interpreter path) if set, else the first python3 on PATH (looked
# up again whenever PATH changes), with the project's dependencies installed (pip install -e ".[dev]"):
# see tools/bazel/python_configure.bzl.
# BAZEL_TEST_JOBS (default 1) is how many test targets run at once; each one runs TensorFlow.
# KERAS_MOBILE_TEST_DATA, if set, is passed to the tests (the default dataset, prepared once and shared).
# Extra Bazel flags can go in BAZEL_FLAGS, e.g. BAZEL_FLAGS="--test_output=streamed".
set -euo pipefail
cd "$(dirname "$0")/.."

# Small and quick (seconds each): the registry, the error paths on both lines, the training config (tf_keras
# line) and train_tpu's refusal of Keras 3 (a child python).
QUICK_TESTS=(
    //:test_registry
    //:test_errors
    //:test_errors_tf_keras
    //:train_test_config_tf_keras
    //:train_test_keras3_line
)

if ! command -v bazel >/dev/null 2>&1; then
    echo "bazel not found: install Debian's Bazel 4.2.3 with  sudo apt-get install bazel-bootstrap" >&2
    exit 2
fi
version="$(bazel --version 2>/dev/null || true)"
case "$version" in
    "bazel 4."* | "bazel no_version") ;;  # Debian's bazel-bootstrap says "no_version"
    *) echo "warning: this setup is made for Bazel 4.2.3 (Debian's bazel-bootstrap); found: $version" >&2 ;;
esac

python="${KERAS_MOBILE_PYTHON:-$(command -v python3 || command -v python || true)}"
if [ -z "$python" ] || ! "$python" -c "import importlib.util as u, sys; sys.exit(not all(map(u.find_spec, ['keras', 'tensorflow', 'pytest'])))" >/dev/null 2>&1; then
    echo "warning: ${python:-no python3 on PATH}: lacks keras, tensorflow or pytest; the tests will fail." \
        "Put the project's interpreter first on PATH or set KERAS_MOBILE_PYTHON." >&2
fi

build_only=false
targets=()
for arg in "$@"; do
    case "$arg" in
        --build-only) build_only=true ;;
        --all) targets=(//...) ;;
        -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
        *) targets+=("$arg") ;;
    esac
done
[ ${#targets[@]} -gt 0 ] || targets=("${QUICK_TESTS[@]}")

# Gentle on a small shared machine: one build job, one test at a time unless told otherwise.
flags=(--jobs=1 --local_cpu_resources=1 ${BAZEL_FLAGS:-})
test_flags=(--local_test_jobs="${BAZEL_TEST_JOBS:-1}")
if [ -n "${KERAS_MOBILE_TEST_DATA:-}" ]; then
    test_flags+=(--test_env=KERAS_MOBILE_TEST_DATA="$KERAS_MOBILE_TEST_DATA")
fi

set -x
bazel build "${flags[@]}" //...
if $build_only; then exit 0; fi
bazel test "${flags[@]}" "${test_flags[@]}" "${targets[@]}"
