/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* One folder's import: the local mailbox opened, the remote one examined,
   chunk by chunk listed, decided, fetched, committed and checkpointed,
   again after each reconnect */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "time-util.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "str-sanitize.h"
#include "import-remote-error.h"
#include "import-remote-event.h"
#include "message-saver.h"
#include "dedup-index.h"
#include "folder-plan.h"
#include "folder-import.h"
#include "folder-import-private.h"

/* After the bodies: commit, and move the checkpoint up to where everything
   is in the destination (a failed message stops it, so that a re-run
   tries it again). */
static int folder_import_chunk_done(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	const struct import_msg *msg;

	if (run->set->dry_run) {
		array_foreach(&ctx->current->msgs, msg) {
			if (msg->action == IMPORT_MSG_IMPORT) {
				ctx->result->imported++;
				run->progress->msgs_done++;
			}
		}
		return 0;
	}
	if (folder_import_commit(ctx) < 0)
		return -1;
	folder_import_checkpoint_move(ctx);
	return 0;
}

/* Copy the folder's messages from ctx->next_first on, chunk by chunk. The
   state of the current chunk says where to go on, also after the
   connection was lost and made again. */
static int folder_import_chunk_step(struct folder_import_ctx *ctx,
				    bool ahead);

int folder_import_chunks(struct folder_import_ctx *ctx, bool ahead)
{
	int ret;

	/* a data stack frame per step: nothing of a chunk's stays behind it
	   (what outlives it is in the chunk's pool) */
	do T_BEGIN {
		ret = folder_import_chunk_step(ctx, ahead);
	} T_END; while (ret == 1);
	return ret;
}

bool folder_import_in_last_chunk(struct folder_import_ctx *ctx)
{
	return ctx->next->meta_tag == NULL && ctx->next_first > ctx->exists;
}

/* One chunk listed, or one chunk decided and copied (ahead: only
   decided). Returns 1 to go on, 0 when the folder is done, -1 on error,
   ahead: 2 when it stops (decided, or it would wait for the server). */
static int folder_import_chunk_step(struct folder_import_ctx *ctx, bool ahead)
{
	struct import_chunk *current = ctx->current;

	if (current->state == IMPORT_CHUNK_DONE) {
		/* (messages that came meanwhile: listed on its own; after a
		   reconnect, once the probe's answer says whether any did:
		   folders sent behind it are not dropped for nothing) */
		if (folder_import_read_probe(ctx) < 0)
			return -1;
		if (ctx->next->meta_tag == NULL &&
		    (ctx->place_unknown || ctx->next_first <= ctx->exists) &&
		    folder_import_own_connection(ctx) < 0)
			return -1;
		if (folder_import_find_place(ctx) < 0)
			return -1;
		if (ctx->next->meta_tag == NULL &&
		    !folder_import_send_list(ctx))
			return 0;
		if (folder_import_receive_list(ctx) < 0)
			return -1;
		if (ctx->current->bodies_tag != NULL) {
			/* its bodies were asked for with it: a list by
			   sequence goes out only after them (see below) */
			return 1;
		}
		/* ask for the next chunk's list ahead of this chunk's UID
		   commands, so it is there when they are done. Never behind
		   them: a command using sequence numbers pipelined after UID
		   commands is ambiguous (RFC 3501 5.5), and Dovecot answers
		   it with a "* BAD [CLIENTBUG]" that it may even write into
		   the middle of a literal it is sending. After a reconnect
		   the list is asked for only when the chunk is done: a link
		   that keeps breaking would otherwise have it sent again and
		   again. */
		(void)folder_import_send_list(ctx);
		return 1;
	}
	if (current->state == IMPORT_CHUNK_LISTED) {
		if (folder_import_classify(ctx)) {
			/* (the bodies asked for with the list come first:
			   none of them is decided yet; a folder opened behind
			   it is dropped, it is EXAMINEd again) */
			folder_import_drain_early_bodies(ctx, current);
			if (folder_import_own_connection(ctx) < 0)
				return -1;
			folder_import_send_headers(ctx);
			current->state = IMPORT_CHUNK_HASHING;
		} else {
			current->state = IMPORT_CHUNK_HASHED;
		}
	}
	if (current->state == IMPORT_CHUNK_HASHING) {
		/* ahead: not waiting for the server (the next round looks
		   again) */
		if (ahead && (imap_source_flush(folder_import_src(ctx)) < 0 ||
			      !imap_source_has_input(folder_import_src(ctx))))
			return 2;
		if (folder_import_receive_headers(ctx) < 0)
			return -1;
		current->state = IMPORT_CHUNK_HASHED;
	}
	if (current->state == IMPORT_CHUNK_HASHED) {
		folder_import_decide(ctx);
		if (folder_import_add_missing_flags(ctx) < 0)
			return -1;
		current->state = IMPORT_CHUNK_DECIDED;
	}
	if (ahead)
		return 2;
	if (!ctx->run->set->dry_run &&
	    folder_import_fetch_bodies(ctx) < 0)
		return -1;
	if (folder_import_chunk_done(ctx) < 0)
		return -1;
	current->state = IMPORT_CHUNK_DONE;
	/* also when nothing was saved (a re-run that only skips): the job's
	   heartbeat, without which a long re-run would look dead and be
	   taken over, and its chance to see a cancel */
	if (!import_run_ctx_progress(ctx->run, FALSE))
		return -1;
	return 1;
}

int folder_import_open_local(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	struct mail_namespace *ns;
	enum mail_error error;
	const char *errstr;

	if (ctx->count_only || ctx->local_opened)
		return 0;
	ctx->local_opened = TRUE;
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

bool folder_import_dest_empty(struct folder_import_ctx *ctx)
{
	struct mail_namespace *ns;
	struct mailbox *box;
	struct mailbox_status status;
	enum mail_error error;
	bool empty;

	if (ctx->result->dest_name == NULL)
		return FALSE;
	if (ctx->box != NULL) {
		return mailbox_get_status(ctx->box, STATUS_MESSAGES,
					  &status) == 0 && status.messages == 0;
	}
	ns = mail_namespace_find(ctx->run->user->namespaces,
				 ctx->result->dest_name);
	box = mailbox_alloc(ns->list, ctx->result->dest_name, 0);
	if (mailbox_get_status(box, STATUS_MESSAGES, &status) == 0)
		empty = status.messages == 0;
	else {
		(void)mailbox_get_last_internal_error(box, &error);
		empty = error == MAIL_ERROR_NOTFOUND;
	}
	mailbox_free(&box);
	return empty;
}

/* Which duplicate index the folder uses (its own one still empty): what
   the list asks for depends on it */
static void folder_import_choose_index(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;

	if (ctx->index_chosen)
		return;
	ctx->index_chosen = TRUE;
	if (ctx->count_only)
		return;
	if (ctx->entry->action == FOLDER_PLAN_COPY_REMAINING &&
	    run->gmail_index != NULL) {
		/* Gmail's All Mail: what is not in any other folder */
		ctx->index = run->gmail_index;
		return;
	}
	ctx->gmail_index = run->gmail_index;
	switch (run->set->dedup) {
	case IMPORT_REMOTE_DEDUP_OFF:
		return;
	case IMPORT_REMOTE_DEDUP_ACCOUNT:
		ctx->index = run->account_index;
		return;
	case IMPORT_REMOTE_DEDUP_FOLDER:
		break;
	}
	ctx->index = dedup_index_init();
	ctx->own_index = TRUE;
}

/* Where the identities of messages without a Message-ID come from: a
   header fetch, or (a destination folder still empty, its own index, all
   of its bodies to be fetched anyway) the bodies themselves */
static void folder_import_choose_keys(struct folder_import_ctx *ctx)
{
	ctx->keys_from_bodies = ctx->own_index && ctx->gmail_index == NULL &&
		dedup_index_count(ctx->index) == 0 &&
		!ctx->run->set->dry_run && !ctx->count_only;
}

static int folder_import_setup_index(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	struct timeval start, end;
	const char *error;

	if (ctx->index_ready)
		return 0;
	ctx->index_ready = TRUE;
	folder_import_choose_index(ctx);
	/* the destination's identities are read when the folder runs, not
	   when it was opened ahead */
	if (ctx->own_index && ctx->box != NULL) {
		i_gettimeofday(&start);
		if (dedup_index_add_mailbox(ctx->index, ctx->box, TRUE,
					    &error) < 0) {
			import_run_ctx_set_error(ctx->run,
				IMPORT_REMOTE_ERROR_DEST_ERROR, error);
			return -1;
		}
		i_gettimeofday(&end);
		e_debug(run->event, "Duplicate index of %s: "
			"%u messages in %lld ms", ctx->result->dest_name,
			dedup_index_count(ctx->index),
			timeval_diff_usecs(&end, &start) / 1000);
	}
	folder_import_choose_keys(ctx);
	return 0;
}

int folder_import_position(struct folder_import_ctx *ctx)
{
	bool list_early;

	if (!ctx->started) {
		/* the list asks for the identities: the index is set up
		   before it is sent */
		list_early = ctx->primed_tag != NULL ?
			ctx->primed_list_early :
			folder_import_can_list_early(ctx);
		if (list_early && folder_import_setup_index(ctx) < 0)
			return -1;
		if (folder_import_start(ctx, list_early) < 0)
			return -1;
		ctx->started = TRUE;
	} else if (ctx->restart_needed) {
		if (folder_import_restart(ctx) < 0)
			return -1;
		ctx->restart_needed = FALSE;
	}
	if (ctx->next_first <= ctx->exists &&
	    folder_import_setup_index(ctx) < 0)
		return -1;
	return 0;
}

static int folder_import_run(struct folder_import_ctx *ctx)
{
	int ret;

	if (folder_import_open_local(ctx) < 0)
		return -1;
	for (;;) {
		if (ctx->advance_failed) {
			/* what went wrong ahead of its turn: as if now */
			ctx->advance_failed = FALSE;
			if (ctx->advance_error.code != IMPORT_REMOTE_ERROR_NONE)
				ctx->run->error = ctx->advance_error;
			ret = -1;
		} else {
			ret = folder_import_position(ctx);
			if (ret == 0)
				ret = folder_import_chunks(ctx, FALSE);
			i_assert(ret <= 0);
		}
		if (ret == 0) {
			folder_import_checkpoint_finish(ctx);
			return 0;
		}
		/* keep what is complete, then try a new connection */
		if (folder_import_connection_lost(ctx) < 0 ||
		    !import_run_ctx_reconnect(ctx->run))
			return -1;
		ctx->restart_needed = ctx->started;
	}
}

static const char *folder_import_temp_prefix(struct import_run_ctx *run)
{
	string_t *prefix = t_str_new(128);

	mail_user_set_get_temp_prefix(prefix, run->user->set);
	return p_strdup(run->pool, str_c(prefix));
}

void
folder_import_ctx_init(struct folder_import_ctx *ctx,
		       struct import_run_ctx *run,
		       const struct folder_plan_entry *entry,
		       struct import_run_folder *result)
{
	i_zero(ctx);
	ctx->run = run;
	ctx->entry = entry;
	ctx->result = result;
	ctx->count_only = entry->action == FOLDER_PLAN_COUNT_ONLY;
	ctx->want_labels = run->gmail_labels && !ctx->count_only;
	ctx->current = &ctx->chunks[0];
	ctx->next = &ctx->chunks[1];
	ctx->temp_prefix = folder_import_temp_prefix(run);
	ctx->pending_tail = buffer_create_dynamic(default_pool,
						  FOLDER_IMPORT_RESUME_OVERLAP);
	ctx->resume_tail = buffer_create_dynamic(default_pool,
						 FOLDER_IMPORT_RESUME_OVERLAP);
	import_chunk_reset(ctx->current, 1);
	import_chunk_reset(ctx->next, 1);
}

/* Free what the folder holds (its saver is gone already) */
static void folder_import_ctx_free(struct folder_import_ctx *ctx)
{
	unsigned int i;

	if (ctx->own_index)
		dedup_index_deinit(&ctx->index);
	if (ctx->box != NULL)
		mailbox_free(&ctx->box);
	for (i = 0; i < N_ELEMENTS(ctx->chunks); i++) {
		if (ctx->chunks[i].pool == NULL)
			continue;
		hash_table_destroy(&ctx->chunks[i].keyword_sets);
		pool_unref(&ctx->chunks[i].pool);
	}
	buffer_free(&ctx->pending_tail);
	buffer_free(&ctx->resume_tail);
	i_free(ctx->primed_tag);
}

/* Run the folder's import, and keep what is saved. Returns ret. */
int folder_import_ctx_run(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	struct import_run_folder *result = ctx->result;
	int ret;

	run->progress->folder = ctx->entry->display_name;
	T_BEGIN {
		ret = folder_import_run(ctx);
	} T_END;
	if (ret < 0) {
		/* the first cause is the real one */
		import_run_ctx_source_failed(run);
	} else {
		/* (bodies asked for with a list are never left for the
		   next folder on the connection to read) */
		folder_import_drain_early_bodies(ctx, ctx->current);
		folder_import_drain_early_bodies(ctx, ctx->next);
	}
	folder_import_pending_drop(ctx);
	folder_import_resume_drop(ctx);
	if (ctx->retrying && ret < 0) {
		struct import_msg *msg;

		array_foreach_modifiable(&ctx->current->msgs, msg) {
			if (msg->state != IMPORT_MSG_STATE_WANTED)
				continue;
			folder_import_failed(ctx, msg, "the connection kept "
				"breaking at the same place of it, and the run "
				"ended before the try at its end was done");
		}
	}
	if (ctx->saver != NULL) {
		/* keep what was saved, even when the folder failed */
		if (folder_import_commit(ctx) < 0)
			ret = -1;
		message_saver_deinit(&ctx->saver);
	}
	folder_import_ctx_free(ctx);
	if (ret == 0 && result->failed > 0) {
		result->note = p_strdup_printf(run->pool, "%u %s failed",
			result->failed,
			result->failed == 1 ? "message" : "messages");
	}
	run->progress->folder = NULL;
	return ret;
}

/* Run the folder (its own event around it) */
static int folder_import_go(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	const struct folder_plan_entry *entry = ctx->entry;
	struct import_run_folder *result = ctx->result;
	uoff_t bytes_before = run->progress->bytes_imported;
	enum import_remote_error_code code;
	int ret;

	i_assert(run->folder_event == NULL);
	run->folder_event = import_remote_event_create(run->event);
	event_add_str(run->folder_event, "folder", entry->display_name);
	ret = folder_import_ctx_run(ctx);
	run->progress->folders_done++;

	code = ret == 0 ? IMPORT_REMOTE_ERROR_NONE :
		run->error.code != IMPORT_REMOTE_ERROR_NONE ? run->error.code :
		IMPORT_REMOTE_ERROR_INTERNAL;
	e_debug(event_create_passthrough(run->folder_event)->
		set_name("import_remote_folder_finished")->
		add_str("dest_folder", result->dest_name == NULL ? "" :
			result->dest_name)->
		add_int("messages", result->imported)->
		add_int("bytes", run->progress->bytes_imported - bytes_before)->
		add_int("skipped", result->skipped)->
		add_int("failed", result->failed)->
		add_str("error_code", import_remote_error_get_info(code)->name)->
		event(),
		"Folder %s: %u imported, %u skipped, %u failed (%s)",
		str_sanitize(entry->display_name, 128), result->imported,
		result->skipped, result->failed,
		import_remote_error_get_info(code)->name);
	event_unref(&run->folder_event);
	return ret;
}

int folder_import(struct import_run_ctx *run,
		  const struct folder_plan_entry *entry,
		  struct import_run_folder *result)
{
	struct folder_import_ctx ctx;

	folder_import_ctx_init(&ctx, run, entry, result);
	return folder_import_go(&ctx);
}

struct folder_import_ctx *
folder_import_prime(struct import_run_ctx *run,
		    const struct folder_plan_entry *entry,
		    struct import_run_folder *result)
{
	struct folder_import_ctx *ctx;

	ctx = i_new(struct folder_import_ctx, 1);
	folder_import_ctx_init(ctx, run, entry, result);
	folder_import_choose_index(ctx);
	folder_import_primed_send(ctx);
	return ctx;
}

int folder_import_primed(struct folder_import_ctx **_ctx)
{
	struct folder_import_ctx *ctx = *_ctx;
	int ret;

	*_ctx = NULL;
	ret = folder_import_go(ctx);
	i_free(ctx);
	return ret;
}

void folder_import_primed_free(struct folder_import_ctx **_ctx)
{
	struct folder_import_ctx *ctx = *_ctx;

	*_ctx = NULL;
	/* (advanced: nothing of it was saved) */
	if (ctx->saver != NULL)
		message_saver_deinit(&ctx->saver);
	folder_import_ctx_free(ctx);
	i_free(ctx);
}

const char *folder_import_display_name(struct folder_import_ctx *ctx)
{
	return ctx->entry->display_name;
}

const char *folder_import_dest_name(struct folder_import_ctx *ctx)
{
	return ctx->result->dest_name;
}
