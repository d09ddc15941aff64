#!/usr/bin/env bash
# Rebuilds the dashboard's WebAssembly engine (web/src → web/assets/pkg) from source.
# Reproducible: paths are remapped and the toolchain, Cargo.lock and wasm-bindgen version are
# pinned, so CI can rebuild and compare byte for byte with what is committed (`web/build.sh --check`).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
want="$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"/\1/p')"
if ! command -v wasm-bindgen >/dev/null || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$want" ]; then
    echo "installing wasm-bindgen-cli $want" >&2
    cargo install --quiet wasm-bindgen-cli --version "$want"
fi
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
export RUSTFLAGS="--remap-path-prefix=$root=/vouchsafe --remap-path-prefix=$cargo_home=/cargo"
export CARGO_TARGET_DIR="$root/target/wasm-build"
cargo build --quiet --locked --release --target wasm32-unknown-unknown -p vouchsafe-web
out="$root/web/assets/pkg"
if [ "${1:-}" = "--check" ]; then
    out="$(mktemp -d)"
fi
# The name section (function names for stack traces) is 190 KB of the engine; the page never
# shows a wasm backtrace, so it goes.
wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section --out-dir "$out" \
    "$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/vouchsafe_web.wasm"
if [ "${1:-}" = "--check" ]; then
    if ! diff -r "$out" "$root/web/assets/pkg"; then
        echo "web/assets/pkg does not match web/src: run web/build.sh and commit the result" >&2
        exit 1
    fi
    echo "web/assets/pkg matches the source"
fi
