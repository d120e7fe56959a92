#!/bin/sh
# Makes sure `make static` can build for x86_64-unknown-linux-musl:
#  - the Rust standard library for the target (`rustup target add`, which
#    downloads it from the Rust distribution server once);
#  - musl-gcc (Debian `musl-tools`) for the C and assembly parts of `ring`.
# Exits non-zero with one line saying what is missing when it cannot.
set -eu
TARGET=x86_64-unknown-linux-musl

sysroot=$(rustc --print sysroot)
if [ ! -d "$sysroot/lib/rustlib/$TARGET/lib" ]; then
    if ! command -v rustup >/dev/null 2>&1; then
        echo "static-toolchain: the Rust standard library for $TARGET is missing and rustup is not installed" >&2
        exit 1
    fi
    echo "static-toolchain: rustup target add $TARGET" >&2
    if ! rustup target add "$TARGET" >&2; then
        echo "static-toolchain: 'rustup target add $TARGET' failed (the Rust distribution server must be reachable once)" >&2
        exit 1
    fi
fi

if ! command -v musl-gcc >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "static-toolchain: installing musl-tools" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends musl-tools >/dev/null
    else
        echo "static-toolchain: musl-gcc not found; install Debian/Ubuntu 'musl-tools' (or your distribution's musl-gcc)" >&2
        exit 1
    fi
fi
