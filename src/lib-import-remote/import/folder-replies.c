/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The server's replies while a folder is imported, read into its state:
   EXAMINE's counts, the message list, the date filter's SEARCH, ESEARCH's
   MIN, header hashes; body literals handed to folder-body-receive.c, and
   a body's complete FETCH reply to folder-body-check.c */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "sha1.h"
#include "import-remote-compat.h"
#include "dedup-index.h"
#include "folder-plan.h"
#include "folder-import-private.h"

/* Is seq one that the list on its way asked for? */
static bool import_chunk_listing(const struct import_chunk *chunk, uint32_t seq)
{
	return chunk->meta_tag != NULL &&
		seq >= chunk->first_seq && seq <= chunk->last_seq;
}

/* --- finding messages --- */

static int import_msg_uid_cmp(const uint32_t *uid, const struct import_msg *msg)
{
	if (*uid < msg->uid)
		return -1;
	return *uid > msg->uid ? 1 : 0;
}

static int import_msg_seq_cmp(const uint32_t *seq, const struct import_msg *msg)
{
	if (*seq < msg->seq)
		return -1;
	return *seq > msg->seq ? 1 : 0;
}

static struct import_msg *
folder_import_find_uid(struct import_chunk *chunk, uint32_t uid)
{
	return import_remote_array_bsearch_modifiable(&chunk->msgs, &uid,
						      import_msg_uid_cmp);
}

static struct import_msg *
folder_import_find_seq(struct import_chunk *chunk, uint32_t seq)
{
	return import_remote_array_bsearch_modifiable(&chunk->msgs, &seq,
						      import_msg_seq_cmp);
}

static const char *const *
import_chunk_keywords(struct import_chunk *chunk, const char *const *keywords,
		      bool important)
{
	ARRAY_TYPE(const_string) all;
	const char *const *set;

	if (important && (keywords == NULL ||
			  !str_array_icase_find(keywords, "$Important"))) {
		/* Gmail's Important label as the keyword of RFC 8457 */
		t_array_init(&all, 8);
		if (keywords != NULL) {
			array_append(&all, keywords,
				     str_array_length(keywords));
		}
		array_push_back(&all, (const char *const []){ "$Important" });
		array_append_zero(&all);
		keywords = array_front(&all);
	}
	if (keywords == NULL)
		return NULL;
	set = hash_table_lookup(chunk->keyword_sets, keywords);
	if (set != NULL)
		return set;
	set = (const char *const *)p_strarray_dup(chunk->pool, keywords);
	if (hash_table_count(chunk->keyword_sets) <
	    IMPORT_CHUNK_MAX_KEYWORD_SETS)
		hash_table_insert(chunk->keyword_sets, set, set);
	return set;
}

/* Gmail: in All Mail, does a label of the message name a folder that is
   copied (then that folder brings it)? And is it Important? */
static void
folder_import_gmail_labels(struct folder_import_ctx *ctx,
			   const char *const *labels, bool *covered_r,
			   bool *important_r)
{
	*covered_r = FALSE;
	*important_r = FALSE;
	for (; *labels != NULL; labels++) {
		if (strcasecmp(*labels, "\\Important") == 0)
			*important_r = TRUE;
		if (ctx->entry->action == FOLDER_PLAN_COPY_REMAINING &&
		    folder_plan_labels_contain(ctx->run->gmail_copied_labels,
					       *labels))
			*covered_r = TRUE;
	}
}

/* A message of the list being fetched (ctx->next), or a header sent as a
   quoted string for one of the current chunk */
static void
folder_import_handle_fetch(struct folder_import_ctx *ctx, uint32_t seq,
			   const struct imap_reply_fetch *fetch)
{
	struct import_msg msg, *old;
	const char *msgid = NULL;
	bool important = FALSE;

	if (fetch->have_header && fetch->uid != 0 &&
	    (old = folder_import_find_uid(ctx->current, fetch->uid)) != NULL &&
	    old->key == NULL) {
		/* a header sent as a quoted string, not a literal */
		unsigned char hash[SHA1_RESULTLEN];

		sha1_init(&ctx->hdr_hash);
		dedup_header_hash_more(&ctx->hdr_hash, fetch->header,
				       fetch->header_size);
		sha1_result(&ctx->hdr_hash, hash);
		old->key = p_strdup(ctx->current->pool,
				    dedup_key_header_hash(hash, old->size));
	}
	if (ctx->finding_first) {
		/* UID FETCH n:* (UID): the messages above a UID ("*" also
		   matches the last message, however old) */
		if (fetch->uid > ctx->find_above_uid &&
		    (!ctx->have_min_seq || seq < ctx->min_seq)) {
			ctx->min_seq = seq;
			ctx->have_min_seq = TRUE;
		}
		return;
	}
	/* only the message list FETCH has both; body and header FETCHes and
	   flag change notifications don't carry RFC822.SIZE */
	if (fetch->uid == 0 || !fetch->have_size)
		return;
	if (!import_chunk_listing(ctx->next, seq)) {
		/* unsolicited: not a message the list asked for */
		return;
	}
	if (array_count(&ctx->next->msgs) > 0) {
		const struct import_msg *prev = array_back(&ctx->next->msgs);

		/* each message once, in order (they are looked up by both) */
		if (seq <= prev->seq || fetch->uid <= prev->uid)
			return;
	}
	ctx->next->listed_max_seq = seq;
	if (fetch->uid <= ctx->list_floor_uid) {
		/* listed before the connection was lost */
		return;
	}

	i_zero(&msg);
	msg.seq = seq;
	msg.uid = fetch->uid;
	msg.size = fetch->size;
	msg.received_date = (time_t)-1;
	if (fetch->have_internaldate) {
		msg.received_date = fetch->internaldate;
		msg.received_tz = fetch->internaldate_tz_offset;
	}
	msg.flags = fetch->flags & IMPORT_MAIL_FLAGS_MASK;
	if (ctx->want_labels && fetch->have_gm_labels) {
		folder_import_gmail_labels(ctx, fetch->gm_labels,
					   &msg.gmail_covered, &important);
	}
	msg.keywords = import_chunk_keywords(ctx->next, fetch->keywords,
					     important);
	if (fetch->header_fields != NULL) {
		msgid = dedup_message_id_from_header(fetch->header_fields,
						     fetch->header_fields_size);
	}
	if (msgid != NULL) {
		msg.message_id = p_strdup(ctx->next->pool, msgid);
		msg.key = p_strdup(ctx->next->pool,
				   dedup_key_message_id(msgid, msg.size));
	}
	array_push_back(&ctx->next->msgs, &msg);
}

int
folder_import_untagged(const struct imap_reply *reply, void *context)
{
	struct folder_import_ctx *ctx = context;
	unsigned int i;

	if (ctx->pending_msg != NULL && reply->num == ctx->pending_seq &&
	    strcasecmp(reply->name, "FETCH") == 0) {
		/* the body's FETCH reply is complete; one that does not
		   parse, or is about another message, is not kept */
		bool whole = reply->type == IMAP_REPLY_FETCH &&
			(reply->fetch.uid == 0 ||
			 reply->fetch.uid == ctx->pending_msg->uid);

		if (folder_import_pending_done(ctx, whole) < 0)
			return -1;
	}
	switch (reply->type) {
	case IMAP_REPLY_EXISTS:
		ctx->exists = reply->num;
		break;
	case IMAP_REPLY_RESP:
		if (strcmp(reply->resp.state, "OK") != 0)
			break;
		if (strcmp(reply->resp.code, "UIDVALIDITY") == 0) {
			if (str_to_uint32(reply->resp.code_arg,
					  &ctx->uidvalidity) < 0)
				ctx->uidvalidity = 0;
		} else if (strcmp(reply->resp.code, "UIDNEXT") == 0) {
			if (str_to_uint32(reply->resp.code_arg,
					  &ctx->uidnext) < 0)
				ctx->uidnext = 0;
		}
		break;
	case IMAP_REPLY_FETCH:
		if (reply->num == ctx->probe_seq && reply->fetch.uid != 0 &&
		    ctx->probe_uid == 0)
			ctx->probe_uid = reply->fetch.uid;
		folder_import_handle_fetch(ctx, reply->num, &reply->fetch);
		break;
	case IMAP_REPLY_SEARCH:
		if (ctx->next->search_tag == NULL)
			break;
		for (i = 0; i < reply->search.count; i++) {
			uint32_t seq = reply->search.numbers[i];

			/* only what was searched, at most once each */
			if (seq < ctx->next->first_seq ||
			    seq > ctx->next->last_seq ||
			    array_count(&ctx->next->matches) >
			    ctx->next->last_seq - ctx->next->first_seq)
				continue;
			array_push_back(&ctx->next->matches, &seq);
		}
		break;
	case IMAP_REPLY_ESEARCH:
		/* (a sequence is 1 or more) */
		if (reply->esearch.have_min && reply->esearch.min > 0) {
			ctx->min_seq = reply->esearch.min;
			ctx->have_min_seq = TRUE;
		}
		break;
	default:
		break;
	}
	return 0;
}

static void folder_import_hash_data(const unsigned char *data, size_t size,
				    void *context)
{
	struct folder_import_ctx *ctx = context;

	dedup_header_hash_more(&ctx->hdr_hash, data, size);
}

static int
folder_import_hash_header(struct folder_import_ctx *ctx, struct import_msg *msg,
			  uoff_t size)
{
	unsigned char hash[SHA1_RESULTLEN];

	sha1_init(&ctx->hdr_hash);
	if (imap_source_read_literal(folder_import_src(ctx), size, NULL,
				     folder_import_hash_data, ctx) < 0)
		return -1;
	sha1_result(&ctx->hdr_hash, hash);
	msg->key = p_strdup(ctx->current->pool,
			    dedup_key_header_hash(hash, msg->size));
	return 1;
}

/* A body asked for with the list that is not wanted after all (a
   duplicate, a message over the quota, or a list thrown away): read and
   thrown away, as big as its message may be */
static int
folder_import_discard_early(struct folder_import_ctx *ctx,
			    const struct import_msg *msg, uoff_t size)
{
	uoff_t max = msg != NULL ? folder_import_literal_max(msg->size) :
		FOLDER_IMPORT_EARLY_DISCARD_MAX;

	if (size > max) {
		return imap_source_skip_literal(folder_import_src(ctx),
						size) < 0 ? -1 : 1;
	}
	return imap_source_read_literal(folder_import_src(ctx), size, NULL,
					NULL, NULL) < 0 ? -1 : 1;
}

int
folder_import_literal(const struct imap_reply_fetch_literal *lit, void *context)
{
	struct folder_import_ctx *ctx = context;
	struct import_msg *msg;
	bool body;

	switch (lit->section) {
	case IMAP_FETCH_SECTION_BODY:
		body = TRUE;
		break;
	case IMAP_FETCH_SECTION_HEADER:
		body = FALSE;
		break;
	default:
		return 0;
	}
	if (lit->uid != 0)
		msg = folder_import_find_uid(ctx->current, lit->uid);
	else {
		/* UID comes after the literal on some servers */
		msg = folder_import_find_seq(ctx->current, lit->seq);
	}
	if (msg == NULL || ctx->pending_msg != NULL ||
	    (body && (msg->state != IMPORT_MSG_STATE_WANTED ||
		      msg->action != IMPORT_MSG_IMPORT)) ||
	    (!body && msg->key != NULL)) {
		if (body && ctx->pending_msg == NULL &&
		    (ctx->round_early || ctx->current->bodies_tag != NULL ||
		     ctx->next->bodies_tag != NULL))
			return folder_import_discard_early(ctx, msg, lit->size);
		/* not asked for (or twice): throw it away (a big one
		   ends the connection) */
		return imap_source_skip_literal(folder_import_src(ctx),
						lit->size) < 0 ? -1 : 1;
	}
	if (!body) {
		if (lit->size > FOLDER_IMPORT_MAX_HEADER_SIZE ||
		    lit->size > folder_import_literal_max(msg->size)) {
			return folder_import_refuse_literal(ctx, msg, "header",
							    lit->size);
		}
		return folder_import_hash_header(ctx, msg, lit->size);
	}
	if (lit->size > folder_import_literal_max(msg->size))
		return folder_import_refuse_literal(ctx, msg, "body", lit->size);
	if (!folder_import_fits_quota(ctx, msg, lit->size))
		return -1;
	return folder_import_receive_body(ctx, msg, lit);
}

int
folder_import_check_reply(struct folder_import_ctx *ctx, const char *what,
			  const struct imap_source_reply *reply)
{
	if (reply->state == IMAP_SOURCE_REPLY_OK)
		return 0;
	import_run_ctx_set_error(ctx->run, imap_source_reply_classify(reply),
		t_strdup_printf("%s of folder %s failed: %s", what,
				ctx->entry->display_name, reply->text));
	return -1;
}
