#include "fw/boot/layout.h"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <cerrno>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fw/boot/boot_backend.h"
#include "fw/boot/boot_control.h"
#include "fw/file_io.h"

namespace fw::boot {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::string_view kNames[kRegionCount] = {"boot_control_0", "boot_control_1", "bank_a",
                                                   "bank_b",         "trust_store",    "data"};

Status Bad(const std::string& what) { return Corrupt("layout: " + what); }

// Every key of `obj` must be in `allowed` or `optional`; every `allowed` key must be present.
Status CheckKeys(const json& obj, const std::string& where, std::initializer_list<std::string_view> allowed,
                 std::initializer_list<std::string_view> optional = {}) {
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    bool known = false;
    for (auto a : allowed) known = known || it.key() == a;
    for (auto a : optional) known = known || it.key() == a;
    if (!known) return Bad(where + ": unknown key \"" + it.key() + "\"");
  }
  for (auto a : allowed) {
    if (!obj.contains(std::string(a))) return Bad(where + ": missing \"" + std::string(a) + "\"");
  }
  return Status::Ok();
}

Result<uint64_t> Unsigned(const json& obj, const std::string& where, const char* key, uint64_t max) {
  const json& v = obj.at(key);
  if (!v.is_number_unsigned()) return Bad(where + "." + key + " must be a non-negative integer");
  uint64_t n = v.get<uint64_t>();
  if (n > max) return Bad(where + "." + key + " = " + std::to_string(n) + " exceeds " + std::to_string(max));
  return n;
}

}  // namespace

std::string_view RegionName(RegionId id) { return kNames[static_cast<size_t>(id)]; }

FlashGeometry Layout::RegionGeometry(RegionId id) const {
  FlashGeometry g = geometry;
  g.size = region(id).size;
  return g;
}

namespace {

Status ParseFlash(const json& flash, FlashGeometry* g) {
  if (!flash.is_object()) return Bad("\"flash\" must be an object");
  FW_RETURN_IF_ERROR(CheckKeys(flash, "flash", {"erase_block_size", "write_alignment", "erased_value"}));
  FW_ASSIGN_OR_RETURN(uint64_t eb, Unsigned(flash, "flash", "erase_block_size", 16u << 20));
  FW_ASSIGN_OR_RETURN(uint64_t wa, Unsigned(flash, "flash", "write_alignment", 8));
  FW_ASSIGN_OR_RETURN(uint64_t ev, Unsigned(flash, "flash", "erased_value", 255));
  g->erase_block_size = static_cast<uint32_t>(eb);
  g->write_alignment = static_cast<uint32_t>(wa);
  g->erased_value = static_cast<uint8_t>(ev);
  g->size = eb;  // validated per region below
  if (Status s = ValidateGeometry(*g); !s.ok()) return Bad("flash: " + s.message());
  return Status::Ok();
}

// A relative path is joined to `base_dir`.
std::string ResolvePath(const std::string& text, const std::string& base_dir) {
  fs::path p = text;
  if (p.is_relative()) p = fs::path(base_dir) / p;
  // ".." is left for the kernel to resolve: "link/../x" names the parent of the link's
  // target, not the layout directory (lexical normalization would open another file).
  bool dotdot = false;
  for (const fs::path& part : p) dotdot = dotdot || part == "..";
  return dotdot ? p.string() : p.lexically_normal().string();
}

Status ParseRegion(const json& r, const std::string& where, const std::string& base_dir, uint64_t erase_block,
                   RegionSpec* spec) {
  if (!r.is_object()) return Bad(where + " must be an object");
  FW_RETURN_IF_ERROR(CheckKeys(r, where, {"path", "offset", "size"}));
  if (!r["path"].is_string() || r["path"].get<std::string>().empty())
    return Bad(where + ".path must be a non-empty string");
  spec->path = ResolvePath(r["path"].get<std::string>(), base_dir);
  FW_ASSIGN_OR_RETURN(spec->offset, Unsigned(r, where, "offset", kMaxRegionSize));
  FW_ASSIGN_OR_RETURN(spec->size, Unsigned(r, where, "size", kMaxRegionSize));
  if (spec->size == 0) return Bad(where + ".size must not be 0");
  if (spec->offset % erase_block != 0 || spec->size % erase_block != 0) {
    return Bad(where + ": offset " + std::to_string(spec->offset) + " and size " + std::to_string(spec->size) +
               " must be multiples of the erase block size " + std::to_string(erase_block));
  }
  return Status::Ok();
}

inline constexpr uint64_t kMinEnvSize = 1024;
inline constexpr uint64_t kMaxEnvSize = 1 << 20;

// The uboot-env options of "boot_control" (bc["type"] is "uboot-env").
Status ParseUbootEnvOptions(const json& bc, const std::string& base_dir, BootControlOptions* o) {
  FW_RETURN_IF_ERROR(CheckKeys(bc, "boot_control", {"type"}, {"env_size", "flags", "cmdline"}));
  if (bc.contains("env_size")) {
    FW_ASSIGN_OR_RETURN(o->env_size, Unsigned(bc, "boot_control", "env_size", kMaxEnvSize));
    if (o->env_size < kMinEnvSize) {
      return Bad("boot_control.env_size = " + std::to_string(o->env_size) + " is below " + std::to_string(kMinEnvSize) +
                 " bytes");
    }
  }
  if (bc.contains("flags")) {
    const json& f = bc["flags"];
    if (!f.is_string() || (f != "incremental" && f != "boolean")) {
      return Bad("boot_control.flags must be \"incremental\" or \"boolean\", found " + f.dump(-1, ' ', true));
    }
    o->boolean_flags = f == "boolean";
  }
  if (bc.contains("cmdline")) {
    if (!bc["cmdline"].is_string() || bc["cmdline"].get<std::string>().empty())
      return Bad("boot_control.cmdline must be a non-empty string (the file holding fw.slot=)");
    o->cmdline = ResolvePath(bc["cmdline"].get<std::string>(), base_dir);
  }
  return Status::Ok();
}

// "boot_control": {"type": NAME, ...} — NAME from BootBackendTypes(); absent → the default.
Status ParseBootControl(const json& doc, const std::string& base_dir, BootControlOptions* o) {
  *o = BootControlOptions{};
  o->type = std::string(BootBackendTypes().front().name);
  if (!doc.contains("boot_control")) return Status::Ok();
  const json& bc = doc["boot_control"];
  if (!bc.is_object()) return Bad("\"boot_control\" must be an object");
  if (!bc.contains("type")) return Bad("boot_control: missing \"type\"");
  if (!bc["type"].is_string()) return Bad("boot_control.type must be a string");
  o->type = bc["type"].get<std::string>();
  if (FindBootBackendType(o->type) == nullptr) {
    return Bad("boot_control.type \"" + o->type +
               "\" is not a known boot-control backend (known: " + BootBackendTypeNames() + ")");
  }
  if (o->type == kUbootEnvBackend) return ParseUbootEnvOptions(bc, base_dir, o);
  return CheckKeys(bc, "boot_control", {"type"});
}

// Sizes each region needs, and no two regions of the same path overlapping.
Status CheckRegions(const Layout& layout) {
  const bool env = layout.boot_control.type == kUbootEnvBackend;
  const uint64_t need = env ? layout.boot_control.env_size : kBootControlSize;
  for (RegionId id : {RegionId::kBootControl0, RegionId::kBootControl1}) {
    if (layout.region(id).size < need) {
      return Bad("regions." + std::string(RegionName(id)) + " (" + std::to_string(layout.region(id).size) +
                 " bytes) is smaller than " + (env ? "boot_control.env_size (" : "a boot-control block (") +
                 std::to_string(need) + " bytes)");
    }
  }
  if (env && layout.boot_control.env_size % layout.geometry.write_alignment != 0) {
    return Bad("boot_control.env_size " + std::to_string(layout.boot_control.env_size) +
               " is not a multiple of the write alignment " + std::to_string(layout.geometry.write_alignment));
  }
  for (RegionId id : {RegionId::kBankA, RegionId::kBankB}) {
    if (layout.region(id).size < 4096)
      return Bad("regions." + std::string(RegionName(id)) + " is smaller than 4096 bytes");
  }
  if (layout.region(RegionId::kTrustStore).size > kMaxTrustStoreSize) {
    return Bad("regions.trust_store is larger than " + std::to_string(kMaxTrustStoreSize) + " bytes");
  }
  for (size_t i = 0; i < kRegionCount; ++i) {
    for (size_t j = i + 1; j < kRegionCount; ++j) {
      const RegionSpec& a = layout.regions[i];
      const RegionSpec& b = layout.regions[j];
      if (a.path != b.path) continue;
      if (a.offset < b.offset + b.size && b.offset < a.offset + a.size) {
        return Bad("regions " + std::string(kNames[i]) + " [" + std::to_string(a.offset) + ", " +
                   std::to_string(a.offset + a.size) + ") and " + std::string(kNames[j]) + " [" +
                   std::to_string(b.offset) + ", " + std::to_string(b.offset + b.size) + ") overlap in " + a.path);
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Result<Layout> Layout::Parse(std::string_view text, const std::string& base_dir) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Bad("not valid JSON");
  if (!doc.is_object()) return Bad("top level must be an object");
  FW_RETURN_IF_ERROR(CheckKeys(doc, "layout", {"version", "flash", "regions"}, {"data_dir", "boot_control"}));
  if (!doc["version"].is_number_unsigned() || doc["version"].get<uint64_t>() != 1) {
    // A layout this build does not know is hostile or foreign input (exit 3), not a usage error.
    return Bad("version must be 1, found " + doc["version"].dump(-1, ' ', true) + " (unknown layout version)");
  }
  Layout layout;
  FW_RETURN_IF_ERROR(ParseFlash(doc["flash"], &layout.geometry));
  const json& regions = doc["regions"];
  if (!regions.is_object()) return Bad("\"regions\" must be an object");
  FW_RETURN_IF_ERROR(CheckKeys(regions, "regions", {kNames[0], kNames[1], kNames[2], kNames[3], kNames[4], kNames[5]}));
  for (size_t i = 0; i < kRegionCount; ++i) {
    FW_RETURN_IF_ERROR(ParseRegion(regions[std::string(kNames[i])], "regions." + std::string(kNames[i]), base_dir,
                                   layout.geometry.erase_block_size, &layout.regions[i]));
  }
  if (doc.contains("data_dir")) {
    if (!doc["data_dir"].is_string() || doc["data_dir"].get<std::string>().empty())
      return Bad("data_dir must be a non-empty string (the directory where the data partition is mounted)");
    fs::path d = doc["data_dir"].get<std::string>();
    if (d.is_relative()) d = fs::path(base_dir) / d;
    layout.data_dir = d.lexically_normal().string();
  }
  FW_RETURN_IF_ERROR(ParseBootControl(doc, base_dir, &layout.boot_control));
  FW_RETURN_IF_ERROR(CheckRegions(layout));
  return layout;
}

Result<Layout> Layout::Load(const std::string& path) {
  FW_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, kMaxLayoutFileSize));
  fs::path dir = fs::absolute(fs::path(path)).parent_path();
  FW_ASSIGN_OR_RETURN(Layout layout, std::move(Parse(text, dir.string())).WithContext(path));
  FW_RETURN_IF_ERROR(CheckDistinctStorage(layout).WithContext(path));
  return layout;
}

// ---------------------------------------------------------------- storage identity

namespace {

std::string ReadSysfs(const std::string& path) {
  auto text = ReadFileToString(path, 4096);
  if (!text.ok()) return "";
  std::string s = *text;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool ParseU64(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

std::string FileKey(const struct stat& st) {
  return "file " + std::to_string(major(st.st_dev)) + ":" + std::to_string(minor(st.st_dev)) + " inode " +
         std::to_string(st.st_ino);
}

// The block device `rdev` as (disk, byte offset of its first byte on the disk): a
// partition maps to its whole disk at the partition's start (sysfs "start", in 512-byte
// sectors); a loop device maps to its backing file at the loop offset.
void ResolveBlock(dev_t rdev, StorageExtent* e) {
  const std::string sys = "/sys/dev/block/" + std::to_string(major(rdev)) + ":" + std::to_string(minor(rdev));
  e->key = "block device " + std::to_string(major(rdev)) + ":" + std::to_string(minor(rdev));
  std::error_code ec;
  const fs::path real = fs::canonical(sys, ec);
  if (ec) return;  // no sysfs: the node's own number is all we know
  fs::path disk = real;
  uint64_t start = 0;
  if (fs::exists(real / "partition", ec)) {
    uint64_t sectors = 0;
    if (!ParseU64(ReadSysfs(real / "start"), &sectors)) return;
    start = sectors * 512;
    disk = real.parent_path();
    const std::string dev = ReadSysfs(disk / "dev");
    if (dev.empty()) return;
    e->key = "block device " + dev;
  }
  e->start += start;
  std::string backing = ReadSysfs(disk / "loop" / "backing_file");
  if (!backing.empty()) {
    uint64_t loop_offset = 0;
    ParseU64(ReadSysfs(disk / "loop" / "offset"), &loop_offset);
    struct stat bst {};
    if (::stat(backing.c_str(), &bst) == 0 && S_ISREG(bst.st_mode)) {
      e->key = FileKey(bst);
      e->start += loop_offset;
    }
  }
}

// A path that does not exist yet: its name with every symbolic link resolved (also a
// dangling last component), so two names for the file it will become compare equal.
std::string ResolvedName(const std::string& path) {
  fs::path p = path;
  std::error_code ec;
  for (int hops = 0; hops < 40 && fs::is_symlink(p, ec); ++hops) {
    fs::path target = fs::read_symlink(p, ec);
    if (ec) break;
    p = target.is_absolute() ? target : p.parent_path() / target;
  }
  fs::path resolved = fs::weakly_canonical(p, ec);
  return (ec ? p.lexically_normal() : resolved).string();
}

}  // namespace

Result<StorageExtent> ResolveStorage(const std::string& path, uint64_t offset, uint64_t size) {
  StorageExtent e;
  e.start = offset;
  e.size = size;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return IoError("cannot stat " + path + ": " + ErrnoText(errno));
    e.key = "name " + ResolvedName(path);
    return e;
  }
  if (S_ISBLK(st.st_mode)) {
    ResolveBlock(st.st_rdev, &e);
  } else {
    e.key = FileKey(st);
  }
  return e;
}

Status CheckDistinctStorage(const Layout& layout) {
  std::array<StorageExtent, kRegionCount> ext;
  for (size_t i = 0; i < kRegionCount; ++i) {
    const RegionSpec& r = layout.regions[i];
    FW_ASSIGN_OR_RETURN(ext[i],
                        ResolveStorage(r.path, r.offset, r.size).WithContext("region " + std::string(kNames[i])));
  }
  auto where = [&](size_t i) {
    const RegionSpec& r = layout.regions[i];
    return std::string(kNames[i]) + " (" + r.path + " [" + std::to_string(r.offset) + ", " +
           std::to_string(r.offset + r.size) + "))";
  };
  for (size_t i = 0; i < kRegionCount; ++i) {
    for (size_t j = i + 1; j < kRegionCount; ++j) {
      const StorageExtent& a = ext[i];
      const StorageExtent& b = ext[j];
      if (a.key != b.key) continue;
      if (a.start < b.start + b.size && b.start < a.start + a.size) {
        return Bad("regions " + where(i) + " and " + where(j) + " are the same storage: both reach " + a.key +
                   " at bytes [" + std::to_string(std::max(a.start, b.start)) + ", " +
                   std::to_string(std::min(a.start + a.size, b.start + b.size)) + ")");
      }
    }
  }
  return Status::Ok();
}

}  // namespace fw::boot
