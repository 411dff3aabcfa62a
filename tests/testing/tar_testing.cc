#include "tar_testing.h"

#include <archive.h>
#include <gtest/gtest.h>

namespace fw::testing {

std::vector<TarEntry> ReadTar(const std::string& path) {
  std::vector<TarEntry> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, path.c_str(), 65536), ARCHIVE_OK);
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    TarEntry t;
    t.name = archive_entry_pathname(e);
    t.data.resize(static_cast<size_t>(archive_entry_size(e)));
    if (!t.data.empty()) archive_read_data(a, t.data.data(), t.data.size());
    out.push_back(t);
  }
  archive_read_free(a);
  return out;
}

void WriteTar(const std::string& path, const std::vector<TarEntry>& entries, const TarWriteOptions& options) {
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  if (options.gzip) archive_write_add_filter_gzip(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname_utf8(e, t.name.c_str());
    archive_entry_set_filetype(e, t.type);
    archive_entry_set_perm(e, 0644);
    if (t.hardlink) archive_entry_set_hardlink(e, t.link.c_str());
    if (t.type == AE_IFLNK) archive_entry_set_symlink(e, t.link.c_str());
    const bool has_data = t.type == AE_IFREG && !t.hardlink;
    archive_entry_set_size(e, has_data ? static_cast<la_int64_t>(t.data.size()) : 0);
    const int header = archive_write_header(a, e);
    if (options.require_headers) {
      ASSERT_EQ(header, ARCHIVE_OK) << t.name;
    }
    if (has_data) archive_write_data(a, t.data.data(), t.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

}  // namespace fw::testing
