#!/usr/bin/env bash
# Builds `reg` with the Swift standard library and Foundation linked statically, into dist/reg:
# the binary runs on a Linux x86-64 machine with no Swift installed. OpenCL is opened at run time
# (dlopen of libOpenCL.so.1), so a machine without an OpenCL driver still runs it on the CPU
# reference.
#
#   tools/build-static.sh            build dist/reg
#   tools/build-static.sh --verify   build, then check that no Swift or OpenCL library is linked
#                                    and that the copy runs `reg devices` from a folder of its own
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

verify=false
case "${1:-}" in
    --verify) verify=true ;;
    "") ;;
    *) echo "usage: tools/build-static.sh [--verify]" >&2; exit 2 ;;
esac

# A build folder of its own, so that this and the plain release build do not rebuild each other.
build=(swift build -c release --product reg --static-swift-stdlib --scratch-path .build/static)
"${build[@]}"
mkdir -p dist
cp "$("${build[@]}" --show-bin-path)/reg" dist/reg
echo "build-static: dist/reg ($(du -h dist/reg | cut -f1))"

if $verify; then
    libraries=$(ldd dist/reg || true)
    echo "$libraries"
    if grep -Eq 'libswift|libFoundation|lib_Foundation|libdispatch|libBlocksRuntime|libOpenCL' <<<"$libraries"; then
        echo "build-static: FAIL: dist/reg links a Swift, Foundation or OpenCL library dynamically" >&2
        exit 1
    fi
    # Run a copy from an empty folder with no Swift on PATH or in the library path.
    scratch=$(mktemp -d)
    trap 'rm -rf "$scratch"' EXIT
    cp dist/reg "$scratch/reg"
    (cd "$scratch" && env -i HOME="$scratch" PATH=/usr/bin:/bin ./reg devices >"$scratch/devices.txt")
    grep -q "auto picks" "$scratch/devices.txt" || { echo "build-static: FAIL: reg devices printed:" >&2; cat "$scratch/devices.txt" >&2; exit 1; }
    (cd "$scratch" && env -i HOME="$scratch" PATH=/usr/bin:/bin REG_OPENCL_LIBRARY=/nonexistent/libOpenCL.so.1 ./reg devices) \
        | grep -q "auto picks the CPU reference" || { echo "build-static: FAIL: without OpenCL, reg devices does not name the CPU reference" >&2; exit 1; }
    echo "build-static: verified: no Swift, Foundation or OpenCL library linked; runs from $scratch with and without OpenCL"
fi
