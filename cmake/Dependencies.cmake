# Third-party libraries, all from Debian 12 packages (scripts/setup.sh installs them).
find_package(OpenSSL 3.0 REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(nlohmann_json 3.10 REQUIRED)
# SQLite is found here only (target SQLite::SQLite3); code uses it through fw_sqlite.
find_package(SQLite3 REQUIRED)
find_package(PkgConfig REQUIRED)
if(FW_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
