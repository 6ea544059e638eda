/*
 * libFuzzer harness: pkiaudit's readers of an auditor's files, which come
 * from the CA's operator and are not to be trusted (audit/pkiaudit.c, its
 * main renamed): the seals file, strict and as kept lines
 * (--known-seals), and `verify` over the bytes as the events file and as
 * the seals file at once, against a key made at start-up that signed
 * nothing in any seed, so nothing may verify (the bytes as events also
 * give the keys of pki_admin's audit.key.create events a handover seal
 * may name: they only count after a seal of that key verified; read
 * alone too, so that the base64 SPKI parser is reached); and `prove` over the bytes as
 * the events and the seals file at once (each line's id found by
 * auditseal_event_id). fuzz_audit covers the line parsers themselves. The bytes reach the readers as a file: a memfd.
 */
#include <sys/mman.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define main pkiaudit_main
#include "audit/pkiaudit.c"
#undef main

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* A file of data under /proc/self/fd (its descriptor in *fd), or NULL. */
static const char *
memfile(const void *data, size_t size, int *fd, char *path, size_t pathlen)
{
	if ((*fd = memfd_create("pkiaudit-fuzz", MFD_CLOEXEC)) == -1)
		return NULL;
	if ((size > 0 && write(*fd, data, size) != (ssize_t)size) ||
	    lseek(*fd, 0, SEEK_SET) == -1) {
		close(*fd);
		return NULL;
	}
	snprintf(path, pathlen, "/proc/self/fd/%d", *fd);
	return path;
}

/* The public key of a P-256 key made once, as a PEM file. */
static const char *
key_file(void)
{
	static char path[64];
	static int done;
	EVP_PKEY *k;
	BIO *b;
	char *pem;
	long n;
	int fd;

	if (done)
		return path[0] != '\0' ? path : NULL;
	done = 1;
	if ((k = EVP_EC_gen("P-256")) == NULL ||
	    (b = BIO_new(BIO_s_mem())) == NULL)
		abort();
	if (PEM_write_bio_PUBKEY(b, k) != 1 ||
	    (n = BIO_get_mem_data(b, &pem)) <= 0 ||
	    memfile(pem, (size_t)n, &fd, path, sizeof(path)) == NULL)
		abort();
	BIO_free(b);
	EVP_PKEY_free(k);
	return path;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	struct keyring ring;
	struct seals s;
	char path[64];
	const char *f, *key;
	int fd, kept;

	/* verify prints its report: not into the fuzzer's output. */
	if (!quiet && freopen("/dev/null", "w", stdout) == NULL)
		abort();
	quiet = 1;
	key = key_file();
	if ((f = memfile(data, size, &fd, path, sizeof(path))) == NULL)
		return 0;
	for (kept = 0; kept < 2; kept++) {
		memset(&s, 0, sizeof(s));
		if (load_seals(f, kept, &s) == 0) {
			if (!kept && s.n > 0 && s.s[0].id != 1)
				abort();
			free(s.s);
		}
	}
	/*
	 * The bytes as events alone: verify reads them for keys only once
	 * the seals file parsed, which event lines never do. Every pki_admin
	 * audit.key.create line's public_key goes through the base64 SPKI
	 * parser; no seal names its digest, so none is kept.
	 */
	memset(&s, 0, sizeof(s));
	memset(&ring, 0, sizeof(ring));
	if (keyring_from_events(&ring, f, &s) == -1 || ring.n != 0)
		abort();
	keyring_free(&ring);
	/* No seal signed by this key: never verified. */
	if (cmd_verify(f, f, &key, 1, f) == EXIT_VERIFIED)
		abort();
	/*
	 * prove over the bytes as the events and the seals: each line's id
	 * read by auditseal_event_id (any number or depth after it), the
	 * proof written from the leaves, never checked against a key here.
	 */
	(void)cmd_prove(f, f, 1, 0);
	(void)cmd_prove(f, f, 2, 1);
	close(fd);
	return 0;
}
