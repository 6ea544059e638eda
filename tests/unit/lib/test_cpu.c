/*
 * lib/cpu.c: workers are shared out over the CPUs the process may use, in
 * order and wrapping round; a process on one CPU pins nothing; a pinned
 * thread runs on its CPU only, and what it starts inherits that.
 */
#include <sched.h>
#include <sys/wait.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/cpu.h"

static cpu_set_t all;

static int
setup(void **state)
{
	(void)state;
	return sched_getaffinity(0, sizeof(all), &all);
}

static int
teardown(void **state)
{
	(void)state;
	return sched_setaffinity(0, sizeof(all), &all);
}

/* The i-th CPU of set, in increasing order. */
static int
nth_cpu(const cpu_set_t *set, int i)
{
	int cpu;

	for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, set) && i-- == 0)
			return cpu;
	return -1;
}

static void
test_workers_wrap_round_the_allowed_cpus(void **state)
{
	int count = CPU_COUNT(&all), n;

	(void)state;
	if (count < 2) {
		assert_int_equal(cpu_for_worker(0), -1);
		skip();
	}
	for (n = 0; n < 3 * count; n++)
		assert_int_equal(cpu_for_worker(n), nth_cpu(&all, n % count));
	assert_int_equal(cpu_for_worker(-1), -1);
}

static void
test_one_cpu_pins_nothing(void **state)
{
	int cpu = nth_cpu(&all, CPU_COUNT(&all) - 1);

	(void)state;
	assert_int_equal(cpu_pin_thread(cpu), 0);
	assert_int_equal(cpu_for_worker(0), -1);
	assert_int_equal(cpu_for_worker(5), -1);
}

static void
test_pinned_thread_and_its_child(void **state)
{
	cpu_set_t now;
	int cpu = nth_cpu(&all, CPU_COUNT(&all) - 1), st;
	pid_t pid;

	(void)state;
	assert_int_equal(cpu_pin_thread(cpu), 0);
	assert_int_equal(sched_getaffinity(0, sizeof(now), &now), 0);
	assert_int_equal(CPU_COUNT(&now), 1);
	assert_true(CPU_ISSET(cpu, &now));
	assert_int_equal(sched_getcpu(), cpu);
	/* A signer forked now runs there too. */
	if ((pid = fork()) == 0) {
		_exit(sched_getaffinity(0, sizeof(now), &now) == 0 &&
		    CPU_COUNT(&now) == 1 && CPU_ISSET(cpu, &now) &&
		    sched_getcpu() == cpu ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		    test_workers_wrap_round_the_allowed_cpus, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_cpu_pins_nothing,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_pinned_thread_and_its_child, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
