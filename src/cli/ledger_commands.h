// `arbitra keys` and `arbitra report`: the ledger from the command line.
#pragma once

namespace arbitra::cli {

int runKeys(int argc, char** argv);
int runReport(int argc, char** argv);

}  // namespace arbitra::cli
