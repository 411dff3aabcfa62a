// Layout::Load compares the regions' storage identity, not their path strings
// (issue 11, item 2): two names for the same file (symbolic link, hard link, "../"
// through a linked directory, a bind mount) or for the same disk (whole-disk node,
// partition node, a by-partlabel style link, a second node of the same device, a loop
// device and its backing file) are refused with kCorrupt (exit 3) naming both regions.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/blkpg.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fw/boot/layout.h"
#include "testing.h"

namespace fw::boot {
namespace {

namespace fs = std::filesystem;
using fw::testing::RunCommand;
using fw::testing::TempDir;
using nlohmann::json;

constexpr uint64_t kBank = 65536;

// Every region in its own file under `dir`; tests then point bank_a and bank_b elsewhere.
json Layout(const std::string& a_path, uint64_t a_off, const std::string& b_path, uint64_t b_off) {
  return json{{"version", 1},
              {"flash", {{"erase_block_size", 4096}, {"write_alignment", 8}, {"erased_value", 255}}},
              {"regions",
               {{"boot_control_0", {{"path", "control.bin"}, {"offset", 0}, {"size", 4096}}},
                {"boot_control_1", {{"path", "control.bin"}, {"offset", 4096}, {"size", 4096}}},
                {"bank_a", {{"path", a_path}, {"offset", a_off}, {"size", kBank}}},
                {"bank_b", {{"path", b_path}, {"offset", b_off}, {"size", kBank}}},
                {"trust_store", {{"path", "trust.bin"}, {"offset", 0}, {"size", 8192}}},
                {"data", {{"path", "data.bin"}, {"offset", 0}, {"size", 4096}}}}}};
}

// Loads the layout written into `dir`: "OK" or the error (code checked to be kCorrupt).
std::string LoadError(const std::string& dir, const json& layout) {
  fw::testing::WriteFile(dir + "/layout.json", layout.dump());
  auto r = Layout::Load(dir + "/layout.json");
  if (r.ok()) return "OK";
  EXPECT_EQ(r.status().code(), ErrorCode::kCorrupt) << r.status().message();
  return r.status().message();
}

void ExpectSameStorage(const std::string& err) {
  EXPECT_NE(err.find("same storage"), std::string::npos) << err;
  EXPECT_NE(err.find("bank_a ("), std::string::npos) << err;
  EXPECT_NE(err.find("bank_b ("), std::string::npos) << err;
}

void MakeFile(const std::string& path, uint64_t size) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(size)), 0);
  ::close(fd);
}

TEST(LayoutStorage, DistinctFilesAndDisjointExtentsLoad) {
  TempDir dir;
  MakeFile(dir / "banks.bin", 4 * kBank);
  fs::create_symlink("banks.bin", dir / "link.bin");
  EXPECT_EQ(LoadError(dir.path(), Layout("banks.bin", 0, "link.bin", kBank)), "OK");
  EXPECT_EQ(LoadError(dir.path(), Layout("banks.bin", 0, "other.bin", 0)), "OK");  // other.bin does not exist yet
}

TEST(LayoutStorage, ASymbolicLinkToTheSameFileIsRefused) {
  TempDir dir;
  MakeFile(dir / "banks.bin", 4 * kBank);
  fs::create_symlink("banks.bin", dir / "link.bin");
  // bank_b's second half is bank_a's first half, through the link.
  std::string err = LoadError(dir.path(), Layout("banks.bin", 0, "link.bin", kBank / 2 - kBank / 2 % 4096));
  ExpectSameStorage(err);
  EXPECT_NE(err.find("link.bin"), std::string::npos) << err;
  // A link to a link, an absolute link, the same offset.
  fs::create_symlink(dir / "link.bin", dir / "link2.bin");
  ExpectSameStorage(LoadError(dir.path(), Layout("banks.bin", kBank, "link2.bin", kBank)));
}

TEST(LayoutStorage, AHardLinkIsRefused) {
  TempDir dir;
  MakeFile(dir / "banks.bin", 4 * kBank);
  fs::create_hard_link(dir / "banks.bin", dir / "hard.bin");
  ExpectSameStorage(LoadError(dir.path(), Layout("banks.bin", 0, "hard.bin", 0)));
  EXPECT_EQ(LoadError(dir.path(), Layout("banks.bin", 0, "hard.bin", kBank)), "OK");
}

TEST(LayoutStorage, DotDotThroughALinkedDirectoryIsTheKernelsPath) {
  // alias -> deep/er, so "alias/../banks.bin" is deep/banks.bin, which a lexical
  // normalization ("banks.bin" in the layout directory) would miss.
  TempDir dir;
  fs::create_directories(dir / "deep/er");
  MakeFile(dir / "deep/banks.bin", 4 * kBank);
  fs::create_directory_symlink("deep/er", dir / "alias");
  ExpectSameStorage(LoadError(dir.path(), Layout("deep/banks.bin", 0, "alias/../banks.bin", 0)));
  // A file that does not exist yet through the same aliasing is compared by its resolved name.
  ExpectSameStorage(LoadError(dir.path(), Layout("deep/new.bin", 0, "alias/../new.bin", 0)));
  // A dangling link to a file that provisioning would create.
  fs::create_symlink("deep/new2.bin", dir / "dangling.bin");
  ExpectSameStorage(LoadError(dir.path(), Layout("deep/new2.bin", 0, "dangling.bin", 0)));
}

TEST(LayoutStorage, ABindMountIsRefused) {
  TempDir dir;
  fs::create_directories(dir / "real");
  fs::create_directories(dir / "bound");
  MakeFile(dir / "real/banks.bin", 4 * kBank);
  if (::mount((dir / "real").c_str(), (dir / "bound").c_str(), nullptr, MS_BIND, nullptr) != 0) {
    GTEST_SKIP() << "cannot bind-mount here (" << std::strerror(errno) << "); needs root";
  }
  std::string err = LoadError(dir.path(), Layout("real/banks.bin", 0, "bound/banks.bin", 0));
  ::umount2((dir / "bound").c_str(), MNT_DETACH);
  ExpectSameStorage(err);
}

// A loop device over an image with one partition (start 1 MiB, 4 MiB long), with device
// nodes made in a temporary directory (no udev needed).
class LoopDisk {
 public:
  static constexpr uint64_t kPartStart = 1 << 20;
  static constexpr uint64_t kPartSize = 4 << 20;

  explicit LoopDisk(const TempDir& dir) : dir_(dir.path()) {
    image_ = dir / "disk.img";
    MakeFile(image_, 8 << 20);
    auto r = RunCommand({"losetup", "--find", "--show", image_});
    if (r.exit_code != 0) {
      why_ = "losetup failed: " + r.err;
      return;
    }
    loop_ = r.out.substr(0, r.out.find('\n'));
    int fd = ::open(loop_.c_str(), O_RDWR);
    if (fd < 0) {
      why_ = "cannot open " + loop_ + ": " + std::strerror(errno);
      return;
    }
    // Add partition 1 with BLKPG (the kernel may not parse partition tables of loop devices).
    blkpg_partition part{};
    part.start = kPartStart;
    part.length = kPartSize;
    part.pno = 1;
    blkpg_ioctl_arg arg{};
    arg.op = BLKPG_ADD_PARTITION;
    arg.datalen = sizeof part;
    arg.data = &part;
    // A partition 1 left behind on this loop device by an earlier user (BLKPG partitions outlive
    // LOOP_CLR_FD) is removed first.
    blkpg_ioctl_arg del = arg;
    del.op = BLKPG_DEL_PARTITION;
    ::ioctl(fd, BLKPG, &del);
    const int rc = ::ioctl(fd, BLKPG, &arg);
    const int err = errno;
    ::close(fd);
    if (rc != 0) {
      why_ = "cannot add a partition to " + loop_ + ": " + std::strerror(err);
      return;
    }
    const std::string name = fs::path(loop_).filename().string();
    disk_node_ = MakeNode(name, "disk");
    part_node_ = MakeNode(name + "p1", "part");
    if (disk_node_.empty() || part_node_.empty()) why_ = "cannot make device nodes: " + std::string(strerror(errno));
  }
  ~LoopDisk() {
    if (loop_.empty()) return;
    if (int fd = ::open(loop_.c_str(), O_RDWR); fd >= 0) {  // leave no partition behind
      blkpg_partition part{};
      part.pno = 1;
      blkpg_ioctl_arg arg{};
      arg.op = BLKPG_DEL_PARTITION;
      arg.datalen = sizeof part;
      arg.data = &part;
      ::ioctl(fd, BLKPG, &arg);
      ::close(fd);
    }
    RunCommand({"losetup", "-d", loop_});
  }
  const std::string& why_not() const { return why_; }
  const std::string& image() const { return image_; }
  const std::string& disk_node() const { return disk_node_; }
  const std::string& part_node() const { return part_node_; }
  // Another node for the same whole disk.
  std::string SecondDiskNode() { return MakeNode(fs::path(loop_).filename().string(), "disk-copy"); }

 private:
  std::string MakeNode(const std::string& sys_name, const std::string& node) {
    std::string dev = fw::testing::ReadFile("/sys/class/block/" + sys_name + "/dev");
    unsigned maj = 0, min = 0;
    if (std::sscanf(dev.c_str(), "%u:%u", &maj, &min) != 2) return "";
    const std::string path = dir_ + "/" + node;
    if (::mknod(path.c_str(), S_IFBLK | 0600, makedev(maj, min)) != 0) return "";
    return path;
  }
  std::string dir_, image_, loop_, disk_node_, part_node_, why_;
};

TEST(LayoutStorage, AWholeDiskNodeAndAPartitionNodeOfTheSameDiskOverlap) {
  if (::geteuid() != 0) GTEST_SKIP() << "loop devices need root";
  TempDir dir;
  LoopDisk disk(dir);
  if (!disk.why_not().empty()) GTEST_SKIP() << "loop devices not usable here: " << disk.why_not();
  // by-partlabel style link to the partition node.
  fs::create_directories(dir / "by-partlabel");
  fs::create_symlink(disk.part_node(), dir / "by-partlabel/bank_b");

  // bank_a at the partition's start on the whole disk, bank_b the partition's first bytes.
  std::string err = LoadError(dir.path(), Layout(disk.disk_node(), LoopDisk::kPartStart, disk.part_node(), 0));
  ExpectSameStorage(err);
  ExpectSameStorage(LoadError(
      dir.path(), Layout(disk.disk_node(), LoopDisk::kPartStart + kBank, dir / "by-partlabel/bank_b", kBank)));
  // Disjoint: the whole disk's first 64 KiB (before the partition) and the partition.
  EXPECT_EQ(LoadError(dir.path(), Layout(disk.disk_node(), 0, dir / "by-partlabel/bank_b", 0)), "OK");
  EXPECT_EQ(LoadError(dir.path(), Layout(disk.disk_node(), LoopDisk::kPartStart + kBank, disk.part_node(), 0)), "OK");
  // Two nodes of the same whole disk.
  const std::string copy = disk.SecondDiskNode();
  ASSERT_FALSE(copy.empty());
  ExpectSameStorage(LoadError(dir.path(), Layout(disk.disk_node(), 0, copy, 0)));
  // The loop device and the image file behind it.
  ExpectSameStorage(LoadError(dir.path(), Layout(disk.image(), LoopDisk::kPartStart, disk.part_node(), 0)));
}

TEST(LayoutStorage, AnUnknownLayoutVersionIsHostileInput) {
  TempDir dir;
  for (json v : {json(2), json(0), json("1"), json(1.5), json(-1), json(nullptr)}) {
    json j = Layout("a.bin", 0, "b.bin", 0);
    j["version"] = v;
    std::string err = LoadError(dir.path(), j);
    EXPECT_NE(err.find("version must be 1"), std::string::npos) << v.dump() << ": " << err;
    // The CLIs exit 3 (input rejected), not 2 (usage) or 4 (I/O).
    auto boot = RunCommand({"fwboot", "status", "--device", dir / "layout.json"});
    EXPECT_EQ(boot.exit_code, 3) << v.dump() << ": " << boot.err;
    auto upd = RunCommand({"fwupdate", "status", "--device", dir / "layout.json"});
    EXPECT_EQ(upd.exit_code, 3) << v.dump() << ": " << upd.err;
  }
}

}  // namespace
}  // namespace fw::boot
