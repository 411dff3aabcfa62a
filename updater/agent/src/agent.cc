// SKELETON (issue 17, helper "core"): the agent state machine.
#include "fw/agent/agent.h"

namespace fw::agent {

Result<std::unique_ptr<Agent>> Agent::Open(install::Terminal&, Transport&, Commands&, Clock&, AgentConfig config) {
  return Unsupported("SKELETON: Agent::Open(" + config.state_dir + ")");
}

Disposition Classify(const std::string&, int, const std::string&) { return Disposition::kPermanent; }

}  // namespace fw::agent
