// chainrule::version(): the numbers the library was built with (chainrule/version.hpp, from project(VERSION)).
#include <chainrule/version.hpp>

namespace chainrule {

const char* version() noexcept { return CHAINRULE_VERSION_STRING; }
int version_major() noexcept { return CHAINRULE_VERSION_MAJOR; }
int version_minor() noexcept { return CHAINRULE_VERSION_MINOR; }
int version_patch() noexcept { return CHAINRULE_VERSION_PATCH; }

}  // namespace chainrule
