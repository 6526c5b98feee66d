/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "str.h"
#include "time-util.h"
#include "ioloop.h"
#include "istream.h"
#include "iostream-ssl.h"
#include "mail-namespace.h"
#include "mailbox-list-iter.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "import-remote-config.h"
#include "imap-source.h"
#include "folder-plan.h"
#include "dedup-index.h"
#include "import-checkpoint.h"
#include "folder-import.h"
#include "import-connections.h"
#include "import-tempfiles.h"
#include "import-run-context.h"
#include "import-run.h"
#include "import-run-private.h"

/* --newest-first copies in passes over received-date windows, newest
   first, each ending where the previous one starts (days before now). The
   last pass takes everything older. */
static const unsigned int newest_first_window_days[] = {
	7, 30, 90, 365, 3*365
};


static int import_run_init_ssl(struct import_run_ctx *ctx)
{
	const char *error;

	if (import_remote_compat_ssl_client_settings(ctx->user, ctx->pool,
			ctx->set->tls_insecure, &ctx->ssl_set, &error) < 0) {
		import_run_ctx_set_error(ctx, IMPORT_REMOTE_ERROR_TLS_FAILED,
			t_strdup_printf("Reading the TLS client settings "
					"failed: %s", error));
		return -1;
	}
	ctx->src_set.ssl_set = ctx->ssl_set;
	return 0;
}

/* Every local mailbox's identities: for --dedup account, and for Gmail's
   All Mail when the server doesn't tell labels */
static int import_run_build_account_index(struct import_run_ctx *ctx)
{
	struct mailbox_list_iterate_context *iter;
	const struct mailbox_info *info;
	struct mailbox *box;
	const char *error;
	int ret = 0;

	ctx->account_index = dedup_index_init();
	iter = mailbox_list_iter_init_namespaces(ctx->user->namespaces,
		(const char *const []){ "*", NULL }, MAIL_NAMESPACE_TYPE_PRIVATE,
		MAILBOX_LIST_ITER_RETURN_NO_FLAGS |
		MAILBOX_LIST_ITER_NO_AUTO_BOXES);
	while (ret == 0 && (info = mailbox_list_iter_next(iter)) != NULL) {
		if ((info->flags & (MAILBOX_NOSELECT |
				    MAILBOX_NONEXISTENT)) != 0)
			continue;
		box = mailbox_alloc(info->ns->list, info->vname, 0);
		if (mailbox_open(box) == 0 &&
		    dedup_index_add_mailbox(ctx->account_index, box, FALSE,
					    &error) < 0) {
			import_run_ctx_set_error(ctx,
				IMPORT_REMOTE_ERROR_DEST_ERROR, error);
			ret = -1;
		}
		mailbox_free(&box);
	}
	if (mailbox_list_iter_deinit(&iter) < 0 && ret == 0) {
		import_run_ctx_set_error(ctx, IMPORT_REMOTE_ERROR_DEST_ERROR,
			"Listing the local mailboxes failed");
		ret = -1;
	}
	return ret;
}

static void import_run_open_checkpoint(struct import_run_ctx *ctx)
{
	const char *error;

	/* newest-first passes don't move through UIDs in order */
	if (ctx->set->newest_first || ctx->set->dry_run)
		return;
	if (import_checkpoint_open(ctx->user, ctx->set, &ctx->checkpoint,
				   &error) < 0) {
		import_run_ctx_warning(ctx, t_strdup_printf(
			"Resuming from a checkpoint disabled: %s", error));
	}
}

/* A folder that has nothing new for this run, by its STATUS alone: the
   checkpoint has its UIDVALIDITY and reaches up to UIDNEXT - 1. It is not
   opened at all (no EXAMINE, no round trip of its own). A re-run copies
   only messages with UIDs it has not handled: flags changed and messages
   expunged on the source since (MESSAGES lower, UIDNEXT the same) are
   things it never carries over, with or without --mirror, so they don't
   make a folder changed. A new UIDVALIDITY voids the checkpoint: the
   folder is opened and imported as before. */
static bool
import_run_folder_unchanged(struct import_run_ctx *ctx,
			    const struct folder_plan_entry *entry)
{
	const struct remote_folder *remote = entry->remote;
	uint32_t last_uid;

	if (ctx->checkpoint == NULL || ctx->since != 0 || ctx->before != 0 ||
	    remote->status_uidvalidity == 0 || remote->status_uidnext == 0)
		return FALSE;
	return import_checkpoint_get(ctx->checkpoint, remote->remote_name,
				     remote->status_uidvalidity, &last_uid) &&
		last_uid >= remote->status_uidnext - 1;
}

/* An unchanged folder is done as an EXAMINE that finds nothing new would
   have done it: what it holds counts as already there, and a subscription
   the source has is kept */
static void
import_run_folder_skip(struct import_run *run,
		       const struct folder_plan_entry *entry,
		       struct import_run_folder *folder)
{
	struct import_run_ctx *ctx = &run->ctx;
	struct mail_namespace *ns;
	struct mailbox *box;

	ctx->progress->skipped_duplicates += folder->msgs;
	ctx->progress->msgs_done += folder->msgs;
	folder->skipped += folder->msgs;
	ctx->progress->folders_done++;
	ctx->result->folders_unchanged++;
	if (!entry->remote->subscribed || folder->dest_name == NULL)
		return;
	ns = mail_namespace_find(ctx->user->namespaces, folder->dest_name);
	box = mailbox_alloc(ns->list, folder->dest_name, 0);
	if (mailbox_set_subscribed(box, TRUE) < 0) {
		import_run_ctx_warning(ctx, t_strdup_printf(
			"Subscribing to %s failed: %s", folder->dest_name,
			mailbox_get_last_internal_error(box, NULL)));
	}
	mailbox_free(&box);
}

/* --connections: the folders after the one at pos (of the order) that
   will be opened, opened ahead on connections of their own, as many as
   there are connections for (*ahead_pos: where the last look stopped) */
static void import_run_open_ahead_at(struct import_run *run, unsigned int pos,
				     unsigned int *ahead_pos)
{
	struct import_run_ctx *ctx = &run->ctx;
	const struct folder_plan_entry *entries;
	struct import_run_folder *folders;
	const uint32_t *order;
	unsigned int count, n, wanted;
	uint32_t i;

	if (run->connections <= 1)
		return;
	entries = array_front(&run->plan);
	folders = array_front_modifiable(&ctx->result->folders);
	order = array_get(&run->order, &count);
	if (*ahead_pos <= pos)
		*ahead_pos = pos + 1;
	/* the connections they need, opened together */
	wanted = 0;
	for (n = *ahead_pos; n < count && wanted + 1 < run->connections; n++) {
		i = order[n];
		if (folders[i].selected &&
		    !import_run_folder_unchanged(ctx, &entries[i]))
			wanted++;
	}
	import_connections_reserve(run->conns, wanted);
	for (; *ahead_pos < count; (*ahead_pos)++) {
		i = order[*ahead_pos];
		if (!folders[i].selected ||
		    import_run_folder_unchanged(ctx, &entries[i]))
			continue;
		if (!import_connections_prime(run->conns, i, &entries[i],
					      &folders[i]))
			break;
	}
}

static void import_run_open_ahead(struct import_run *run)
{
	if (run->opening_ahead)
		return;
	run->opening_ahead = TRUE;
	import_run_open_ahead_at(run, run->pass_pos, &run->ahead_pos);
	run->opening_ahead = FALSE;
}

/* A connection was opened while the folder at run->pass_pos runs: the
   next folders are opened ahead on it */
static void import_run_connection_opened(void *context)
{
	struct import_run *run = context;

	if (run->folder_running)
		import_run_open_ahead(run);
}

/* One pass over every selected folder */
static int import_run_pass(struct import_run *run)
{
	struct import_run_ctx *ctx = &run->ctx;
	const struct folder_plan_entry *entries;
	struct import_run_folder *folders;
	struct folder_import_ctx *primed;
	const uint32_t *order;
	unsigned int pos, count;
	uint32_t i;
	int ret;

	entries = array_front(&run->plan);
	folders = array_front_modifiable(&ctx->result->folders);
	order = array_get(&run->order, &count);
	ctx->progress->folders_done = 0;
	run->ahead_pos = 0;
	for (pos = 0; pos < count; pos++) {
		i = order[pos];
		if (!folders[i].selected)
			continue;
		if (import_run_folder_unchanged(ctx, &entries[i])) {
			import_run_folder_skip(run, &entries[i], &folders[i]);
			/* the job's heartbeat and its chance to see a cancel,
			   as after a folder that was opened */
			if (!import_run_ctx_progress(ctx, FALSE)) {
				import_connections_drop_primed(run->conns);
				folder_import_fail_deferred(ctx);
				return -1;
			}
			continue;
		}
		/* its own connection if it was opened ahead; the next ones
		   are opened ahead before its bodies take the link */
		primed = import_connections_take(run->conns, i,
						 folders[i].dest_name);
		if (primed == NULL && run->connections > 1 &&
		    ctx->src != NULL) {
			/* opened on the run's connection first: its mail
			   comes while the others connect and log in */
			primed = folder_import_prime(ctx, &entries[i],
						     &folders[i]);
			(void)imap_source_flush(ctx->src);
		}
		run->pass_pos = pos;
		import_run_open_ahead(run);
		run->folder_running = TRUE;
		ret = primed != NULL ? folder_import_primed(&primed) :
			folder_import(ctx, &entries[i], &folders[i]);
		run->folder_running = FALSE;
		if (ret < 0) {
			/* the session is unusable after an error */
			import_run_ctx_source_failed(ctx);
			if (ctx->error.detail != NULL) {
				folders[i].note = p_strdup(ctx->pool,
							   ctx->error.detail);
			}
			import_connections_drop_primed(run->conns);
			folder_import_fail_deferred(ctx);
			return -1;
		}
	}
	if (ctx->result->folders_unchanged > 0) {
		e_debug(ctx->user->event, "import-remote: %u folders unchanged "
			"since the checkpoint (STATUS): not opened",
			ctx->result->folders_unchanged);
	}
	/* after the other folders: what was given up, once more */
	if (folder_import_retry_deferred(ctx) < 0) {
		import_run_ctx_source_failed(ctx);
		folder_import_fail_deferred(ctx);
		return -1;
	}
	return 0;
}

/* --newest-first: passes over received-date windows, newest first, within
   the user's own --since/--before. */
static int import_run_newest_first(struct import_run *run)
{
	struct import_run_ctx *ctx = &run->ctx;
	const struct import_remote_settings *set = ctx->set;
	struct import_progress *progress = ctx->progress;
	time_t now = ioloop_time, window_since, window_before = 0;
	unsigned int i;

	for (i = 0; i <= N_ELEMENTS(newest_first_window_days); i++) {
		/* midnight-aligned, so windows meet exactly in SEARCH's
		   date granularity */
		window_since = i < N_ELEMENTS(newest_first_window_days) ?
			(now - (time_t)newest_first_window_days[i]*24*3600) /
			86400 * 86400 : 0;
		ctx->since = window_since;
		ctx->before = window_before;
		window_before = window_since;
		if (set->since != 0 && (ctx->since == 0 || ctx->since < set->since))
			ctx->since = set->since;
		if (set->before != 0 && (ctx->before == 0 || ctx->before > set->before))
			ctx->before = set->before;
		if (ctx->since != 0 && ctx->before != 0 && ctx->since >= ctx->before)
			continue;
		if (import_run_pass(run) < 0)
			return -1;
	}
	/* every pass leaves out what the other windows take: what no window
	   took was left out by the user's own filter */
	progress->filtered_by_date = progress->msgs_total -
		I_MIN(progress->msgs_total, progress->imported +
		      progress->skipped_duplicates + progress->failed);
	progress->msgs_done = progress->msgs_total;
	return 0;
}

/* A killed import of this user may have left temporary files */
static void import_run_clean_up_killed(struct import_run_ctx *ctx)
{
	unsigned int cleaned;
	const char *error;

	if (ctx->set->dry_run)
		return;
	ctx->tempfiles = import_tempfiles_begin(ctx->user, &cleaned, &error);
	if (cleaned > 0) {
		e_info(ctx->event, "Deleted %u temporary "
		       "files that an import which was killed left in the "
		       "user's mailboxes", cleaned);
	}
	if (error != NULL) {
		import_run_ctx_warning(ctx, t_strdup_printf(
			"Cleaning up after killed imports: %s", error));
	}
}

static int import_run_copy_all(struct import_run *run)
{
	struct import_run_ctx *ctx = &run->ctx;
	int ret;

	import_run_clean_up_killed(ctx);
	import_run_ctx_quota_preflight(ctx);
	if ((ctx->set->dedup == IMPORT_REMOTE_DEDUP_ACCOUNT ||
	     (ctx->result->gmail && !ctx->gmail_labels)) &&
	    import_run_build_account_index(ctx) < 0)
		return -1;
	if (ctx->result->gmail && !ctx->gmail_labels)
		ctx->gmail_index = ctx->account_index;
	import_run_open_checkpoint(ctx);
	if (ctx->set->newest_first)
		ret = import_run_newest_first(run);
	else {
		ctx->since = ctx->set->since;
		ctx->before = ctx->set->before;
		ret = import_run_pass(run);
	}
	(void)import_run_ctx_progress(ctx, TRUE);
	return ret;
}

static void import_run_sum_mirror(struct import_run_result *result)
{
	const struct import_run_folder *folder;

	array_foreach(&result->folders, folder) {
		result->mirror_msgs += folder->listed;
		result->mirror_bytes += folder->listed_bytes;
	}
}

/* The server settings a run keeps to */
static int import_run_read_config(struct import_run *run)
{
	struct import_run_ctx *ctx = &run->ctx;
	const struct import_remote_config *set;
	const char *error;

	if (import_remote_config_get_user(ctx->user, &set, &error) < 0) {
		import_run_ctx_set_error(ctx, IMPORT_REMOTE_ERROR_INTERNAL,
			t_strdup_printf("Reading the settings failed: %s",
					error));
		return -1;
	}
	ctx->max_folders = set->import_remote_max_folders;
	run->connections = ctx->set->connections != 0 ?
		ctx->set->connections : set->import_remote_connections;
	run->connections = I_MAX(1, I_MIN(run->connections,
					   IMPORT_REMOTE_MAX_CONNECTIONS));
	ctx->run_timeout_secs = set->import_remote_run_timeout;
	import_remote_config_free(&set);
	return 0;
}

static void import_run_finished_event(struct import_run_ctx *ctx)
{
	const struct import_progress *progress = ctx->progress;
	const char *code = import_remote_error_get_info(
		ctx->result->error.code)->name;

	e_debug(event_create_passthrough(ctx->event)->
		set_name("import_remote_run_finished")->
		add_str("error_code", code)->
		add_int("messages", progress->imported)->
		add_int("bytes", progress->bytes_imported)->
		add_int("skipped", progress->skipped_duplicates)->
		add_int("failed", progress->failed)->
		add_int("folders", progress->folders_total)->
		add_int("reconnects", progress->reconnects)->
		add_int("dry_run", ctx->set->dry_run ? 1 : 0)->event(),
		"Run finished (%s): %u imported (%"PRIuUOFF_T" bytes), "
		"%u skipped, %u failed", code, progress->imported,
		progress->bytes_imported, progress->skipped_duplicates,
		progress->failed);
}

int import_run(struct mail_user *user,
	       const struct import_remote_settings *set,
	       import_run_progress_callback_t *progress_callback,
	       import_run_commit_callback_t *commit_callback,
	       void *context, pool_t pool,
	       struct import_run_result *result_r)
{
	struct import_run run;
	struct import_run_ctx *ctx = &run.ctx;
	int ret = 0;

	i_zero(result_r);
	p_array_init(&result_r->folders, pool, 32);
	p_array_init(&result_r->warnings, pool, 4);
	p_array_init(&result_r->failed_messages, pool, 4);

	i_zero(&run);
	import_run_ctx_init(ctx, pool, user, set, progress_callback, context,
			    result_r);
	ctx->commit_callback = commit_callback;
	e_debug(event_create_passthrough(ctx->event)->
		set_name("import_remote_run_started")->
		add_int("dry_run", set->dry_run ? 1 : 0)->event(),
		"Run started");
	run.ns = mail_namespace_find_inbox(user->namespaces);
	if (import_run_read_config(&run) < 0 ||
	    import_run_init_ssl(ctx) < 0 ||
	    import_run_ctx_connect(ctx) < 0)
		ret = -1;
	else {
		while ((ret = import_run_prepare(&run)) < 0) {
			if (!import_run_ctx_reconnect(ctx))
				break;
		}
		run.conns = import_connections_init(ctx, run.connections);
		import_connections_set_opened_callback(run.conns,
			import_run_connection_opened, &run);
		if (ret == 0 && import_run_copy_all(&run) < 0)
			ret = -1;
		if (run.connections > 1) {
			e_debug(ctx->event, "Connections to the source: %u "
				"(--connections %u)",
				import_connections_count(run.conns),
				run.connections);
		}
		import_connections_deinit(&run.conns);
	}
	if (ret < 0) {
		import_run_ctx_source_failed(ctx);
		if (ctx->error.code == IMPORT_REMOTE_ERROR_NONE) {
			import_run_ctx_set_error(ctx,
				IMPORT_REMOTE_ERROR_INTERNAL,
				"Import failed without a known cause");
		}
		result_r->error = ctx->error;
		result_r->error.detail = p_strdup(pool, ctx->error.detail);
	}
	import_run_sum_mirror(result_r);
	import_run_ctx_update_elapsed(ctx);
	import_run_finished_event(ctx);
	ctx->gmail_index = NULL;
	if (ctx->gmail_copied_labels != NULL)
		folder_plan_labels_free(&ctx->gmail_copied_labels);
	if (ctx->account_index != NULL)
		dedup_index_deinit(&ctx->account_index);
	if (ctx->checkpoint != NULL)
		import_checkpoint_deinit(&ctx->checkpoint);
	if (hash_table_is_created(run.remote_index))
		hash_table_destroy(&run.remote_index);
	import_run_ctx_deinit(ctx);
	return ret;
}
