// How seer's CPU threads wait. OpenMP's default (libgomp) spins between parallel regions;
// when any other process, or the GUI's own thread, takes a core, the spinning threads wait
// for a descheduled peer at every op: ResNet-56 on 2 cores ran 4-6x slower with one busy
// process beside it (bench/RESULTS.md). Passive waiting costs a few microseconds per region.
#ifndef SEER_THREADS_H
#define SEER_THREADS_H

#ifdef __cplusplus
extern "C" {
#endif

// Call first in main(): unless the user set OMP_WAIT_POLICY, set it to PASSIVE and re-execute
// the program once (libgomp reads it only at start-up). Returns if it cannot re-execute.
void seer_threads_init(char **argv);

#ifdef __cplusplus
}
#endif

#endif
