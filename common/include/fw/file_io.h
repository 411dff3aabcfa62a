// File I/O with explicit durability.
//
// File: an owned file descriptor (closed on destruction) with bounded reads.
// OutputFile: writes to a temporary file beside the destination; Commit()
// fsyncs it, renames it into place and fsyncs the directory. If Commit() is
// never reached (error, exception, early return) the temporary is removed, so a
// failed command leaves no output file behind.
//
// Thread safety: none; one owner per object.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "fw/status.h"

namespace fw {

class File {
 public:
  File() = default;
  ~File();
  File(File&& o) noexcept;
  File& operator=(File&& o) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  static Result<File> OpenRead(const std::string& path);
  // Opens for reading and writing without truncation; the file must exist.
  static Result<File> OpenReadWrite(const std::string& path);

  // Reads up to buf.size() bytes at the current position; 0 at end of file.
  Result<size_t> Read(std::span<uint8_t> buf);
  // Reads exactly buf.size() bytes at `offset`; a short file is a Corrupt error.
  Status ReadAt(uint64_t offset, std::span<uint8_t> buf);
  // Writes all of `data` at `offset`.
  Status WriteAt(uint64_t offset, std::span<const uint8_t> data);
  Status Sync();
  Result<uint64_t> Size() const;

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }

 private:
  File(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_ = -1;
  std::string path_;
};

class OutputFile {
 public:
  ~OutputFile();
  OutputFile(OutputFile&& o) noexcept;
  OutputFile& operator=(OutputFile&&) = delete;
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  // Creates a temporary next to `path` with permissions `mode` (e.g. 0600 for keys).
  static Result<OutputFile> Create(const std::string& path, unsigned mode = 0644);

  Status Write(std::span<const uint8_t> data);
  Status Write(std::string_view data);
  // fsync, rename over `path`, fsync the directory.
  Status Commit();

  const std::string& path() const { return path_; }

 private:
  OutputFile(int fd, std::string path, std::string tmp) : fd_(fd), path_(std::move(path)), tmp_(std::move(tmp)) {}
  int fd_ = -1;
  std::string path_;
  std::string tmp_;
  bool committed_ = false;
};

// Reads a whole file, refusing files larger than `max_bytes` with a clear error.
Result<std::string> ReadFileToString(const std::string& path, uint64_t max_bytes);
// Atomically replaces `path` with `data` (temp + fsync + rename + dir fsync).
Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode = 0644);
// fsyncs the directory containing `path`.
Status SyncParentDir(const std::string& path);
// "strerror(errno)" for messages.
std::string ErrnoText(int err);

}  // namespace fw
