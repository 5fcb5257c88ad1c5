# Sourced by .ci/run, scripts/test, scripts/bench and scripts/lib/object-stores.sh: what the
# tests and the benchmark need beyond cargo, installed once per machine. Debian's packages with
# apt-get (Chromium and ChromeDriver, wrk, the PostgreSQL server); into a cache outside the clone,
# so later runs on the same machine reuse them, Garage (the S3 server, built from crates.io),
# Azurite (the Azure Blob emulator, from npm) and schemathesis (from PyPI).
#
# Each install holds a lock beside the cache, so a caller that finds one under way (those .ci/run
# starts in the background) waits for it instead of starting a second, and then finds it done.

CI_CACHE=${QUARRY_CI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/quarry-ci}
GARAGE_VERSION=2.5.0
GARAGE_ROOT="$CI_CACHE/garage-$GARAGE_VERSION-lean-o0"
AZURITE_VERSION=3
AZURITE_ROOT="$CI_CACHE/azurite-$AZURITE_VERSION"
SCHEMATHESIS_ROOT="$CI_CACHE/schemathesis-venv"

# Runs the rest of the arguments holding the lock named by the first.
with_lock() {
  local name=$1
  shift
  mkdir -p "$CI_CACHE"
  (
    flock 9
    "$@"
  ) 9> "$CI_CACHE/$name.lock"
}

# Installs those of the named Debian packages that are not installed, with one apt-get.
ensure_packages() {
  with_lock apt install_missing_packages "$@"
}

install_missing_packages() {
  local missing=() package
  for package in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$package")
    fi
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing ${missing[*]} with apt-get (once per machine)" >&2
    local started=$SECONDS
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
    echo "${missing[*]} installed in $((SECONDS - started)) s" >&2
  fi
}

# Under the lock named `name`, runs `install` unless `executable` is there already, saying what
# it installs and how long that took.
install_once() {
  local name=$1 executable=$2 install=$3
  with_lock "$name" install_once_unlocked "$name" "$executable" "$install"
}

install_once_unlocked() {
  local name=$1 executable=$2 install=$3
  if [ ! -x "$executable" ]; then
    echo "$name not cached; installing it (once per machine)" >&2
    local started=$SECONDS
    "$install" >&2
    echo "$name installed in $((SECONDS - started)) s" >&2
  fi
}

# Garage, built once per machine (about 5 minutes on 2 cores). A server for tests: only the
# SQLite metadata engine, unoptimised (the tests store kilobytes). That builds in 313 s on 2
# cores, against 637 s at opt-level 1 and 1097 s for the default features at opt-level 3.
build_garage() {
  install_once garage "$GARAGE_ROOT/bin/garage" cargo_install_garage
}

cargo_install_garage() {
  CARGO_PROFILE_RELEASE_OPT_LEVEL=0 CARGO_PROFILE_RELEASE_DEBUG=false \
    cargo install garage --version "$GARAGE_VERSION" --locked --no-default-features \
    --features bundled-libs,sqlite --root "$GARAGE_ROOT" --quiet
}

ensure_azurite() {
  install_once azurite "$AZURITE_ROOT/node_modules/.bin/azurite-blob" npm_install_azurite
}

npm_install_azurite() {
  mkdir -p "$AZURITE_ROOT"
  npm install --prefix "$AZURITE_ROOT" --silent --no-audit --no-fund "azurite@$AZURITE_VERSION"
}

ensure_schemathesis() {
  install_once schemathesis "$SCHEMATHESIS_ROOT/bin/st" pip_install_schemathesis
}

pip_install_schemathesis() {
  python3 -m venv "$SCHEMATHESIS_ROOT"
  "$SCHEMATHESIS_ROOT/bin/pip" install -q schemathesis
}

# The PostgreSQL server's binaries: on PATH, or the newest Debian's packages installed.
pg_binaries() {
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(command -v initdb)"
    return
  fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true
}

# The Debian packages of the tools the tests and the benchmark use that this machine lacks.
missing_tool_packages() {
  if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    echo chromium chromium-driver
  fi
  command -v wrk >/dev/null || echo wrk
  [ -n "$(pg_binaries)" ] || echo postgresql
}

# Everything above that is missing, installed side by side (apt-get, npm, pip and cargo each
# wait on the network or the disk more than on the CPU): for .ci/run to start in the
# background while it compiles. Garage's build, which does need the CPU, runs at the lowest
# priority, so it takes what the compiler leaves idle.
install_all() {
  # shellcheck disable=SC2046 # one package name per word
  ensure_packages $(missing_tool_packages) &
  ensure_azurite &
  ensure_schemathesis &
  nice -n 19 bash -c "source '${BASH_SOURCE[0]}' && build_garage" &
  wait
}
