#!/usr/bin/env bash
# Checks what deploy/ ships, as far as a machine without systemd running, a container engine or
# a cluster allows:
#   - the systemd units pass `systemd-analyze verify` without a single warning (ExecStart
#     pointed at the built binary);
#   - the Containerfile's run stage installs the package of every shared library the built
#     binary loads;
#   - the Kubernetes manifests match the Kubernetes API models (check_k8s.py).
#
#   check_deploy.sh SOURCE_DIR PMDB_BINARY
set -euo pipefail
src=$1
pmdb=$(readlink -f "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0

for unit in "$src"/deploy/systemd/*.service; do
  name=$(basename "$unit")
  sed "s|/usr/bin/pmdb|$pmdb|" "$unit" > "$work/$name"
  if ! out=$(systemd-analyze verify "$work/$name" 2>&1) || [[ -n $out ]]; then
    echo "deploy/systemd/$name: systemd-analyze verify says:"
    echo "$out"
    fail=1
  else
    echo "deploy/systemd/$name: verified"
  fi
done

# The packages that hold the libraries the binary loads (usrmerge: try both spellings).
needed=()
while read -r lib; do
  pkg=""
  for path in "$lib" "${lib#/usr}" "/usr$lib" "$(readlink -f "$lib")"; do
    pkg=$(dpkg -S "$path" 2>/dev/null | head -1 | cut -d: -f1) && [[ -n $pkg ]] && break
  done
  if [[ -z $pkg ]]; then
    echo "deploy/Containerfile: no Debian package holds $lib"
    fail=1
  else
    needed+=("$pkg")
  fi
done < <(ldd "$pmdb" | awk '/=>/ {print $3}')
listed=$(sed -n '/runtime-packages:begin/,/runtime-packages:end/p' "$src/deploy/Containerfile")
missing=0
for pkg in $(printf '%s\n' "${needed[@]}" | sort -u); do
  if ! grep -qw -- "$pkg" <<<"$listed"; then
    echo "deploy/Containerfile: the run stage does not install $pkg, which pmdb needs"
    missing=1
  fi
done
if ((missing)); then fail=1; else echo "deploy/Containerfile: all ${#needed[@]} libraries' packages installed"; fi

/usr/bin/python3 "$src/tests/deploy/check_k8s.py" "$src"/deploy/k8s/*.yaml || fail=1
exit $fail
