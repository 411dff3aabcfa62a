// fwfleet — the fleet CLI over fwserver's operator API (docs/fleet-operator.md, "Fleet CLI").
#include "fleet_cmds.h"

int main(int argc, char** argv) { return fw::cli::Run(fw::fleet::MakeProgram(), argc, argv); }
