/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "hex-binary.h"
#include "istream.h"
#include "message-id.h"
#include "message-size.h"
#include "message-header-parser.h"
#include "mail-storage.h"
#include "mail-search-build.h"
#include "dedup-index.h"

static const char *const dedup_wanted_headers[] = { "Message-ID", NULL };

/* Identities are kept as 96 bits of their SHA1 in one flat table (open
   addressing, linear probing), not as strings nor as nodes of a hash
   table: 16 bytes a slot, at most 85% full, so memory per message stays
   at ~19-38 bytes even for huge folders. A collision of two different
   identities needs ~2^48 messages in one index. */
#define DEDUP_DIGEST_LEN 12
/* grown to twice its size when this full */
#define DEDUP_MAX_LOAD_PERCENT 85
#define DEDUP_INITIAL_SLOTS 1024

struct dedup_slot {
	unsigned char digest[DEDUP_DIGEST_LEN];
	/* the message's UID in the indexed mailbox, DEDUP_NO_UID for one
	   without, 0 for an empty slot */
	uint32_t uid;
};
#define DEDUP_NO_UID ((uint32_t)-1)

struct dedup_index {
	struct dedup_slot *slots;
	/* slots_count is a power of two */
	unsigned int slots_count, count;
};

static void dedup_digest_get(const char *key,
			     unsigned char digest_r[DEDUP_DIGEST_LEN])
{
	unsigned char sha1[SHA1_RESULTLEN];

	sha1_get_digest(key, strlen(key), sha1);
	memcpy(digest_r, sha1, DEDUP_DIGEST_LEN);
}

/* The slot holding digest, or the empty one where it belongs */
static struct dedup_slot *
dedup_index_find(struct dedup_slot *slots, unsigned int slots_count,
		 const unsigned char digest[DEDUP_DIGEST_LEN])
{
	unsigned int mask = slots_count - 1, i;
	uint32_t start;

	/* SHA1's bytes are evenly spread: any four make a good hash */
	memcpy(&start, digest, sizeof(start));
	for (i = start & mask;; i = (i + 1) & mask) {
		if (slots[i].uid == 0 ||
		    memcmp(slots[i].digest, digest, DEDUP_DIGEST_LEN) == 0)
			return &slots[i];
	}
}

static void dedup_index_grow(struct dedup_index *index)
{
	struct dedup_slot *old = index->slots, *slot;
	unsigned int i, old_count = index->slots_count;

	index->slots_count = old_count * 2;
	index->slots = i_new(struct dedup_slot, index->slots_count);
	for (i = 0; i < old_count; i++) {
		if (old[i].uid == 0)
			continue;
		slot = dedup_index_find(index->slots, index->slots_count,
					old[i].digest);
		*slot = old[i];
	}
	i_free(old);
}

struct dedup_index *dedup_index_init(void)
{
	struct dedup_index *index;

	index = i_new(struct dedup_index, 1);
	index->slots_count = DEDUP_INITIAL_SLOTS;
	index->slots = i_new(struct dedup_slot, index->slots_count);
	return index;
}

void dedup_index_deinit(struct dedup_index **_index)
{
	struct dedup_index *index = *_index;

	*_index = NULL;
	i_free(index->slots);
	i_free(index);
}

const char *dedup_message_id_normalize(const char *header_value)
{
	const char *value = header_value;

	return message_id_get_next(&value);
}

const char *dedup_message_id_from_header(const unsigned char *data,
					 size_t size)
{
	struct message_header_parser_ctx *parser;
	struct message_header_line *hdr;
	struct istream *input;
	const char *msgid = NULL;

	input = i_stream_create_from_data(data, size);
	parser = message_parse_header_init(input, NULL,
					   MESSAGE_HEADER_PARSER_FLAG_DROP_CR);
	while (msgid == NULL &&
	       message_parse_header_next(parser, &hdr) > 0) {
		if (hdr->eoh || strcasecmp(hdr->name, "Message-ID") != 0)
			continue;
		if (hdr->continues) {
			hdr->use_full_value = TRUE;
			continue;
		}
		msgid = dedup_message_id_normalize(
			t_strndup(hdr->full_value, hdr->full_value_len));
		if (msgid == NULL)
			break;
	}
	message_parse_header_deinit(&parser);
	i_stream_unref(&input);
	return msgid;
}

const char *dedup_key_message_id(const char *message_id, uoff_t size)
{
	return t_strdup_printf("m%"PRIuUOFF_T" %s", size, message_id);
}

const char *dedup_key_header_hash(const unsigned char hash[SHA1_RESULTLEN],
				  uoff_t size)
{
	return t_strdup_printf("h%"PRIuUOFF_T" %s", size,
			       binary_to_hex(hash, SHA1_RESULTLEN));
}

void dedup_header_hash_more(struct sha1_ctxt *ctx, const void *data,
			    size_t size)
{
	const unsigned char *p = data, *cr;

	while (size > 0 && (cr = memchr(p, '\r', size)) != NULL) {
		sha1_loop(ctx, p, cr - p);
		size -= cr - p + 1;
		p = cr + 1;
	}
	sha1_loop(ctx, p, size);
}

static bool dedup_index_add_uid(struct dedup_index *index, const char *key,
				uint32_t uid)
{
	unsigned char digest[DEDUP_DIGEST_LEN];
	struct dedup_slot *slot;

	i_assert(uid != 0);
	dedup_digest_get(key, digest);
	slot = dedup_index_find(index->slots, index->slots_count, digest);
	if (slot->uid != 0)
		return FALSE;
	if ((uint64_t)(index->count + 1) * 100 >
	    (uint64_t)index->slots_count * DEDUP_MAX_LOAD_PERCENT) {
		dedup_index_grow(index);
		slot = dedup_index_find(index->slots, index->slots_count,
					digest);
	}
	memcpy(slot->digest, digest, DEDUP_DIGEST_LEN);
	slot->uid = uid;
	index->count++;
	return TRUE;
}

bool dedup_index_add(struct dedup_index *index, const char *key)
{
	return dedup_index_add_uid(index, key, DEDUP_NO_UID);
}

uint32_t dedup_index_lookup_uid(struct dedup_index *index, const char *key)
{
	unsigned char digest[DEDUP_DIGEST_LEN];
	const struct dedup_slot *slot;

	dedup_digest_get(key, digest);
	slot = dedup_index_find(index->slots, index->slots_count, digest);
	return slot->uid == DEDUP_NO_UID ? 0 : slot->uid;
}

unsigned int dedup_index_count(struct dedup_index *index)
{
	return index->count;
}

int dedup_key_header_hash_input(struct istream *input, uoff_t header_size,
				uoff_t size, const char **key_r)
{
	struct sha1_ctxt ctx;
	unsigned char hash[SHA1_RESULTLEN];
	const unsigned char *data;
	size_t n;
	uoff_t left = header_size;

	sha1_init(&ctx);
	while (left > 0 && i_stream_read_more(input, &data, &n) > 0) {
		if (n > left)
			n = left;
		dedup_header_hash_more(&ctx, data, n);
		i_stream_skip(input, n);
		left -= n;
	}
	if (input->stream_errno != 0)
		return -1;
	sha1_result(&ctx, hash);
	*key_r = dedup_key_header_hash(hash, size);
	return 0;
}

static int dedup_mail_header_hash(struct mail *mail, uoff_t vsize,
				  const char **key_r)
{
	struct message_size hdr_size;
	struct istream *input;

	if (mail_get_hdr_stream(mail, &hdr_size, &input) < 0)
		return -1;
	return dedup_key_header_hash_input(input, hdr_size.physical_size,
					   vsize, key_r);
}

int dedup_index_add_mailbox(struct dedup_index *index, struct mailbox *box,
			    bool remember_uids, const char **error_r)
{
	struct mailbox_transaction_context *trans;
	struct mailbox_header_lookup_ctx *headers;
	struct mail_search_args *search_args;
	struct mail_search_context *search_ctx;
	struct mail *mail;
	const char *value, *msgid, *key;
	uoff_t vsize;
	int ret = 0;

	/* a full sync, which waits for the Maildir's uidlist lock: a process
	   killed in its commit leaves its mail in cur/ and new/ with the lock
	   still held, and a quick sync (or none) would not list that mail,
	   which would then be imported again beside it */
	if (mailbox_sync(box, 0) < 0) {
		*error_r = t_strdup_printf("Syncing mailbox %s failed: %s",
			mailbox_get_vname(box),
			mailbox_get_last_internal_error(box, NULL));
		return -1;
	}
	headers = mailbox_header_lookup_init(box, dedup_wanted_headers);
	trans = mailbox_transaction_begin(box, 0, __func__);
	search_args = mail_search_build_init();
	mail_search_build_add_all(search_args);
	search_ctx = mailbox_search_init(trans, search_args, NULL,
					 MAIL_FETCH_VIRTUAL_SIZE, headers);
	mail_search_args_unref(&search_args);
	while (mailbox_search_next(search_ctx, &mail)) T_BEGIN {
		uint32_t uid = remember_uids ? mail->uid : DEDUP_NO_UID;

		if (mail_get_virtual_size(mail, &vsize) < 0) {
			if (!mail->expunged)
				ret = -1;
		} else if (mail_get_first_header(mail, "Message-ID", &value) > 0 &&
			   (msgid = dedup_message_id_normalize(value)) != NULL) {
			(void)dedup_index_add_uid(index,
				dedup_key_message_id(msgid, vsize), uid);
		} else if (dedup_mail_header_hash(mail, vsize, &key) == 0) {
			(void)dedup_index_add_uid(index, key, uid);
		} else if (!mail->expunged) {
			ret = -1;
		}
	} T_END;
	if (mailbox_search_deinit(&search_ctx) < 0)
		ret = -1;
	(void)mailbox_transaction_commit(&trans);
	mailbox_header_lookup_unref(&headers);
	if (ret < 0) {
		*error_r = t_strdup_printf("Reading mailbox %s failed: %s",
			mailbox_get_vname(box),
			mailbox_get_last_internal_error(box, NULL));
	}
	return ret;
}

void dedup_index_want_cached(struct mail *dest_mail)
{
	struct mailbox_header_lookup_ctx *headers;

	headers = mailbox_header_lookup_init(dest_mail->box,
					     dedup_wanted_headers);
	mail_add_temp_wanted_fields(dest_mail, MAIL_FETCH_VIRTUAL_SIZE,
				    headers);
	mailbox_header_lookup_unref(&headers);
}
