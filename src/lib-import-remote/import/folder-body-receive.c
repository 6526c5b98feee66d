/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* Receiving a body's literal into the pending message: whole, into a
   temporary copy, or the rest of a resumed one appended to what came
   before. It is checked and saved when its FETCH reply is complete
   (folder-body-check.c). */

#include "lib.h"
#include "buffer.h"
#include "ostream.h"
#include "iostream-temp.h"
#include "folder-plan.h"
#include "folder-import-private.h"

/* A message is received whole before it is saved: in memory up to this
   size, in an (unlinked) temporary file beyond */
#define FOLDER_IMPORT_MESSAGE_MEMORY_MAX (1024*1024)

/* Keep the last FOLDER_IMPORT_RESUME_OVERLAP bytes of the body */
static void folder_import_tail_more(buffer_t *tail, const unsigned char *data,
				    size_t size)
{
	size_t keep;

	if (size >= FOLDER_IMPORT_RESUME_OVERLAP) {
		buffer_set_used_size(tail, 0);
		buffer_append(tail, data + size - FOLDER_IMPORT_RESUME_OVERLAP,
			      FOLDER_IMPORT_RESUME_OVERLAP);
		return;
	}
	if (tail->used + size > FOLDER_IMPORT_RESUME_OVERLAP) {
		keep = FOLDER_IMPORT_RESUME_OVERLAP - size;
		buffer_delete(tail, 0, tail->used - keep);
	}
	buffer_append(tail, data, size);
}

static void folder_import_pending_data(const unsigned char *data, size_t size,
				       void *context)
{
	struct folder_import_ctx *ctx = context;
	const unsigned char *tail;
	size_t n;

	if (ctx->pending_overlap_pos < ctx->pending_overlap) {
		/* a resumed body: what is sent again must be what came */
		n = I_MIN(size, ctx->pending_overlap - ctx->pending_overlap_pos);
		tail = CONST_PTR_OFFSET(ctx->pending_tail->data,
			ctx->pending_tail->used - ctx->pending_overlap +
			ctx->pending_overlap_pos);
		if (memcmp(tail, data, n) != 0)
			ctx->pending_overlap_bad = TRUE;
		ctx->pending_overlap_pos += n;
		data += n;
		size -= n;
	}
	if (size == 0 || ctx->pending_overlap_bad)
		return;
	message_check_more(&ctx->pending_check, data, size);
	o_stream_nsend(ctx->pending_output, data, size);
	folder_import_tail_more(ctx->pending_tail, data, size);
}

/* Receive a body whole (or the rest of one); it is saved when its FETCH
   reply is complete */
int
folder_import_receive_body(struct folder_import_ctx *ctx, struct import_msg *msg,
			   const struct imap_reply_fetch_literal *lit)
{
	const char *what;
	bool skip = FALSE;

	msg->sent = TRUE;
	/* (counted as its reading starts) */
	ctx->run->body_bytes_read += lit->size;
	what = t_strdup_printf("message UID %u in %s", msg->uid,
			       ctx->entry->display_name);
	if (ctx->resume_msg == msg &&
	    folder_import_resume_start(ctx, msg, lit, &skip)) {
		if (skip) {
			/* read and forgotten; asked for whole next */
			return imap_source_read_literal(folder_import_src(ctx),
				lit->size, what, NULL, NULL) < 0 ? -1 : 1;
		}
	} else {
		if (ctx->resume_msg == msg)
			folder_import_resume_drop(ctx);
		if (lit->have_origin && lit->origin != 0) {
			/* a part of the body when the whole was asked for:
			   nothing to do with it (and asking again would get
			   the same) */
			if (imap_source_read_literal(folder_import_src(ctx),
					lit->size, what, NULL, NULL) < 0)
				return -1;
			folder_import_failed(ctx, msg, t_strdup_printf(
				"asked for whole, the server sent a part of it "
				"(BODY[]<%"PRIuUOFF_T">): corrupt", lit->origin));
			return 1;
		}
		/* a digest is wanted to compare two fetches, and where the
		   size already says that the server's bytes look wrong */
		message_check_init(&ctx->pending_check,
				   msg->check == IMPORT_MSG_CHECK_COMPARE ||
				   lit->size != msg->size);
		ctx->pending_output = iostream_temp_create_sized(
			ctx->temp_prefix, 0, "import-remote message",
			FOLDER_IMPORT_MESSAGE_MEMORY_MAX);
		ctx->pending_total = lit->size;
		ctx->pending_overlap = ctx->pending_overlap_pos = 0;
		ctx->pending_overlap_bad = FALSE;
		buffer_set_used_size(ctx->pending_tail, 0);
	}
	ctx->pending_msg = msg;
	ctx->pending_seq = lit->seq;
	if (imap_source_read_literal(folder_import_src(ctx), lit->size, what,
				     folder_import_pending_data, ctx) < 0)
		return -1;
	return 1;
}
