#include "fw/bundle_source.h"

#include <algorithm>

#include "fw/file_io.h"

namespace fw::bundle {
namespace {

class FileSource final : public BundleSource {
 public:
  FileSource(File file, std::string name, uint64_t size)
      : file_(std::move(file)), name_(std::move(name)), size_(size) {}
  Result<size_t> Read(std::span<uint8_t> buf) override { return file_.Read(buf); }
  const std::string& Name() const override { return name_; }
  std::optional<uint64_t> Size() const override { return size_; }
  Result<bool> PeekAt(uint64_t offset, std::span<uint8_t> buf) override {
    FW_RETURN_IF_ERROR(file_.ReadAt(offset, buf));
    return true;
  }

 private:
  File file_;
  std::string name_;
  uint64_t size_;
};

class MemSource final : public BundleSource {
 public:
  MemSource(ByteSpan bytes, std::string name) : bytes_(bytes), name_(std::move(name)) {}
  Result<size_t> Read(std::span<uint8_t> buf) override {
    const size_t n = std::min(buf.size(), bytes_.size() - pos_);
    std::copy_n(bytes_.data() + pos_, n, buf.data());
    pos_ += n;
    return n;
  }
  const std::string& Name() const override { return name_; }
  std::optional<uint64_t> Size() const override { return bytes_.size(); }
  Result<bool> PeekAt(uint64_t offset, std::span<uint8_t> buf) override {
    if (offset > bytes_.size() || buf.size() > bytes_.size() - offset) return Internal("peek beyond the bundle's end");
    std::copy_n(bytes_.data() + offset, buf.size(), buf.data());
    return true;
  }

 private:
  ByteSpan bytes_;
  size_t pos_ = 0;
  std::string name_;
};

}  // namespace

Result<std::unique_ptr<BundleSource>> OpenFileSource(const std::string& path) {
  auto file = File::OpenRead(path);
  if (!file.ok()) return file.status().WithContext("bundle " + path);
  auto size = file->Size();
  if (!size.ok()) return size.status().WithContext("bundle " + path);
  return std::unique_ptr<BundleSource>(new FileSource(std::move(*file), path, *size));
}

std::unique_ptr<BundleSource> MemorySource(ByteSpan bytes, std::string name) {
  return std::make_unique<MemSource>(bytes, std::move(name));
}

SourceOpener FileSourceOpener(std::string path) {
  return [path = std::move(path)] { return OpenFileSource(path); };
}

}  // namespace fw::bundle
