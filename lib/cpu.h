/*
 * Keeping a worker thread and its signer process on one CPU.
 *
 * A signature is a round trip: the worker writes a request, blocks, the
 * signer wakes, signs, writes, blocks, the worker wakes. On a virtual
 * machine a wake-up on another, idle CPU costs an inter-processor
 * interrupt and the host's scheduling of that vCPU: measured on 2 vCPUs,
 * one worker and one signer made 6,100 P-256 signatures/s on any CPU and
 * 16,600/s on one CPU (bench_signer; hsm/README.md "CPU pinning").
 */
#ifndef PKI_CPU_H
#define PKI_CPU_H

/*
 * The CPU for worker n (n >= 0): the (n mod count)-th of the CPUs this
 * process may run on, in increasing order; -1 when it may run on one CPU
 * only (nothing to share out) or its set cannot be read.
 */
int	cpu_for_worker(int n);

/*
 * Pins the calling thread (only it: sched_setaffinity(0)) to cpu; threads
 * and processes it starts afterwards inherit that. 0, or -1 with errno.
 */
int	cpu_pin_thread(int cpu);

#endif
