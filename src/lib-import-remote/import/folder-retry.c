/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The end of the run: the messages given up during it (the connection
   kept breaking at the same place of them) are tried once more each */

#include "lib.h"
#include "array.h"
#include "mail-user.h"
#include "folder-plan.h"
#include "folder-import.h"
#include "folder-import-private.h"

static int import_msg_uid_sort_cmp(const struct import_msg *a,
				   const struct import_msg *b)
{
	return a->uid < b->uid ? -1 : (a->uid > b->uid ? 1 : 0);
}

/* Try the messages of one folder once more */
static int
folder_import_retry_folder(struct import_run_ctx *run,
			   const struct import_run_deferred *defs,
			   unsigned int count)
{
	struct folder_import_ctx ctx;
	struct import_msg *msg;
	unsigned int i;

	folder_import_ctx_init(&ctx, run, defs[0].entry, defs[0].result);
	ctx.retrying = TRUE;
	ctx.uidvalidity = defs[0].uidvalidity;
	p_array_init(&ctx.current->msgs, ctx.current->pool, count);
	for (i = 0; i < count; i++) {
		msg = array_append_space(&ctx.current->msgs);
		msg->uid = defs[i].uid;
		msg->size = defs[i].size;
		msg->received_date = defs[i].received_date;
		msg->received_tz = defs[i].received_tz;
		msg->flags = defs[i].flags;
		msg->keywords = defs[i].keywords;
		msg->message_id = defs[i].message_id;
		msg->key = defs[i].key;
		msg->action = IMPORT_MSG_IMPORT;
		msg->state = IMPORT_MSG_STATE_WANTED;
		/* once more: a break that brings it no further than before
		   gives it up for good */
		msg->furthest = defs[i].furthest;
		msg->losses = FOLDER_IMPORT_MAX_LOSSES - 1;
		/* counted as done when it was given up */
		run->progress->msgs_done--;
	}
	/* looked up by UID */
	array_sort(&ctx.current->msgs, import_msg_uid_sort_cmp);
	ctx.current->state = IMPORT_CHUNK_DECIDED;
	e_info(run->event, "Trying %u message%s of %s "
	       "again", count, count == 1 ? "" : "s", ctx.entry->display_name);
	return folder_import_ctx_run(&ctx);
}

int folder_import_retry_deferred(struct import_run_ctx *run)
{
	ARRAY(struct import_run_deferred) defs;
	const struct import_run_deferred *all;
	unsigned int i, j, count;
	int ret = 0;

	if (!array_is_created(&run->deferred) ||
	    array_count(&run->deferred) == 0)
		return 0;
	/* taken over: what is given up now is failed for good */
	t_array_init(&defs, array_count(&run->deferred));
	array_append_array(&defs, &run->deferred);
	array_clear(&run->deferred);
	all = array_get(&defs, &count);
	for (i = 0; i < count; i = j) {
		for (j = i + 1; j < count && all[j].entry == all[i].entry; j++) ;
		if (ret == 0) {
			ret = folder_import_retry_folder(run, all + i, j - i);
			continue;
		}
		/* the run failed: the rest is not tried again */
		for (; i < j; i++)
			folder_import_deferred_failed(run, &all[i]);
	}
	return ret;
}
