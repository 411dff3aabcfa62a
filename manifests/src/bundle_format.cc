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
