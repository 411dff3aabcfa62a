// OpenTargetStream: a bundle (bundle-format.md) assembled on the fly from a refreshed TUF
// metadata directory, the repository's chunk index file and the target file (fw/net_sources.h).
//
// Layout of the synthesized tar: one in-memory head (every tar header, the metadata, the chunk
// index and the image entry's header), then the image bytes (streamed, chunk by chunk, each
// hashed against the chunk index before any of it is handed out), then zeros (the image's
// block padding and the end-of-archive marker). Headers are ustar with a pax `path` record
// when a name does not fit ustar's name/prefix fields; mtime 0, mode 0644, owner 0: the same
// inputs always give the same bytes.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <vector>

#include "fw/bundle_format.h"
#include "fw/encoding.h"
#include "fw/file_io.h"
#include "fw/net_sources.h"
#include "fw/tuf_metadata.h"

namespace fw::bundle {
namespace {

constexpr uint64_t kTarBlock = 512;

bool FileExists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

uint64_t Padded(uint64_t n) { return (n + kTarBlock - 1) / kTarBlock * kTarBlock; }

// `width` bytes: octal digits, zero-filled, then NUL.
void Octal(char* field, size_t width, uint64_t value) {
  for (size_t i = width - 1; i-- > 0;) {
    field[i] = static_cast<char>('0' + (value & 7));
    value >>= 3;
  }
  field[width - 1] = '\0';
}

std::string UstarHeader(const std::string& name, const std::string& prefix, uint64_t size, char type) {
  std::string h(kTarBlock, '\0');
  char* b = h.data();
  std::memcpy(b, name.data(), std::min<size_t>(name.size(), 100));
  Octal(b + 100, 8, 0644);
  Octal(b + 108, 8, 0);
  Octal(b + 116, 8, 0);
  Octal(b + 124, 12, size);
  Octal(b + 136, 12, 0);
  b[156] = type;
  std::memcpy(b + 257, "ustar", 6);  // magic "ustar\0", version "00"
  std::memcpy(b + 263, "00", 2);
  std::memcpy(b + 345, prefix.data(), std::min<size_t>(prefix.size(), 155));
  std::memset(b + 148, ' ', 8);
  unsigned sum = 0;
  for (char c : h) sum += static_cast<unsigned char>(c);
  Octal(b + 148, 7, sum);  // six digits, NUL, then the space already there
  return h;
}

// A pax record "<len> path=<name>\n", where <len> counts the whole record.
std::string PaxPathRecord(const std::string& name) {
  const std::string body = " path=" + name + "\n";
  size_t len = body.size() + 1;
  while (std::to_string(len).size() + body.size() != len) ++len;
  return std::to_string(len) + body;
}

// The header block(s) of a regular file entry.
std::string EntryHeader(const std::string& name, uint64_t size) {
  if (name.size() <= 100) return UstarHeader(name, "", size, '0');
  for (size_t slash = name.find('/'); slash != std::string::npos; slash = name.find('/', slash + 1)) {
    if (slash <= 155 && name.size() - slash - 1 <= 100 && slash + 1 < name.size()) {
      return UstarHeader(name.substr(slash + 1), name.substr(0, slash), size, '0');
    }
  }
  const std::string pax = PaxPathRecord(name);
  std::string out = UstarHeader("PaxHeaders/" + name.substr(name.size() - 80), "", pax.size(), 'x');
  out += pax;
  out.resize(Padded(out.size()), '\0');
  return out + UstarHeader(name.substr(name.size() - 100), "", size, '0');
}

void AppendEntry(std::string& out, const std::string& name, std::string_view data) {
  out += EntryHeader(name, data.size());
  out.append(data);
  out.resize(Padded(out.size()), '\0');
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// dir + prefix + "." + base of a target path ("a/b.bin" → "a/<prefix>.b.bin").
std::string HashPrefixed(const std::string& path, const std::string& prefix) {
  const size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "" : path.substr(0, slash + 1);
  const std::string base = slash == std::string::npos ? path : path.substr(slash + 1);
  return dir + prefix + "." + base;
}

// Reads exactly buf.size() bytes unless the stream ends first; returns how many.
Result<size_t> ReadFully(net::ByteStream& s, std::span<uint8_t> buf) {
  size_t got = 0;
  while (got < buf.size()) {
    FW_ASSIGN_OR_RETURN(size_t n, s.Read(buf.subspan(got)));
    if (n == 0) break;
    got += n;
  }
  return got;
}

class TargetStreamSource : public BundleSource {
 public:
  TargetStreamSource(const TargetStreamSpec& spec, TargetStreamStats* stats, std::string head, std::string image_url,
                     Bytes index, uint64_t length, uint32_t chunk_size)
      : spec_(spec),
        stats_(stats),
        head_(std::move(head)),
        image_url_(std::move(image_url)),
        index_(std::move(index)),
        length_(length),
        chunk_size_(chunk_size),
        size_(head_.size() + Padded(length) + 2 * kTarBlock) {}

  const std::string& Name() const override { return image_url_; }
  std::optional<uint64_t> Size() const override { return size_; }

  Result<size_t> Read(std::span<uint8_t> buf) override {
    if (pos_ >= size_ || buf.empty()) return size_t{0};
    size_t n = 0;
    if (pos_ < head_.size()) {
      n = static_cast<size_t>(std::min<uint64_t>(buf.size(), head_.size() - pos_));
      std::memcpy(buf.data(), head_.data() + pos_, n);
    } else if (pos_ < head_.size() + length_) {
      FW_ASSIGN_OR_RETURN(n, ReadImage(pos_ - head_.size(), buf));
    } else {
      n = static_cast<size_t>(std::min<uint64_t>(buf.size(), size_ - pos_));
      std::memset(buf.data(), 0, n);
    }
    pos_ += n;
    return n;
  }

  // Only the zeros after the image can be peeked (what the reader checks before a write).
  Result<bool> PeekAt(uint64_t offset, std::span<uint8_t> buf) override {
    if (offset < head_.size() + length_ || offset > size_ || buf.size() > size_ - offset) return false;
    std::fill(buf.begin(), buf.end(), uint8_t{0});
    return true;
  }

 private:
  Result<size_t> ReadImage(uint64_t at, std::span<uint8_t> buf) {
    const uint64_t k = at / chunk_size_;
    if (!chunk_ok_ || chunk_no_ != k) FW_RETURN_IF_ERROR(FetchChunk(k));
    const uint64_t in_chunk = at - k * chunk_size_;
    const size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), chunk_.size() - in_chunk));
    std::memcpy(buf.data(), chunk_.data() + in_chunk, n);
    return n;
  }

  // Chunk k into chunk_, verified against the index; a mismatch is fetched again (Seek).
  Status FetchChunk(uint64_t k) {
    chunk_ok_ = false;
    const uint64_t start = k * chunk_size_;
    const size_t len = static_cast<size_t>(std::min<uint64_t>(chunk_size_, length_ - start));
    const std::string what = "image chunk " + std::to_string(k) + " (bytes " + std::to_string(start) + "-" +
                             std::to_string(start + len - 1) + ") from " + image_url_;
    if (!image_) {
      auto s = spec_.open(image_url_);
      if (!s.ok()) return s.status().WithContext("target \"" + spec_.target_path + "\": opening " + image_url_);
      image_ = std::move(*s);
    }
    chunk_.resize(len);
    for (uint32_t attempt = 0;; ++attempt) {
      if (image_->Offset() != start) FW_RETURN_IF_ERROR_CTX(image_->Seek(start), what);
      auto got = ReadFully(*image_, chunk_);
      if (!got.ok()) return got.status().WithContext(what);
      if (*got < len) {
        return Corrupt(what + ": the target file ends at byte " + std::to_string(start + *got) +
                       ", its signed length is " + std::to_string(length_));
      }
      const Digest d = Sha256::Of(chunk_);
      if (std::equal(d.begin(), d.end(), index_.begin() + static_cast<ptrdiff_t>(k * kChunkHashSize))) break;
      if (attempt >= spec_.max_chunk_refetches) {
        return VerificationFailed(what + ": does not match the signed chunk index after " + std::to_string(attempt) +
                                  " re-fetch(es); none of its bytes were handed on");
      }
      if (stats_) ++stats_->chunks_refetched;
      FW_RETURN_IF_ERROR_CTX(image_->Seek(start), what);
    }
    chunk_no_ = k;
    chunk_ok_ = true;
    return Status::Ok();
  }

  const TargetStreamSpec spec_;
  TargetStreamStats* stats_;
  const std::string head_;
  const std::string image_url_;
  const Bytes index_;
  const uint64_t length_;
  const uint32_t chunk_size_;
  const uint64_t size_;
  uint64_t pos_ = 0;
  std::unique_ptr<net::ByteStream> image_;
  Bytes chunk_;
  uint64_t chunk_no_ = 0;
  bool chunk_ok_ = false;
};

Result<std::string> ReadMetadataFile(const std::string& path, uint64_t cap) {
  if (!FileExists(path)) return NotFound(path + " does not exist (refresh the TUF metadata first)");
  return ReadFileToString(path, cap);
}

// root/<N>.root.json for N in (device_root_version, trusted version], then timestamp, snapshot, targets.
Result<std::string> MetadataEntries(const TargetStreamSpec& spec, const std::string& targets_bytes,
                                    bool* consistent_snapshot) {
  const std::string& dir = spec.metadata_dir;
  FW_ASSIGN_OR_RETURN(std::string root_bytes, ReadMetadataFile(dir + "/root.json", tuf::kMaxRootBytes));
  auto root = tuf::ParseMetadata<tuf::Root>(root_bytes, tuf::kMaxRootBytes);
  if (!root.ok()) return root.status().WithContext(dir + "/root.json");
  *consistent_snapshot = root->signed_.consistent_snapshot;
  std::string out;
  for (uint64_t v = uint64_t{spec.device_root_version} + 1; v <= root->signed_.common.version; ++v) {
    const std::string path = dir + "/root.history/" + std::to_string(v) + ".root.json";
    if (!FileExists(path)) {
      return NotFound(path + " does not exist: root version " + std::to_string(v) +
                      " was not kept by this metadata directory's updater, so a terminal at root version " +
                      std::to_string(spec.device_root_version) + " cannot follow the chain");
    }
    FW_ASSIGN_OR_RETURN(std::string bytes, ReadFileToString(path, tuf::kMaxRootBytes));
    AppendEntry(out, std::string(kRootDir) + std::to_string(v) + ".root.json", bytes);
  }
  const std::string ts_path = dir + "/timestamp.json", snap_path = dir + "/snapshot.json";
  if (FileExists(ts_path) && FileExists(snap_path)) {
    FW_ASSIGN_OR_RETURN(std::string ts, ReadFileToString(ts_path, tuf::kMaxTimestampBytes));
    FW_ASSIGN_OR_RETURN(std::string snap, ReadFileToString(snap_path, tuf::kMaxSnapshotBytes));
    AppendEntry(out, std::string(kTimestampEntry), ts);
    AppendEntry(out, std::string(kSnapshotEntry), snap);
  }
  AppendEntry(out, std::string(kTargetsEntry), targets_bytes);
  return out;
}

// The content-addressed chunk index file, bounded by its expected size and checked against its hash.
Result<Bytes> FetchChunkIndex(const TargetStreamSpec& spec, const std::string& url, uint64_t expected,
                              const std::string& signed_hash) {
  const std::string what = "chunk index of target \"" + spec.target_path + "\" (" + url + ")";
  auto opened = spec.open(url);
  if (!opened.ok()) {
    if (opened.status().code() == ErrorCode::kNotFound) {
      return NotFound(what + ": not in the repository (" + opened.status().message() +
                      "); re-run `fwsign repo add-target` for this image and publish");
    }
    return opened.status().WithContext(what);
  }
  net::ByteStream& s = **opened;
  if (auto size = s.Size(); size && *size != expected) {
    return Corrupt(what + ": " + std::to_string(*size) + " bytes, expected " + std::to_string(expected));
  }
  Bytes index(static_cast<size_t>(expected) + 1);  // one more: a longer file is refused
  auto got = ReadFully(s, index);
  if (!got.ok()) {
    if (got.status().code() == ErrorCode::kNotFound) {
      return NotFound(what + ": not in the repository; re-run `fwsign repo add-target` for this image and publish");
    }
    return got.status().WithContext(what);
  }
  if (*got != expected) {
    return Corrupt(what + ": " + (*got > expected ? "more than " : "") + std::to_string(*got) + " bytes, expected " +
                   std::to_string(expected));
  }
  index.resize(static_cast<size_t>(expected));
  if (HexEncode(Sha256::Of(index)) != Lower(signed_hash)) {
    return VerificationFailed(what + ": does not hash to the signed chunk_index_sha256 " + signed_hash);
  }
  return index;
}

}  // namespace

Result<std::unique_ptr<BundleSource>> OpenTargetStream(const TargetStreamSpec& spec, TargetStreamStats* stats) {
  if (!spec.open) return InvalidArgument("OpenTargetStream: no stream opener");
  if (spec.metadata_dir.empty()) return InvalidArgument("OpenTargetStream: no metadata directory");
  if (spec.target_base_url.empty()) return InvalidArgument("OpenTargetStream: no target base URL");
  if (Status s = ValidateTargetName(spec.target_path); !s.ok()) return InvalidArgument("target: " + s.message());
  const std::string base = spec.target_base_url.back() == '/' ? spec.target_base_url : spec.target_base_url + "/";
  const std::string what = "target \"" + spec.target_path + "\"";

  const std::string targets_path = spec.metadata_dir + "/targets.json";
  FW_ASSIGN_OR_RETURN(std::string targets_bytes, ReadMetadataFile(targets_path, tuf::kMaxTargetsBytes));
  auto targets = tuf::ParseMetadata<tuf::Targets>(targets_bytes, tuf::kMaxTargetsBytes);
  if (!targets.ok()) return targets.status().WithContext(targets_path);
  auto it = targets->signed_.targets.find(spec.target_path);
  if (it == targets->signed_.targets.end()) {
    return NotFound(what + " is not listed by the top-level targets (" + targets_path + ")");
  }
  const tuf::TargetFile& tf = it->second;
  auto firmware = tf.Firmware();
  if (!firmware.ok()) return firmware.status().WithContext(what);
  const std::optional<tuf::FirmwareFacts>& facts = *firmware;
  if (!facts) return VerificationFailed(what + ": no custom.firmware in its signed metadata");
  if (Status s = ValidateChunkSize(facts->chunk_size); !s.ok()) return Corrupt(what + ": " + s.message());
  if (tf.length == 0 || tf.length > kMaxImageLength) {
    return Corrupt(what + ": signed length " + std::to_string(tf.length) + " is out of range");
  }
  if (tf.hashes.empty()) return Corrupt(what + ": no hashes");

  bool consistent = false;
  FW_ASSIGN_OR_RETURN(std::string head, MetadataEntries(spec, targets_bytes, &consistent));
  const uint64_t index_size = ChunkCount(tf.length, facts->chunk_size) * kChunkHashSize;
  const std::string index_url =
      base + tuf::PercentEncode(HashPrefixed(spec.target_path, facts->chunk_index_sha256) + ".chunk-index", true);
  FW_ASSIGN_OR_RETURN(Bytes index, FetchChunkIndex(spec, index_url, index_size, facts->chunk_index_sha256));
  // The same name tuf::Updater::DownloadTarget fetches (and `fwsign repo add-target` writes).
  const std::string remote = consistent ? HashPrefixed(spec.target_path, tf.hashes.begin()->second) : spec.target_path;
  AppendEntry(head, std::string(kChunkIndexDir) + spec.target_path,
              std::string_view(reinterpret_cast<const char*>(index.data()), index.size()));
  head += EntryHeader(std::string(kImageDir) + spec.target_path, tf.length);
  return std::unique_ptr<BundleSource>(new TargetStreamSource(spec, stats, std::move(head),
                                                              base + tuf::PercentEncode(remote, true), std::move(index),
                                                              tf.length, facts->chunk_size));
}

}  // namespace fw::bundle
