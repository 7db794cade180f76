#!/bin/bash
# Measures distributed training against single-process training on this
# machine (docs/distributed-training.md, "Quality and speed"): for each
# number of rollout nodes, episodes per node and algorithm, a local
# three-server JetStream cluster (marlon nats --local-cluster), that many
# marlon node --rollouts processes, and marlon train --compare-single, which
# trains single-process in its own process after the run (the baseline of
# the same run). Prints one line per run:
#   nodes per_node algorithm seed episodes ratio single_ratio episodes/s single_episodes/s messages bytes agent_episodes
#
# usage: docs/distributed-training.sh [EPISODES] [NODES...]   (default 300, nodes 1 2 3)
set -u
cd "$(dirname "$0")/.."
EP=${1:-300}; shift || true
NODES=${*:-1 2 3}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
go build -o "$W/marlon" ./cmd/marlon || exit 1
B=$W/marlon

run() { # nodes algorithm seed per_node
  local N=$1 ALG=$2 SEED=$3 PER=$4 D P U PIDS="" NP i t
  D=$(mktemp -d "$W/run.XXXX")
  P=$((20000 + RANDOM % 20000))
  $B nats --local-cluster --host 127.0.0.1 --port $P --cluster-port $((P+10)) --store-dir "$D/js" > "$D/nats.log" 2>&1 &
  NP=$!
  U=nats://127.0.0.1:$P,nats://127.0.0.1:$((P+1)),nats://127.0.0.1:$((P+2))
  for i in $(seq 1 "$N"); do
    $B node --rollouts --nats "$U" --replicas 3 --name "n$i" > "$D/n$i.log" 2>&1 &
    PIDS="$PIDS $!"
  done
  for i in $(seq 1 "$N"); do
    for t in $(seq 1 600); do grep -q "rollout node up" "$D/n$i.log" && break; sleep 0.1; done
  done
  $B train --nats "$U" --replicas 3 --algorithm "$ALG" --seed "$SEED" --min-nodes "$N" --per-node "$PER" \
    --episodes "$EP" --compare-single --json 2> "$D/train.err" > "$D/out.json"
  for i in $PIDS; do kill "$i"; done
  kill $NP
  wait 2> /dev/null
  python3 - "$D/out.json" "$N $PER $ALG $SEED" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))
except Exception as e:
    print(sys.argv[2], "failed:", e); sys.exit()
s = r["single_process"]
print(sys.argv[2], r["episodes"], "%.4f" % r["mean"]["ratio"], "%.4f" % s["mean"]["ratio"],
      "%.1f" % r["episodes_per_second"], "%.1f" % s["episodes_per_second"],
      r["experience"]["messages"], r["experience"]["bytes"], r["experience"]["agent_episodes"])
PY
}

for PER in 1 10 30; do for N in $NODES; do for ALG in pg qlearning; do run "$N" "$ALG" 1 "$PER"; done; done; done
for SEED in 2 3; do for ALG in pg qlearning; do run 3 "$ALG" "$SEED" 1; done; done
