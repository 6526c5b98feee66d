/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "hash.h"
#include "hex-binary.h"
#include "istream.h"
#include "message-id.h"
#include "message-size.h"
#include "message-header-parser.h"
#include "mail-storage.h"
#include "mail-search-build.h"
#include "dedup-index.h"

static const char *const dedup_wanted_headers[] = { "Message-ID", NULL };

/* Identities are kept as 128 bits of their SHA1, not as strings: memory
   per message stays small (~50 bytes) even for huge folders, and a
   collision needs ~2^64 messages. */
#define DEDUP_DIGEST_LEN 16

struct dedup_digest {
	unsigned char data[DEDUP_DIGEST_LEN];
};

struct dedup_index {
	pool_t pool;
	HASH_TABLE(struct dedup_digest *, void *) keys;
};

static unsigned int dedup_digest_hash(const struct dedup_digest *digest)
{
	unsigned int value;

	memcpy(&value, digest->data, sizeof(value));
	return value;
}

static int dedup_digest_cmp(const struct dedup_digest *d1,
			    const struct dedup_digest *d2)
{
	return memcmp(d1->data, d2->data, DEDUP_DIGEST_LEN);
}

static void dedup_digest_get(const char *key, struct dedup_digest *digest_r)
{
	unsigned char sha1[SHA1_RESULTLEN];

	sha1_get_digest(key, strlen(key), sha1);
	memcpy(digest_r->data, sha1, DEDUP_DIGEST_LEN);
}

struct dedup_index *dedup_index_init(void)
{
	struct dedup_index *index;
	pool_t pool;

	pool = pool_alloconly_create("dedup index", 64*1024);
	index = p_new(pool, struct dedup_index, 1);
	index->pool = pool;
	hash_table_create(&index->keys, pool, 1024, dedup_digest_hash,
			  dedup_digest_cmp);
	return index;
}

void dedup_index_deinit(struct dedup_index **_index)
{
	struct dedup_index *index = *_index;

	*_index = NULL;
	hash_table_destroy(&index->keys);
	pool_unref(&index->pool);
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

/* The value of a key is its UID in the indexed mailbox, or this for keys
   without one (hash values can't be 0) */
#define DEDUP_NO_UID ((uintptr_t)-1)

static bool dedup_index_add_uid(struct dedup_index *index, const char *key,
				uintptr_t uid)
{
	struct dedup_digest digest, *copy;

	dedup_digest_get(key, &digest);
	if (hash_table_lookup(index->keys, &digest) != NULL)
		return FALSE;
	copy = p_new(index->pool, struct dedup_digest, 1);
	*copy = digest;
	hash_table_insert(index->keys, copy, POINTER_CAST(uid));
	return TRUE;
}

bool dedup_index_add(struct dedup_index *index, const char *key)
{
	return dedup_index_add_uid(index, key, DEDUP_NO_UID);
}

uint32_t dedup_index_lookup_uid(struct dedup_index *index, const char *key)
{
	struct dedup_digest digest;
	uintptr_t value;

	dedup_digest_get(key, &digest);
	value = POINTER_CAST_TO(hash_table_lookup(index->keys, &digest),
				uintptr_t);
	return value == 0 || value == DEDUP_NO_UID ? 0 : (uint32_t)value;
}

unsigned int dedup_index_count(struct dedup_index *index)
{
	return hash_table_count(index->keys);
}

static int dedup_mail_header_hash(struct mail *mail, uoff_t vsize,
				  const char **key_r)
{
	struct message_size hdr_size;
	struct istream *input;
	struct sha1_ctxt ctx;
	unsigned char hash[SHA1_RESULTLEN];
	const unsigned char *data;
	size_t size;
	uoff_t left;

	if (mail_get_hdr_stream(mail, &hdr_size, &input) < 0)
		return -1;
	sha1_init(&ctx);
	left = hdr_size.physical_size;
	while (left > 0 && i_stream_read_more(input, &data, &size) > 0) {
		if (size > left)
			size = left;
		dedup_header_hash_more(&ctx, data, size);
		i_stream_skip(input, size);
		left -= size;
	}
	if (input->stream_errno != 0)
		return -1;
	sha1_result(&ctx, hash);
	*key_r = dedup_key_header_hash(hash, vsize);
	return 0;
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

	headers = mailbox_header_lookup_init(box, dedup_wanted_headers);
	trans = mailbox_transaction_begin(box, 0, __func__);
	search_args = mail_search_build_init();
	mail_search_build_add_all(search_args);
	search_ctx = mailbox_search_init(trans, search_args, NULL,
					 MAIL_FETCH_VIRTUAL_SIZE, headers);
	mail_search_args_unref(&search_args);
	while (mailbox_search_next(search_ctx, &mail)) T_BEGIN {
		uintptr_t uid = remember_uids ? mail->uid : DEDUP_NO_UID;

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
