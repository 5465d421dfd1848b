# Sourced by the bench scripts: the release binary they drive, and a server of it on a fresh
# data directory and a free port.
#   palier_binary        sets `palier`: $PALIER_BIN when given (to compare builds), else this
#                        checkout's release build (built first).
#   start_server [VAR=value ...]
#                        starts `$palier serve` with the admin token $TOKEN (default
#                        bench-token) and the extra environment given; sets `dir`, `port`,
#                        `url` (the GraphQL endpoint) and `pid`; returns once /healthz answers.
#   stop_server          stops it and removes its data directory.

palier_binary() {
  if [ -z "${PALIER_BIN:-}" ]; then
    cargo build --release --locked -p palier-api --bin palier
  fi
  palier=${PALIER_BIN:-${CARGO_TARGET_DIR:-target}/release/palier}
}

start_server() {
  export TOKEN=${TOKEN:-bench-token}
  dir=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  env PALIER_DATA_DIR="$dir" PALIER_BIND="127.0.0.1:$port" PALIER_ADMIN_TOKEN="$TOKEN" \
    RUST_LOG=warn "$@" "$palier" serve & pid=$!
  url="http://127.0.0.1:$port/graphql"
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
}

stop_server() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
