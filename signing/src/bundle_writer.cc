#include "fw/bundle_writer.h"

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <vector>

#include "fw/bundle_format.h"
#include "fw/file_io.h"
#include "fw/tuf_metadata.h"

namespace fw::bundle {
namespace {

struct ArchiveWriteDeleter {
  void operator()(archive* a) const { archive_write_free(a); }
};
using ArchiveWritePtr = std::unique_ptr<archive, ArchiveWriteDeleter>;
struct EntryDeleter {
  void operator()(archive_entry* e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryDeleter>;

la_ssize_t WriteCallback(archive*, void* user, const void* buf, size_t n) {
  auto* out = static_cast<OutputFile*>(user);
  if (!out->Write(std::span<const uint8_t>(static_cast<const uint8_t*>(buf), n)).ok()) return -1;
  return static_cast<la_ssize_t>(n);
}

class TarWriter {
 public:
  explicit TarWriter(OutputFile& out) : out_(out), a_(archive_write_new()) {}

  Status Open() {
    if (!a_ || archive_write_set_format_pax_restricted(a_.get()) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a_.get(), 1) != ARCHIVE_OK ||
        archive_write_open(a_.get(), &out_, nullptr, WriteCallback, nullptr) != ARCHIVE_OK) {
      return Error("cannot start the tar");
    }
    return Status::Ok();
  }

  Status Begin(const std::string& name, uint64_t size) {
    EntryPtr e(archive_entry_new());
    archive_entry_set_pathname_utf8(e.get(), name.c_str());
    archive_entry_set_filetype(e.get(), AE_IFREG);
    archive_entry_set_perm(e.get(), 0644);
    archive_entry_set_size(e.get(), static_cast<la_int64_t>(size));
    archive_entry_set_mtime(e.get(), 0, 0);
    if (archive_write_header(a_.get(), e.get()) != ARCHIVE_OK) return Error(name);
    return Status::Ok();
  }

  Status Data(const void* data, size_t n) {
    if (archive_write_data(a_.get(), data, n) != static_cast<la_ssize_t>(n)) return Error("writing data");
    return Status::Ok();
  }

  Status AddBytes(const std::string& name, std::string_view bytes) {
    FW_RETURN_IF_ERROR(Begin(name, bytes.size()));
    return Data(bytes.data(), bytes.size());
  }

  Status AddFile(const std::string& name, const std::string& path, uint64_t size) {
    FW_RETURN_IF_ERROR(Begin(name, size));
    FW_ASSIGN_OR_RETURN(File in, File::OpenRead(path));
    std::vector<uint8_t> buf(256 * 1024);
    uint64_t total = 0;
    while (true) {
      FW_ASSIGN_OR_RETURN(size_t n, in.Read(buf));
      if (n == 0) break;
      total += n;
      if (total > size) return Corrupt(path + ": changed while bundling");
      FW_RETURN_IF_ERROR(Data(buf.data(), n));
    }
    if (total != size) return Corrupt(path + ": changed while bundling");
    return Status::Ok();
  }

  Status Close() {
    if (archive_write_close(a_.get()) != ARCHIVE_OK) return Error("finishing the tar");
    return Status::Ok();
  }

 private:
  Status Error(const std::string& what) {
    const char* e = a_ ? archive_error_string(a_.get()) : nullptr;
    return IoError("tar: " + what + ": " + (e ? e : "libarchive error"));
  }
  OutputFile& out_;
  ArchiveWritePtr a_;
};

}  // namespace

Status CreateBundle(const CreateOptions& o) {
  const std::string md = o.repo + "/metadata/";
  FW_ASSIGN_OR_RETURN(std::string root, ReadFileToString(md + "root.json", tuf::kMaxRootBytes));
  FW_ASSIGN_OR_RETURN(auto root_meta, tuf::ParseMetadata<tuf::Root>(root, tuf::kMaxRootBytes));
  const uint64_t root_version = root_meta.signed_.common.version;
  if (o.root_from < 1 || o.root_from > root_version) {
    return InvalidArgument("--root-from must be between 1 and the current root version " +
                           std::to_string(root_version));
  }
  if (root_version - o.root_from + 1 > kMaxRootVersionsInBundle) {
    return InvalidArgument("more than " + std::to_string(kMaxRootVersionsInBundle) + " root versions");
  }
  FW_ASSIGN_OR_RETURN(std::string timestamp, ReadFileToString(md + "timestamp.json", tuf::kMaxTimestampBytes));
  FW_ASSIGN_OR_RETURN(auto ts, tuf::ParseMetadata<tuf::Timestamp>(timestamp, tuf::kMaxTimestampBytes));
  FW_ASSIGN_OR_RETURN(std::string snapshot,
                      ReadFileToString(md + std::to_string(ts.signed_.snapshot_meta.version) + ".snapshot.json",
                                       tuf::kMaxSnapshotBytes));
  FW_ASSIGN_OR_RETURN(auto sn, tuf::ParseMetadata<tuf::Snapshot>(snapshot, tuf::kMaxSnapshotBytes));
  FW_ASSIGN_OR_RETURN(
      std::string targets,
      ReadFileToString(md + std::to_string(sn.signed_.meta.at("targets.json").version) + ".targets.json",
                       tuf::kMaxTargetsBytes));
  FW_ASSIGN_OR_RETURN(auto tg, tuf::ParseMetadata<tuf::Targets>(targets, tuf::kMaxTargetsBytes));
  auto it = tg.signed_.targets.find(o.target);
  if (it == tg.signed_.targets.end()) return NotFound("target \"" + o.target + "\" is not in the published targets");
  FW_RETURN_IF_ERROR(ValidateTargetName(o.target));  // what the reader will demand
  const tuf::TargetFile& tf = it->second;
  FW_ASSIGN_OR_RETURN(auto facts, tf.Firmware());
  if (!facts) return InvalidArgument("target \"" + o.target + "\" has no firmware facts (add it with repo add-target)");
  const size_t slash = o.target.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : o.target.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? o.target : o.target.substr(slash + 1);
  const std::string image = o.repo + "/targets/" + dir + tf.hashes.at("sha256") + "." + base;
  FW_ASSIGN_OR_RETURN(Bytes index, ComputeChunkIndexFile(image, facts->chunk_size));

  FW_ASSIGN_OR_RETURN(OutputFile out, OutputFile::Create(o.output));
  TarWriter tar(out);
  FW_RETURN_IF_ERROR(tar.Open());
  for (uint64_t v = o.root_from; v <= root_version; ++v) {
    FW_ASSIGN_OR_RETURN(std::string r, ReadFileToString(md + std::to_string(v) + ".root.json", tuf::kMaxRootBytes));
    FW_RETURN_IF_ERROR(tar.AddBytes(std::string(kRootDir) + std::to_string(v) + ".root.json", r));
  }
  if (o.with_timestamp_snapshot) {
    FW_RETURN_IF_ERROR(tar.AddBytes(std::string(kTimestampEntry), timestamp));
    FW_RETURN_IF_ERROR(tar.AddBytes(std::string(kSnapshotEntry), snapshot));
  }
  FW_RETURN_IF_ERROR(tar.AddBytes(std::string(kTargetsEntry), targets));
  FW_RETURN_IF_ERROR(tar.AddBytes(std::string(kChunkIndexDir) + o.target,
                                  std::string_view(reinterpret_cast<const char*>(index.data()), index.size())));
  FW_RETURN_IF_ERROR(tar.AddFile(std::string(kImageDir) + o.target, image, tf.length));
  FW_RETURN_IF_ERROR(tar.Close());
  return out.Commit();
}

}  // namespace fw::bundle
