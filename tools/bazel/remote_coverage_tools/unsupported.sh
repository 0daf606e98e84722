#!/bin/sh
echo "bazel coverage is not supported by this offline Bazel setup (tools/bazel/remote_coverage_tools)." >&2
exit 1
