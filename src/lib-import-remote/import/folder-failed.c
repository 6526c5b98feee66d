/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* Messages that could not be imported: recorded as failed, or given up
   during the pass and kept in the run's list of those tried again at its
   end (folder-retry.c), and failed when they are not */

#include "lib.h"
#include "array.h"
#include "mail-user.h"
#include "folder-plan.h"
#include "folder-import.h"
#include "folder-import-private.h"

/* The report's record of a message that could not be imported */
static void
folder_import_record_failed(struct import_run_ctx *run, const char *folder,
			    uint32_t uid, uoff_t size, const char *message_id,
			    time_t received_date, const char *reason)
{
	struct import_failed_message failed;

	i_zero(&failed);
	failed.folder = folder;
	failed.uid = uid;
	failed.size = size;
	failed.message_id = message_id == NULL ? "" : message_id;
	failed.received = received_date == (time_t)-1 ? 0 : received_date;
	failed.reason = reason;
	import_run_ctx_message_failed(run, &failed);
}

void folder_import_failed(struct folder_import_ctx *ctx,
			  struct import_msg *msg, const char *reason)
{
	i_assert(msg->state == IMPORT_MSG_STATE_WANTED);

	if (ctx->resume_msg == msg)
		folder_import_resume_drop(ctx);
	folder_import_record_failed(ctx->run, ctx->entry->display_name,
				    msg->uid, msg->size, msg->message_id,
				    msg->received_date, reason);
	msg->state = IMPORT_MSG_STATE_FAILED;
	ctx->result->failed++;
	ctx->run->progress->msgs_done++;
}

/* The connection broke at the same place of the message each time: it is
   tried again at the end of the run (folder_import_retry_deferred()) */
void folder_import_defer(struct folder_import_ctx *ctx,
			 struct import_msg *msg, const char *reason)
{
	struct import_run_ctx *run = ctx->run;
	struct import_run_deferred *def;

	i_assert(msg->state == IMPORT_MSG_STATE_WANTED);

	if (ctx->retrying) {
		/* this was the second chance */
		folder_import_failed(ctx, msg, reason);
		return;
	}
	if (!array_is_created(&run->deferred))
		p_array_init(&run->deferred, run->pool, 4);
	def = array_append_space(&run->deferred);
	def->entry = ctx->entry;
	def->result = ctx->result;
	def->uidvalidity = ctx->uidvalidity;
	def->uid = msg->uid;
	def->size = msg->size;
	def->furthest = msg->furthest;
	def->received_date = msg->received_date;
	def->received_tz = msg->received_tz;
	def->flags = msg->flags;
	def->keywords = msg->keywords == NULL ? NULL :
		(const char *const *)p_strarray_dup(run->pool, msg->keywords);
	def->message_id = p_strdup(run->pool, msg->message_id);
	def->key = p_strdup(run->pool, msg->key);
	def->reason = p_strdup(run->pool, reason);
	e_warning(run->event, "Message UID %u in %s: %s: "
		  "tried again at the end of the run", msg->uid,
		  ctx->entry->display_name, reason);
	msg->state = IMPORT_MSG_STATE_FAILED;
	msg->deferred = TRUE;
	run->progress->msgs_done++;
}

void
folder_import_deferred_failed(struct import_run_ctx *run,
			      const struct import_run_deferred *def)
{
	folder_import_record_failed(run, def->entry->display_name, def->uid,
				    def->size, def->message_id,
				    def->received_date, def->reason);
	def->result->failed++;
	def->result->note = p_strdup_printf(run->pool, "%u %s failed",
		def->result->failed,
		def->result->failed == 1 ? "message" : "messages");
}

void folder_import_fail_deferred(struct import_run_ctx *run)
{
	const struct import_run_deferred *def;

	if (!array_is_created(&run->deferred))
		return;
	array_foreach(&run->deferred, def)
		folder_import_deferred_failed(run, def);
	array_clear(&run->deferred);
}
