#!/usr/bin/env bash
# Fails, listing them, if any C++ file under src/ tests/ fuzz/ bench/ is not formatted as the
# repository's .clang-format says. The formatter is pinned: clang-format 14 (Debian 12's
# clang-format-14; another version formats some constructs differently). Installed with apt-get
# when missing. Fix what it lists with: clang-format-14 -i FILE...
set -euo pipefail
cd "$(dirname "$0")/.."
want=14
fmt=clang-format-$want
if ! command -v "$fmt" >/dev/null; then
  echo "check-format: installing $fmt" >&2
  if [ "$(id -u)" -ne 0 ]; then sudo=sudo; else sudo=; fi
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "$fmt" >&2 || {
    echo "check-format: needs clang-format $want ($fmt), which apt could not install here" >&2
    exit 2
  }
fi
"$fmt" --version | grep -q "version $want\." || {
  echo "check-format: $fmt is not clang-format $want: $("$fmt" --version)" >&2
  exit 2
}
mapfile -t files < <(git ls-files -co --exclude-standard -- 'src/*.cpp' 'src/*.h' 'tests/*.cpp' \
  'tests/*.h' 'fuzz/*.cpp' 'fuzz/*.h' 'bench/*.cpp' 'bench/*.h' | sort -u)
bad=()
for f in "${files[@]}"; do
  [ -f "$f" ] || continue
  "$fmt" --style=file "$f" | cmp -s - "$f" || bad+=("$f")
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: ${#bad[@]} of ${#files[@]} C++ files are not formatted (clang-format $want):" >&2
  printf '  %s\n' "${bad[@]}" >&2
  echo "check-format: fix with: $fmt -i ${bad[*]}" >&2
  exit 1
fi
echo "check-format: ${#files[@]} C++ files formatted (clang-format $want)"
