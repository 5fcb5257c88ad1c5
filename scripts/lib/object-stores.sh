# Sourced by scripts/test: installs (once per machine, cached), starts and stops the object
# storage servers the storage tests run on — Garage (a real S3 implementation, from crates.io)
# and Azurite (Microsoft's Azure Blob emulator, from npm). GCS has no local server.
#
# Both install into a cache outside the clone, so later runs on the same machine reuse them:
# $QUARRY_CI_CACHE, default ~/.cache/quarry-ci (scripts/lib/installs.sh).

# shellcheck source=installs.sh
source "$(dirname "${BASH_SOURCE[0]}")/installs.sh"
STORES_DIR=$(mktemp -d /tmp/quarry-stores.XXXXXX)
STORES_PIDS=()

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_for_port() { # port, what, log
  for _ in $(seq 1 100); do
    if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1', $1), 0.2)" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  echo "error: $2 did not start; its log:" >&2
  cat "$3" >&2
  return 1
}

stop_object_stores() {
  for pid in "${STORES_PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${STORES_PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$STORES_DIR"
}

garage_binary() {
  if [ ! -x "$GARAGE_ROOT/bin/garage" ]; then
    echo "waiting for Garage: building it, or for the build .ci/run started (log: $CI_CACHE/installs.log)" >&2
  fi
  build_garage
  echo "$GARAGE_ROOT/bin/garage"
}

azurite_binary() {
  ensure_azurite
  echo "$AZURITE_ROOT/node_modules/.bin/azurite-blob"
}

# Starts a one-node Garage with bucket `quarry-test` and exports what the S3 tests need.
start_garage() {
  local garage dir rpc s3 admin node created
  garage=$(garage_binary)
  dir="$STORES_DIR/garage"
  mkdir -p "$dir"
  rpc=$(free_port); s3=$(free_port); admin=$(free_port)
  cat > "$dir/garage.toml" <<TOML
metadata_dir = "$dir/meta"
data_dir = "$dir/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"
[admin]
api_bind_addr = "127.0.0.1:$admin"
admin_token = "$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
TOML
  "$garage" -c "$dir/garage.toml" server > "$dir/server.log" 2>&1 &
  STORES_PIDS+=($!)
  wait_for_port "$s3" Garage "$dir/server.log"
  local g=("$garage" -c "$dir/garage.toml")
  for _ in $(seq 1 50); do
    node=$("${g[@]}" node id -q 2>/dev/null | cut -d@ -f1) && [ -n "$node" ] && break
    sleep 0.2
  done
  "${g[@]}" layout assign -z dc1 -c 1G "$node" >/dev/null
  "${g[@]}" layout apply --version 1 >/dev/null
  "${g[@]}" bucket create quarry-test >/dev/null
  created=$("${g[@]}" key create quarry-test)
  "${g[@]}" bucket allow --read --write --owner quarry-test --key quarry-test >/dev/null
  GARAGE_ENV=(
    "AWS_ACCESS_KEY_ID=$(awk '/Key ID/ {print $NF}' <<<"$created")"
    "AWS_SECRET_ACCESS_KEY=$(awk '/Secret key/ {print $NF}' <<<"$created")"
    "AWS_REGION=garage"
    "AWS_ENDPOINT=http://127.0.0.1:$s3"
    "AWS_ALLOW_HTTP=true"
    "QUARRY_TEST_STORAGE_URL=s3://quarry-test"
  )
}

# Starts Azurite with container `quarry-test` and exports what the Azure tests need.
start_azurite() {
  local azurite dir port
  azurite=$(azurite_binary)
  dir="$STORES_DIR/azurite"
  mkdir -p "$dir"
  port=$(free_port)
  "$azurite" --blobHost 127.0.0.1 --blobPort "$port" --location "$dir" --skipApiVersionCheck \
    --loose --silent --disableTelemetry > "$dir/server.log" 2>&1 &
  STORES_PIDS+=($!)
  wait_for_port "$port" Azurite "$dir/server.log"
  python3 "$(dirname "${BASH_SOURCE[0]}")/azurite-container.py" "http://127.0.0.1:$port" quarry-test
  AZURITE_ENV=(
    "AZURE_STORAGE_USE_EMULATOR=true"
    "AZURITE_BLOB_STORAGE_URL=http://127.0.0.1:$port"
    "AZURE_ALLOW_HTTP=true"
    "QUARRY_TEST_STORAGE_URL=az://quarry-test"
  )
}
