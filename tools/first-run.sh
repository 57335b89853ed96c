#!/usr/bin/env bash
# The newcomer's first hour, N times (default 5): a fresh clone of this repository's HEAD,
# `make samples`, `make run`, the README's curl walk-through, Ctrl-C. Fails on the first clone
# whose mesh does not come up on the first try or whose walk-through answers wrongly.
# Uses the fixed ports of `make run`: stop any mesh you run yourself first. Not part of CI.
set -euo pipefail
runs=${1:-5}
repo=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
work=$(mktemp -d /tmp/kubeface-first-run.XXXX)
runner=""
# A failed step must not leave its mesh holding make run's ports for the next clone (or you).
trap '[[ -n "$runner" ]] && kill -- -"$runner" 2>/dev/null; sleep 1; rm -rf "$work"' EXIT

json() { curl -sf -XPOST "localhost:8000$1" -H 'content-type: application/json' -d "$2"; }

wait_final() { # wait_final ID: print the image's JSON once it is final
    for _ in $(seq 300); do
        out=$(curl -sf "localhost:8000/image/$1") || true
        case "$out" in *'"status":"PROCESSED"'* | *'"status":"PENDING"'* | *'"status":"FAILED"'*) echo "$out"; return ;; esac
        sleep 0.5
    done
    echo "image $1 not final" >&2; return 1
}

for run in $(seq "$runs"); do
    clone="$work/clone-$run"
    git clone -q "$repo" "$clone"
    cd "$clone"
    make -s samples >/dev/null
    start=$(date +%s)
    setsid make run >"$work/run-$run.log" 2>&1 &
    runner=$!
    ok=""
    for _ in $(seq 600); do
        if curl -sf localhost:8000/readyz >/dev/null && curl -sf localhost:8081/healthz >/dev/null \
            && curl -sf localhost:9101/readyz >/dev/null \
            && grep -q '"recognizer serving"' "$work/run-$run.log"; then ok=1; break; fi
        kill -0 "$runner" 2>/dev/null || break
        sleep 1
    done
    if [[ -z "$ok" ]]; then
        echo "run $run: the mesh did not come up; log:"; tail -40 "$work/run-$run.log"; kill -- -"$runner" || true; exit 1
    fi
    echo "run $run: mesh up in $(( $(date +%s) - start )) s (venv, MariaDB, nsq built in the clone)"
    json /person '{"name": "obama", "paths": ["obama.jpg"]}' >/dev/null
    json /person '{"name": "biden", "paths": ["biden.jpg"]}' >/dev/null
    sleep 3  # one gallery refresh (GALLERY_REFRESH_SECONDS=2)
    two=$(json /image/post '{"path": "two_people.jpg"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
    batch=$(json /images/post '{"paths": ["obama2.jpg", "obama3.jpg", "missing.jpg", "../etc/passwd"]}')
    result=$(wait_final "$two")
    for who in obama biden; do
        grep -q "\"person\":\"$who\"" <<<"$result" || { echo "run $run: $who not found in two_people.jpg: $result"; exit 1; }
    done
    grep -q 'outside the image root' <<<"$batch" || { echo "run $run: ../etc/passwd not refused: $batch"; exit 1; }
    uploaded=$(curl -sf -F file=@images/obama2.jpg localhost:8000/image/upload)
    grep -q '"path":"uploads/' <<<"$uploaded" || { echo "run $run: upload not stored: $uploaded"; exit 1; }
    up=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <<<"$uploaded")
    waited=$(curl -sf "localhost:8000/image/$up?wait=30")
    grep -q '"person":"obama"' <<<"$waited" || { echo "run $run: ?wait= did not answer the outcome: $waited"; exit 1; }
    raw=$(curl -sf --data-binary @images/biden.jpg -H 'Content-Type: image/jpeg' localhost:8000/image/upload)
    grep -q '"path":"uploads/' <<<"$raw" || { echo "run $run: raw upload not stored: $raw"; exit 1; }
    echo "run $run: walk-through answered as the README says"
    kill -INT -- -"$runner"
    wait "$runner" || true
    runner=""
    ! pgrep -f "$clone/.venv/bin/kubeface" >/dev/null || { echo "run $run: services left running"; exit 1; }
    cd "$repo"
    rm -rf "$clone"
done
echo "$runs fresh clones: make run came up on the first try and the walk-through worked every time"
