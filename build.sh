#!/usr/bin/env bash
# Set up and build chainrule on Debian 12, then run one thing.
#   ./build.sh demo    build, then run the chain-rule example
#   ./build.sh test    build, then run the test suite (ctest)
#   ./build.sh bench   build, then run the benchmarks (build/bench/bench_*)
#   ./build.sh deps    only install the missing Debian packages
#   ./build.sh sanitize  build library + tests with ASan+UBSan in build-asan/, run ctest; any report fails
#   ./build.sh tsan      build library + thread tests with ThreadSanitizer in build-tsan/, run them
#   ./build.sh fuzz      build the libFuzzer target (clang) in build-fuzz/, run it for FUZZ_SECONDS (default 60)
#   ./build.sh package   build the library and tool for CHAINRULE_ARCH (default x86-64-v3) in build-package/, and
#                        make libchainrule-dev_<version>_amd64.deb there (CPack); tools/check_deb.sh tests it
#   ./build.sh docs      the API reference (Doxygen) in build-docs/html/; a warning in a public header fails
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

mode=${1:-}
case "$mode" in demo|test|bench|deps|sanitize|tsan|fuzz|package|docs) ;;
  *) echo "usage: $0 demo|test|bench|deps|sanitize|tsan|fuzz|package|docs" >&2; exit 2 ;; esac

# Debian packages the build needs (a minbase image may lack even make, cmake and a compiler).
# libopenblas-dev is also what xtensor-blas's find_dependency(BLAS) and find_dependency(LAPACK) find.
packages=(g++ make cmake ninja-build git pkg-config
          libxtensor-dev libxtensor-blas-dev libxsimd-dev libopenblas-dev
          doctest-dev nlohmann-json3-dev zlib1g-dev libcli11-dev)
[[ $mode == test ]] && packages+=(python3-numpy)   # cross-checks our safetensors files with an independent reader
[[ $mode == test ]] && packages+=(libopenmpi-dev openmpi-bin)  # chainrule_mpi and its 2-rank tests (mpirun)
packages+=(libpng-dev)   # the playground's PNG frames and loss curve; the browser tests' screenshot checks
[[ $mode == test && ${CHAINRULE_BROWSER:-} == 1 ]] && packages+=(chromium graphviz)  # .ci/run: the browser tests
[[ $mode == bench ]] && packages+=(libtorch-dev libbenchmark-dev)
[[ $mode == fuzz ]] && packages+=(clang-14 libclang-rt-14-dev)   # libFuzzer comes with clang's runtime
[[ $mode == package ]] && packages+=(dpkg-dev)   # dpkg-shlibdeps: the tool's shared-library dependencies
[[ $mode == docs ]] && packages=(doxygen)        # the API reference needs nothing else
[[ $mode == demo || $mode == deps ]] && packages+=(gnuplot-nox)  # the examples' PNG charts (activations)

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

if [[ $mode == docs ]]; then
  # Doxyfile: public headers only, HTML into build-docs/html; WARN_AS_ERROR stops at the first warning.
  mkdir -p build-docs
  doxygen docs/Doxyfile
  echo "==> API reference: build-docs/html/index.html"
  exit 0
fi
if [[ $mode == package ]]; then
  # A baseline CPU, never -march=native: the package must run on any CPU of that level. No MPI component (it would
  # make every user install Open MPI); no tests or examples (the package holds the library and the tool).
  arch=${CHAINRULE_ARCH:-x86-64-v3}
  echo "==> configuring build-package (CHAINRULE_ARCH=$arch)"
  # Prefix /usr at configure time: GNUInstallDirs then puts the library in Debian's multiarch lib/x86_64-linux-gnu.
  cmake -S . -B build-package -G Ninja -DCMAKE_BUILD_TYPE=Release -DCHAINRULE_ARCH="$arch" -DCHAINRULE_MPI=OFF \
    -DCMAKE_INSTALL_PREFIX=/usr \
    -DCHAINRULE_BUILD_TESTS=OFF -DCHAINRULE_BUILD_EXAMPLES=OFF -DCHAINRULE_BUILD_TOOLS=ON
  echo "==> building"
  cmake --build build-package -j2
  (cd build-package && cpack -G DEB)
  deb=$(ls build-package/libchainrule-dev_*_amd64.deb)
  echo "==> $deb"
  dpkg-deb --field "$deb" Depends
  exit 0
fi

# Sanitizer and fuzz builds: their own build directories, library + tests only (no examples, no benchmarks).
# Any sanitizer report aborts the test that hit it, so ctest fails.
if [[ $mode == sanitize || $mode == tsan || $mode == fuzz ]]; then
  werror=OFF; [[ ${CI:-} == true ]] && werror=ON
  # -O1 -g1: what the sanitizers recommend, with line tables for their stack traces; half the compile time of -O2 -g.
  common=(-DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"
          -DCHAINRULE_WERROR=$werror -DCHAINRULE_BUILD_EXAMPLES=OFF
          -DCHAINRULE_BUILD_BENCH=OFF)
  case "$mode" in
    sanitize)
      echo "==> configuring build-asan (AddressSanitizer + UndefinedBehaviorSanitizer)"
      cmake -S . -B build-asan "${common[@]}" -DCHAINRULE_SANITIZE=ON
      echo "==> building"
      cmake --build build-asan -j2   # library, tools and every test program (examples and benchmarks are off)
      echo "==> running the tests under ASan + UBSan"
      export ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1
      export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1
      export OPENBLAS_NUM_THREADS=1
      # install.* and source.* build consumer projects (packaging, checked by ./build.sh test): not sanitizer work.
      cd build-asan && ctest --output-on-failure -j2 -E '^(install|source)\.' ;;
    tsan)
      echo "==> configuring build-tsan (ThreadSanitizer)"
      cmake -S . -B build-tsan "${common[@]}" -DCHAINRULE_TSAN=ON
      echo "==> building"
      cmake --build build-tsan -j2 --target chainrule_thread_tests
      echo "==> running the thread tests under TSan"
      # OpenBLAS' own thread pool is not instrumented; one BLAS thread keeps the reports about our code.
      export TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1
      export OPENBLAS_NUM_THREADS=1
      build-tsan/tests/chainrule_thread_tests -tc='threads:*' ;;
    fuzz)
      echo "==> configuring build-fuzz (clang, libFuzzer + ASan + UBSan)"
      CXX=clang++-14 cmake -S . -B build-fuzz "${common[@]}" -DCHAINRULE_WERROR=OFF -DCHAINRULE_BUILD_TESTS=OFF \
        -DCHAINRULE_FUZZ=ON -DCHAINRULE_ARCH=none
      echo "==> building"
      cmake --build build-fuzz -j2 --target fuzz_load_model
      seconds=${FUZZ_SECONDS:-60}
      echo "==> fuzzing Model::load / load_safetensors for ${seconds}s"
      mkdir -p build-fuzz/corpus
      # A fixed seed (FUZZ_SEED) makes a CI run reproducible; a finding is saved as build-fuzz/crash-<sha1>: replay
      # it with build-fuzz/tests/fuzz/fuzz_load_model build-fuzz/crash-<sha1>, and add it to tests/fuzz/seeds.
      build-fuzz/tests/fuzz/fuzz_load_model -max_total_time="$seconds" -seed="${FUZZ_SEED:-1}" -max_len=4096 \
        -timeout=10 -rss_limit_mb=2048 -artifact_prefix=build-fuzz/ \
        build-fuzz/corpus tests/fuzz/seeds ;;
  esac
  exit 0
fi

# Step 2: configure into build/ (Release; warnings are errors in CI).
echo "==> configuring"
werror=OFF; [[ ${CI:-} == true ]] && werror=ON
torch=OFF;  [[ $mode == bench ]] && torch=ON   # bench measures libtorch side by side
bench=OFF;  [[ $mode == bench || ${CI:-} == true ]] && bench=ON   # CI compiles the benchmarks too, so they keep building
# Ninja: a target's files compile while the libraries it links are still being built (make waits for them).
if [[ -f build/CMakeCache.txt ]] && ! grep -q '^CMAKE_GENERATOR:INTERNAL=Ninja$' build/CMakeCache.txt; then
  rm -rf build/CMakeCache.txt build/CMakeFiles   # configured by an older build.sh with make: start afresh
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCHAINRULE_WERROR=$werror -DCHAINRULE_BUILD_BENCH=$bench \
  -DCHAINRULE_BENCH_TORCH=$torch

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
