# Shared by the benchmark scripts: sourced, not run.

# The binaries to run, in $bin: those already built in $build when the script was given
# --build DIR (how ./tools/test runs every script on tiny data), otherwise the benchmark peers
# are installed and TARGETS built in build-bench (Release).
bench_binaries() {
  if [[ -n "${build:-}" ]]; then
    bin="$build/bin"
    return
  fi
  ./tools/setup --bench
  # Warnings are errors in the Debug build ./tools/test makes; GCC 12 at -O3 also reports some
  # that are not (-Wrestrict inside std::string), which must not stop a measurement.
  cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DPMDB_BUILD_BENCH=ON -DPMDB_BUILD_TESTS=OFF \
    -DPMDB_WERROR=OFF >/dev/null
  cmake --build build-bench -j "$(nproc)" --target "$@" >/dev/null
  bin="$root/build-bench/bin"
}

# Prints the port a server logged ("listening on port N") in file $1, waiting up to 20 s.
wait_port() {
  for _ in $(seq 200); do
    grep -q 'listening on port' "$1" 2>/dev/null && { grep -o 'port [0-9]*' "$1" | awk '{print $2}'; return; }
    sleep 0.1
  done
  cat "$1" >&2
  exit 1
}

# Stops every server whose pid is in the array `pids`.
stop_servers() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}

# A federation "bench" CA in $1/ca with ca.crt and ca.crl copied to $1/certs, and the hub's
# certificate in $1/certs/hub.
bench_ca() {
  "$pmdb" ca init --dir "$1/ca" --federation bench >/dev/null
  mkdir -p "$1/certs"
  cp "$1/ca/ca.crt" "$1/ca/ca.crl" "$1/certs/"
  "$pmdb" ca issue --dir "$1/ca" --identity spiffe://bench/hub --out "$1/certs/hub" --ip 127.0.0.1 >/dev/null
}

# Writes $1/hub.toml for the regions in the array `regions`, at the ports in the map `port`,
# and starts the hub; sets hub_port.
start_hub() {
  {
    printf '[hub]\ndb = "hub.db"\n[tls]\ncert = "certs/hub.crt"\nkey = "certs/hub.key"\n'
    printf 'ca = "certs/ca.crt"\ncrl = "certs/ca.crl"\n'
    for r in "${regions[@]}"; do printf '[[regions]]\nid = "%s"\naddress = "127.0.0.1:%s"\n' "$r" "${port[$r]}"; done
  } > "$1/hub.toml"
  "$pmdb" hub --config "$1/hub.toml" > "$1/hub.log" 2>&1 &
  pids+=($!)
  hub_port=$(wait_port "$1/hub.log")
}
