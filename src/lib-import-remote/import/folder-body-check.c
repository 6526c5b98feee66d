/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* A body's integrity: the sizes of its literals, its size and NUL bytes
   against RFC822.SIZE, fetched again and compared by digest when they look
   wrong, the rest of a resumed body checked against what came before;
   then saved. And what of a body is kept when the connection breaks. */

#include "lib.h"
#include "array.h"
#include "istream.h"
#include "ostream.h"
#include "iostream-temp.h"
#include "mail-user.h"
#include "message-size.h"
#include "message-saver.h"
#include "dedup-index.h"
#include "folder-plan.h"
#include "folder-import-private.h"

/* The connection broke while the pending body came: keep what arrived of
   it, to ask for the rest only. A body whose literal is not RFC822.SIZE
   long, or that is being compared, is fetched whole again. */
static void folder_import_pending_keep(struct folder_import_ctx *ctx)
{
	struct import_msg *msg = ctx->pending_msg;
	buffer_t *tail;

	folder_import_resume_drop(ctx);
	if (ctx->pending_overlap_bad) {
		/* what it sent again differed: no more partial fetches */
		msg->no_resume = TRUE;
	}
	if (msg->no_resume || msg->check != IMPORT_MSG_CHECK_NONE ||
	    ctx->pending_total != msg->size || ctx->pending_overlap_bad ||
	    ctx->pending_output == NULL || ctx->pending_check.size == 0 ||
	    ctx->pending_check.want_digest) {
		folder_import_pending_drop(ctx);
		return;
	}
	ctx->resume_msg = msg;
	ctx->resume_output = ctx->pending_output;
	ctx->resume_check = ctx->pending_check;
	ctx->resume_total = ctx->pending_total;
	/* swapped: the pending tail buffer is reused for the next body */
	tail = ctx->resume_tail;
	ctx->resume_tail = ctx->pending_tail;
	ctx->pending_tail = tail;
	ctx->pending_output = NULL;
	folder_import_pending_drop(ctx);
	e_debug(ctx->run->event, "Message UID %u in %s: "
		"%"PRIuUOFF_T" of %"PRIuUOFF_T" bytes received before the "
		"connection broke: the rest is asked for after the reconnect",
		msg->uid, ctx->entry->display_name, ctx->resume_check.size,
		ctx->resume_total);
}

/* The digest of a message in hand (when it was not taken on the way) */
static int folder_import_digest_input(struct istream *input,
				      unsigned char digest_r[SHA256_RESULTLEN])
{
	struct message_check check;
	const unsigned char *data;
	size_t size;

	message_check_init(&check, TRUE);
	while (i_stream_read_more(input, &data, &size) > 0) {
		message_check_more(&check, data, size);
		i_stream_skip(input, size);
	}
	if (input->stream_errno != 0)
		return -1;
	message_check_digest(&check, digest_r);
	i_stream_seek(input, 0);
	return 0;
}

/* The server sent bytes that look wrong: keep their digest, and fetch the
   message again to compare */
static int folder_import_compare_later(struct folder_import_ctx *ctx,
				       struct import_msg *msg,
				       struct istream *input)
{
	msg->check_size = ctx->pending_check.size;
	msg->check_digest = p_malloc(ctx->current->pool, SHA256_RESULTLEN);
	if (ctx->pending_check.want_digest)
		message_check_digest(&ctx->pending_check, msg->check_digest);
	else if (folder_import_digest_input(input, msg->check_digest) < 0) {
		import_run_ctx_set_error(ctx->run, IMPORT_REMOTE_ERROR_DEST_ERROR,
			t_strdup_printf("Reading the temporary copy of message "
					"UID %u failed: %s", msg->uid,
					i_stream_get_error(input)));
		return -1;
	}
	msg->check = IMPORT_MSG_CHECK_COMPARE;
	e_debug(ctx->run->event, "Message UID %u in %s: "
		"%"PRIuUOFF_T" bytes (RFC822.SIZE %"PRIuUOFF_T"), "
		"%"PRIuUOFF_T" NUL bytes: fetching it again to compare",
		msg->uid, ctx->entry->display_name, ctx->pending_check.size,
		msg->size, ctx->pending_check.nul_count);
	return 0;
}

/* The body was sent twice: the same bytes (the server's RFC822.SIZE is
   just wrong, or the message really has NUL bytes) are kept, other bytes
   mean corruption. Returns TRUE to keep it. */
static bool folder_import_compare(struct folder_import_ctx *ctx,
				  struct import_msg *msg)
{
	unsigned char digest[SHA256_RESULTLEN];

	message_check_digest(&ctx->pending_check, digest);
	if (ctx->pending_check.size == msg->check_size &&
	    memcmp(digest, msg->check_digest, sizeof(digest)) == 0) {
		e_warning(ctx->run->event,
			"Message UID %u in %s: the server sent the same "
			  "%"PRIuUOFF_T" bytes twice%s (its RFC822.SIZE says "
			  "%"PRIuUOFF_T"): kept as sent",
			  msg->uid, ctx->entry->display_name,
			  ctx->pending_check.size,
			  ctx->pending_check.nul_count > 0 ?
			  ", NUL bytes included" : "", msg->size);
		return TRUE;
	}
	if (ctx->pending_check.size == msg->size &&
	    ctx->pending_check.nul_count == 0) {
		/* the first copy was wrong (its size), this one is exactly
		   what RFC822.SIZE announced and has nothing wrong in it */
		e_warning(ctx->run->event,
			"Message UID %u in %s: the server first sent %"
			  PRIuUOFF_T" bytes, then exactly its RFC822.SIZE of %"
			  PRIuUOFF_T": the second copy kept",
			  msg->uid, ctx->entry->display_name, msg->check_size,
			  msg->size);
		return TRUE;
	}
	folder_import_failed(ctx, msg, t_strdup_printf(
		"the server sent different bytes each time (%"PRIuUOFF_T", "
		"then %"PRIuUOFF_T" bytes; RFC822.SIZE %"PRIuUOFF_T"): corrupt",
		msg->check_size, ctx->pending_check.size, msg->size));
	return FALSE;
}

/* A message without a Message-ID, in a folder whose identities come
   from the bodies (keys_from_bodies): its header hash, from the body in
   hand. Returns 1 if it is new (its key kept: saved again after a roll
   back, it is not looked up again), 0 if it is a copy of one saved
   before, -1 if the body can't be read. */
static int folder_import_key_from_body(struct folder_import_ctx *ctx,
				       struct import_msg *msg,
				       struct istream *input)
{
	struct message_size hdr_size;
	const char *key;
	bool has_nuls;

	if (message_get_header_size(input, &hdr_size, &has_nuls) < 0)
		key = NULL;
	else {
		i_stream_seek(input, 0);
		if (dedup_key_header_hash_input(input, hdr_size.physical_size,
						msg->size, &key) < 0)
			key = NULL;
	}
	if (key == NULL) {
		import_run_ctx_set_error(ctx->run, IMPORT_REMOTE_ERROR_DEST_ERROR,
			t_strdup_printf("Reading the temporary copy of message "
					"UID %u failed: %s", msg->uid,
					i_stream_get_error(input)));
		return -1;
	}
	i_stream_seek(input, 0);
	if (!dedup_index_add(ctx->index, key))
		return 0;
	msg->key = p_strdup(ctx->current->pool, key);
	return 1;
}

/* A body fetched for its header hash turned out a copy of a message saved
   before: counted as a duplicate, as if the header fetch had said so */
static void folder_import_body_duplicate(struct folder_import_ctx *ctx,
					 struct import_msg *msg)
{
	struct import_progress *progress = ctx->run->progress;

	msg->action = IMPORT_MSG_DUPLICATE;
	ctx->result->to_copy--;
	ctx->result->bytes_to_copy -= I_MIN(msg->size,
					    ctx->result->bytes_to_copy);
	progress->bytes_total -= I_MIN(msg->size, progress->bytes_total);
	progress->skipped_duplicates++;
	ctx->result->skipped++;
	progress->msgs_done++;
	e_debug(ctx->run->event, "Message UID %u in %s: its header is that of "
		"a message saved before: a duplicate", msg->uid,
		ctx->entry->display_name);
}

/* The message's FETCH reply is complete (whole: it is the message asked
   for, and parsed): save it, drop it, or fetch it again. Returns 0, or -1
   to stop. */
int folder_import_pending_done(struct folder_import_ctx *ctx, bool whole)
{
	struct import_msg *msg = ctx->pending_msg;
	struct import_progress *progress = ctx->run->progress;
	struct import_remote_error error;
	struct message_saver_mail mail;
	struct istream *input;
	bool suspicious;
	int ret = 0;

	if (!whole || ctx->pending_output == NULL) {
		folder_import_pending_drop(ctx);
		return 0;
	}
	if (ctx->pending_overlap_bad ||
	    ctx->pending_overlap_pos < ctx->pending_overlap) {
		/* the bytes sent again differ from what came before: the
		   server's partial fetches can't be trusted, nothing is
		   spliced. Fetched whole in the next round. */
		e_warning(ctx->run->event, "Message UID "
			  "%u in %s: the server's answer to a partial fetch "
			  "does not match the bytes it sent before: not used, "
			  "the message is fetched whole again", msg->uid,
			  ctx->entry->display_name);
		msg->no_resume = TRUE;
		folder_import_pending_drop(ctx);
		return 0;
	}
	ctx->pending_msg = NULL;
	if (o_stream_finish(ctx->pending_output) < 0) {
		import_run_ctx_set_error(ctx->run, IMPORT_REMOTE_ERROR_DEST_ERROR,
			t_strdup_printf("Writing the temporary copy of message "
					"UID %u failed: %s", msg->uid,
					o_stream_get_error(ctx->pending_output)));
		o_stream_destroy(&ctx->pending_output);
		return -1;
	}
	input = iostream_temp_finish(&ctx->pending_output, IO_BLOCK_SIZE);
	suspicious = ctx->pending_check.size != msg->size ||
		ctx->pending_check.nul_count > 0;

	if (msg->check == IMPORT_MSG_CHECK_COMPARE) {
		if (!folder_import_compare(ctx, msg)) {
			i_stream_unref(&input);
			return 0;
		}
	} else if (suspicious) {
		/* IMAP allows no NUL bytes in a message, and RFC822.SIZE is
		   its size: see whether the server sends the same again */
		ret = folder_import_compare_later(ctx, msg, input);
		i_stream_unref(&input);
		return ret;
	}

	if (msg->key == NULL && ctx->keys_from_bodies) {
		ret = folder_import_key_from_body(ctx, msg, input);
		if (ret <= 0) {
			if (ret == 0)
				folder_import_body_duplicate(ctx, msg);
			i_stream_unref(&input);
			return ret;
		}
	}

	i_zero(&mail);
	mail.flags = msg->flags;
	mail.keywords = msg->keywords;
	mail.received_date = msg->received_date;
	mail.received_tz_offset = msg->received_tz;
	i_zero(&error);
	if (message_saver_save(ctx->saver, &mail, input, &error) < 0) {
		i_stream_unref(&input);
		return folder_import_save_failed(ctx, msg, &error);
	}
	i_stream_unref(&input);
	ctx->dest_failures = 0;
	msg->state = IMPORT_MSG_STATE_SAVED;
	msg->saved_size = ctx->pending_check.size;
	if (msg->saved_size != msg->size) {
		/* RFC822.SIZE and the body disagree: the body is the truth */
		progress->bytes_total += msg->saved_size;
		progress->bytes_total -= I_MIN(msg->size, progress->bytes_total);
	}
	progress->msgs_done++;
	progress->bytes_done += msg->saved_size;
	if (message_saver_want_commit(ctx->saver)) {
		if (folder_import_commit(ctx) < 0)
			return -1;
		/* a run killed later need not fetch these again */
		folder_import_checkpoint_move(ctx);
	}
	if (!import_run_ctx_progress(ctx->run, FALSE))
		return -1;
	return 0;
}

/* The session failed: nothing of the message on its way is kept (it was
   not saved yet), everything saved is committed. Returns 0, or -1 if the
   commit failed. */
int folder_import_connection_lost(struct folder_import_ctx *ctx)
{
	struct import_msg *msg = ctx->pending_msg, *m;
	uoff_t received;

	if (msg != NULL && msg->state == IMPORT_MSG_STATE_WANTED) {
		/* how far the message got: further than ever before, and the
		   break is the link's, not the message's */
		received = ctx->pending_check.size;
		if (received > msg->furthest) {
			msg->furthest = received;
			msg->losses = 0;
			ctx->run->resumed_further++;
		} else {
			msg->losses++;
		}
		folder_import_pending_keep(ctx);
	}
	/* header fetches asked for on it: asked for again; bodies too */
	if (ctx->current->state == IMPORT_CHUNK_HASHING)
		ctx->current->state = IMPORT_CHUNK_LISTED;
	ctx->round_sent = FALSE;
	ctx->current->bodies_tag = NULL;
	/* what a broken connection sent proves nothing about a message:
	   a digest taken from it is forgotten */
	array_foreach_modifiable(&ctx->current->msgs, m)
		m->check = IMPORT_MSG_CHECK_NONE;
	folder_import_pending_drop(ctx);
	if (msg != NULL && msg->state == IMPORT_MSG_STATE_WANTED &&
	    msg->losses >= FOLDER_IMPORT_MAX_LOSSES) {
		if (ctx->resume_msg == msg)
			folder_import_resume_drop(ctx);
		folder_import_defer(ctx, msg, t_strdup_printf(
			"the connection broke %u times while the server sent "
			"it, each time at the same place (%"PRIuUOFF_T" of "
			"%"PRIuUOFF_T" bytes)", msg->losses, msg->furthest,
			msg->size));
	}
	return folder_import_commit(ctx);
}

/* The rest of a body the connection broke off (BODY[]<origin>): appended
   to what came before, if the server answered the partial fetch as asked:
   from the byte asked for (the overlap, sent again the same), to the end.
   Anything else (the whole body, another place or length) is not trusted:
   the body is fetched whole again. Returns FALSE if the literal is to be
   read as the whole body. */
bool
folder_import_resume_start(struct folder_import_ctx *ctx, struct import_msg *msg,
			   const struct imap_reply_fetch_literal *lit,
			   bool *skip_r)
{
	uoff_t have = ctx->resume_check.size;
	uoff_t overlap = I_MIN(have, FOLDER_IMPORT_RESUME_OVERLAP);

	*skip_r = FALSE;
	if (!lit->have_origin) {
		/* the whole body: a server that ignores partial fetches */
		e_debug(ctx->run->event, "Message UID %u "
			"in %s: the server answered a partial fetch with the "
			"whole body: fetched whole from now on", msg->uid,
			ctx->entry->display_name);
		msg->no_resume = TRUE;
		folder_import_resume_drop(ctx);
		return FALSE;
	}
	if (lit->origin != have - overlap ||
	    lit->size != ctx->resume_total - lit->origin) {
		e_warning(ctx->run->event, "Message UID "
			  "%u in %s: the server answered the partial fetch of "
			  "bytes %"PRIuUOFF_T"-%"PRIuUOFF_T" with %"PRIuUOFF_T
			  " bytes from %"PRIuUOFF_T": not used, the message "
			  "is fetched whole again", msg->uid,
			  ctx->entry->display_name, have - overlap,
			  ctx->resume_total, lit->size, lit->origin);
		msg->no_resume = TRUE;
		folder_import_resume_drop(ctx);
		*skip_r = TRUE;
		return TRUE;
	}
	ctx->pending_output = ctx->resume_output;
	ctx->resume_output = NULL;
	ctx->pending_check = ctx->resume_check;
	ctx->pending_total = ctx->resume_total;
	buffer_set_used_size(ctx->pending_tail, 0);
	buffer_append_buf(ctx->pending_tail, ctx->resume_tail, 0, SIZE_MAX);
	ctx->pending_overlap = overlap;
	ctx->pending_overlap_pos = 0;
	ctx->pending_overlap_bad = FALSE;
	ctx->resume_msg = NULL;
	return TRUE;
}

/* The most bytes a literal of a message of RFC822.SIZE size may hold */
uoff_t folder_import_literal_max(uoff_t size)
{
	if (size > (UOFF_T_MAX - FOLDER_IMPORT_LITERAL_SLACK) / 2)
		return UOFF_T_MAX;
	return size * 2 + FOLDER_IMPORT_LITERAL_SLACK;
}

/* A literal far bigger than the message it is for is not read: the
   message is given up as corrupt, the connection dropped (the literal
   can't be skipped). Returns -1. */
int
folder_import_refuse_literal(struct folder_import_ctx *ctx,
			     struct import_msg *msg, const char *what,
			     uoff_t size)
{
	const char *reason;

	reason = t_strdup_printf("the server announced a %"PRIuUOFF_T"-byte "
		"%s for it (RFC822.SIZE %"PRIuUOFF_T"): refused unread, "
		"corrupt", size, what, msg->size);
	if (msg->state == IMPORT_MSG_STATE_WANTED)
		folder_import_failed(ctx, msg, reason);
	return imap_source_refuse_literal(folder_import_src(ctx),
		t_strdup_printf("message UID %u in %s: %s", msg->uid,
				ctx->entry->display_name, reason));
}

/* The body coming is no bigger than what the user's quota can still
   take (with Dovecot's default quota_grace of 10 %% of the limit): it is
   received whole (a temporary file) before the save, where the quota
   plugin would refuse it only after it was all written. Returns FALSE
   with the run's error set if it does not fit. */
bool
folder_import_fits_quota(struct folder_import_ctx *ctx, struct import_msg *msg,
			 uoff_t size)
{
	struct import_run_ctx *run = ctx->run;
	uint64_t used = run->progress->bytes_done, left;

	if (!run->quota_limited)
		return TRUE;
	left = run->quota_remaining > used ? run->quota_remaining - used : 0;
	if (size <= left || size - left <= run->quota_grace)
		return TRUE;
	import_run_ctx_set_error(run, IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED,
		t_strdup_printf("Message UID %u in %s (%"PRIuUOFF_T" bytes) "
			"does not fit in the %s left in the user's quota: not "
			"downloaded", msg->uid, ctx->entry->display_name, size,
			import_progress_format_size(left)));
	return FALSE;
}
