// Tests only: a Transport decorator that slows the agent's image streams, so that other processes
// (a technician's `fwupdate status` / `install`) can be run against a live agent install.
// `fwupdate agent run` uses it when FWUPDATE_TEST_WRITE_DELAY_MS is set (the same variable that slows
// `fwupdate install`'s writer): every Read of a stream opened with OpenStream returns at most
// kSlowReadBytes and is followed by a pause of `delay_ms` (on the injected clock). Everything else is
// forwarded unchanged. Ownership: does not own `inner`. Thread safety: as the inner transport.
// Private to fwupdate.
#pragma once

#include <memory>

#include "fw/agent/transport.h"
#include "fw/clock.h"

namespace fw::agent {

inline constexpr size_t kSlowReadBytes = 16 * 1024;

std::unique_ptr<Transport> MakeSlowTransport(Transport& inner, int delay_ms, Clock& clock);

}  // namespace fw::agent
