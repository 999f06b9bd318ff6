// The translation unit that builds the examples' shared precompiled header (see CMakeLists.txt).
