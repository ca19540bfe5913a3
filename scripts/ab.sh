#!/usr/bin/env bash
# Compares two builds back to back: on this shared machine figures drift by
# ±15 % between minutes, so a change is judged by runs of both builds taken
# in turn, not against an old report.
#
#   scripts/ab.sh REV_A REV_B [SCENARIO] [ROUNDS]
#   scripts/ab.sh HEAD~1 HEAD verify-reject 3
#   scripts/ab.sh HEAD~1 WORKTREE           # WORKTREE: the uncommitted tree
#
# Each run: build twofold at the revision, start it on 127.0.0.1 in a fresh
# data directory (settings as scripts/perf.sh), import 12,000 generated TOTP
# users and 1,000 plain ones, and run this tree's twofold-load.
# Knobs: D (run length, 8s), C (clients, 64), USERS (sessions, 1500 for
# verify-reject, 4000 for verify-accept).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
A=${1:?usage: scripts/ab.sh REV_A REV_B [SCENARIO] [ROUNDS]}
B=${2:?usage: scripts/ab.sh REV_A REV_B [SCENARIO] [ROUNDS]}
SC=${3:-verify-reject}
ROUNDS=${4:-2}
D=${D:-8s}
C=${C:-64}

WORK=$(mktemp -d)
SP=
cleanup() {
	[ -n "$SP" ] && kill "$SP" 2>/dev/null || true
	wait 2>/dev/null || true
	for w in "$WORK"/src-*; do [ -d "$w" ] && git worktree remove --force "$w" >/dev/null 2>&1 || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT

go build -o "$WORK/load" ./cmd/twofold-load
build() { # build NAME REV
	if [ "$2" = WORKTREE ]; then
		CGO_ENABLED=0 go build -trimpath -o "$WORK/twofold-$1" ./cmd/twofold
	else
		git worktree add -q --detach "$WORK/src-$1" "$2"
		(cd "$WORK/src-$1" && CGO_ENABLED=0 go build -trimpath -o "$WORK/twofold-$1" ./cmd/twofold)
	fi
}
build a "$A"
build b "$B"

case $SC in
verify-reject) ARGS=(-imported -first 0 -users "${USERS:-1500}") ;;
verify-accept) ARGS=(-imported -first 1000 -users "${USERS:-4000}") ;;
login) ARGS=(-imported -users 1000) ;;
*) ARGS=() ;;
esac

run() { # run NAME
	local data=$WORK/data
	rm -rf "$data" && mkdir -p "$data"
	export TWOFOLD_DATA_DIR=$data TWOFOLD_LOCKOUT_THRESHOLD=100 TWOFOLD_VERIFY_RATE_LIMIT=0 TWOFOLD_AUTH_RATE_LIMIT=0
	"$WORK/twofold-$1" serve --addr 127.0.0.1:18095 2>"$WORK/server.log" &
	SP=$!
	for _ in $(seq 100); do curl -fsS http://127.0.0.1:18095/healthz >/dev/null 2>&1 && break; sleep 0.1; done
	"$WORK/load" -gen 12000 -gen-kind totp >"$WORK/u.jsonl"
	"$WORK/load" -gen 1000 -gen-kind plain >"$WORK/p.jsonl"
	"$WORK/twofold-$1" user import "$WORK/u.jsonl" >/dev/null
	"$WORK/twofold-$1" user import "$WORK/p.jsonl" >/dev/null
	# An import refuses codes up to one step after its own: the load tool's
	# correct codes (the step after now) work once the next step has begun.
	case $SC in verify-accept | full-login) sleep $((30 - $(date +%s) % 30)) ;; esac
	echo "== $1 ($([ "$1" = a ] && echo "$A" || echo "$B"), load average $(cut -d' ' -f1-3 /proc/loadavg))"
	"$WORK/load" -url http://127.0.0.1:18095 -pid "$SP" -scenario "$SC" "${ARGS[@]}" -c "$C" -d "$D" 2>&1 |
		grep -E '^(requests|latency|statuses|errors|server cpu|server rss|client cpu)'
	kill "$SP" && wait "$SP" 2>/dev/null || true
	SP=
}
for _ in $(seq "$ROUNDS"); do
	run a
	run b
done
