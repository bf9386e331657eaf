// See threads.h.
#include "core/threads.h"

#include <stdlib.h>
#include <unistd.h>

void seer_threads_init(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1) != 0) return;
    execv("/proc/self/exe", argv);
    // execv returned: keep running with the default policy (the variable is set now, so a
    // child process would still get it).
}
