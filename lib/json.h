/*
 * jansson helpers for untrusted JSON: bounded length, duplicate keys
 * rejected, strict unpacking (unknown fields fail).
 */
#ifndef PKI_JSON_H
#define PKI_JSON_H

#include <stddef.h>
#include <jansson.h>

/*
 * Parses exactly len bytes (no NUL needed) when len <= max, with
 * JSON_REJECT_DUPLICATES; the top level must be an object. Returns a new
 * reference or NULL with err->text filled. A body over max fails without
 * being parsed.
 */
json_t	*json_load_bounded(const void *buf, size_t len, size_t max,
	    json_error_t *err);

/*
 * json_unpack_ex with JSON_STRICT: every key of an object must be named in
 * fmt (unless fmt ends the object with '*'). Returns 0 or -1 with err set.
 */
int	json_unpack_strict(json_t *root, json_error_t *err, const char *fmt, ...);

/*
 * Makes jansson wipe every block it frees: for processes whose JSON carries
 * secrets (passwords, PINs, one-time codes, access tokens, SADs), which
 * jansson's parser copies into strings of its own and its lexer buffer,
 * as lib/http.c wipes the request and response bodies. alloc and release
 * are the allocator underneath (NULL: malloc and free); alloc's blocks
 * must be malloc's (their size is malloc_usable_size()'s), so a string
 * jansson returns may still be freed with free(). Replaces
 * json_set_alloc_funcs(): call it once, before any thread.
 */
void	json_wipe_on_free(void *(*alloc)(size_t), void (*release)(void *));

#endif
