# Third-party libraries, all from Debian 12 packages (scripts/setup.sh installs them).
find_package(OpenSSL 3.0 REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(nlohmann_json 3.10 REQUIRED)
# SQLite is found here only (target SQLite::SQLite3); code uses it through fw_sqlite.
find_package(SQLite3 REQUIRED)
find_package(PkgConfig REQUIRED)
# p11-kit: only its pkcs11.h (it has CKM_EDDSA); PKCS#11 modules are dlopen()ed (signing/src/pkcs11_module.h).
pkg_check_modules(P11Kit REQUIRED p11-kit-1)
if(FW_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
