#!/bin/sh
# Builds the dance binary as the container image ships it: statically linked
# (no cgo, so no libc to match on the target), without local paths in it.
# Used by deploy/Dockerfile and by the test that checks the result
# (cmd/dance: TestDeployStaticBinary).
#
#   deploy/build-static.sh OUTPUT
set -eu
cd "$(dirname "$0")/.."
CGO_ENABLED=0 exec go build -trimpath -ldflags='-s -w' -o "$1" ./cmd/dance
