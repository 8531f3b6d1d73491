#!/usr/bin/env bash
# Installs what REG needs on a fresh Debian machine (run as root): the OpenCL headers and ICD
# loader to build against, PoCL as an OpenCL device to test on, and libpng's headers (reg demo's
# pictures; libpng itself is opened at run time). Swift itself is expected on
# PATH (or at /opt/swift/usr/bin). Safe to run again: it installs only what is missing.
set -euo pipefail

packages=(ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo libpng-dev)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
    if [ -x /opt/swift/usr/bin/swift ]; then
        echo "setup: add /opt/swift/usr/bin to PATH" >&2
    else
        echo "setup: Swift 6.1 or newer is required (swift not found on PATH)" >&2
    fi
    exit 1
fi
