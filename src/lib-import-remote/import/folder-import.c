/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "istream.h"
#include "time-util.h"
#include "sleep.h"
#include "sha1.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "imap-source.h"
#include "message-saver.h"
#include "dedup-index.h"
#include "import-checkpoint.h"
#include "folder-plan.h"
#include "folder-import.h"
#include "import-run-context.h"

#include <time.h>

/* One UID FETCH body command asks for at most this many messages; all of a
   chunk's commands are sent at once (pipelined). */
#define FOLDER_IMPORT_BODY_CMD_UIDS 500

#define IMPORT_MAIL_FLAGS_MASK \
	(MAIL_ANSWERED | MAIL_FLAGGED | MAIL_DELETED | MAIL_SEEN | MAIL_DRAFT)

enum import_msg_action {
	IMPORT_MSG_UNDECIDED = 0,
	IMPORT_MSG_IMPORT,
	IMPORT_MSG_DUPLICATE,
	IMPORT_MSG_FILTERED,
	/* handled by an earlier run (checkpoint) */
	IMPORT_MSG_DONE_BEFORE,
};

struct import_msg {
	uint32_t seq, uid;
	uoff_t size;
	time_t received_date;
	int received_tz;
	enum mail_flags flags;
	const char *const *keywords;
	/* identity for dedup; NULL while unknown */
	const char *key;
	enum import_msg_action action;
	/* the date filter's SEARCH matched it */
	bool date_match;
	/* the body was saved */
	bool saved;
	/* DUPLICATE of this message in the destination folder */
	uint32_t dest_uid;
};

struct import_chunk {
	pool_t pool;
	ARRAY(struct import_msg) msgs;
	/* sequences the date filter's SEARCH returned */
	ARRAY_TYPE(uint32_t) matches;
	const char *search_tag, *meta_tag;
};

struct folder_import_ctx {
	struct import_run_ctx *run;
	struct imap_source *src;
	const struct folder_plan_entry *entry;
	struct import_run_folder *result;
	struct mailbox *box;
	struct message_saver *saver;
	struct dedup_index *index;
	bool own_index;

	uint32_t exists, uidvalidity, uidnext;
	/* from SEARCH RETURN (MIN): first sequence after the checkpoint */
	uint32_t min_seq;
	bool have_min_seq;
	/* checkpoint: everything up to this UID is already there */
	uint32_t done_uid;

	/* the chunk being decided and saved, and the one being listed */
	struct import_chunk chunks[2];
	struct import_chunk *current, *next;

	/* header hash of the message whose BODY[HEADER] is being read */
	struct sha1_ctxt hdr_hash;
};

static const char *const imap_month_names[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* IMAP SEARCH date (date only, RFC 3501 "date") */
static const char *imap_search_date(time_t t)
{
	struct tm *tm = gmtime(&t);

	return t_strdup_printf("%d-%s-%04d", tm->tm_mday,
			       imap_month_names[tm->tm_mon], tm->tm_year + 1900);
}

static void import_chunk_reset(struct import_chunk *chunk, unsigned int count)
{
	if (chunk->pool == NULL)
		chunk->pool = pool_alloconly_create("import chunk", 16384);
	else
		p_clear(chunk->pool);
	p_array_init(&chunk->msgs, chunk->pool, count);
	p_array_init(&chunk->matches, chunk->pool, 16);
	chunk->search_tag = NULL;
	chunk->meta_tag = NULL;
}

static bool folder_import_date_filter(struct folder_import_ctx *ctx)
{
	return ctx->run->since != 0 || ctx->run->before != 0;
}

/* --- replies --- */

static struct import_msg *
folder_import_find_uid(struct import_chunk *chunk, uint32_t uid);

static const char *const *
import_chunk_keywords(struct import_chunk *chunk, const char *const *keywords)
{
	if (keywords == NULL)
		return NULL;
	return (const char *const *)p_strarray_dup(chunk->pool, keywords);
}

/* A message of the list being fetched (ctx->next), or a header sent as a
   quoted string for one of the current chunk */
static void
folder_import_handle_fetch(struct folder_import_ctx *ctx, uint32_t seq,
			   const struct imap_reply_fetch *fetch)
{
	struct import_msg msg, *old;
	const char *msgid = NULL;

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
	/* only the message list FETCH has both; body and header FETCHes and
	   flag change notifications don't carry RFC822.SIZE */
	if (fetch->uid == 0 || !fetch->have_size)
		return;

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
	msg.keywords = import_chunk_keywords(ctx->next, fetch->keywords);
	if (fetch->header_fields != NULL) {
		msgid = dedup_message_id_from_header(fetch->header_fields,
						     fetch->header_fields_size);
	}
	if (msgid != NULL) {
		msg.key = p_strdup(ctx->next->pool,
				   dedup_key_message_id(msgid, msg.size));
	}
	array_push_back(&ctx->next->msgs, &msg);
}

static int
folder_import_untagged(const struct imap_reply *reply, void *context)
{
	struct folder_import_ctx *ctx = context;
	unsigned int i;

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
		folder_import_handle_fetch(ctx, reply->num, &reply->fetch);
		break;
	case IMAP_REPLY_SEARCH:
		for (i = 0; i < reply->search.count; i++) {
			array_push_back(&ctx->next->matches,
					&reply->search.numbers[i]);
		}
		break;
	case IMAP_REPLY_ESEARCH:
		if (reply->esearch.have_min) {
			ctx->min_seq = reply->esearch.min;
			ctx->have_min_seq = TRUE;
		}
		break;
	default:
		break;
	}
	return 0;
}

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

/* --- literals: bodies (saved) and headers (hashed) --- */

static int folder_import_wait_input(void *context)
{
	return imap_source_wait_input(context);
}

static int
folder_import_save_body(struct folder_import_ctx *ctx, struct import_msg *msg,
			uoff_t size)
{
	struct import_run_ctx *run = ctx->run;
	struct import_remote_error error;
	struct message_saver_mail mail;
	struct istream *input;
	int ret;

	if (size != msg->size) {
		/* RFC822.SIZE and the body disagree: the body is the truth */
		run->progress->bytes_total += size;
		run->progress->bytes_total -= msg->size;
	}
	i_zero(&mail);
	mail.flags = msg->flags;
	mail.keywords = msg->keywords;
	mail.received_date = msg->received_date;
	mail.received_tz_offset = msg->received_tz;

	i_zero(&error);
	input = i_stream_create_limit(imap_source_get_input(ctx->src), size);
	ret = message_saver_save(ctx->saver, &mail, input, size,
				 folder_import_wait_input, ctx->src, &error);
	i_stream_unref(&input);
	if (ret == 0) {
		/* a stall timeout is the session's own error */
		import_run_ctx_source_failed(run);
		import_run_ctx_set_error(run, IMPORT_REMOTE_ERROR_SOURCE_ERROR,
			t_strdup_printf("Server disconnected in the middle of "
					"message UID %u in %s", msg->uid,
					ctx->entry->display_name));
		return -1;
	}
	if (ret < 0) {
		/* stop everything: the rest of the literal is left unread,
		   so the connection can't be used any more either */
		import_run_ctx_set_error(run, error.code, error.detail);
		return -1;
	}
	msg->saved = TRUE;
	ctx->result->imported++;
	run->progress->imported++;
	run->progress->msgs_done++;
	run->progress->bytes_done += size;
	run->progress->bytes_imported += size;
	if (!import_run_ctx_progress(run, FALSE))
		return -1;
	return 1;
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
	if (imap_source_read_literal(ctx->src, size, folder_import_hash_data,
				     ctx) < 0)
		return -1;
	sha1_result(&ctx->hdr_hash, hash);
	msg->key = p_strdup(ctx->current->pool,
			    dedup_key_header_hash(hash, msg->size));
	return 1;
}

static int
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
	if (msg == NULL || (body && (msg->saved ||
				     msg->action != IMPORT_MSG_IMPORT)) ||
	    (!body && msg->key != NULL)) {
		/* not asked for (or twice): throw it away */
		return imap_source_skip_literal(ctx->src, lit->size) < 0 ? -1 : 1;
	}
	return body ? folder_import_save_body(ctx, msg, lit->size) :
		folder_import_hash_header(ctx, msg, lit->size);
}

/* --- sending commands --- */

/* List the next chunk: [SEARCH for the date filter and] FETCH the message
   list. Sequence-number commands: they are always sent before the chunk's
   UID commands, never behind them (see folder_import_chunks()). */
static void folder_import_send_list(struct folder_import_ctx *ctx,
				    uint32_t first, uint32_t last)
{
	struct import_run_ctx *run = ctx->run;
	string_t *cmd = t_str_new(128);

	import_chunk_reset(ctx->next, last - first + 1);
	if (folder_import_date_filter(ctx)) {
		str_printfa(cmd, "SEARCH %u:%u", first, last);
		if (run->since != 0)
			str_printfa(cmd, " SINCE %s", imap_search_date(run->since));
		if (run->before != 0)
			str_printfa(cmd, " BEFORE %s", imap_search_date(run->before));
		ctx->next->search_tag = imap_source_send(ctx->src, str_c(cmd));
		str_truncate(cmd, 0);
	}
	str_printfa(cmd, "FETCH %u:%u (UID RFC822.SIZE INTERNALDATE FLAGS%s)",
		    first, last, ctx->index == NULL ? "" :
		    " BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]");
	ctx->next->meta_tag = imap_source_send(ctx->src, str_c(cmd));
}

/* Send UID FETCH commands for the chunk's messages matching action:
   FOLDER_IMPORT_BODY_CMD_UIDS a command, all at once. */
static void
folder_import_send_uid_fetches(struct folder_import_ctx *ctx, bool bodies,
			       ARRAY_TYPE(const_string) *tags)
{
	const struct import_msg *msg;
	string_t *uids = t_str_new(1024);
	const char *items = bodies ? "BODY.PEEK[]" : "BODY.PEEK[HEADER]";
	unsigned int n = 0;
	const char *tag;

	array_foreach(&ctx->current->msgs, msg) {
		if (bodies ? (msg->action != IMPORT_MSG_IMPORT || msg->saved) :
		    (msg->key != NULL || msg->action != IMPORT_MSG_UNDECIDED))
			continue;
		if (str_len(uids) > 0)
			str_append_c(uids, ',');
		str_printfa(uids, "%u", msg->uid);
		if (++n == FOLDER_IMPORT_BODY_CMD_UIDS) {
			tag = imap_source_send(ctx->src, t_strdup_printf(
				"UID FETCH %s (%s)", str_c(uids), items));
			array_push_back(tags, &tag);
			str_truncate(uids, 0);
			n = 0;
		}
	}
	if (n > 0) {
		tag = imap_source_send(ctx->src, t_strdup_printf(
			"UID FETCH %s (%s)", str_c(uids), items));
		array_push_back(tags, &tag);
	}
}

static int
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

/* Wait for all the tagged replies. With throttled_r, a NO [THROTTLED]
   is not an error but reported there (the caller waits and retries). */
static int
folder_import_wait_all(struct folder_import_ctx *ctx,
		       const ARRAY_TYPE(const_string) *tags, const char *what,
		       const char **throttled_r)
{
	struct imap_source_reply reply;
	const char *tag;

	array_foreach_elem(tags, tag) {
		if (imap_source_wait(ctx->src, tag, folder_import_untagged,
				     folder_import_literal, ctx, &reply) < 0)
			return -1;
		if (throttled_r != NULL &&
		    reply.state == IMAP_SOURCE_REPLY_NO &&
		    strcmp(reply.resp_code, "THROTTLED") == 0) {
			*throttled_r = t_strdup(reply.text);
			continue;
		}
		if (folder_import_check_reply(ctx, what, &reply) < 0)
			return -1;
	}
	return 0;
}

/* Fetch and save the chunk's bodies. When the server says [THROTTLED]
   (Gmail's rate limits), wait and ask again for what is still missing:
   1, 2, 4, ... seconds (at most a minute), --throttle-retries times. */
static int folder_import_fetch_bodies(struct folder_import_ctx *ctx)
{
	const struct import_remote_settings *set = ctx->run->set;
	ARRAY_TYPE(const_string) tags;
	const char *throttled;
	unsigned int attempt, delay_msecs = set->throttle_delay_msecs;

	t_array_init(&tags, 8);
	for (attempt = 0;; attempt++) {
		array_clear(&tags);
		folder_import_send_uid_fetches(ctx, TRUE, &tags);
		throttled = NULL;
		if (folder_import_wait_all(ctx, &tags, "Fetching messages",
					   &throttled) < 0)
			return -1;
		if (throttled == NULL)
			return 0;
		if (attempt >= set->throttle_retries) {
			import_run_ctx_set_error(ctx->run,
				IMPORT_REMOTE_ERROR_THROTTLED,
				t_strdup_printf("Fetching messages of folder %s "
					"failed after %u retries: %s",
					ctx->entry->display_name, attempt,
					throttled));
			return -1;
		}
		e_warning(ctx->run->user->event, "import-remote: Source "
			  "server is throttling (%s): waiting %u ms",
			  throttled, delay_msecs);
		i_sleep_msecs(delay_msecs);
		delay_msecs = I_MIN(delay_msecs * 2,
				    IMPORT_REMOTE_MAX_THROTTLE_DELAY_MSECS);
	}
}

/* --- deciding what to copy --- */

static int uint32_cmp(const uint32_t *a, const uint32_t *b)
{
	return *a < *b ? -1 : (*a > *b ? 1 : 0);
}

/* First pass: what earlier runs did and what the date filter leaves out.
   Returns TRUE if some messages still need their header hashed. */
static bool folder_import_classify(struct folder_import_ctx *ctx)
{
	struct import_msg *msg;
	bool need_hash = FALSE;

	array_sort(&ctx->current->matches, uint32_cmp);
	array_foreach_modifiable(&ctx->current->msgs, msg) {
		if (msg->uid <= ctx->done_uid)
			msg->action = IMPORT_MSG_DONE_BEFORE;
		else if (folder_import_date_filter(ctx) &&
			 array_bsearch(&ctx->current->matches, &msg->seq,
				       uint32_cmp) == NULL)
			msg->action = IMPORT_MSG_FILTERED;
		else if (ctx->index == NULL)
			msg->action = IMPORT_MSG_IMPORT;
		else if (msg->key == NULL)
			need_hash = TRUE;
	}
	return need_hash;
}

/* Second pass, in order: a message whose identity is already in the
   destination (or came earlier in this folder) is a duplicate. */
static void folder_import_decide(struct folder_import_ctx *ctx)
{
	struct import_progress *progress = ctx->run->progress;
	struct import_msg *msg;

	array_foreach_modifiable(&ctx->current->msgs, msg) {
		if (msg->action == IMPORT_MSG_UNDECIDED) {
			if (msg->key == NULL) {
				/* the server sent no header: nothing to
				   compare with, so copy it */
				msg->action = IMPORT_MSG_IMPORT;
			} else if (dedup_index_add(ctx->index, msg->key))
				msg->action = IMPORT_MSG_IMPORT;
			else {
				msg->action = IMPORT_MSG_DUPLICATE;
				msg->dest_uid = dedup_index_lookup_uid(
					ctx->index, msg->key);
			}
		}
		switch (msg->action) {
		case IMPORT_MSG_DUPLICATE:
		case IMPORT_MSG_DONE_BEFORE:
			progress->skipped_duplicates++;
			ctx->result->skipped++;
			break;
		case IMPORT_MSG_FILTERED:
			progress->filtered_by_date++;
			break;
		case IMPORT_MSG_IMPORT:
			ctx->result->bytes += msg->size;
			progress->bytes_total += msg->size;
			continue;
		case IMPORT_MSG_UNDECIDED:
			i_unreached();
		}
		progress->msgs_done++;
	}
	import_run_ctx_check_quota(ctx->run);
}

/* A crash can leave a message in the destination without its flags: sdbox
   puts a message file that was written but whose save was not yet
   committed back into the index, with no flags or keywords. A re-run finds
   it as a duplicate; when the destination copy has no flags and no
   keywords at all, it gets those of the source copy. A copy that has any
   flag is left alone: its flags were set on purpose (by the import or by
   the user since). */
static int folder_import_add_missing_flags(struct folder_import_ctx *ctx)
{
	struct mailbox_transaction_context *trans;
	const struct import_msg *msg;
	struct mail_keywords *kw;
	struct mail *mail;
	ARRAY_TYPE(const_string) missing;
	const char *const *have, *const *want;
	enum mail_flags add;
	unsigned int mended = 0;
	int ret;

	if (ctx->box == NULL || ctx->run->set->dry_run)
		return 0;
	trans = mailbox_transaction_begin(ctx->box,
					  MAILBOX_TRANSACTION_FLAG_EXTERNAL,
					  __func__);
	mail = mail_alloc(trans, MAIL_FETCH_FLAGS, NULL);
	t_array_init(&missing, 8);
	array_foreach(&ctx->current->msgs, msg) {
		if (msg->dest_uid == 0 ||
		    (msg->flags == 0 && msg->keywords == NULL) ||
		    !mail_set_uid(mail, msg->dest_uid))
			continue;
		have = mail_get_keywords(mail);
		if ((mail_get_flags(mail) & IMPORT_MAIL_FLAGS_MASK) != 0 ||
		    have[0] != NULL)
			continue;
		add = msg->flags;
		array_clear(&missing);
		for (want = msg->keywords; want != NULL && *want != NULL; want++) {
			if (!str_array_find(have, *want))
				array_push_back(&missing, want);
		}
		if (add != 0)
			mail_update_flags(mail, MODIFY_ADD, add);
		if (array_count(&missing) > 0) {
			array_append_zero(&missing);
			kw = mailbox_keywords_create_valid(ctx->box,
							   array_front(&missing));
			mail_update_keywords(mail, MODIFY_ADD, kw);
			mailbox_keywords_unref(&kw);
		}
		if (add != 0 || array_count(&missing) > 0)
			mended++;
	}
	mail_free(&mail);
	ret = mailbox_transaction_commit(&trans);
	if (ret < 0) {
		import_run_ctx_set_error(ctx->run, IMPORT_REMOTE_ERROR_DEST_ERROR,
			t_strdup_printf("Updating flags in %s failed: %s",
				ctx->result->dest_name,
				mailbox_get_last_internal_error(ctx->box, NULL)));
		return -1;
	}
	if (mended > 0) {
		e_debug(ctx->run->user->event, "import-remote: %s: gave %u "
			"existing messages their missing flags",
			ctx->result->dest_name, mended);
	}
	return 0;
}

/* After the bodies: count what the server did not send, commit, and
   move the checkpoint. */
static int folder_import_chunk_done(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	struct import_remote_error error;
	const struct import_msg *msg;
	unsigned int missing = 0;
	uint32_t last_uid = 0;
	const char *errstr;

	if (run->set->dry_run) {
		array_foreach(&ctx->current->msgs, msg) {
			if (msg->action == IMPORT_MSG_IMPORT) {
				ctx->result->imported++;
				run->progress->msgs_done++;
			}
		}
		return 0;
	}
	array_foreach(&ctx->current->msgs, msg) {
		if (msg->action == IMPORT_MSG_IMPORT && !msg->saved)
			missing++;
		else if (missing == 0)
			last_uid = msg->uid;
	}
	if (missing > 0) {
		ctx->result->failed += missing;
		run->progress->failed += missing;
		run->progress->msgs_done += missing;
	}
	i_zero(&error);
	if (message_saver_commit(ctx->saver, &error) < 0) {
		import_run_ctx_set_error(ctx->run, error.code, error.detail);
		return -1;
	}
	if (run->checkpoint != NULL && last_uid > ctx->done_uid &&
	    !folder_import_date_filter(ctx)) {
		if (import_checkpoint_set(run->checkpoint,
					  ctx->entry->remote->remote_name,
					  ctx->uidvalidity, last_uid,
					  &errstr) < 0)
			import_run_ctx_warning(run, errstr);
		else
			ctx->done_uid = last_uid;
	}
	return 0;
}

/* Copy the folder's messages from sequence first on, chunk by chunk. */
static int folder_import_chunks(struct folder_import_ctx *ctx, uint32_t first)
{
	struct imap_source_reply reply;
	struct import_chunk *tmp;
	ARRAY_TYPE(const_string) tags;
	unsigned int chunk_size = ctx->run->set->fetch_chunk;
	uint32_t next_first;

	t_array_init(&tags, 8);
	ctx->current = &ctx->chunks[0];
	ctx->next = &ctx->chunks[1];
	import_chunk_reset(ctx->current, 1);
	next_first = first;
	if (next_first <= ctx->exists) {
		uint32_t last = I_MIN(ctx->exists, next_first + chunk_size - 1);
		folder_import_send_list(ctx, next_first, last);
		next_first = last + 1;
	}
	while (ctx->next->meta_tag != NULL) {
		if (ctx->next->search_tag != NULL &&
		    (imap_source_wait(ctx->src, ctx->next->search_tag,
				      folder_import_untagged, NULL, ctx,
				      &reply) < 0 ||
		     folder_import_check_reply(ctx, "Searching by date",
					       &reply) < 0))
			return -1;
		if (imap_source_wait(ctx->src, ctx->next->meta_tag,
				     folder_import_untagged, NULL, ctx,
				     &reply) < 0 ||
		    folder_import_check_reply(ctx, "Fetching message list",
					      &reply) < 0)
			return -1;
		/* the chunk just listed is handled next */
		tmp = ctx->current; ctx->current = ctx->next; ctx->next = tmp;

		/* ask for the next chunk's list ahead of this chunk's UID
		   commands, so it is there when they are done. Never behind
		   them: a command using sequence numbers pipelined after UID
		   commands is ambiguous (RFC 3501 5.5), and Dovecot answers
		   it with a "* BAD [CLIENTBUG]" that it may even write into
		   the middle of a literal it is sending. */
		ctx->next->meta_tag = NULL;
		if (next_first <= ctx->exists) {
			uint32_t last = I_MIN(ctx->exists,
					      next_first + chunk_size - 1);
			folder_import_send_list(ctx, next_first, last);
			next_first = last + 1;
		}

		if (folder_import_classify(ctx)) {
			array_clear(&tags);
			folder_import_send_uid_fetches(ctx, FALSE, &tags);
			if (folder_import_wait_all(ctx, &tags,
						   "Fetching message headers",
						   NULL) < 0)
				return -1;
		}
		folder_import_decide(ctx);
		if (folder_import_add_missing_flags(ctx) < 0)
			return -1;
		if (!ctx->run->set->dry_run &&
		    folder_import_fetch_bodies(ctx) < 0)
			return -1;
		if (folder_import_chunk_done(ctx) < 0)
			return -1;
		/* also when nothing was saved (a re-run that only skips): the
		   job's heartbeat, without which a long re-run would look
		   dead and be taken over, and its chance to see a cancel */
		if (!import_run_ctx_progress(ctx->run, FALSE))
			return -1;
	}
	return 0;
}

/* Where to start: after the checkpoint, if there is one for this
   UIDVALIDITY. Returns the first sequence to list (> exists: nothing). */
static int folder_import_resume(struct folder_import_ctx *ctx,
				uint32_t *first_r)
{
	struct import_run_ctx *run = ctx->run;
	struct imap_source_reply reply;
	uint32_t last_uid;

	*first_r = 1;
	if (run->checkpoint == NULL || folder_import_date_filter(ctx) ||
	    !import_checkpoint_get(run->checkpoint,
				   ctx->entry->remote->remote_name,
				   ctx->uidvalidity, &last_uid))
		return 0;
	ctx->done_uid = last_uid;
	if (ctx->uidnext != 0 && last_uid >= ctx->uidnext - 1) {
		/* nothing new since */
		*first_r = ctx->exists + 1;
		return 0;
	}
	if (!imap_source_has_capability(ctx->src, IMAP_SOURCE_CAP_ESEARCH)) {
		/* list everything; what the checkpoint covers is skipped
		   without looking further */
		return 0;
	}
	if (imap_source_cmd(ctx->src, t_strdup_printf(
			"SEARCH RETURN (MIN) UID %u:*", last_uid + 1),
			folder_import_untagged, ctx, &reply) < 0 ||
	    folder_import_check_reply(ctx, "Searching for new mail",
				      &reply) < 0)
		return -1;
	/* "UID n:*" always matches the highest UID, so MIN may point at an
	   already handled message; the checkpoint check then skips it */
	*first_r = ctx->have_min_seq ? ctx->min_seq : ctx->exists + 1;
	return 0;
}

static int folder_import_open_local(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	struct mail_namespace *ns;
	enum mail_error error;
	const char *errstr;

	ns = mail_namespace_find(run->user->namespaces, ctx->result->dest_name);
	ctx->box = mailbox_alloc(ns->list, ctx->result->dest_name, 0);
	if (!run->set->dry_run && mailbox_create(ctx->box, NULL, FALSE) < 0) {
		errstr = mailbox_get_last_internal_error(ctx->box, &error);
		if (error != MAIL_ERROR_EXISTS) {
			import_run_ctx_set_error(ctx->run,
				error == MAIL_ERROR_NOQUOTA ?
				IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED :
				IMPORT_REMOTE_ERROR_DEST_ERROR,
				t_strdup_printf("Creating mailbox %s failed: %s",
						ctx->result->dest_name, errstr));
			return -1;
		}
	}
	if (mailbox_open(ctx->box) < 0) {
		errstr = mailbox_get_last_internal_error(ctx->box, &error);
		if (run->set->dry_run && error == MAIL_ERROR_NOTFOUND) {
			/* dry run: it would be created */
			mailbox_free(&ctx->box);
			return 0;
		}
		import_run_ctx_set_error(ctx->run, IMPORT_REMOTE_ERROR_DEST_ERROR,
			t_strdup_printf("Opening mailbox %s failed: %s",
					ctx->result->dest_name, errstr));
		return -1;
	}
	if (!run->set->dry_run && ctx->entry->remote->subscribed &&
	    mailbox_set_subscribed(ctx->box, TRUE) < 0) {
		errstr = mailbox_get_last_internal_error(ctx->box, &error);
		import_run_ctx_warning(run, t_strdup_printf(
			"Subscribing to %s failed: %s",
			ctx->result->dest_name, errstr));
	}
	if (!run->set->dry_run) {
		ctx->saver = message_saver_init(ctx->box,
			run->set->dedup != IMPORT_REMOTE_DEDUP_OFF);
		message_saver_set_commit_callback(ctx->saver,
			run->commit_callback, run->context);
	}
	return 0;
}

static int folder_import_setup_index(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	struct timeval start, end;
	const char *error;

	switch (run->set->dedup) {
	case IMPORT_REMOTE_DEDUP_OFF:
		return 0;
	case IMPORT_REMOTE_DEDUP_ACCOUNT:
		ctx->index = run->account_index;
		return 0;
	case IMPORT_REMOTE_DEDUP_FOLDER:
		break;
	}
	ctx->index = dedup_index_init();
	ctx->own_index = TRUE;
	if (ctx->box == NULL)
		return 0;
	i_gettimeofday(&start);
	if (dedup_index_add_mailbox(ctx->index, ctx->box, TRUE, &error) < 0) {
		import_run_ctx_set_error(ctx->run, IMPORT_REMOTE_ERROR_DEST_ERROR,
					 error);
		return -1;
	}
	i_gettimeofday(&end);
	e_debug(run->user->event, "import-remote: Duplicate index of %s: "
		"%u messages in %lld ms", ctx->result->dest_name,
		dedup_index_count(ctx->index),
		timeval_diff_usecs(&end, &start) / 1000);
	return 0;
}

static int folder_import_run(struct folder_import_ctx *ctx)
{
	struct imap_source_reply reply;
	string_t *cmd;
	uint32_t first;

	if (folder_import_open_local(ctx) < 0 ||
	    folder_import_setup_index(ctx) < 0)
		return -1;

	cmd = t_str_new(128);
	str_append(cmd, "EXAMINE ");
	imap_source_append_string(ctx->src, cmd,
				  ctx->entry->remote->remote_name);
	if (imap_source_cmd(ctx->src, str_c(cmd), folder_import_untagged, ctx,
			    &reply) < 0 ||
	    folder_import_check_reply(ctx, "Selecting", &reply) < 0)
		return -1;
	/* the STATUS count is replaced by what is really there */
	ctx->run->progress->msgs_total -= I_MIN(ctx->result->msgs,
						ctx->run->progress->msgs_total);
	ctx->result->msgs = ctx->exists;
	ctx->run->progress->msgs_total += ctx->exists;

	if (folder_import_resume(ctx, &first) < 0)
		return -1;
	if (first > 1) {
		/* what the checkpoint covers counts as already there */
		unsigned int before = I_MIN(first - 1, ctx->exists);
		ctx->run->progress->skipped_duplicates += before;
		ctx->run->progress->msgs_done += before;
		ctx->result->skipped += before;
	}
	return folder_import_chunks(ctx, first);
}

int folder_import(struct import_run_ctx *run,
		  const struct folder_plan_entry *entry,
		  struct import_run_folder *result)
{
	struct folder_import_ctx ctx;
	struct import_remote_error error;
	unsigned int i, lost;
	int ret;

	i_zero(&ctx);
	ctx.run = run;
	ctx.src = run->src;
	ctx.entry = entry;
	ctx.result = result;
	run->progress->folder = entry->display_name;

	T_BEGIN {
		ret = folder_import_run(&ctx);
	} T_END;
	if (ret < 0) {
		/* the first cause is the real one */
		import_run_ctx_source_failed(run);
	}

	if (ctx.saver != NULL) {
		/* keep what was saved, even when the folder failed */
		i_zero(&error);
		if (message_saver_commit(ctx.saver, &error) < 0) {
			import_run_ctx_set_error(run, error.code, error.detail);
			ret = -1;
		}
		/* count only what really landed */
		lost = message_saver_get_lost_count(ctx.saver);
		result->imported -= lost;
		run->progress->imported -= lost;
		message_saver_deinit(&ctx.saver);
	}
	if (ctx.own_index)
		dedup_index_deinit(&ctx.index);
	if (ctx.box != NULL)
		mailbox_free(&ctx.box);
	for (i = 0; i < N_ELEMENTS(ctx.chunks); i++) {
		if (ctx.chunks[i].pool != NULL)
			pool_unref(&ctx.chunks[i].pool);
	}
	if (ret == 0 && result->failed > 0) {
		result->note = p_strdup_printf(run->pool,
			"%u messages not sent by the server", result->failed);
	} else if (ret == 0 && result->skipped > 0 && run->set->dry_run) {
		result->note = p_strdup_printf(run->pool,
			"%u duplicates skipped", result->skipped);
	}
	run->progress->folders_done++;
	run->progress->folder = NULL;
	return ret;
}
