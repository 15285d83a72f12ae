#!/usr/bin/env bash
# Real services for development and tests, on free loopback ports:
#   MongoDB-wire server: SecantusDB (PyPI) in .tools/venv, in-memory storage
#   S3 server:           s3s-fs 0.14.1 (crates.io) in .tools/s3s, data in .services/s3-data
# Uses MONGODB_URL / S3_ENDPOINT instead when they are set.
#
#   bash scripts/services.sh install|start|stop|status|env
# `start` writes .services/env (export lines) for tests and the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
TOOLS="$ROOT/.tools"
RUN="$ROOT/.services"
SDB_VERSION=0.7.0b3
S3S_VERSION=0.14.1

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

install() {
  mkdir -p "$TOOLS"
  if [ -z "${MONGODB_URL:-}" ] && [ ! -x "$TOOLS/venv/bin/secantusd-py" ]; then
    echo "installing SecantusDB $SDB_VERSION into .tools/venv" >&2
    python3 -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install --quiet --pre "SecantusDB==$SDB_VERSION"
  fi
  if [ -z "${S3_ENDPOINT:-}" ] && [ ! -x "$TOOLS/s3s/bin/s3s-fs" ]; then
    echo "installing s3s-fs $S3S_VERSION into .tools/s3s (a few minutes)" >&2
    cargo install --quiet "s3s-fs@$S3S_VERSION" --features binary --locked --root "$TOOLS/s3s"
  fi
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

stop() {
  for p in "$RUN"/*.pid; do
    [ -e "$p" ] || continue
    if alive "$p"; then kill "$(cat "$p")" 2>/dev/null || true; fi
    rm -f "$p"
  done
  rm -rf "$RUN/s3-data"
}

wait_for() { # name, check command, log file
  local name=$1 check=$2 log=$3
  for _ in $(seq 1 150); do
    if eval "$check" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  echo "$name did not start; last lines of $log:" >&2
  tail -n 20 "$log" >&2 || true
  return 1
}

start() {
  install
  stop
  mkdir -p "$RUN"
  local mongo_url s3_endpoint access secret bucket
  if [ -n "${MONGODB_URL:-}" ]; then
    mongo_url=$MONGODB_URL
  else
    local port; port=$(free_port)
    "$TOOLS/venv/bin/secantusd-py" --host 127.0.0.1 --port "$port" --storage-path :memory: \
      >"$RUN/mongo.log" 2>&1 &
    echo $! >"$RUN/mongo.pid"
    mongo_url="mongodb://127.0.0.1:$port"
    wait_for "SecantusDB" "\"$TOOLS/venv/bin/python\" -c 'import pymongo,sys; pymongo.MongoClient(\"$mongo_url\", serverSelectionTimeoutMS=500).admin.command(\"ping\")'" "$RUN/mongo.log"
  fi
  if [ -n "${S3_ENDPOINT:-}" ]; then
    s3_endpoint=$S3_ENDPOINT; access=${S3_ACCESS_KEY:-}; secret=${S3_SECRET_KEY:-}; bucket=${S3_BUCKET:-simple-ide}
  else
    local port; port=$(free_port)
    access="test$(python3 -c 'import secrets; print(secrets.token_hex(6))')"
    secret=$(python3 -c 'import secrets; print(secrets.token_hex(20))')
    bucket=simple-ide
    mkdir -p "$RUN/s3-data/$bucket"
    "$TOOLS/s3s/bin/s3s-fs" --host 127.0.0.1 --port "$port" --access-key "$access" --secret-key "$secret" \
      "$RUN/s3-data" >"$RUN/s3.log" 2>&1 &
    echo $! >"$RUN/s3.pid"
    s3_endpoint="http://127.0.0.1:$port"
    wait_for "s3s-fs" "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $port), 0.5)'" "$RUN/s3.log"
  fi
  cat >"$RUN/env" <<ENV
export MONGODB_URL='$mongo_url'
export MONGODB_DB='${MONGODB_DB:-simple_ide_test}'
export S3_ENDPOINT='$s3_endpoint'
export S3_REGION='${S3_REGION:-us-east-1}'
export S3_ACCESS_KEY='$access'
export S3_SECRET_KEY='$secret'
export S3_BUCKET='$bucket'
export S3_FORCE_PATH_STYLE=true
ENV
  echo "services up: MongoDB $mongo_url, S3 $s3_endpoint (bucket $bucket); env in .services/env" >&2
}

status() {
  for p in "$RUN"/*.pid; do
    [ -e "$p" ] || { echo "nothing started"; return; }
    if alive "$p"; then echo "$(basename "$p" .pid): running (pid $(cat "$p"))"; else echo "$(basename "$p" .pid): dead"; fi
  done
}

case "${1:-}" in
  install) install ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  env) cat "$RUN/env" ;;
  *) echo "usage: $0 install|start|stop|status|env" >&2; exit 2 ;;
esac
