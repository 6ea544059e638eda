/*
 * jansson helpers for untrusted JSON. See lib/json.h.
 */
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>

#include "lib/json.h"

/* Fills a jansson error the way the library would, for our own refusals. */
static void
json_error_set(json_error_t *err, const char *msg)
{
	if (err == NULL)
		return;
	memset(err, 0, sizeof(*err));
	err->line = -1;
	err->column = -1;
	snprintf(err->source, sizeof(err->source), "<buffer>");
	snprintf(err->text, sizeof(err->text), "%s", msg);
}

json_t *
json_load_bounded(const void *buf, size_t len, size_t max, json_error_t *err)
{
	json_error_t local;
	json_t *root = NULL;

	if (err == NULL)
		err = &local;
	if (len > max) {
		json_error_set(err, "JSON text longer than the allowed maximum");
		goto out;
	}
	if (buf == NULL || len == 0) {
		json_error_set(err, "empty JSON text");
		goto out;
	}
	/*
	 * Without JSON_DECODE_ANY the top level is an object or array, and
	 * without JSON_DISABLE_EOF_CHECK trailing bytes are an error; NUL
	 * bytes (\u0000) are refused since JSON_ALLOW_NUL is not set.
	 */
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, err);
	if (root == NULL)
		goto out;
	if (!json_is_object(root)) {
		json_decref(root);
		root = NULL;
		json_error_set(err, "top-level JSON value is not an object");
		goto out;
	}
out:
	return root;
}

int
json_unpack_strict(json_t *root, json_error_t *err, const char *fmt, ...)
{
	va_list ap;
	int rc;

	if (root == NULL || fmt == NULL) {
		json_error_set(err, "nothing to unpack");
		return -1;
	}
	va_start(ap, fmt);
	rc = json_vunpack_ex(root, err, JSON_STRICT, fmt, ap);
	va_end(ap);
	return rc == 0 ? 0 : -1;
}

static void	 (*json_wipe_release)(void *) = free;

/*
 * Blocks stay plain malloc blocks (no header), so a string jansson hands
 * out (json_dumps) may still be released with free() by its caller; their
 * size is malloc's own.
 */
static void
json_wiping_free(void *block)
{
	if (block == NULL)
		return;
	OPENSSL_cleanse(block, malloc_usable_size(block));
	json_wipe_release(block);
}

void
json_wipe_on_free(void *(*alloc)(size_t), void (*release)(void *))
{
	json_wipe_release = release != NULL ? release : free;
	json_set_alloc_funcs(alloc != NULL ? alloc : malloc, json_wiping_free);
}
