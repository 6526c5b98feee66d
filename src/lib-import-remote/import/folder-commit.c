/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* What is saved becomes imported: the commit (or what a failed save
   rolled back), and the checkpoint moved up behind it */

#include "lib.h"
#include "array.h"
#include "message-saver.h"
#include "import-checkpoint.h"
#include "folder-plan.h"
#include "folder-import-private.h"

/* Local saves failing this many times in a row: the destination itself is
   broken, not the messages */
#define FOLDER_IMPORT_MAX_DEST_FAILURES 10

/* Everything saved and not committed was rolled back: fetch it again */
static void folder_import_rolled_back(struct folder_import_ctx *ctx)
{
	struct import_progress *progress = ctx->run->progress;
	struct import_msg *msg;

	array_foreach_modifiable(&ctx->current->msgs, msg) {
		if (msg->state != IMPORT_MSG_STATE_SAVED)
			continue;
		msg->state = IMPORT_MSG_STATE_WANTED;
		progress->msgs_done--;
		progress->bytes_done -= msg->saved_size;
	}
}

/* Commit what is saved: only now is it imported. Returns 0, or -1 (the
   run's error set: the destination failed). */
int folder_import_commit(struct folder_import_ctx *ctx)
{
	struct import_progress *progress = ctx->run->progress;
	struct import_remote_error error;
	struct import_msg *msg;

	if (ctx->saver == NULL)
		return 0;
	i_zero(&error);
	if (message_saver_commit(ctx->saver, &error) < 0) {
		folder_import_rolled_back(ctx);
		import_run_ctx_set_error(ctx->run, error.code, error.detail);
		return -1;
	}
	array_foreach_modifiable(&ctx->current->msgs, msg) {
		if (msg->state != IMPORT_MSG_STATE_SAVED)
			continue;
		msg->state = IMPORT_MSG_STATE_COMMITTED;
		ctx->result->imported++;
		progress->imported++;
		progress->bytes_imported += msg->saved_size;
	}
	return 0;
}

/* A local save failed and everything uncommitted was rolled back. Over
   quota: the import stops. Otherwise the destination refused this one
   message: it is recorded and skipped, unless the destination keeps
   failing. Returns 0 to go on, -1 to stop (the run's error set). */
int
folder_import_save_failed(struct folder_import_ctx *ctx, struct import_msg *msg,
			  const struct import_remote_error *error)
{
	folder_import_rolled_back(ctx);
	if (error->code == IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED ||
	    ++ctx->dest_failures >= FOLDER_IMPORT_MAX_DEST_FAILURES) {
		import_run_ctx_set_error(ctx->run, error->code, error->detail);
		return -1;
	}
	if (msg->state == IMPORT_MSG_STATE_WANTED)
		folder_import_failed(ctx, msg, error->detail);
	return 0;
}

/* Move the checkpoint up to where everything of the current chunk is
   committed (a failed message stops it, so that a re-run tries it
   again) */
void folder_import_checkpoint_move(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	const struct import_msg *msg;
	uint32_t last_uid = 0;
	const char *errstr;

	if (ctx->retrying) {
		/* single messages: the checkpoint is not theirs to move */
		return;
	}
	if (ctx->checkpoint_held) {
		/* a message of an earlier chunk failed: the checkpoint
		   stays before it, also when later chunks are done */
		return;
	}
	array_foreach(&ctx->current->msgs, msg) {
		if (msg->action == IMPORT_MSG_IMPORT &&
		    msg->state != IMPORT_MSG_STATE_COMMITTED) {
			if (msg->state == IMPORT_MSG_STATE_FAILED)
				ctx->checkpoint_held = TRUE;
			break;
		}
		last_uid = msg->uid;
	}
	if (run->checkpoint != NULL && last_uid > ctx->done_uid &&
	    ctx->uidvalidity != 0 && !folder_import_date_filter(ctx)) {
		if (import_checkpoint_set(run->checkpoint,
					  ctx->entry->remote->remote_name,
					  ctx->uidvalidity, last_uid,
					  &errstr) < 0)
			import_run_ctx_warning(run, errstr);
		else
			ctx->done_uid = last_uid;
	}
}

/* The folder is done: every message it held at EXAMINE was listed and is
   behind the checkpoint. UIDs below UIDNEXT that were never listed belong
   to messages expunged before this run saw them; the checkpoint is moved
   up to UIDNEXT - 1 over them, so that the next run finds the folder
   unchanged by its STATUS alone and does not open it. */
void folder_import_checkpoint_finish(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	const struct remote_folder *remote = ctx->entry->remote;
	uint32_t uidnext = ctx->uidnext, last_uid;
	const char *errstr;

	if (uidnext == 0 && remote->status_uidvalidity == ctx->uidvalidity) {
		/* EXAMINE without UIDNEXT (Courier): STATUS's, from a
		   moment before it */
		uidnext = remote->status_uidnext;
	}
	if (run->checkpoint == NULL || ctx->retrying || ctx->list_cut ||
	    folder_import_date_filter(ctx) || ctx->uidvalidity == 0 ||
	    uidnext == 0 || ctx->result->failed > 0 ||
	    ctx->done_uid < ctx->listed_uid)
		return;
	/* (an empty folder gets its line too) */
	if (ctx->done_uid >= uidnext - 1 &&
	    import_checkpoint_get(run->checkpoint, remote->remote_name,
				  ctx->uidvalidity, &last_uid))
		return;
	if (import_checkpoint_set(run->checkpoint, remote->remote_name,
				  ctx->uidvalidity,
				  I_MAX(ctx->done_uid, uidnext - 1), &errstr) < 0)
		import_run_ctx_warning(run, errstr);
	else
		ctx->done_uid = I_MAX(ctx->done_uid, uidnext - 1);
}
