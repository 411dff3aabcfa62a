// Internal to fw_install: the install's plan — every check, no write (docs/install.md, "Plan").
#pragma once

#include <string>

#include "fw/boot/boot.h"
#include "fw/bundle_reader.h"
#include "fw/image.h"
#include "fw/install/installer.h"
#include "fw/status.h"

namespace fw::install {

// A plan: everything checked, nothing written.
struct Plan {
  boot::BootControl bc;
  uint8_t target = 0;
  bundle::VerifiedBundle bundle;
  SemVer to_version;
  std::string from_version;
  std::string image_sha256;
};

Result<Plan> MakePlan(Terminal& t, const InstallOptions& o);

}  // namespace fw::install
