// `arbitra plan`: argument parsing and wiring for the planner (src/planner).
#pragma once

namespace arbitra::cli {

// argv[1] is "plan". Returns the exit status: 0 done, 2 bad input or usage.
int runPlan(int argc, char** argv);

}  // namespace arbitra::cli
