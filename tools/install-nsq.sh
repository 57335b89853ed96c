#!/usr/bin/env bash
# Build nsqd and nsqlookupd (v1.3.0) with Go into the given folder.
# `go install github.com/nsqio/nsq/apps/nsqd@v1.3.0` cannot work: nsq's go.mod has a `replace`
# directive, which `go install pkg@version` refuses; tools/nsq/go.mod repeats it.
set -euo pipefail
out=$(realpath -m "${1:-.bin}")
mkdir -p "$out"
cd "$(dirname "$0")/nsq"
go build -o "$out/" github.com/nsqio/nsq/apps/nsqd github.com/nsqio/nsq/apps/nsqlookupd
"$out/nsqd" --version
