/*
 * Keeping a worker thread and its signer process on one CPU (lib/cpu.h).
 */
#include <sched.h>

#include "lib/cpu.h"

int
cpu_for_worker(int n)
{
	cpu_set_t set;
	int cpu, count, k;

	if (n < 0 || sched_getaffinity(0, sizeof(set), &set) == -1)
		return -1;
	if ((count = CPU_COUNT(&set)) < 2)
		return -1;
	k = n % count;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, &set) && k-- == 0)
			return cpu;
	return -1;
}

int
cpu_pin_thread(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}
