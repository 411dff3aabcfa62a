#include "fw/bundle_format.h"

#include <vector>

#include "fw/file_io.h"

namespace fw::bundle {

Status ValidateChunkSize(uint64_t chunk_size) {
  if (chunk_size < kMinChunkSize || chunk_size > kMaxChunkSize) {
    return InvalidArgument("chunk size " + std::to_string(chunk_size) + " outside " + std::to_string(kMinChunkSize) +
                           ".." + std::to_string(kMaxChunkSize));
  }
  return Status::Ok();
}

namespace {

std::string Printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text.substr(0, 80)) {
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (text.size() > 80) out += "...";
  return out;
}

bool NameByte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-' || c == '+' || c == '~';
}

}  // namespace

Status ValidateTargetName(std::string_view name) {
  const std::string quoted = "target name \"" + Printable(name) + "\"";
  if (name.empty()) return InvalidArgument("target name is empty");
  if (name.size() > kMaxTargetNameBytes) {
    return InvalidArgument(quoted + " is " + std::to_string(name.size()) + " bytes long; at most " +
                           std::to_string(kMaxTargetNameBytes) + " are allowed");
  }
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c == '/' || NameByte(c)) continue;
    std::string why = c >= 0x80               ? "a non-ASCII byte (UTF-8 names are not supported)"
                      : c < 0x20 || c == 0x7f ? "a control character"
                                              : std::string("the character '") + static_cast<char>(c) + "'";
    return InvalidArgument(quoted + " has " + why + " at byte " + std::to_string(i) +
                           "; names may use ASCII letters, digits, '.', '_', '-', '+', '~' and '/' between components");
  }
  size_t start = 0;
  while (start <= name.size()) {
    size_t slash = name.find('/', start);
    if (slash == std::string_view::npos) slash = name.size();
    const std::string_view part = name.substr(start, slash - start);
    if (part.empty()) {
      return InvalidArgument(quoted + " has an empty path component (a leading, trailing or doubled '/')");
    }
    if (part == "." || part == "..") {
      return InvalidArgument(quoted + " has a \"" + std::string(part) + "\" path component");
    }
    start = slash + 1;
  }
  return Status::Ok();
}

Result<Bytes> ComputeChunkIndexFile(const std::string& path, uint32_t chunk_size) {
  FW_RETURN_IF_ERROR(ValidateChunkSize(chunk_size));
  FW_ASSIGN_OR_RETURN(File f, File::OpenRead(path));
  Bytes index;
  std::vector<uint8_t> buf(chunk_size);
  while (true) {
    size_t filled = 0;
    while (filled < buf.size()) {
      FW_ASSIGN_OR_RETURN(size_t n, f.Read({buf.data() + filled, buf.size() - filled}));
      if (n == 0) break;
      filled += n;
    }
    if (filled == 0) break;
    Digest d = Sha256::Of({buf.data(), filled});
    index.insert(index.end(), d.begin(), d.end());
    if (filled < buf.size()) break;
  }
  return index;
}

}  // namespace fw::bundle
