/* Whole files of bounded size. */
#ifndef PKI_FILE_H
#define PKI_FILE_H

#include <stddef.h>

struct stat;

/*
 * Reads the whole of path ("-": standard input), a regular file, a pipe or
 * a device, into a malloc'd buffer with a NUL after its len bytes, refusing
 * more than max bytes (it reads at most max + 1). 0, or -1 with a message
 * naming path in err; a failed read's bytes are wiped (they may be a
 * secret). The caller frees *out.
 */
int	file_read_capped(const char *path, size_t max, unsigned char **out,
	    size_t *len, char *err, size_t errlen);

/*
 * file_read_capped for a file another, less trusted user can write (crld's
 * out_dir, which its demoted self owns): path must be a regular file
 * itself. A symbolic link (O_NOFOLLOW: even one to a regular file), a
 * FIFO (opened with O_NONBLOCK, so no wait for a writer), a device or a
 * directory is refused, as is one whose size is over max. No "-". Same
 * returns; the caller frees *out.
 */
int	file_read_regular(const char *path, size_t max, unsigned char **out,
	    size_t *len, char *err, size_t errlen);

/*
 * Opens path for reading only if it is a regular file itself: O_NOFOLLOW
 * refuses a symbolic link planted there, O_NONBLOCK opens a FIFO without
 * waiting for a writer, and fstat then refuses anything not regular (the
 * descriptor stays O_NONBLOCK, which a regular file's reads ignore). The
 * descriptor with *st filled, or -1 with a message naming path in err.
 * file_read_regular and lib/secret.c's PIN files open this way.
 */
int	file_open_regular(const char *path, struct stat *st, char *err,
	    size_t errlen);

#endif
