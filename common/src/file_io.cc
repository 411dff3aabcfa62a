#include "fw/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace fw {

std::string ErrnoText(int err) { return std::strerror(err); }

namespace {
Status ErrnoStatus(int err, const std::string& what) {
  std::string m = what + ": " + ErrnoText(err);
  if (err == ENOENT) return NotFound(std::move(m));
  if (err == ENOSPC || err == EDQUOT) return ResourceExhausted(std::move(m));
  return IoError(std::move(m));
}
}  // namespace

File::~File() {
  if (fd_ >= 0) ::close(fd_);
}
File::File(File&& o) noexcept : fd_(o.fd_), path_(std::move(o.path_)) { o.fd_ = -1; }
File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = o.fd_;
    path_ = std::move(o.path_);
    o.fd_ = -1;
  }
  return *this;
}

Result<File> File::OpenRead(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open " + path);
  struct stat st {};
  if (::fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
    ::close(fd);
    return InvalidArgument(path + " is a directory, expected a file");
  }
  return File(fd, path);
}

Result<File> File::OpenReadWrite(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open " + path + " for writing");
  return File(fd, path);
}

Result<size_t> File::Read(std::span<uint8_t> buf) {
  for (;;) {
    ssize_t n = ::read(fd_, buf.data(), buf.size());
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) return ErrnoStatus(errno, "cannot read " + path_);
  }
}

Status File::ReadAt(uint64_t offset, std::span<uint8_t> buf) {
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = ::pread(fd_, buf.data() + done, buf.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot read " + path_);
    }
    if (n == 0) {
      return Corrupt(path_ + " ends at byte " + std::to_string(offset + done) + ", expected at least " +
                     std::to_string(offset + buf.size()));
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status File::WriteAt(uint64_t offset, std::span<const uint8_t> data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot write " + path_);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status File::Sync() {
  if (::fsync(fd_) != 0) return ErrnoStatus(errno, "cannot fsync " + path_);
  return Status::Ok();
}

Result<uint64_t> File::Size() const {
  struct stat st {};
  if (::fstat(fd_, &st) != 0) return ErrnoStatus(errno, "cannot stat " + path_);
  if (S_ISBLK(st.st_mode)) {
    off_t end = ::lseek(fd_, 0, SEEK_END);
    if (end < 0) return ErrnoStatus(errno, "cannot size " + path_);
    return static_cast<uint64_t>(end);
  }
  return static_cast<uint64_t>(st.st_size);
}

// ---------------------------------------------------------------- OutputFile

OutputFile::~OutputFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_ && !tmp_.empty()) ::unlink(tmp_.c_str());
}

OutputFile::OutputFile(OutputFile&& o) noexcept
    : fd_(o.fd_), path_(std::move(o.path_)), tmp_(std::move(o.tmp_)), committed_(o.committed_) {
  o.fd_ = -1;
  o.tmp_.clear();
}

Result<OutputFile> OutputFile::Create(const std::string& path, unsigned mode) {
  if (path.empty()) return InvalidArgument("output path is empty");
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return InvalidArgument(path + " is a directory, expected a file path");
  std::string tmpl = path + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return ErrnoStatus(errno, "cannot create output file " + path);
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) {
    int err = errno;
    ::close(fd);
    ::unlink(tmpl.c_str());
    return ErrnoStatus(err, "cannot set permissions on " + path);
  }
  return OutputFile(fd, path, tmpl);
}

Status OutputFile::Write(std::span<const uint8_t> data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "cannot write " + path_);
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Status OutputFile::Write(std::string_view data) {
  return Write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

Status OutputFile::Commit() {
  if (committed_) return FailedPrecondition("output file " + path_ + " already committed");
  if (::fsync(fd_) != 0) return ErrnoStatus(errno, "cannot fsync " + path_);
  if (::close(fd_) != 0) {
    fd_ = -1;
    return ErrnoStatus(errno, "cannot close " + path_);
  }
  fd_ = -1;
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) return ErrnoStatus(errno, "cannot rename into " + path_);
  committed_ = true;
  return SyncParentDir(path_);
}

Result<std::string> ReadFileToString(const std::string& path, uint64_t max_bytes) {
  FW_ASSIGN_OR_RETURN(File f, File::OpenRead(path));
  FW_ASSIGN_OR_RETURN(uint64_t size, f.Size());
  if (size > max_bytes) {
    return ResourceExhausted(path + " is " + std::to_string(size) + " bytes, more than the limit of " +
                             std::to_string(max_bytes));
  }
  std::string out;
  out.resize(size);
  size_t done = 0;
  while (done < out.size()) {
    FW_ASSIGN_OR_RETURN(size_t n, f.Read({reinterpret_cast<uint8_t*>(out.data()) + done, out.size() - done}));
    if (n == 0) break;
    done += n;
  }
  out.resize(done);
  return out;
}

Status WriteFileAtomic(const std::string& path, std::string_view data, unsigned mode) {
  FW_ASSIGN_OR_RETURN(OutputFile out, OutputFile::Create(path, mode));
  FW_RETURN_IF_ERROR(out.Write(data));
  return out.Commit();
}

Status SyncParentDir(const std::string& path) {
  std::filesystem::path p(path);
  std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open directory " + dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(err, "cannot fsync directory " + dir);
  return Status::Ok();
}

}  // namespace fw
