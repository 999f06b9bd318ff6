// The translation unit that builds the programs' shared precompiled header (examples, tools) (see CMakeLists.txt).
