# Sourced by .ci/run and scripts/lib/object-stores.sh: builds Garage (the S3 server the storage
# tests run on, from crates.io) into the cache outside the clone, once per machine.
#
# One build at a time: a lock beside the cache, so a caller that finds a build under way (the
# one .ci/run starts in the background) waits for it instead of starting a second.

GARAGE_VERSION=2.5.0
STORES_CACHE=${QUARRY_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quarry-ci}
GARAGE_ROOT="$STORES_CACHE/garage-$GARAGE_VERSION-lean-o0"

build_garage() {
  mkdir -p "$STORES_CACHE"
  (
    flock 9
    if [ ! -x "$GARAGE_ROOT/bin/garage" ]; then
      echo "Garage $GARAGE_VERSION not cached; building it with cargo install (about 5 minutes on 2 cores, once per machine)" >&2
      local started=$SECONDS
      # A server for tests: only the SQLite metadata engine, unoptimised (the tests store
      # kilobytes). That builds in 313 s on 2 cores, against 637 s at opt-level 1 and 1097 s
      # for the default features at opt-level 3.
      CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_DEBUG=false \
        cargo install garage --version "$GARAGE_VERSION" --locked --no-default-features \
        --features bundled-libs,sqlite --root "$GARAGE_ROOT" --quiet >&2
      echo "Garage built in $((SECONDS - started)) s; cached in $GARAGE_ROOT" >&2
    fi
  ) 9> "$STORES_CACHE/garage.lock"
}
