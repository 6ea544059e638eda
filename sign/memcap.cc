/*
 * The memory cap's reserve (sign/memcap.h): C++ only for the new-handler,
 * the one way to act when qpdf's operator new fails.
 *
 * qpdf turns an exception into an error of its C API in a catch block
 * (trap_errors: make_shared<QPDFExc>), and qpdf_next_warning() copies a
 * warning, both allocating. Refused at the cap, such an allocation threw
 * out of the C API and std::terminate() ended the process. Here a failed
 * allocation first raises the soft RLIMIT_DATA one step (MEMCAP_STEP_MIB)
 * towards the hard limit, then:
 *  - outside a catch block (qpdf reading the document): throws bad_alloc,
 *    so the allocation the document asked for is refused, and qpdf's
 *    error path that follows finds the step open;
 *  - inside a catch block (std::current_exception() is set: qpdf's error
 *    path itself met the cap first, after a failure of zlib's malloc or
 *    any other exception): returns, and operator new tries again in the
 *    step just opened; an error path allocates little.
 * Each refused allocation opens a step while there is one, so a thread
 * refused beside another one (two bombs at once in pkisign serve) gets
 * room of its own even if the first step was used by the other. With
 * every step open it throws: nothing is left to give.
 *
 * The reserve closes (soft limit back to the cap, every step shut) when
 * the last thread refused since the reserve opened calls memcap_release(),
 * after its document was freed: never while a refused thread may still be
 * on its error path. A thread that was not refused and runs beside a bomb
 * may use the open steps meanwhile; when the reserve closes under it, its
 * next allocation that finds no room is refused like any other (its
 * document refused, 422), never the process ended.
 */
#include <errno.h>
#include <limits.h>
#include <sys/resource.h>

#include <exception>
#include <mutex>
#include <new>

extern "C" {
#include "lib/sandbox.h"
}
#include "sign/memcap.h"

namespace {

std::mutex memcap_mu;		/* guards the four below and setrlimit */
rlim_t memcap_cap;		/* bytes */
unsigned int memcap_steps;	/* the reserve, in steps above the cap */
unsigned int memcap_open;	/* steps open now */
unsigned int memcap_holders;	/* threads refused and not yet released */
thread_local bool memcap_refused_here;

rlim_t
memcap_step_bytes()
{
	return (rlim_t)MEMCAP_STEP_MIB << 20;
}

/* The soft limit at the cap and n steps; 0, or -1 with errno. */
int
memcap_soft_locked(unsigned int n)
{
	struct rlimit rl;

	rl.rlim_cur = memcap_cap + n * memcap_step_bytes();
	rl.rlim_max = memcap_cap + memcap_steps * memcap_step_bytes();
	return setrlimit(RLIMIT_DATA, &rl);
}

/*
 * std::set_new_handler's handler (above). Takes a mutex and makes a
 * system call, nothing that allocates.
 */
void
memcap_new_handler()
{
	bool opened = false;

	{
		std::lock_guard<std::mutex> lock(memcap_mu);

		if (!memcap_refused_here) {
			memcap_refused_here = true;
			memcap_holders++;
		}
		if (memcap_open < memcap_steps &&
		    memcap_soft_locked(memcap_open + 1) == 0) {
			memcap_open++;
			opened = true;
		}
	}
	/* An error path, and room just made for it: try again. */
	if (opened && std::current_exception() != nullptr)
		return;
	throw std::bad_alloc();
}

} /* namespace */

extern "C" int
memcap_set(unsigned long mib, unsigned int threads)
{
	unsigned long reserve = MEMCAP_RESERVE_MIB((unsigned long)threads);
	int r;

	if (mib == 0 || mib > ULONG_MAX - reserve) {
		errno = EINVAL;
		return -1;
	}
	/* Soft and hard at cap + reserve, or 1 in a sanitizer build. */
	if ((r = sandbox_limit_memory(mib + reserve)) != 0)
		return r;
	std::lock_guard<std::mutex> lock(memcap_mu);
	memcap_cap = (rlim_t)mib << 20;
	memcap_steps = (unsigned int)(reserve / MEMCAP_STEP_MIB);
	memcap_open = 0;
	if (memcap_soft_locked(0) == -1)
		return -1;
	std::set_new_handler(memcap_new_handler);
	return 0;
}

extern "C" int
memcap_refused(void)
{
	return memcap_refused_here;
}

extern "C" void
memcap_release(void)
{
	if (!memcap_refused_here)
		return;
	std::lock_guard<std::mutex> lock(memcap_mu);
	memcap_refused_here = false;
	if (--memcap_holders > 0 || memcap_open == 0)
		return;
	/* Lowering the soft limit within the hard one cannot fail. */
	if (memcap_soft_locked(0) == 0)
		memcap_open = 0;
}
