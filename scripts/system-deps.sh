#!/usr/bin/env bash
# Debian packages some tests need: chromium + chromium-driver (the explorer's browser test),
# dataset-fashion-mnist (the Fashion-MNIST tests) and gcc (the C kernels, built on first use
# by `cc`; without it they fall back to PyTorch). Installs the missing ones when it can
# (root with apt-get). Without them those tests skip with a reason, except under CI=true,
# where this script fails instead.
set -euo pipefail
missing=()
if ! { [[ -x /usr/bin/chromium ]] && [[ -x /usr/bin/chromedriver ]]; }; then
    missing+=(chromium chromium-driver)
fi
if ! { command -v dpkg >/dev/null && dpkg -s dataset-fashion-mnist >/dev/null 2>&1; }; then
    missing+=(dataset-fashion-mnist)
fi
if ! command -v "${CC:-cc}" >/dev/null; then
    missing+=(gcc)
fi
(( ${#missing[@]} )) || exit 0
if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
elif [[ "${CI:-}" == "true" ]]; then
    echo "CI needs the Debian packages ${missing[*]} and cannot install them (not root or no apt-get)" >&2
    exit 1
else
    echo "note: ${missing[*]} not installed (needs root and apt-get); the browser and" \
        "Fashion-MNIST tests will be skipped" >&2
fi
