#include "fw/bundle_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <unistd.h>
#include <cerrno>

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <set>
#include <system_error>
#include <thread>

#include "fw/bundle_format.h"
#include "fw/encoding.h"
#include "fw/file_io.h"
#include "fw/image.h"
#include "fw/tuf_trusted_set.h"

namespace fw::bundle {
namespace {

struct ArchiveReadDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchiveReadPtr = std::unique_ptr<archive, ArchiveReadDeleter>;

constexpr size_t kReadBlock = 64 * 1024;

enum class Stage { kRoots, kTimestamp, kSnapshot, kTargets, kChunkIndex, kImage, kDone };

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

// A bounded queue of verified chunks between the read-ahead thread (libarchive +
// SHA-256 of each chunk) and the caller's thread (the sink: e.g. writing a bank),
// so hashing overlaps the sink's I/O. Chunks travel in slots of about kSlotBytes
// (whole chunks, at least one), and at most kReadAheadBytes (at least two slots)
// are in flight; a slot changes threads once, not each chunk.
class ChunkPipe {
 public:
  struct Slot {
    std::vector<uint8_t> data;
    uint64_t first_chunk = 0;  // index of the slot's first chunk
    uint64_t offset = 0;       // its byte offset in the image
    size_t size = 0;           // verified bytes in `data`
  };
  static constexpr size_t kSlotBytes = 1 << 20;
  static constexpr size_t kReadAheadBytes = 4 << 20;

  explicit ChunkPipe(uint32_t chunk_size) {
    const size_t slot = std::max<size_t>(1, kSlotBytes / chunk_size) * chunk_size;
    slots_.resize(std::max<size_t>(2, kReadAheadBytes / slot));
    for (auto& s : slots_) {
      s.data.resize(slot);
      free_.push_back(&s);
    }
  }

  // Producer: a free slot, or nullptr once the consumer cancelled.
  Slot* Acquire() {
    std::unique_lock<std::mutex> lock(mu_);
    free_cv_.wait(lock, [&] { return !free_.empty() || cancelled_; });
    if (cancelled_) return nullptr;
    Slot* s = free_.back();
    free_.pop_back();
    return s;
  }
  void Push(Slot* s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ready_.push_back(s);
    }
    ready_cv_.notify_one();
  }
  // Producer: no more chunks; `s` is the reason if it stopped early.
  void Finish(Status s) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
      status_ = std::move(s);
    }
    ready_cv_.notify_one();
  }
  // Consumer: stop the producer (it finishes its current slot and exits).
  void Cancel() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
    }
    free_cv_.notify_one();
  }

  // Consumer: hands the verified bytes to `sink` in order until the producer is done.
  Status Drain(const ChunkSink& sink, const std::string& what) {
    while (true) {
      Slot* s = nullptr;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ready_cv_.wait(lock, [&] { return !ready_.empty() || done_; });
        if (ready_.empty()) return status_;
        s = ready_.front();
        ready_.pop_front();
      }
      FW_RETURN_IF_ERROR_CTX(
          sink(s->offset, {s->data.data(), s->size}),
          what + ": bytes from " + std::to_string(s->offset) + " (chunk " + std::to_string(s->first_chunk) + ")");
      {
        std::lock_guard<std::mutex> lock(mu_);
        free_.push_back(s);
      }
      free_cv_.notify_one();
    }
  }

 private:
  std::vector<Slot> slots_;
  std::mutex mu_;
  std::condition_variable free_cv_, ready_cv_;
  std::vector<Slot*> free_;  // guarded by mu_
  std::deque<Slot*> ready_;  // guarded by mu_, in image order
  bool done_ = false;        // guarded by mu_
  bool cancelled_ = false;   // guarded by mu_
  Status status_;            // guarded by mu_
};

// Bundles are plain tar: name the usual compressions so the refusal is clear.
std::string NotTarMessage(ByteSpan head) {
  auto starts = [&](std::initializer_list<uint8_t> magic) {
    return head.size() >= magic.size() && std::equal(magic.begin(), magic.end(), head.begin());
  };
  if (starts({0x1f, 0x8b})) return "a gzip-compressed file; bundles are uncompressed tar archives";
  if (starts({0xfd, '7', 'z', 'X', 'Z', 0x00})) return "an xz-compressed file; bundles are uncompressed tar archives";
  if (starts({'B', 'Z', 'h'})) return "a bzip2-compressed file; bundles are uncompressed tar archives";
  if (starts({0x28, 0xb5, 0x2f, 0xfd})) return "a zstd-compressed file; bundles are uncompressed tar archives";
  return "not a tar archive";
}

// What follows the end-of-archive marker: zero padding only (bundle-format.md).
// `read` fills the buffer from an offset; `end` is the input's size.
Status CheckTrailer(uint64_t from, uint64_t end, const std::function<Status(uint64_t, std::span<uint8_t>)>& read) {
  std::vector<uint8_t> buf(kReadBlock);
  for (uint64_t off = from; off < end;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - off));
    FW_RETURN_IF_ERROR(read(off, {buf.data(), n}));
    for (size_t i = 0; i < n; ++i) {
      if (buf[i] != 0) {
        return Corrupt("non-zero byte at offset " + std::to_string(off + i) +
                       " after the image entry: only the tar end-of-archive marker and zero padding may follow it");
      }
    }
    off += n;
  }
  return Status::Ok();
}

class Reader {
 public:
  Reader(archive* a, const ReaderOptions& o, const ChunkSink& on_chunk, const MetadataSink& on_metadata,
         BundleHead* head = nullptr)
      : a_(a), options_(o), on_chunk_(on_chunk), on_metadata_(on_metadata), head_(head) {}

  Result<VerifiedBundle> Run() {
    FW_ASSIGN_OR_RETURN(auto root, ReadLocal(options_.metadata_dir, "root.json", tuf::kMaxRootBytes));
    if (!root) return NotFound("no trusted root.json in " + options_.metadata_dir);
    const int64_t now = options_.now.value_or(static_cast<int64_t>(::time(nullptr)));
    FW_ASSIGN_OR_RETURN(auto set, tuf::TrustedSet::Create(*root, now));
    trusted_.emplace(std::move(set));
    while (true) {
      archive_entry* entry = nullptr;
      const int rc = archive_read_next_header(a_, &entry);
      if (rc == ARCHIVE_EOF) break;
      if (rc == ARCHIVE_WARN && entry) {
        // A name the locale cannot show (non-ASCII): refused by the name rule, clearly.
        const char* raw = archive_entry_pathname_utf8(entry);
        if (!raw) raw = archive_entry_pathname(entry);
        if (raw) FW_RETURN_IF_ERROR(NameRule(raw));
      }
      if (rc != ARCHIVE_OK) return Corrupt(std::string("not a valid tar archive: ") + ErrorString());
      FW_RETURN_IF_ERROR(Entry(entry));
      if (head_ && stage_ == Stage::kDone) {  // head mode: the image's first chunk is enough
        head_->bundle = std::move(result_);
        return head_->bundle;
      }
    }
    if (stage_ != Stage::kDone) return Corrupt("bundle ends before its image is complete");
    return std::move(result_);
  }

 private:
  static Status NameRule(const std::string& name) {
    if (Status s = ValidateTargetName(name); !s.ok()) return Corrupt("entry name: " + s.message());
    return Status::Ok();
  }

  std::string ErrorString() const {
    const char* e = archive_error_string(a_);
    return e ? e : "unknown error";
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
    if (stage_ == Stage::kDone) return Corrupt(what + ": unexpected entry after the image");

    if (name.starts_with(kRootDir) && name.ends_with(".root.json")) {
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
    if (name == kTimestampEntry) {
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
    if (name == kSnapshotEntry) {
      if (stage_ != Stage::kTimestamp) return Corrupt(what + ": out of order (snapshot needs a timestamp before it)");
      stage_ = Stage::kSnapshot;
      FW_ASSIGN_OR_RETURN(result_.snapshot, ReadSmall(what, size, tuf::kMaxSnapshotBytes));
      auto local = ReadLocal(options_.metadata_dir, "snapshot.json", tuf::kMaxSnapshotBytes);
      if (local.ok() && local->has_value()) trusted_->UpdateSnapshot(**local, true).IgnoreError();
      return trusted_->UpdateSnapshot(result_.snapshot, false);
    }
    if (name == kTargetsEntry) {
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
      stage_ = Stage::kImage;
      FW_RETURN_IF_ERROR(Image(what, size));
      stage_ = Stage::kDone;
      return Status::Ok();
    }
    return Corrupt(what + ": unknown entry");
  }

  Result<std::string> ReadSmall(const std::string& what, uint64_t size, uint64_t cap) {
    if (size > cap) {  // hostile input (exit 3), not a full disk
      return Corrupt(what + ": " + std::to_string(size) + " bytes exceeds the cap of " + std::to_string(cap));
    }
    std::string out(size, '\0');
    size_t got = 0;
    while (got < size) {
      const la_ssize_t n = archive_read_data(a_, out.data() + got, size - got);
      if (n < 0) return Corrupt(what + ": " + ErrorString());
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
    if (on_metadata_) FW_RETURN_IF_ERROR(on_metadata_(result_));
    return Status::Ok();
  }

  Status Image(const std::string& what, uint64_t size) {
    const uint64_t length = result_.target.length;
    if (size != length) {
      return VerificationFailed(what + ": " + std::to_string(size) + " bytes, the signed length is " +
                                std::to_string(length));
    }
    if (head_) {
      const la_int64_t at = archive_filter_bytes(a_, -1);  // the entry's data starts here
      if (at < 0) return Internal("libarchive did not report its position");
      image_data_offset_ = static_cast<uint64_t>(at);
      return FirstChunk(what, length);
    }
    ChunkPipe pipe(result_.facts.chunk_size);
    try {
      std::thread reader([&] { pipe.Finish(ReadChunks(what, length, pipe)); });
      Status s = pipe.Drain(on_chunk_, what);
      if (!s.ok()) pipe.Cancel();
      reader.join();
      return s;
    } catch (const std::system_error& e) {
      return Internal(std::string("cannot start the bundle read-ahead thread: ") + e.what());
    }
  }

  // Head mode: the image's first chunk, verified against the chunk index.
  Status FirstChunk(const std::string& what, uint64_t length) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(result_.facts.chunk_size, length));
    head_->first_chunk.resize(want);
    size_t got = 0;
    while (got < want) {
      const la_ssize_t n = archive_read_data(a_, head_->first_chunk.data() + got, std::min(want - got, kReadBlock));
      if (n < 0) return Corrupt(what + ": " + ErrorString());
      if (n == 0) return Corrupt(what + ": truncated at byte " + std::to_string(got));
      got += static_cast<size_t>(n);
    }
    if (want > 0 && !ConstantTimeEqual(Sha256::Of(head_->first_chunk),
                                       AsBytes(std::string_view(chunk_index_).substr(0, kChunkHashSize)))) {
      return VerificationFailed(what + ": chunk 0 does not match the signed chunk index");
    }
    return Status::Ok();
  }

  // Runs on the read-ahead thread: reads the chunks of the image entry into slots,
  // checks each against the signed chunk index and queues only verified bytes (a
  // slot with a bad chunk is queued up to the chunk before it).
  Status ReadChunks(const std::string& what, uint64_t length, ChunkPipe& pipe) {
    const uint32_t chunk_size = result_.facts.chunk_size;
    uint64_t offset = 0;
    uint64_t i = 0;
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
        size_t got = 0;
        while (got < want && bad.ok()) {
          const la_ssize_t n = archive_read_data(a_, chunk + got, std::min(want - got, kReadBlock));
          if (n < 0) bad = Corrupt(what + ": " + ErrorString());
          if (n == 0) bad = Corrupt(what + ": truncated at byte " + std::to_string(offset + got));
          if (n > 0) got += static_cast<size_t>(n);
        }
        if (!bad.ok()) break;
        const Digest d = Sha256::Of({chunk, want});
        if (!ConstantTimeEqual(d, AsBytes(std::string_view(chunk_index_).substr(i * kChunkHashSize, kChunkHashSize)))) {
          bad = VerificationFailed(what + ": chunk " + std::to_string(i) + " (offset " + std::to_string(offset) +
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

  archive* a_;
  const ReaderOptions& options_;
  const ChunkSink& on_chunk_;
  const MetadataSink& on_metadata_;
  BundleHead* head_;  // head mode: stop after the image's first chunk

 public:
  uint64_t image_data_offset() const { return image_data_offset_; }

 private:
  uint64_t image_data_offset_ = 0;
  std::optional<tuf::TrustedSet> trusted_;
  Stage stage_ = Stage::kRoots;
  std::set<std::string> seen_;
  uint64_t last_root_ = 0;
  uint32_t root_entries_ = 0;
  std::string chunk_index_;
  VerifiedBundle result_;
};

ArchiveReadPtr NewTarReader() {
  ArchiveReadPtr a(archive_read_new());
  if (a) {
    // Plain tar only: no compression filters, no other formats.
    archive_read_support_format_tar(a.get());
  }
  return a;
}

// Head mode, without reading the image: the image entry's data lies contiguously
// where its tar header says (no sparse tricks: its first bytes are the verified first
// chunk), and after its last 512-byte block only the end-of-archive marker and zero
// padding follow, so nothing after the image is discovered only while writing.
Status CheckHeadLayout(const BundleHead& head, uint64_t data_offset, uint64_t input_size,
                       const std::function<Status(uint64_t, std::span<uint8_t>)>& read) {
  const uint64_t length = head.bundle.target.length;  // <= kMaxImageLength: no overflow below
  const uint64_t data_end = data_offset + (length + 511) / 512 * 512;
  if (data_end > input_size) return Corrupt("the image entry is truncated");
  Bytes start(std::min<size_t>(head.first_chunk.size(), 512));
  FW_RETURN_IF_ERROR(read(data_offset, start));
  if (!std::equal(start.begin(), start.end(), head.first_chunk.begin())) {
    return Corrupt("the image entry's data is not stored where its tar header says (sparse entries are refused)");
  }
  return CheckTrailer(data_end, input_size, read);
}

// Opens `path` as a plain tar; missing or unreadable files are I/O errors, anything
// libarchive cannot read as tar (compressed, another format) is hostile input.
struct OpenedBundle {
  File file;
  ArchiveReadPtr archive;
};
Result<OpenedBundle> OpenBundleFile(const std::string& path) {
  FW_ASSIGN_OR_RETURN(File f, File::OpenRead(path));
  ArchiveReadPtr a = NewTarReader();
  if (!a) return Internal("archive_read_new failed");
  if (archive_read_open_fd(a.get(), f.fd(), kReadBlock) != ARCHIVE_OK) {
    uint8_t head[8] = {};
    FW_ASSIGN_OR_RETURN(uint64_t size, f.Size());
    if (size > 0) FW_RETURN_IF_ERROR(f.ReadAt(0, {head, static_cast<size_t>(std::min<uint64_t>(size, sizeof head))}));
    const char* e = archive_error_string(a.get());
    // The file opened and read (above): libarchive refused its bytes, unless the
    // medium failed under it.
    if (archive_errno(a.get()) == EIO) {
      return IoError(std::string("cannot read: ") + (e ? e : "unknown error"));
    }
    return Corrupt(NotTarMessage({head, static_cast<size_t>(std::min<uint64_t>(size, sizeof head))}) + " (" +
                   (e ? e : "unrecognized format") + ")");
  }
  return OpenedBundle{std::move(f), std::move(a)};
}

// After a complete read: only zero padding may follow the end-of-archive marker.
Status CheckFileTrailer(OpenedBundle& b) {
  const la_int64_t consumed = archive_filter_bytes(b.archive.get(), -1);
  if (consumed < 0) return Internal("libarchive did not report its position");
  FW_ASSIGN_OR_RETURN(uint64_t size, b.file.Size());
  return CheckTrailer(static_cast<uint64_t>(consumed), size,
                      [&](uint64_t off, std::span<uint8_t> buf) { return b.file.ReadAt(off, buf); });
}

Result<VerifiedBundle> Read(archive* a, const ReaderOptions& o, const ChunkSink& on_chunk,
                            const MetadataSink& on_metadata) {
  Reader r(a, o, on_chunk, on_metadata);
  return r.Run();
}

}  // namespace

Result<VerifiedBundle> ReadBundleFile(const std::string& path, const ReaderOptions& options, const ChunkSink& on_chunk,
                                      const MetadataSink& on_metadata) {
  auto opened = OpenBundleFile(path);
  if (!opened.ok()) return opened.status().WithContext("bundle " + path);
  auto r = Read(opened->archive.get(), options, on_chunk, on_metadata);
  if (!r.ok()) return r.status().WithContext("bundle " + path);
  if (Status s = CheckFileTrailer(*opened); !s.ok()) return s.WithContext("bundle " + path);
  return r;
}

Result<BundleHead> ReadBundleHeadFile(const std::string& path, const ReaderOptions& options) {
  auto opened = OpenBundleFile(path);
  if (!opened.ok()) return opened.status().WithContext("bundle " + path);
  BundleHead head;
  const ChunkSink no_chunks = [](uint64_t, ByteSpan) { return Internal("head mode reads no chunk"); };
  const MetadataSink no_metadata;
  Reader r(opened->archive.get(), options, no_chunks, no_metadata, &head);
  if (auto v = r.Run(); !v.ok()) return v.status().WithContext("bundle " + path);
  auto read = [&](uint64_t off, std::span<uint8_t> buf) { return opened->file.ReadAt(off, buf); };
  FW_ASSIGN_OR_RETURN(uint64_t size, opened->file.Size());
  if (Status s = CheckHeadLayout(head, r.image_data_offset(), size, read); !s.ok()) {
    return s.WithContext("bundle " + path);
  }
  return head;
}

Result<VerifiedBundle> ReadBundleMemory(ByteSpan bundle, const ReaderOptions& options, const ChunkSink& on_chunk,
                                        const MetadataSink& on_metadata) {
  ArchiveReadPtr a = NewTarReader();
  if (!a) return Internal("archive_read_new failed");
  if (archive_read_open_memory(a.get(), bundle.data(), bundle.size()) != ARCHIVE_OK) {
    return Corrupt("bundle: " + NotTarMessage(bundle));
  }
  auto r = Read(a.get(), options, on_chunk, on_metadata).WithContext("bundle");
  if (!r.ok()) return r;
  const la_int64_t consumed = archive_filter_bytes(a.get(), -1);
  if (consumed < 0) return Internal("bundle: libarchive did not report its position");
  Status s = CheckTrailer(static_cast<uint64_t>(consumed), bundle.size(), [&](uint64_t off, std::span<uint8_t> buf) {
    std::copy_n(bundle.data() + off, buf.size(), buf.data());
    return Status::Ok();
  });
  if (!s.ok()) return s.WithContext("bundle");
  return r;
}

Result<BundleHead> ReadBundleHeadMemory(ByteSpan bundle, const ReaderOptions& options) {
  ArchiveReadPtr a = NewTarReader();
  if (!a) return Internal("archive_read_new failed");
  if (archive_read_open_memory(a.get(), bundle.data(), bundle.size()) != ARCHIVE_OK) {
    return Corrupt("bundle: " + NotTarMessage(bundle));
  }
  BundleHead head;
  const ChunkSink no_chunks = [](uint64_t, ByteSpan) { return Internal("head mode reads no chunk"); };
  const MetadataSink no_metadata;
  Reader r(a.get(), options, no_chunks, no_metadata, &head);
  if (auto v = r.Run(); !v.ok()) return v.status().WithContext("bundle");
  auto read = [&](uint64_t off, std::span<uint8_t> buf) {
    std::copy_n(bundle.data() + off, buf.size(), buf.data());
    return Status::Ok();
  };
  if (Status s = CheckHeadLayout(head, r.image_data_offset(), bundle.size(), read); !s.ok()) {
    return s.WithContext("bundle");
  }
  return head;
}

}  // namespace fw::bundle
