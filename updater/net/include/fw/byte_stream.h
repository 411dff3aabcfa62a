// ByteStream: a positioned, forward-reading byte source that can be re-positioned (a
// resumable HTTP GET, a file, bytes in memory). The streaming installer's sources
// (fw/net_sources.h) read images through it.
//
// Contract:
//   - Read(buf) returns up to buf.size() bytes from Offset() and advances it; 0 only at
//     the end (Size(), when known). Every byte returned is the byte at the offset it was
//     returned for: an implementation that cannot guarantee that (the remote content
//     changed, a reply for another range) restarts or fails, never guesses.
//   - Seek(offset) re-positions (a re-fetch: the next Read returns the byte at `offset`).
//   - Errors: kIoError (transport, may have been retried already), kTimeout (deadline or
//     speed floor), kCorrupt (the server lied: wrong range, changed size), kNotFound
//     (404/403), kInvalidArgument (a URL or option that can never work). After an error
//     the caller may Seek and try again, or give up.
//   - Name() names the stream in messages (a URL without credentials).
// Thread safety: none; one user at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "fw/status.h"

namespace fw::net {

class ByteStream {
 public:
  virtual ~ByteStream() = default;
  virtual Result<size_t> Read(std::span<uint8_t> buf) = 0;
  virtual Status Seek(uint64_t offset) = 0;
  virtual std::optional<uint64_t> Size() const = 0;
  virtual uint64_t Offset() const = 0;
  virtual const std::string& Name() const = 0;
};

}  // namespace fw::net
