// Test support: reading a tar archive entry by entry and writing a crafted one back
// (libarchive), for the tests that rewrite bundles.
#pragma once

#include <archive_entry.h>

#include <string>
#include <vector>

namespace fw::testing {

struct TarEntry {
  std::string name;
  std::string data;
  unsigned type = AE_IFREG;  // AE_IFREG, AE_IFLNK, AE_IFDIR, ...
  std::string link{};        // the target of a symlink or hardlink ({} keeps {name, data} warning-free)
  bool hardlink = false;
};

// The entries of a tar archive, in order.
std::vector<TarEntry> ReadTar(const std::string& path);

struct TarWriteOptions {
  bool gzip = false;
  // A header libarchive refuses fails the test and ends the writing; without this it
  // is ignored and the writing goes on.
  bool require_headers = false;
};

// Writes entries as a pax-restricted tar (names are UTF-8: a non-ASCII name needs a
// UTF-8 LC_CTYPE), regular files with mode 0644.
void WriteTar(const std::string& path, const std::vector<TarEntry>& entries, const TarWriteOptions& options = {});

}  // namespace fw::testing
