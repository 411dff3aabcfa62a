# Warnings, sanitizers and fuzzing flags for every target in the project.
add_compile_options(-Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
                    -Wimplicit-fallthrough -Wformat=2)
if(FW_WERROR)
  add_compile_options(-Werror)
endif()

if(FW_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

if(FW_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "FW_FUZZ needs clang: configure with -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

# fw_freestanding_check(<name> <sources...>): compiles sources as a freestanding,
# exception-free, RTTI-free object library so CI proves the bootloader core stays portable.
function(fw_freestanding_check name)
  add_library(${name} OBJECT ${ARGN})
  target_compile_options(${name} PRIVATE -ffreestanding -fno-exceptions -fno-rtti -nostdinc++ -fno-threadsafe-statics)
endfunction()
