#include "fw/bundle_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <system_error>
#include <thread>

#include "chunk_pipe.h"
#include "fw/bundle_format.h"
#include "fw/encoding.h"
#include "fw/file_io.h"
#include "fw/image.h"
#include "fw/tuf_trusted_set.h"
#include "tar_stream.h"

namespace fw::bundle {
namespace {

constexpr size_t kReadBlock = 64 * 1024;

enum class Stage { kRoots, kTimestamp, kSnapshot, kTargets, kChunkIndex, kImage };

Status CheckEntryName(const std::string& name) {
  if (name.empty()) return Corrupt("entry with an empty name");
  if (name.front() == '/') return Corrupt("entry \"" + name + "\" has an absolute path");
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string::npos) slash = name.size();
    const std::string part = name.substr(start, slash - start);
    if (part == "..") return Corrupt("entry \"" + name + "\" contains \"..\"");
    if (part.empty() || part == ".") return Corrupt("entry \"" + name + "\" has an empty or \".\" path component");
    start = slash + 1;
  }
  return Status::Ok();
}

Result<std::optional<std::string>> ReadLocal(const std::string& dir, const char* name, uint64_t cap) {
  const std::string path = dir + "/" + name;
  if (::access(path.c_str(), F_OK) != 0) return std::optional<std::string>();
  FW_ASSIGN_OR_RETURN(std::string data, ReadFileToString(path, cap));
  return std::optional<std::string>(std::move(data));
}

}  // namespace

class BundleReader::Impl {
 public:
  Impl(std::unique_ptr<TarStream> stream, const ReaderOptions& o) : stream_(std::move(stream)), options_(o) {}

  std::string Context() const {
    const std::string& name = stream_->source().Name();
    return name.empty() ? "bundle" : "bundle " + name;
  }

  // Up to the image's first chunk; the rest of the image is left in the stream.
  Result<BundleHead> ReadHead(const MetadataSink& on_metadata) {
    on_metadata_ = &on_metadata;
    FW_ASSIGN_OR_RETURN(auto root, ReadLocal(options_.metadata_dir, "root.json", tuf::kMaxRootBytes));
    if (!root) return NotFound("no trusted root.json in " + options_.metadata_dir);
    FW_ASSIGN_OR_RETURN(auto set, tuf::TrustedSet::Create(*root, options_.clock->WallSeconds()));
    trusted_.emplace(std::move(set));
    archive* a = stream_->get();
    while (stage_ != Stage::kImage) {
      archive_entry* entry = nullptr;
      const int rc = archive_read_next_header(a, &entry);
      if (rc == ARCHIVE_EOF) return Corrupt("bundle ends before its image is complete");
      if (rc == ARCHIVE_WARN && entry) {
        // A name the locale cannot show (non-ASCII): refused by the name rule, clearly.
        const char* raw = archive_entry_pathname_utf8(entry);
        if (!raw) raw = archive_entry_pathname(entry);
        if (raw) FW_RETURN_IF_ERROR(NameRule(raw));
      }
      if (rc != ARCHIVE_OK) return stream_->Error("not a valid tar archive");
      FW_RETURN_IF_ERROR(Entry(entry));
    }
    return BundleHead{result_, first_chunk_};
  }

  // The first chunk, then the rest of the image read and verified ahead on a second
  // thread, then what follows the image (unless ReadHead checked it already).
  Result<VerifiedBundle> ReadImage(const ChunkSink& on_chunk) {
    ChunkPipe pipe(result_.facts.chunk_size);
    Status s;
    try {
      std::thread reader([&] { pipe.Finish(ReadChunks(pipe)); });
      if (!first_chunk_.empty()) {
        s = on_chunk(0, first_chunk_).WithContext(image_what_ + ": bytes from 0 (chunk 0)");
      }
      if (s.ok()) s = pipe.Drain(on_chunk, image_what_);
      if (!s.ok()) pipe.Cancel();
      reader.join();
    } catch (const std::system_error& e) {
      return Internal(std::string("cannot start the bundle read-ahead thread: ") + e.what());
    }
    FW_RETURN_IF_ERROR(s);
    if (!tail_checked_) FW_RETURN_IF_ERROR(stream_->CheckZeroFrom(data_end_));
    return std::move(result_);
  }

 private:
  static Status NameRule(const std::string& name) {
    if (Status s = ValidateTargetName(name); !s.ok()) return Corrupt("entry name: " + s.message());
    return Status::Ok();
  }

  Status Entry(archive_entry* entry) {
    // The name as stored (pax names are UTF-8), whatever the locale; ValidateTargetName
    // refuses anything but ASCII in the names that matter.
    const char* raw_name = archive_entry_pathname_utf8(entry);
    if (!raw_name) raw_name = archive_entry_pathname(entry);
    const std::string name = raw_name ? raw_name : "";
    const std::string what = "entry \"" + name + "\"";
    if (archive_entry_filetype(entry) != AE_IFREG || archive_entry_hardlink(entry) || archive_entry_symlink(entry)) {
      return Corrupt(what + ": only regular files are allowed (no links, directories or devices)");
    }
    FW_RETURN_IF_ERROR(CheckEntryName(name));
    if (!seen_.insert(name).second) return Corrupt(what + ": duplicate name");
    if (!archive_entry_size_is_set(entry) || archive_entry_size(entry) < 0) return Corrupt(what + ": no size");
    const uint64_t size = static_cast<uint64_t>(archive_entry_size(entry));

    if (name.starts_with(kRootDir) && name.ends_with(".root.json")) return RootEntry(name, what, size);
    if (name == kTimestampEntry) return TimestampEntry(what, size);
    if (name == kSnapshotEntry) return SnapshotEntry(what, size);
    if (name == kTargetsEntry) return TargetsEntry(what, size);
    if (name.starts_with(kChunkIndexDir)) {
      if (stage_ != Stage::kTargets) return Corrupt(what + ": out of order (chunk index comes after targets)");
      stage_ = Stage::kChunkIndex;
      return ChunkIndex(name.substr(kChunkIndexDir.size()), what, size);
    }
    if (name.starts_with(kImageDir)) {
      if (stage_ != Stage::kChunkIndex) return Corrupt(what + ": out of order (image comes after its chunk index)");
      if (name.substr(kImageDir.size()) != result_.target_path) {
        return Corrupt(what + ": does not match the chunk index's target \"" + result_.target_path + "\"");
      }
      FW_RETURN_IF_ERROR(ImageHead(entry, what, size));
      stage_ = Stage::kImage;
      return Status::Ok();
    }
    return Corrupt(what + ": unknown entry");
  }

  Status RootEntry(const std::string& name, const std::string& what, uint64_t size) {
    if (stage_ != Stage::kRoots) return Corrupt(what + ": root versions must come first");
    const std::string v = name.substr(kRootDir.size(), name.size() - kRootDir.size() - 10);
    if (v.empty() || v.size() > 9 || v.find_first_not_of("0123456789") != std::string::npos) {
      return Corrupt(what + ": not root/<version>.root.json");
    }
    const uint64_t version = std::stoull(v);
    if (version <= last_root_) return Corrupt(what + ": root versions out of order");
    if (++root_entries_ > kMaxRootVersionsInBundle) {
      return Corrupt(what + ": more than " + std::to_string(kMaxRootVersionsInBundle) + " root versions");
    }
    last_root_ = version;
    FW_ASSIGN_OR_RETURN(std::string bytes, ReadSmall(what, size, tuf::kMaxRootBytes));
    const uint64_t trusted = trusted_->root().signed_.common.version;
    if (version <= trusted) return Status::Ok();  // the device already has it
    if (version != trusted + 1) {
      return VerificationFailed(what + ": the device trusts root version " + std::to_string(trusted) +
                                "; the chain skips a version");
    }
    FW_RETURN_IF_ERROR_CTX(trusted_->UpdateRoot(bytes), what);
    result_.new_roots.push_back(std::move(bytes));
    return Status::Ok();
  }

  Status TimestampEntry(const std::string& what, uint64_t size) {
    if (stage_ != Stage::kRoots) return Corrupt(what + ": out of order");
    FW_RETURN_IF_ERROR(trusted_->FinishRootUpdate());
    stage_ = Stage::kTimestamp;
    FW_ASSIGN_OR_RETURN(result_.timestamp, ReadSmall(what, size, tuf::kMaxTimestampBytes));
    // The device's stored timestamp (if it verifies) guards against rollback.
    auto local = ReadLocal(options_.metadata_dir, "timestamp.json", tuf::kMaxTimestampBytes);
    if (local.ok() && local->has_value()) trusted_->UpdateTimestamp(**local).status().IgnoreError();
    FW_ASSIGN_OR_RETURN(auto outcome, trusted_->UpdateTimestamp(result_.timestamp));
    (void)outcome;
    return Status::Ok();
  }

  Status SnapshotEntry(const std::string& what, uint64_t size) {
    if (stage_ != Stage::kTimestamp) return Corrupt(what + ": out of order (snapshot needs a timestamp before it)");
    stage_ = Stage::kSnapshot;
    FW_ASSIGN_OR_RETURN(result_.snapshot, ReadSmall(what, size, tuf::kMaxSnapshotBytes));
    auto local = ReadLocal(options_.metadata_dir, "snapshot.json", tuf::kMaxSnapshotBytes);
    if (local.ok() && local->has_value()) trusted_->UpdateSnapshot(**local, true).IgnoreError();
    return trusted_->UpdateSnapshot(result_.snapshot, false);
  }

  Status TargetsEntry(const std::string& what, uint64_t size) {
    if (stage_ == Stage::kTimestamp) return Corrupt(what + ": out of order (timestamp without snapshot)");
    if (stage_ != Stage::kRoots && stage_ != Stage::kSnapshot) return Corrupt(what + ": out of order");
    if (stage_ == Stage::kRoots) FW_RETURN_IF_ERROR(trusted_->FinishRootUpdate());
    const bool with_snapshot = stage_ == Stage::kSnapshot;
    stage_ = Stage::kTargets;
    FW_ASSIGN_OR_RETURN(result_.targets, ReadSmall(what, size, tuf::kMaxTargetsBytes));
    if (with_snapshot) return trusted_->UpdateTargets(result_.targets);
    // Without snapshot: no rollback below the device's stored targets version.
    uint64_t min_version = 1;
    auto local = ReadLocal(options_.metadata_dir, "targets.json", tuf::kMaxTargetsBytes);
    if (local.ok() && local->has_value()) {
      auto m = tuf::ParseMetadata<tuf::Targets>(**local, tuf::kMaxTargetsBytes);
      const auto& r = trusted_->root().signed_;
      if (m.ok() &&
          tuf::VerifyThreshold("targets", m->signed_bytes, m->signatures, r.keys, r.roles.at("targets")).ok()) {
        min_version = m->signed_.common.version;
      }
    }
    return trusted_->UpdateTargetsWithoutSnapshot(result_.targets, min_version);
  }

  Result<std::string> ReadSmall(const std::string& what, uint64_t size, uint64_t cap) {
    if (size > cap) {  // hostile input (exit 3), not a full disk
      return Corrupt(what + ": " + std::to_string(size) + " bytes exceeds the cap of " + std::to_string(cap));
    }
    std::string out(size, '\0');
    size_t got = 0;
    while (got < size) {
      const la_ssize_t n = archive_read_data(stream_->get(), out.data() + got, size - got);
      if (n < 0) return stream_->Error(what);
      if (n == 0) return Corrupt(what + ": truncated");
      got += static_cast<size_t>(n);
    }
    return out;
  }

  Status ChunkIndex(const std::string& target_path, const std::string& what, uint64_t size) {
    if (Status s = ValidateTargetName(target_path); !s.ok()) return Corrupt(what + ": " + s.message());
    const tuf::Metadata<tuf::Targets>* targets = trusted_->targets();
    if (!targets) return Internal("targets not loaded");
    auto it = targets->signed_.targets.find(target_path);
    if (it == targets->signed_.targets.end()) {
      return VerificationFailed(what + ": target \"" + target_path + "\" is not listed by the signed targets");
    }
    FW_ASSIGN_OR_RETURN(auto facts, tuf::CheckFirmwarePolicy(target_path, it->second, options_.policy));
    // Signed values out of range are hostile input (exit 3), whoever signed them.
    if (Status s = ValidateChunkSize(facts.chunk_size); !s.ok()) return Corrupt(what + ": signed " + s.message());
    const uint64_t length = it->second.length;
    if (length > kMaxImageLength) {
      return Corrupt(what + ": the signed length " + std::to_string(length) + " is beyond the largest image (" +
                     std::to_string(kMaxImageLength) + " bytes)");
    }
    if (auto v = SemVer::Parse(facts.version); !v.ok()) {
      return Corrupt(what + ": the signed firmware version is not usable: " + v.status().message());
    }
    const uint64_t want = ChunkCount(length, facts.chunk_size) * kChunkHashSize;  // <= 2^31: no overflow
    if (size != want) {
      return Corrupt(what + ": " + std::to_string(size) + " bytes, the signed target needs " + std::to_string(want));
    }
    FW_ASSIGN_OR_RETURN(std::string index, ReadSmall(what, size, want));
    if (HexEncode(Sha256::Of(AsBytes(index))) != facts.chunk_index_sha256) {
      return VerificationFailed(what + ": does not match the signed chunk_index_sha256");
    }
    chunk_index_ = std::move(index);
    result_.target_path = target_path;
    result_.target = it->second;
    result_.facts = std::move(facts);
    if (*on_metadata_) FW_RETURN_IF_ERROR((*on_metadata_)(result_));
    return Status::Ok();
  }

  // The image entry's header, its first chunk and its layout: the data lies where the
  // tar header says (no sparse entry), the image is not truncated and after its last
  // 512-byte block only the end-of-archive marker and zero padding follow (checked now
  // when the source can tell; nothing after the image is discovered only while writing).
  Status ImageHead(archive_entry* entry, const std::string& what, uint64_t size) {
    const uint64_t length = result_.target.length;  // <= kMaxImageLength: no overflow below
    if (size != length) {
      return VerificationFailed(what + ": " + std::to_string(size) + " bytes, the signed length is " +
                                std::to_string(length));
    }
    image_what_ = what;
    FW_ASSIGN_OR_RETURN(uint64_t data_offset, stream_->Consumed());  // the entry's data starts here
    data_end_ = data_offset + (length + 511) / 512 * 512;
    stream_->Limit(data_end_);
    FW_RETURN_IF_ERROR(FirstChunk(what, length));
    if (archive_entry_sparse_count(entry) > 0) {
      return Corrupt("the image entry's data is not stored where its tar header says (sparse entries are refused)");
    }
    const std::optional<uint64_t> input_size = stream_->source().Size();
    if (!input_size) return Status::Ok();
    if (data_end_ > *input_size) return Corrupt("the image entry is truncated");
    FW_ASSIGN_OR_RETURN(tail_checked_, stream_->PeekZeroFrom(data_end_, *input_size));
    return Status::Ok();
  }

  // The image's first chunk, verified against the chunk index.
  Status FirstChunk(const std::string& what, uint64_t length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(result_.facts.chunk_size, length));
    first_chunk_.resize(want);
    size_t got = 0;
    while (got < want) {
      const la_ssize_t n =
          archive_read_data(stream_->get(), first_chunk_.data() + got, std::min(want - got, kReadBlock));
      if (n < 0) return stream_->Error(what);
      if (n == 0) return Corrupt(what + ": truncated at byte " + std::to_string(got));
      got += static_cast<size_t>(n);
    }
    if (want > 0 && !ConstantTimeEqual(Sha256::Of(first_chunk_), ChunkHash(0))) {
      return VerificationFailed(what + ": chunk 0 does not match the signed chunk index");
    }
    return Status::Ok();
  }

  ByteSpan ChunkHash(uint64_t i) const {
    return AsBytes(std::string_view(chunk_index_).substr(i * kChunkHashSize, kChunkHashSize));
  }

  // Runs on the read-ahead thread: reads the chunks after the first into slots, checks
  // each against the signed chunk index and queues only verified bytes (a slot with a
  // bad chunk is queued up to the chunk before it).
  Status ReadChunks(ChunkPipe& pipe) {
    const uint64_t length = result_.target.length;
    const uint32_t chunk_size = result_.facts.chunk_size;
    uint64_t offset = first_chunk_.size();
    uint64_t i = offset > 0 ? 1 : 0;
    while (offset < length) {
      ChunkPipe::Slot* slot = pipe.Acquire();
      if (!slot) return Status::Ok();  // the consumer stopped
      slot->first_chunk = i;
      slot->offset = offset;
      slot->size = 0;
      Status bad;
      while (offset < length && slot->size < slot->data.size()) {
        uint8_t* chunk = slot->data.data() + slot->size;
        const size_t want = static_cast<size_t>(std::min<uint64_t>(chunk_size, length - offset));
        bad = ReadExactly(chunk, want, offset);
        if (!bad.ok()) break;
        if (!ConstantTimeEqual(Sha256::Of({chunk, want}), ChunkHash(i))) {
          bad = VerificationFailed(image_what_ + ": chunk " + std::to_string(i) + " (offset " + std::to_string(offset) +
                                   ") does not match the signed chunk index");
          break;
        }
        slot->size += want;
        offset += want;
        ++i;
      }
      if (slot->size > 0) pipe.Push(slot);
      if (!bad.ok()) return bad;
    }
    return Status::Ok();
  }

  // `want` bytes of the image at `offset` (for messages) into `out`.
  Status ReadExactly(uint8_t* out, size_t want, uint64_t offset) {
    size_t got = 0;
    while (got < want) {
      const la_ssize_t n = archive_read_data(stream_->get(), out + got, std::min(want - got, kReadBlock));
      if (n < 0) return stream_->Error(image_what_);
      if (n == 0) return Corrupt(image_what_ + ": truncated at byte " + std::to_string(offset + got));
      got += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  std::unique_ptr<TarStream> stream_;
  const ReaderOptions options_;
  const MetadataSink* on_metadata_ = nullptr;
  std::optional<tuf::TrustedSet> trusted_;
  Stage stage_ = Stage::kRoots;
  std::set<std::string> seen_;
  uint64_t last_root_ = 0;
  uint32_t root_entries_ = 0;
  std::string chunk_index_;
  VerifiedBundle result_;
  std::string image_what_;
  Bytes first_chunk_;
  uint64_t data_end_ = 0;      // the end of the image entry's last 512-byte block
  bool tail_checked_ = false;  // ReadHead checked what follows it
};

// ---------------------------------------------------------------- BundleReader

BundleReader::BundleReader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BundleReader::~BundleReader() = default;

Result<std::unique_ptr<BundleReader>> BundleReader::Open(BundleSource& source, const ReaderOptions& options) {
  auto stream = TarStream::Open(source);
  const std::string context = source.Name().empty() ? "bundle" : "bundle " + source.Name();
  if (!stream.ok()) return stream.status().WithContext(context);
  return std::unique_ptr<BundleReader>(new BundleReader(std::make_unique<Impl>(std::move(*stream), options)));
}

Result<BundleHead> BundleReader::ReadHead(const MetadataSink& on_metadata) {
  if (!impl_) return Internal("the bundle reader is spent");
  auto head = impl_->ReadHead(on_metadata);
  if (!head.ok()) {
    Status s = head.status().WithContext(impl_->Context());
    impl_.reset();
    return s;
  }
  return head;
}

Result<VerifiedBundle> BundleReader::ReadImage(const ChunkSink& on_chunk) {
  if (!impl_) return Internal("the bundle reader is spent");
  std::unique_ptr<Impl> impl = std::move(impl_);
  return impl->ReadImage(on_chunk).WithContext(impl->Context());
}

Result<VerifiedBundle> ReadBundle(BundleSource& source, const ReaderOptions& options, const ChunkSink& on_chunk,
                                  const MetadataSink& on_metadata) {
  FW_ASSIGN_OR_RETURN(auto reader, BundleReader::Open(source, options));
  FW_RETURN_IF_ERROR(reader->ReadHead(on_metadata).status());
  return reader->ReadImage(on_chunk);
}

Result<VerifiedBundle> ReadBundleFile(const std::string& path, const ReaderOptions& options, const ChunkSink& on_chunk,
                                      const MetadataSink& on_metadata) {
  FW_ASSIGN_OR_RETURN(auto source, OpenFileSource(path));
  return ReadBundle(*source, options, on_chunk, on_metadata);
}

Result<VerifiedBundle> ReadBundleMemory(ByteSpan bundle, const ReaderOptions& options, const ChunkSink& on_chunk,
                                        const MetadataSink& on_metadata) {
  auto source = MemorySource(bundle);
  return ReadBundle(*source, options, on_chunk, on_metadata);
}

namespace {
Result<BundleHead> ReadHeadOf(BundleSource& source, const ReaderOptions& options) {
  FW_ASSIGN_OR_RETURN(auto reader, BundleReader::Open(source, options));
  return reader->ReadHead();
}
}  // namespace

Result<BundleHead> ReadBundleHeadFile(const std::string& path, const ReaderOptions& options) {
  FW_ASSIGN_OR_RETURN(auto source, OpenFileSource(path));
  return ReadHeadOf(*source, options);
}

Result<BundleHead> ReadBundleHeadMemory(ByteSpan bundle, const ReaderOptions& options) {
  auto source = MemorySource(bundle);
  return ReadHeadOf(*source, options);
}

}  // namespace fw::bundle
