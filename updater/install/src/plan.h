// Internal to fw_install: the install's plan — every check, no write (docs/install.md, "Plan").
#pragma once

#include <memory>
#include <string>

#include "fw/boot/boot.h"
#include "fw/bundle_reader.h"
#include "fw/image.h"
#include "fw/install/installer.h"
#include "fw/status.h"

namespace fw::install {

// A plan: everything checked, nothing written. The bundle was read up to its image's
// first chunk; `reader` goes on with the same stream to write the image.
struct Plan {
  std::unique_ptr<bundle::BundleSource> source;
  std::unique_ptr<bundle::BundleReader> reader;
  boot::BootState bc;
  uint8_t target = 0;
  bundle::VerifiedBundle bundle;
  SemVer to_version;
  std::string from_version;
  std::string image_sha256;
};

Result<Plan> MakePlan(Terminal& t, const InstallOptions& o);

}  // namespace fw::install
