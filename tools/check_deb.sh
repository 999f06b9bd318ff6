#!/usr/bin/env bash
# The .deb as a user meets it: in a fresh Debian 12 root (debootstrap minbase, cached as in
# /work/shared/tools/fresh-machine.sh), `apt-get install ./libchainrule-dev_*.deb` must pull every dependency, then
#   - tests/consumer builds with a plain find_package(chainrule) (no prefix path) and its app runs,
#   - g++ main.cpp $(pkg-config --cflags --libs chainrule) builds and runs,
#   - the `chainrule` tool runs, and nothing is installed at a top-level /usr/include/{autograd,nn,optim,teach,util}.
# Usage (root): tools/check_deb.sh [DEB]   (default: build-package/libchainrule-dev_*_amd64.deb from ./build.sh package)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
deb=${1:-$(ls build-package/libchainrule-dev_*_amd64.deb 2>/dev/null | tail -n 1)}
[[ -f $deb ]] || { echo "no .deb: run ./build.sh package first, or name one" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "needs root (debootstrap, chroot)" >&2; exit 2; }

cache=${FRESH_CACHE:-$(dirname "$(mktemp -u)")/fresh-debian}
mkdir -p "$cache"
if [[ ! -f $cache/base.tar ]]; then
  command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
  mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
  [[ -n $mirror ]] || mirror=$(awk '/^deb /{print $2; exit}' /etc/apt/sources.list)
  rm -rf "$cache/base"
  debootstrap --variant=minbase bookworm "$cache/base" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { echo "debootstrap failed (log: $cache/debootstrap.log)" >&2; exit 2; }
  tar -C "$cache/base" -cf "$cache/base.tar" . && rm -rf "$cache/base"
fi
run=$cache/check-deb
cleanup() { umount -R "$run/proc" "$run/dev" 2>/dev/null || true; }
cleanup; rm -rf "$run"; mkdir -p "$run"
trap cleanup EXIT
tar -C "$run" -xf "$cache/base.tar"
cp /etc/resolv.conf "$run/etc/resolv.conf"
mkdir -p "$run/root/check"
cp "$deb" "$run/root/check/"
cp -r tests/consumer "$run/root/check/consumer"
mount -t proc proc "$run/proc" && mount --rbind /dev "$run/dev"

SECONDS=0
rc=0
chroot "$run" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  DEBIAN_FRONTEND=noninteractive /bin/bash -euo pipefail -c '
cd /root/check
echo "==> apt-get install ./$(ls *.deb) (and a compiler, cmake, pkg-config, as a user would have)"
apt-get update -qq
apt-get install -y -qq --no-install-recommends ./*.deb g++ cmake make pkg-config >/dev/null
dpkg-query -W -f="\${Package} \${Version}\nDepends: \${Depends}\n" libchainrule-dev
for d in autograd nn optim teach util; do
  [[ ! -e /usr/include/$d ]] || { echo "/usr/include/$d exists: headers must live under /usr/include/chainrule"; exit 1; }
done
echo "==> find_package(chainrule), no prefix path"
cmake -S consumer -B build-cmake -DCMAKE_BUILD_TYPE=Release >/dev/null
grep "^chainrule_DIR:" build-cmake/CMakeCache.txt
cmake --build build-cmake -j2 >/dev/null
build-cmake/app
echo "==> g++ main.cpp \$(pkg-config --cflags --libs chainrule)"
g++ -std=c++17 -O1 consumer/main.cpp $(pkg-config --cflags --libs chainrule) -o app-pc
./app-pc
echo "==> the chainrule tool"
chainrule --version
chainrule grad "x*x" x=3
' || rc=$?
echo "check_deb: $deb rc=$rc in ${SECONDS}s"
exit $rc
