/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "message-check.h"

void message_check_init(struct message_check *check, bool want_digest)
{
	i_zero(check);
	check->want_digest = want_digest;
	if (want_digest)
		sha256_init(&check->sha);
}

void message_check_more(struct message_check *check,
			const void *data, size_t size)
{
	const unsigned char *p = data, *end = p + size;

	check->size += size;
	while ((p = memchr(p, '\0', end - p)) != NULL) {
		check->nul_count++;
		p++;
	}
	if (check->want_digest)
		sha256_loop(&check->sha, data, size);
}

void message_check_digest(struct message_check *check,
			  unsigned char digest_r[SHA256_RESULTLEN])
{
	i_assert(check->want_digest);
	sha256_result(&check->sha, digest_r);
}
