#ifndef MESSAGE_CHECK_H
#define MESSAGE_CHECK_H

#include "sha2.h"

/* What is worth knowing about a message body as it streams past: whether
   it has NUL bytes (which IMAP does not allow in a message: a broken
   server or a corrupt message) and, when asked for, a digest that tells
   whether the server sends the same bytes twice. */

struct message_check {
	uoff_t size;
	uoff_t nul_count;
	bool want_digest;
	struct sha256_ctx sha;
};

void message_check_init(struct message_check *check, bool want_digest);
void message_check_more(struct message_check *check,
			const void *data, size_t size);
void message_check_digest(struct message_check *check,
			  unsigned char digest_r[SHA256_RESULTLEN]);

#endif
