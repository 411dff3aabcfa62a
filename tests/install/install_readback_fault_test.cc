// Invariant 2 with the read-back running behind the writer, on the simulated terminal
// of the power-cut sweep (sweep_rig.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "sweep_rig.h"

namespace fw::install {
namespace {

// A bank that reads back other bytes than were written at one offset (a byte
// that did not stick), as the core's read-back behind the writer sees it.
class BadByteBank final : public boot::testing::FlashProxy {
 public:
  BadByteBank(boot::Flash& f, uint64_t bad) : FlashProxy(f), bad_(bad) {}
  boot::FlashError Read(uint64_t offset, uint8_t* buf, size_t len) override {
    boot::FlashError e = FlashProxy::Read(offset, buf, len);
    if (e == boot::FlashError::kOk && bad_ >= offset && bad_ < offset + len) buf[bad_ - offset] ^= 0x10;
    return e;
  }

 private:
  uint64_t bad_;
};

// Invariant 2 with the read-back running behind the writer: a bank that does not
// read back the signed bytes never becomes a trial, the install fails naming the
// verification, and the flash history records the failure. The same bank reading
// back correctly installs (so the fault, not the rig, is what failed it).
TEST(InstallReadBack, ABankThatReadsBackOtherBytesIsNeverMadeATrial) {
  if (std::getenv("TMPDIR") == nullptr && ::access("/dev/shm", W_OK) == 0) ::setenv("TMPDIR", "/dev/shm", 1);
  ft::TempDir work;
  SimConfig config;
  config.erase_block = 4096;
  config.bank_size = kBankSize;
  std::vector<uint8_t> flash;
  FactoryState(config, work / "template", &flash);
  ASSERT_FALSE(::testing::Test::HasFailure());
  for (const uint64_t bad : {uint64_t{10}, uint64_t{kPayloadSize / 2}, uint64_t{kPayloadSize + 200}}) {
    SCOPED_TRACE("bad byte at " + std::to_string(bad));
    Rig rig(config, flash, work / "template", work / "run", TheVendor().records, 1);
    Terminal t = rig.terminal();
    BadByteBank bank(rig.dev().bank(1), bad);
    t.banks[1] = &bank;
    InstallOptions io;
    io.open_bundle = bundle::FileSourceOpener(TheVendor().bundle_11);
    io.flush_window = kFlushWindow;
    auto r = Install(t, io);
    ASSERT_FALSE(r.ok()) << "a bank that reads back other bytes was accepted";
    EXPECT_NE(r.status().message().find("does not verify"), std::string::npos) << r.status().message();
    BootState bc;
    ASSERT_TRUE(rig.dev().PeekState(&bc));
    EXPECT_EQ(bc.TrialSlot(), boot::kNoSlot);
    EXPECT_EQ(bc.slots[1].state, SlotState::kUnbootable);
    auto h = history::FlashHistory::Open(rig.data_dir() + "/history.db");
    ASSERT_TRUE(h.ok()) << h.status().message();
    auto entries = h->List();
    ASSERT_TRUE(entries.ok());
    ASSERT_FALSE(entries->empty());
    EXPECT_EQ(entries->front().outcome, history::Outcome::kFailed);
    EXPECT_EQ(rig.Reset().slot, 0);  // the old firmware boots
  }
  Rig rig(config, flash, work / "template", work / "good", TheVendor().records, 1);
  Terminal t = rig.terminal();
  InstallOptions io;
  io.open_bundle = bundle::FileSourceOpener(TheVendor().bundle_11);
  io.flush_window = kFlushWindow;
  auto r = Install(t, io);
  ASSERT_TRUE(r.ok()) << r.status().message();
}

}  // namespace
}  // namespace fw::install
