#!/usr/bin/env bash
# Set up and build chainrule on Debian 12, then run one thing.
#   ./build.sh demo    build, then run the chain-rule example
#   ./build.sh test    build, then run the test suite (ctest)
#   ./build.sh bench   build, then run the benchmarks (build/bench/bench_*)
#   ./build.sh deps    only install the missing Debian packages
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

mode=${1:-}
case "$mode" in demo|test|bench|deps) ;; *) echo "usage: $0 demo|test|bench|deps" >&2; exit 2 ;; esac

# Debian packages the build needs (a minbase image may lack even make, cmake and a compiler).
# libopenblas-dev is also what xtensor-blas's find_dependency(BLAS) and find_dependency(LAPACK) find.
packages=(g++ make cmake git pkg-config
          libxtensor-dev libxtensor-blas-dev libxsimd-dev libopenblas-dev
          doctest-dev nlohmann-json3-dev zlib1g-dev libcli11-dev)
[[ $mode == test ]] && packages+=(python3-numpy)   # cross-checks our safetensors files with an independent reader
[[ $mode == test ]] && packages+=(libopenmpi-dev openmpi-bin)  # chainrule_mpi and its 2-rank tests (mpirun)
[[ $mode == bench ]] && packages+=(libtorch-dev libbenchmark-dev)

# Step 1: install the packages that are missing, and only those.
missing=()
for p in "${packages[@]}"; do
  [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true) == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "==> installing missing packages: ${missing[*]}"
  if [[ $(id -u) != 0 ]]; then
    echo "not root; run this, then ./build.sh $mode again:" >&2
    echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
else
  echo "==> all needed packages are installed"
fi
[[ $mode == deps ]] && exit 0

# Step 2: configure into build/ (Release; warnings are errors in CI).
echo "==> configuring"
werror=OFF; [[ ${CI:-} == true ]] && werror=ON
torch=OFF;  [[ $mode == bench ]] && torch=ON   # bench measures libtorch side by side
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DCHAINRULE_WERROR=$werror -DCHAINRULE_BENCH_TORCH=$torch

# Step 3: build.
echo "==> building"
cmake --build build -j2

# Step 4: run what was asked for.
case "$mode" in
  demo)
    echo "==> running build/examples/chain_rule"
    build/examples/chain_rule ;;
  test)
    echo "==> running the tests"
    cd build && ctest --output-on-failure -j2 ;;
  bench)
    echo "==> running the benchmarks"
    shopt -s nullglob
    benches=()
    for b in build/bench/bench_*; do [[ -f $b && -x $b ]] && benches+=("$b"); done
    ((${#benches[@]})) || { echo "no benchmarks built (build/bench/bench_*)"; exit 0; }
    for b in "${benches[@]}"; do echo "--> $b"; "$b"; done ;;
esac
