// stream_bench: the transport part of bench/stream_bench.sh — an HTTPS URL read through
// fw::net::HttpStream (the installer's network stream) into a file, fsync'd, so the script can put
// it next to `curl -o` in the same loop.
//   stream_bench fetch URL --ca CA_FILE --out FILE [--read-size BYTES]
//     exit 0 and "bytes N connections C" on stdout; 1 with the error on stderr
//   stream_bench port
//     prints a TCP port free on 127.0.0.1 (for the servers the script starts)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "fw/http_stream.h"

namespace {

int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    std::perror("port");
    return 1;
  }
  std::printf("%d\n", ntohs(addr.sin_port));
  close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "port") return FreePort();
  if (argc < 3 || std::string(argv[1]) != "fetch") {
    std::fprintf(stderr, "usage: stream_bench fetch URL --ca CA_FILE --out FILE [--read-size BYTES]\n");
    return 2;
  }
  const std::string url = argv[2];
  std::string ca, out;
  size_t read_size = 1 << 20;
  for (int i = 3; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--ca")
      ca = argv[i + 1];
    else if (flag == "--out")
      out = argv[i + 1];
    else if (flag == "--read-size")
      read_size = std::strtoul(argv[i + 1], nullptr, 10);
    else {
      std::fprintf(stderr, "unknown option %s\n", flag.c_str());
      return 2;
    }
  }
  if (out.empty() || read_size == 0) return 2;
  fw::net::StreamOptions options;
  options.http.ca_file = ca;
  auto stream = fw::net::HttpStream::Open(url, options);
  if (!stream.ok()) {
    std::fprintf(stderr, "%s\n", stream.status().message().c_str());
    return 1;
  }
  const int fd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) {
    std::perror(out.c_str());
    return 1;
  }
  std::vector<uint8_t> buf(read_size);
  uint64_t total = 0;
  for (;;) {
    auto n = (*stream)->Read(buf);
    if (!n.ok()) {
      std::fprintf(stderr, "%s\n", n.status().message().c_str());
      return 1;
    }
    if (*n == 0) break;
    for (size_t done = 0; done < *n;) {
      const ssize_t w = write(fd, buf.data() + done, *n - done);
      if (w <= 0) {
        std::perror("write");
        return 1;
      }
      done += static_cast<size_t>(w);
    }
    total += *n;
  }
  if (fsync(fd) != 0 || close(fd) != 0) {
    std::perror("fsync");
    return 1;
  }
  std::printf("bytes %llu connections %u\n", static_cast<unsigned long long>(total), (*stream)->stats().connections);
  return 0;
}
