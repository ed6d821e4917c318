// `arbitra quantize` and `arbitra bench`: argument parsing and printing for
// the edge engine's commands; the work is in src/engine (quantize.h, bench.h).
#pragma once

namespace arbitra::cli {

int runQuantize(int argc, char** argv);
int runBench(int argc, char** argv);

}  // namespace arbitra::cli
