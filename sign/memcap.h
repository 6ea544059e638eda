/*
 * The signer's memory cap and its reserve (sign/memcap.cc; sign/README.md
 * "Memory cap"). A PDF that inflates past the cap makes one of qpdf's
 * allocations fail (C++ operator new, std::bad_alloc); qpdf then catches
 * it and allocates again, to record the error for its C API. At the cap
 * that allocation failed too, the bad_alloc escaped into our C code and
 * std::terminate() ended the process: pkisign serve with every caller's
 * job. So the hard RLIMIT_DATA is the cap plus a reserve, the soft one the
 * cap, and a new-handler opens the reserve (soft limit raised a step) when
 * an allocation fails, then refuses that allocation (bad_alloc): qpdf's
 * error path allocates out of the reserve and the document is refused.
 * The reserve closes again (soft limit back to the cap) once every thread
 * refused so has released it (memcap_release(), after its document was
 * freed).
 */
#ifndef SIGN_MEMCAP_H
#define SIGN_MEMCAP_H

#ifdef __cplusplus
extern "C" {
#endif

/* One step of the reserve, opened by each refused allocation. */
#define MEMCAP_STEP_MIB		16
/* Steps at least (64 MiB); one per thread when there are more threads. */
#define MEMCAP_MIN_STEPS	4
/* The reserve above the cap, in MiB, for that many threads. */
#define MEMCAP_RESERVE_MIB(threads) (MEMCAP_STEP_MIB * \
	((threads) > MEMCAP_MIN_STEPS ? (threads) : MEMCAP_MIN_STEPS))

/*
 * Caps this process's data memory (RLIMIT_DATA) at mib MiB, with the
 * reserve above it (MEMCAP_RESERVE_MIB of threads, the threads that may
 * read a PDF at once) as the hard limit, and installs the new-handler. Call once, before any thread and
 * any PDF. 0 capped, 1 not in a sanitizer build (sandbox_limit_memory:
 * nothing set), -1 with errno.
 */
int	memcap_set(unsigned long mib, unsigned int threads);

/*
 * 1 when an allocation of this thread was refused at the cap since its last
 * memcap_release() (the document in hand needs more memory than the cap
 * allows now), else 0.
 */
int	memcap_refused(void);

/*
 * Called by a thread once the document whose allocation was refused is
 * freed (pdf_close): the reserve is no longer needed by this thread. When
 * no other thread still holds it, the soft limit is lowered back to the
 * cap. A no-op for a thread that was not refused.
 */
void	memcap_release(void);

#ifdef __cplusplus
}
#endif

#endif /* SIGN_MEMCAP_H */
