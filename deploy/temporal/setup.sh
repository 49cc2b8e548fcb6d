#!/bin/sh
# One-shot (temporalio/admin-tools): the namespace and the client journey's search
# attributes. SEARCH_ATTRIBUTES lists NAME=TYPE pairs (shared/contracts/journey.py).
# Without them every journey's upsert fails its workflow task again and again, and the
# worker refuses to start. Safe to run on every start.
set -eu
ADDRESS=${TEMPORAL_ADDRESS:-temporal:7233}
NAMESPACE=${TEMPORAL_NAMESPACE:-default}
RETENTION=${TEMPORAL_RETENTION:-90d}
T="temporal --address $ADDRESS"

tries=0
until $T operator cluster health >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "$tries" -lt 60 ] || { echo "Temporal at $ADDRESS is not healthy" >&2; exit 1; }
  sleep 2
done

if ! $T operator namespace describe --namespace "$NAMESPACE" >/dev/null 2>&1; then
  $T operator namespace create --namespace "$NAMESPACE" --retention "$RETENTION"
fi

for pair in $SEARCH_ATTRIBUTES; do
  name=${pair%%=*}
  type=${pair#*=}
  tries=0
  # A new namespace takes a few seconds to reach every frontend: retry.
  until $T operator search-attribute list --namespace "$NAMESPACE" | grep -qw "$name" \
    || $T operator search-attribute create --namespace "$NAMESPACE" --name "$name" --type "$type"; do
    tries=$((tries + 1))
    [ "$tries" -lt 30 ] || { echo "cannot register search attribute $name" >&2; exit 1; }
    sleep 2
  done
  echo "search attribute $name ($type) registered"
done
