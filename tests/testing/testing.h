// Test support: temporary directories, running the project's CLIs, fixtures.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fw::testing {

// A fresh directory under $TMPDIR, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs argv (no shell), capturing stdout/stderr. argv[0] may be a project binary
// name ("fwsign"), resolved in $FW_BINARY_DIR, or any program on PATH.
CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text = "");

// Path of a project executable or source file.
std::string BinaryPath(const std::string& name);
std::string SourcePath(const std::string& relative);

// Files.
void WriteFile(const std::string& path, const std::string& data);
std::string ReadFile(const std::string& path);
std::vector<uint8_t> ReadBytes(const std::string& path);
void WriteBytes(const std::string& path, const std::vector<uint8_t>& data);
bool Exists(const std::string& path);
// Names of the entries in a directory (sorted).
std::vector<std::string> ListDir(const std::string& path);
// Deterministic pseudo-random bytes.
std::vector<uint8_t> PseudoRandomBytes(size_t n, uint32_t seed);

// The layout.json text of a file-backed terminal: two boot control copies in
// control.bin, banks A and B of bank_size bytes each in banks.bin, the trust store in
// trust.bin, the data region in data.bin, and the data directory "data" (all relative
// to the directory the layout is written to).
std::string FileTerminalLayout(uint64_t bank_size);

// One firmware release into a TUF repository through the fwsign CLI: a PseudoRandomBytes(payload_size,
// seed) payload written next to `image`, `fwsign image sign` with `image_key` for POS-X1 into `image`,
// `repo add-target`, then `repo publish` with `publish_keys`. Returns "" on success, else the failing
// command line with its exit code and output.
struct ReleaseSpec {
  std::string repo;
  std::string image_key;
  std::string image;
  std::string version;
  uint32_t security_counter = 1;
  size_t payload_size = 20000;
  uint32_t seed = 1;
};
std::string SignAndPublishRelease(const ReleaseSpec& spec, const std::vector<std::string>& publish_keys);

}  // namespace fw::testing
