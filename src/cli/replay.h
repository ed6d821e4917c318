// `arbitra replay`: argument parsing and wiring for the offline router replay (src/replay).
#pragma once

namespace arbitra::cli {

// argv[1] is "replay". Returns the exit status: 0 done, 2 bad input or usage.
int runReplay(int argc, char** argv);

}  // namespace arbitra::cli
