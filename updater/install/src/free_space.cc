#include "free_space.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include "fw/file_io.h"

namespace fw::install {

namespace fs = std::filesystem;

// Free bytes on the file system holding `dir`.
Result<uint64_t> FreeBytes(const std::string& dir) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return IoError("cannot stat file system of " + dir + ": " + ErrnoText(errno));
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

uint64_t FileSizeOrZero(const std::string& path) {
  std::error_code ec;
  uint64_t n = fs::file_size(path, ec);
  return ec ? 0 : n;
}

}  // namespace fw::install
