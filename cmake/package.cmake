# CPack: `./build.sh package` (cpack in build-package/) → libchainrule-dev_<version>_amd64.deb, Debian's name for a
# development package: headers, the static library, the CMake package, chainrule.pc and the `chainrule` tool, all
# under /usr. Depends: the Debian -dev packages that a consumer's find_package(chainrule) or pkg-config needs, plus
# the shared libraries of the tool (dpkg-shlibdeps). The package is built for the baseline CPU in CHAINRULE_ARCH
# (build.sh: x86-64-v3), never -march=native; tools/check_deb.sh installs it in a fresh Debian 12 root and builds
# consumers with it.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME libchainrule-dev)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CONTACT "chainrule maintainers <chainrule@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "C++17 reverse-mode autodiff engine and neural-network layer (development files)")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION "${CPACK_PACKAGE_DESCRIPTION_SUMMARY}
 chainrule: a tape-based Tensor with reverse-mode automatic differentiation on xtensor and OpenBLAS, a Keras-like
 neural-network layer, optimizers and tools that teach the chain rule. Headers under /usr/include/chainrule, a
 static library, a CMake package (find_package(chainrule)), chainrule.pc and the chainrule calculator.
 Compiled for the CPU baseline ${CHAINRULE_ARCH}.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # <name>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION libdevel)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)   # the tool's shared libraries (libc6, libstdc++6, libopenblas0, zlib1g)
# What find_package(chainrule) finds (chainruleConfig.cmake) and chainrule.pc requires.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libxtensor-dev (>= 0.24), libxsimd-dev (>= 8), libopenblas-dev, zlib1g-dev")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "cmake (>= 3.25), pkg-config, g++")
include(CPack)
