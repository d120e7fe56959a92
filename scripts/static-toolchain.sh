#!/bin/sh
# Makes sure `make static` can build for each musl target it is given
# (default: both, x86_64-unknown-linux-musl and aarch64-unknown-linux-musl):
#  - the Rust standard library for the target (`rustup target add`, which
#    downloads it from the Rust distribution server once);
#  - a C compiler for the C and assembly parts of `ring`: musl-gcc (Debian
#    `musl-tools`) for the host's own CPU, the Debian cross gcc
#    (`gcc-aarch64-linux-gnu` + `libc6-dev-arm64-cross`, or the x86-64 pair)
#    for the other one. ring's C code needs only freestanding headers
#    (stdint.h, string.h), and the Rust musl target links its own musl libc
#    and start files, so a glibc cross gcc is enough to compile and link.
# scripts/static-build points cargo at them (CC_<target>, CARGO_TARGET_<T>_LINKER).
# Exits non-zero with one line saying what is missing when it cannot.
set -eu
[ $# -gt 0 ] || set -- x86_64-unknown-linux-musl aarch64-unknown-linux-musl
host=$(uname -m)

need_packages=""
for TARGET in "$@"; do
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
    arch=${TARGET%%-*}
    if [ "$arch" = "$host" ]; then
        command -v musl-gcc >/dev/null 2>&1 || need_packages="$need_packages musl-tools"
    else
        case $arch in
            aarch64) libc=libc6-dev-arm64-cross ;;
            x86_64) libc=libc6-dev-amd64-cross ;;
            *) echo "static-toolchain: no cross C compiler known for $TARGET" >&2; exit 1 ;;
        esac
        command -v "$arch-linux-gnu-gcc" >/dev/null 2>&1 || need_packages="$need_packages gcc-$(echo "$arch" | tr _ -)-linux-gnu"
        [ -e "/usr/$arch-linux-gnu/include/stdint.h" ] || need_packages="$need_packages $libc"
    fi
done

if [ -n "$need_packages" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "static-toolchain: installing$need_packages" >&2
        apt-get update -qq
        # shellcheck disable=SC2086 # one word per package
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need_packages >/dev/null
    else
        echo "static-toolchain: missing C toolchain packages:$need_packages (Debian/Ubuntu names)" >&2
        exit 1
    fi
fi
