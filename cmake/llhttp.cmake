# llhttp v8.1.0 comes from Debian's node-llhttp as C sources, not as a library:
# compile them into a small static target that the core links.
set(MWS_LLHTTP_SRC_DIR "/usr/share/llhttp" CACHE PATH "llhttp C sources (node-llhttp)")
set(MWS_LLHTTP_INCLUDE_DIR "/usr/share/include/llhttp" CACHE PATH "llhttp header (node-llhttp)")

if(NOT EXISTS "${MWS_LLHTTP_SRC_DIR}/llhttp.c" OR NOT EXISTS "${MWS_LLHTTP_INCLUDE_DIR}/llhttp.h")
  message(FATAL_ERROR "llhttp sources not found; install the Debian package node-llhttp")
endif()

add_library(mws_llhttp STATIC
  "${MWS_LLHTTP_SRC_DIR}/api.c"
  "${MWS_LLHTTP_SRC_DIR}/http.c"
  "${MWS_LLHTTP_SRC_DIR}/llhttp.c")
target_include_directories(mws_llhttp SYSTEM PUBLIC "${MWS_LLHTTP_INCLUDE_DIR}")
set_target_properties(mws_llhttp PROPERTIES C_STANDARD 99 POSITION_INDEPENDENT_CODE ON)
# Generated code: its warnings are not ours to fix.
target_compile_options(mws_llhttp PRIVATE -w)
