#include "testing.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

namespace fw::testing {

namespace fs = std::filesystem;

TempDir::TempDir() {
  std::string base = fs::temp_directory_path().string() + "/fwtest.XXXXXX";
  if (!::mkdtemp(base.data())) throw std::runtime_error("mkdtemp failed");
  path_ = base;
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(path_, ec);
}

std::string BinaryPath(const std::string& name) {
  const char* dir = FW_BINARY_DIR;
  for (const char* sub : {"/signing/", "/bootloader/", "/updater/", "/"}) {
    std::string p = std::string(dir) + sub + name;
    if (fs::exists(p)) return p;
  }
  return name;
}

std::string SourcePath(const std::string& relative) {
  const char* dir = FW_SOURCE_DIR;
  return std::string(dir) + "/" + relative;
}

CommandResult RunCommand(const std::vector<std::string>& argv, const std::string& stdin_text) {
  int out_pipe[2], err_pipe[2], in_pipe[2];
  if (::pipe(out_pipe) || ::pipe(err_pipe) || ::pipe(in_pipe)) throw std::runtime_error("pipe failed");
  std::vector<std::string> args = argv;
  if (args[0].find('/') == std::string::npos) args[0] = BinaryPath(args[0]);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(in_pipe[0], 0);
    ::dup2(out_pipe[1], 1);
    ::dup2(err_pipe[1], 2);
    for (int fd : {out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1], in_pipe[0], in_pipe[1]}) ::close(fd);
    std::vector<char*> cargv;
    for (auto& a : args) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    ::execvp(cargv[0], cargv.data());
    _exit(127);
  }
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  ::close(in_pipe[0]);
  if (!stdin_text.empty()) {
    ssize_t w = ::write(in_pipe[1], stdin_text.data(), stdin_text.size());
    (void)w;
  }
  ::close(in_pipe[1]);
  CommandResult r;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (::poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP))) continue;
      ssize_t n = ::read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      } else {
        (i == 0 ? r.out : r.err).append(buf, static_cast<size_t>(n));
      }
    }
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << data;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::string s = ReadFile(path);
  return {s.begin(), s.end()};
}

void WriteBytes(const std::string& path, const std::vector<uint8_t>& data) {
  WriteFile(path, std::string(data.begin(), data.end()));
}

bool Exists(const std::string& path) { return fs::exists(path); }

std::vector<std::string> ListDir(const std::string& path) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(path)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<uint8_t> PseudoRandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> out(n);
  for (auto& b : out) b = static_cast<uint8_t>(rng());
  return out;
}

std::string FileTerminalLayout(uint64_t bank_size) {
  nlohmann::json layout = {{"version", 1},
                           {"flash", {{"erase_block_size", 4096}, {"write_alignment", 8}, {"erased_value", 255}}},
                           {"regions",
                            {{"boot_control_0", {{"path", "control.bin"}, {"offset", 0}, {"size", 4096}}},
                             {"boot_control_1", {{"path", "control.bin"}, {"offset", 4096}, {"size", 4096}}},
                             {"bank_a", {{"path", "banks.bin"}, {"offset", 0}, {"size", bank_size}}},
                             {"bank_b", {{"path", "banks.bin"}, {"offset", bank_size}, {"size", bank_size}}},
                             {"trust_store", {{"path", "trust.bin"}, {"offset", 0}, {"size", 8192}}},
                             {"data", {{"path", "data.bin"}, {"offset", 0}, {"size", 4096}}}}},
                           {"data_dir", "data"}};
  return layout.dump();
}

std::string SignAndPublishRelease(const ReleaseSpec& spec, const std::vector<std::string>& publish_keys) {
  const std::string payload = spec.image + ".payload";
  WriteBytes(payload, PseudoRandomBytes(spec.payload_size, spec.seed));
  std::vector<std::string> publish = {"fwsign", "repo", "publish", spec.repo};
  for (const std::string& k : publish_keys) {
    publish.push_back("--key");
    publish.push_back(k);
  }
  const std::vector<std::vector<std::string>> steps = {
      {"fwsign", "image", "sign", "--key", spec.image_key, "--version", spec.version, "--security-counter",
       std::to_string(spec.security_counter), "--hardware-id", "POS-X1", payload, "-o", spec.image},
      {"fwsign", "repo", "add-target", spec.repo, "--image", spec.image},
      publish};
  for (const auto& argv : steps) {
    CommandResult r = RunCommand(argv);
    if (r.exit_code != 0) {
      std::string line;
      for (const std::string& a : argv) line += a + " ";
      return line + "-> exit " + std::to_string(r.exit_code) + "\n" + r.out + r.err;
    }
  }
  return "";
}

}  // namespace fw::testing
