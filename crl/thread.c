/*
 * The thread each part of crld runs in (crl/issuer.c, crl/publisher.c):
 * its mutex, its stop flag, and a wake-up pipe that kick and stop write to
 * and that the thread's poll() watches.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "crl/extern.h"
#include "lib/log.h"

int
crl_thread_start(struct crl_thread *t, const char *name,
    void *(*fn)(void *), void *arg, char *err, size_t errlen)
{
	memset(t, 0, sizeof(*t));
	t->name = name;
	t->wake[0] = t->wake[1] = -1;
	if (pthread_mutex_init(&t->mtx, NULL) != 0) {
		snprintf(err, errlen, "pthread_mutex_init failed");
		return -1;
	}
	if (pipe2(t->wake, O_NONBLOCK | O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe2: %s", strerror(errno));
		crl_thread_stop(t);
		return -1;
	}
	if (pthread_create(&t->thread, NULL, fn, arg) != 0) {
		snprintf(err, errlen, "pthread_create failed");
		crl_thread_stop(t);
		return -1;
	}
	t->started = 1;
	return 0;
}

void
crl_thread_wake(struct crl_thread *t)
{
	if (write(t->wake[1], "x", 1) == -1 && errno != EAGAIN)
		log_warn("%s: wake-up write: %s", t->name, strerror(errno));
}

void
crl_thread_drain(struct crl_thread *t)
{
	char buf[64];

	while (read(t->wake[0], buf, sizeof(buf)) > 0)
		;
}

int
crl_thread_stopping(struct crl_thread *t)
{
	int stop;

	pthread_mutex_lock(&t->mtx);
	stop = t->stop;
	pthread_mutex_unlock(&t->mtx);
	return stop;
}

void
crl_thread_stop(struct crl_thread *t)
{
	if (t->started) {
		pthread_mutex_lock(&t->mtx);
		t->stop = 1;
		pthread_mutex_unlock(&t->mtx);
		crl_thread_wake(t);
		pthread_join(t->thread, NULL);
		t->started = 0;
	}
	if (t->wake[0] != -1)
		close(t->wake[0]);
	if (t->wake[1] != -1)
		close(t->wake[1]);
	t->wake[0] = t->wake[1] = -1;
	pthread_mutex_destroy(&t->mtx);
}
