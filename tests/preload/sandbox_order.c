/*
 * LD_PRELOAD shim for tests (tests/integration/test_sandbox_order.sh):
 * when a daemon starts libmicrohttpd (MHD_start_daemon) or a thread
 * (pthread_create), one line on stderr says as which user and after how
 * many seccomp filters (seccomp_load calls that succeeded in this process
 * or, before a fork, in its parent: a filter is inherited) it does:
 *	sandbox_order: pid 42: MHD_start_daemon as uid 998 after 1 filter(s)
 * So the test sees whether anything that may serve a request ran before
 * the process demoted and entered its sandbox (lib/http.h http_serve).
 * Only write(2), geteuid and getpid after the filter: every profile
 * allows them. Built without sanitizers: it is loaded before everything.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <microhttpd.h>
#include <seccomp.h>

static int	(*real_seccomp_load)(const scmp_filter_ctx);
static int	(*real_pthread_create)(pthread_t *, const pthread_attr_t *,
		    void *(*)(void *), void *);
static struct MHD_Daemon *(*real_mhd_start_va)(unsigned int, uint16_t,
		    MHD_AcceptPolicyCallback, void *, MHD_AccessHandlerCallback,
		    void *, va_list);
static int	filters;

/* Resolved before main(), so before any filter and any thread. */
__attribute__((constructor))
static void
sandbox_order_init(void)
{
	*(void **)&real_seccomp_load = dlsym(RTLD_NEXT, "seccomp_load");
	*(void **)&real_pthread_create = dlsym(RTLD_NEXT, "pthread_create");
	*(void **)&real_mhd_start_va = dlsym(RTLD_DEFAULT,
	    "MHD_start_daemon_va");
}

static void
sandbox_order_note(const char *what)
{
	char line[160];
	int n;

	n = snprintf(line, sizeof(line), "sandbox_order: pid %d: %s as uid "
	    "%d after %d filter(s)\n", (int)getpid(), what, (int)geteuid(),
	    __atomic_load_n(&filters, __ATOMIC_SEQ_CST));
	if (n > 0 && (size_t)n < sizeof(line))
		(void)write(2, line, (size_t)n);
}

int
seccomp_load(const scmp_filter_ctx ctx)
{
	int rc;

	if (real_seccomp_load == NULL)
		abort();
	if ((rc = real_seccomp_load(ctx)) == 0)
		__atomic_add_fetch(&filters, 1, __ATOMIC_SEQ_CST);
	return rc;
}

int
pthread_create(pthread_t *t, const pthread_attr_t *attr,
    void *(*fn)(void *), void *arg)
{
	if (real_pthread_create == NULL)
		abort();
	sandbox_order_note("pthread_create");
	return real_pthread_create(t, attr, fn, arg);
}

struct MHD_Daemon *
MHD_start_daemon(unsigned int flags, uint16_t port,
    MHD_AcceptPolicyCallback apc, void *apc_cls,
    MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
	struct MHD_Daemon *d;
	va_list ap;

	if (real_mhd_start_va == NULL)
		abort();
	sandbox_order_note("MHD_start_daemon");
	va_start(ap, dh_cls);
	d = real_mhd_start_va(flags, port, apc, apc_cls, dh, dh_cls, ap);
	va_end(ap);
	return d;
}
