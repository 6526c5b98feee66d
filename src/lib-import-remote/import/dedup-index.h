#ifndef DEDUP_INDEX_H
#define DEDUP_INDEX_H

/* Identities of messages already in the destination, so a message that is
   already there is not copied again.

   A message's identity is its Message-ID together with its size (RFC822.SIZE
   on the source = Dovecot's virtual size): the same message is skipped,
   while different messages that happen to share a Message-ID are both kept.
   Mail without a (valid) Message-ID gets a stable identity from a hash of
   its header block (CRs dropped, so LF and CRLF storage agree) and its size. */

#include "sha1.h"

struct mail;
struct mailbox;
struct dedup_index;

struct dedup_index *dedup_index_init(void);
void dedup_index_deinit(struct dedup_index **index);

/* The normalized Message-ID in a header value (e.g. from "Message-ID: <a@b>"
   the "a@b"), or NULL if the value holds no valid one. */
const char *dedup_message_id_normalize(const char *header_value);
/* The Message-ID field from a header block (e.g. the FETCH
   BODY[HEADER.FIELDS (MESSAGE-ID)] reply), normalized; NULL if none. */
const char *dedup_message_id_from_header(const unsigned char *data,
					 size_t size);

/* Identity keys (allocated from data stack) */
const char *dedup_key_message_id(const char *message_id, uoff_t size);
const char *dedup_key_header_hash(const unsigned char hash[SHA1_RESULTLEN],
				  uoff_t size);
/* Hash a header block incrementally; CRs are skipped. */
void dedup_header_hash_more(struct sha1_ctxt *ctx, const void *data,
			    size_t size);
/* The header hash key of the first header_size bytes of input (the
   header block, its empty line included), for a message of size bytes.
   Returns -1 if input failed. */
int dedup_key_header_hash_input(struct istream *input, uoff_t header_size,
				uoff_t size, const char **key_r);

/* Returns FALSE if the key was already there. */
bool dedup_index_add(struct dedup_index *index, const char *key);
/* The UID of the message with this identity in the mailbox the index was
   built from (with dedup_index_add_mailbox(..., TRUE)), or 0. */
uint32_t dedup_index_lookup_uid(struct dedup_index *index, const char *key);
unsigned int dedup_index_count(struct dedup_index *index);

/* Add the identities of every message in box (opened). Message-IDs and
   sizes come from Dovecot's index/cache; only mail without a Message-ID
   has its header read. Returns 0, or -1 with error_r. */
int dedup_index_add_mailbox(struct dedup_index *index, struct mailbox *box,
			    bool remember_uids, const char **error_r);

/* Ask Dovecot to cache what dedup_index_add_mailbox() reads when it saves
   mail (the Message-ID header and the virtual size), so that the next
   index build is near free. */
void dedup_index_want_cached(struct mail *dest_mail);

#endif
