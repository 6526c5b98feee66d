/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "time-util.h"
#include "ioloop.h"
#include "istream.h"
#include "iostream-ssl.h"
#include "imap-arg.h"
#include "imap-date.h"
#include "imap-util.h"
#include "mail-namespace.h"
#include "mailbox-list-iter.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "imap-source.h"
#include "folder-plan.h"
#include "dedup-index.h"
#include "import-checkpoint.h"
#include "import-run-private.h"

/* CA directory used when Dovecot's settings name no CA at all */

/* --newest-first copies in passes over received-date windows, newest
   first, each ending where the previous one starts (days before now). The
   last pass takes everything older. */
static const unsigned int newest_first_window_days[] = {
	7, 30, 90, 365, 3*365
};

static void import_run_update_elapsed(struct import_run_ctx *ctx)
{
	struct timeval now;

	i_gettimeofday(&now);
	ctx->progress->elapsed_msecs =
		timeval_diff_msecs(&now, &ctx->start_time);
}

bool import_run_progress(struct import_run_ctx *ctx, bool final)
{
	if (ctx->progress_callback == NULL)
		return TRUE;
	import_run_update_elapsed(ctx);
	if (ctx->progress_callback(ctx->progress, final, ctx->context) ||
	    final)
		return TRUE;
	imap_source_set_error(ctx->src, IMPORT_REMOTE_ERROR_CANCELLED,
			      "The import was cancelled");
	return FALSE;
}

void import_run_warning(struct import_run_ctx *ctx, const char *text)
{
	text = p_strdup(ctx->pool, text);
	array_push_back(&ctx->result->warnings, &text);
}

/* --- remote folder list --- */

static struct remote_folder *
import_run_find_remote(struct import_run_ctx *ctx, const char *name)
{
	struct remote_folder *rf;

	array_foreach_modifiable(&ctx->remote_folders, rf) {
		if (strcmp(rf->remote_name, name) == 0 ||
		    (strcasecmp(name, "INBOX") == 0 &&
		     strcasecmp(rf->remote_name, "INBOX") == 0))
			return rf;
	}
	return NULL;
}

static int
import_run_list_callback(uint32_t num ATTR_UNUSED, const char *name,
			 const struct imap_arg *args, void *context)
{
	struct import_run_ctx *ctx = context;
	const struct imap_arg *flags;
	struct remote_folder *rf;
	const char *flag, *sep, *mailbox;
	bool lsub = strcasecmp(name, "LSUB") == 0;
	bool subscribed = lsub;
	bool noselect = FALSE;
	enum folder_special_use special_use = FOLDER_SPECIAL_USE_NONE;

	if (!lsub && strcasecmp(name, "LIST") != 0 &&
	    strcasecmp(name, "XLIST") != 0)
		return 0;
	if (!imap_arg_get_list(&args[0], &flags) ||
	    !imap_arg_get_nstring(&args[1], &sep) ||
	    !imap_arg_get_astring(&args[2], &mailbox)) {
		e_warning(ctx->user->event, "import-remote: "
			  "Ignoring an invalid %s reply", name);
		return 0;
	}
	for (; flags->type != IMAP_ARG_EOL; flags++) {
		if (!imap_arg_get_atom(flags, &flag))
			continue;
		if (strcasecmp(flag, "\\Noselect") == 0 ||
		    strcasecmp(flag, "\\NonExistent") == 0)
			noselect = TRUE;
		else if (strcasecmp(flag, "\\Subscribed") == 0)
			subscribed = TRUE;
		else if (strcasecmp(flag, "\\Inbox") == 0)
			; /* XLIST's name for INBOX */
		else if (special_use == FOLDER_SPECIAL_USE_NONE)
			special_use = folder_special_use_parse(flag);
	}

	rf = import_run_find_remote(ctx, mailbox);
	if (lsub) {
		/* LSUB flags (\Noselect) describe the subscription, not the
		   folder; only the subscription itself matters here */
		if (rf != NULL)
			rf->subscribed = TRUE;
		return 0;
	}
	if (rf == NULL) {
		rf = array_append_space(&ctx->remote_folders);
		rf->remote_name = p_strdup(ctx->pool, mailbox);
	}
	rf->separator = sep == NULL ? '\0' : sep[0];
	rf->noselect = noselect;
	rf->subscribed = rf->subscribed || subscribed;
	rf->special_use = special_use;
	return 0;
}

static int import_run_list_remote(struct import_run_ctx *ctx)
{
	struct imap_source *src = ctx->src;
	struct imap_source_reply reply;
	const char *list_tag, *lsub_tag = NULL;

	p_array_init(&ctx->remote_folders, ctx->pool, 32);
	if (imap_source_has_capability(src, IMAP_SOURCE_CAP_LIST_EXTENDED)) {
		list_tag = imap_source_send(src,
			imap_source_has_capability(src, IMAP_SOURCE_CAP_SPECIAL_USE) ?
			"LIST \"\" \"*\" RETURN (SUBSCRIBED SPECIAL-USE)" :
			"LIST \"\" \"*\" RETURN (SUBSCRIBED)");
	} else {
		list_tag = imap_source_send(src,
			!imap_source_has_capability(src, IMAP_SOURCE_CAP_SPECIAL_USE) &&
			imap_source_has_capability(src, IMAP_SOURCE_CAP_XLIST) ?
			"XLIST \"\" \"*\"" : "LIST \"\" \"*\"");
		lsub_tag = imap_source_send(src, "LSUB \"\" \"*\"");
	}
	if (imap_source_wait(src, list_tag, import_run_list_callback, NULL,
			     ctx, &reply) < 0)
		return -1;
	if (reply.state != IMAP_SOURCE_REPLY_OK) {
		imap_source_set_error(src, imap_source_reply_classify(&reply),
			t_strdup_printf("Listing the source folders failed: %s",
					reply.text));
		return -1;
	}
	if (lsub_tag != NULL) {
		if (imap_source_wait(src, lsub_tag, import_run_list_callback,
				     NULL, ctx, &reply) < 0)
			return -1;
		/* a failed LSUB only loses subscriptions */
		if (reply.state != IMAP_SOURCE_REPLY_OK) {
			import_run_warning(ctx, t_strdup_printf(
				"Subscriptions not copied: LSUB failed: %s",
				reply.text));
		}
	}
	return 0;
}

/* --- the folder plan --- */

static void
import_run_local_special_use(const char *name, const char *special_use,
			     void *context)
{
	struct folder_plan_settings *plan_set = context;
	const char *const *uses = t_strsplit_spaces(special_use, " ");
	enum folder_special_use use;

	for (; *uses != NULL; uses++) {
		use = folder_special_use_parse(*uses);
		if (use != FOLDER_SPECIAL_USE_NONE &&
		    plan_set->local_special[use] == NULL)
			plan_set->local_special[use] = name;
	}
}

static const char *const *
import_run_patterns(const ARRAY_TYPE(const_string) *patterns)
{
	ARRAY_TYPE(const_string) copy;

	if (array_count(patterns) == 0)
		return NULL;
	t_array_init(&copy, array_count(patterns) + 1);
	array_append_array(&copy, patterns);
	array_append_zero(&copy);
	return array_front(&copy);
}

static void import_run_build_plan(struct import_run_ctx *ctx)
{
	struct folder_plan_settings plan_set;
	const struct folder_plan_entry *entry;
	struct import_run_folder *folder;

	i_zero(&plan_set);
	plan_set.ns_prefix = imap_source_get_ns_prefix(ctx->src);
	plan_set.local_separator = mail_namespace_get_sep(ctx->ns);
	plan_set.dest_parent = ctx->set->dest_parent;
	plan_set.include = import_run_patterns(&ctx->set->include_folders);
	plan_set.exclude = import_run_patterns(&ctx->set->exclude_folders);
	import_remote_compat_special_use_mailboxes(ctx->ns,
		import_run_local_special_use, &plan_set);
	folder_plan_build(ctx->pool, &plan_set, &ctx->remote_folders,
			  &ctx->plan);

	array_foreach(&ctx->plan, entry) {
		folder = array_append_space(&ctx->result->folders);
		folder->source_name = entry->display_name;
		folder->selected = folder_plan_entry_is_imported(entry);
		if (folder->selected) {
			/* local names are relative to the namespace prefix */
			folder->dest_name = strcasecmp(entry->dest_name, "INBOX") == 0 ?
				entry->dest_name :
				p_strconcat(ctx->pool, ctx->ns->prefix,
					    entry->dest_name, NULL);
			folder->note = "";
			ctx->progress->folders_total++;
		} else if (entry->error != NULL) {
			folder->note = entry->error;
			import_run_warning(ctx, t_strdup_printf(
				"Folder %s not imported: %s",
				entry->display_name, entry->error));
		} else if (entry->noselect) {
			folder->note = "not selectable (parent only)";
		} else {
			folder->note = "excluded";
		}
	}
}

/* Count what is to be copied: STATUS for every selected folder, all sent
   at once. */
static int
import_run_status_callback(uint32_t num ATTR_UNUSED, const char *name,
			   const struct imap_arg *args, void *context)
{
	struct import_run_folder *folder = context;
	const struct imap_arg *list;
	const char *key, *value;
	unsigned int i;

	if (strcasecmp(name, "STATUS") != 0 ||
	    !imap_arg_get_list(&args[1], &list))
		return 0;
	for (i = 0; list[i].type != IMAP_ARG_EOL &&
		    list[i+1].type != IMAP_ARG_EOL; i += 2) {
		if (imap_arg_get_atom(&list[i], &key) &&
		    imap_arg_get_atom(&list[i+1], &value) &&
		    strcasecmp(key, "MESSAGES") == 0 &&
		    str_to_uint(value, &folder->msgs) < 0)
			folder->msgs = 0;
	}
	return 0;
}

static int import_run_count(struct import_run_ctx *ctx)
{
	const struct folder_plan_entry *entries;
	struct import_run_folder *folders;
	struct imap_source_reply reply;
	ARRAY_TYPE(const_string) tags;
	const char *tag;
	unsigned int i, count;
	string_t *cmd;

	entries = array_get(&ctx->plan, &count);
	folders = array_front_modifiable(&ctx->result->folders);
	t_array_init(&tags, count);
	for (i = 0; i < count; i++) {
		tag = NULL;
		if (folders[i].selected) {
			cmd = t_str_new(128);
			str_append(cmd, "STATUS ");
			imap_source_append_string(ctx->src, cmd,
						  entries[i].remote->remote_name);
			str_append(cmd, " (MESSAGES)");
			tag = imap_source_send(ctx->src, str_c(cmd));
		}
		array_push_back(&tags, &tag);
	}
	for (i = 0; i < count; i++) {
		tag = array_idx_elem(&tags, i);
		if (tag == NULL)
			continue;
		/* each reply comes before its tagged OK, in order */
		if (imap_source_wait(ctx->src, tag, import_run_status_callback,
				     NULL, &folders[i], &reply) < 0)
			return -1;
		ctx->progress->msgs_total += folders[i].msgs;
	}
	return 0;
}

static int import_run_init_ssl(struct import_run_ctx *ctx)
{
	const char *error;

	if (import_remote_compat_ssl_client_settings(ctx->user, ctx->pool,
			ctx->set->tls_insecure, &ctx->ssl_set, &error) < 0) {
		import_remote_error_set(&ctx->result->error,
			IMPORT_REMOTE_ERROR_TLS_FAILED, p_strdup_printf(ctx->pool,
			"Reading the TLS client settings failed: %s", error));
		return -1;
	}
	return 0;
}

/* Every local mailbox's identities, for --dedup account */
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
			imap_source_set_error(ctx->src,
				IMPORT_REMOTE_ERROR_DEST_ERROR, error);
			ret = -1;
		}
		mailbox_free(&box);
	}
	if (mailbox_list_iter_deinit(&iter) < 0 && ret == 0) {
		imap_source_set_error(ctx->src, IMPORT_REMOTE_ERROR_DEST_ERROR,
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
		import_run_warning(ctx, t_strdup_printf(
			"Resuming from a checkpoint disabled: %s", error));
	}
}

/* One pass over every selected folder */
static int import_run_pass(struct import_run_ctx *ctx)
{
	const struct folder_plan_entry *entries;
	struct import_run_folder *folders;
	unsigned int i, count;

	entries = array_get(&ctx->plan, &count);
	folders = array_front_modifiable(&ctx->result->folders);
	ctx->progress->folders_done = 0;
	for (i = 0; i < count; i++) {
		if (!folders[i].selected)
			continue;
		if (folder_import(ctx, &entries[i], &folders[i]) < 0) {
			/* the session is unusable after an error */
			folders[i].note = p_strdup(ctx->pool,
				imap_source_get_error(ctx->src)->detail);
			return -1;
		}
	}
	return 0;
}

/* --newest-first: passes over received-date windows, newest first, within
   the user's own --since/--before. */
static int import_run_newest_first(struct import_run_ctx *ctx)
{
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
		if (import_run_pass(ctx) < 0)
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

static void import_run_quota_preflight(struct import_run_ctx *ctx)
{
	const char *error;
	int ret;

	ret = import_remote_compat_quota_remaining(ctx->user,
						   &ctx->quota_remaining,
						   &error);
	if (ret < 0) {
		import_run_warning(ctx, t_strdup_printf(
			"Quota pre-flight check failed: %s", error));
	}
	ctx->quota_limited = ret > 0;
}

void import_run_check_quota(struct import_run_ctx *ctx)
{
	uoff_t selected = ctx->progress->bytes_total;

	if (!ctx->quota_limited || ctx->quota_warned ||
	    selected <= ctx->quota_remaining)
		return;
	ctx->quota_warned = TRUE;
	import_run_warning(ctx, t_strdup_printf(
		"The mail to import (%s so far) is more than the %s left in "
		"the user's quota: the import will stop when the quota is "
		"full. Raise the quota, or import recent mail first "
		"(--since, --newest-first).",
		import_progress_format_size(selected),
		import_progress_format_size(ctx->quota_remaining)));
}

static int import_run_copy_all(struct import_run_ctx *ctx)
{
	int ret;

	import_run_quota_preflight(ctx);
	if (ctx->set->dedup == IMPORT_REMOTE_DEDUP_ACCOUNT &&
	    import_run_build_account_index(ctx) < 0)
		return -1;
	import_run_open_checkpoint(ctx);
	if (ctx->set->newest_first)
		ret = import_run_newest_first(ctx);
	else {
		ctx->since = ctx->set->since;
		ctx->before = ctx->set->before;
		ret = import_run_pass(ctx);
	}
	(void)import_run_progress(ctx, TRUE);
	return ret;
}

int import_run(struct mail_user *user,
	       const struct import_remote_settings *set,
	       import_run_progress_callback_t *progress_callback,
	       import_run_commit_callback_t *commit_callback,
	       void *context, pool_t pool,
	       struct import_run_result *result_r)
{
	struct import_run_ctx ctx;
	struct imap_source_settings src_set;
	const struct import_remote_error *error;
	int ret = 0;

	i_zero(result_r);
	p_array_init(&result_r->folders, pool, 32);
	p_array_init(&result_r->warnings, pool, 4);

	i_zero(&ctx);
	ctx.pool = pool;
	ctx.user = user;
	ctx.set = set;
	ctx.result = result_r;
	ctx.progress = &result_r->progress;
	ctx.progress_callback = progress_callback;
	ctx.commit_callback = commit_callback;
	ctx.context = context;
	i_gettimeofday(&ctx.start_time);

	ctx.ns = mail_namespace_find_inbox(user->namespaces);
	if (import_run_init_ssl(&ctx) < 0)
		return -1;

	i_zero(&src_set);
	src_set.host = set->host;
	src_set.port = import_remote_settings_get_port(set);
	src_set.ssl = set->ssl;
	src_set.username = set->username;
	src_set.password = set->password;
	src_set.ssl_set = ctx.ssl_set;
	src_set.tls_insecure = set->tls_insecure;
	src_set.connect_timeout_msecs = set->connect_timeout_msecs;
	src_set.cmd_timeout_msecs = set->cmd_timeout_msecs;

	if (imap_source_connect(&src_set, user->event, &ctx.src,
				&result_r->error) < 0)
		ret = -1;
	else if (import_run_list_remote(&ctx) < 0)
		ret = -1;
	else {
		import_run_build_plan(&ctx);
		if (import_run_count(&ctx) < 0 ||
		    import_run_copy_all(&ctx) < 0)
			ret = -1;
	}
	if (ret < 0) {
		error = imap_source_get_error(ctx.src);
		result_r->error = *error;
		if (result_r->error.code == IMPORT_REMOTE_ERROR_NONE) {
			import_remote_error_set(&result_r->error,
				IMPORT_REMOTE_ERROR_INTERNAL,
				"Import failed without a known cause");
		}
		result_r->error.detail = p_strdup(pool, result_r->error.detail);
	} else if (result_r->progress.failed > 0) {
		import_remote_error_set(&result_r->error,
			IMPORT_REMOTE_ERROR_SOURCE_ERROR,
			p_strdup_printf(pool, "%u messages were listed by the "
					"server but not sent",
					result_r->progress.failed));
		ret = -1;
	}
	import_run_update_elapsed(&ctx);
	if (ctx.account_index != NULL)
		dedup_index_deinit(&ctx.account_index);
	if (ctx.checkpoint != NULL)
		import_checkpoint_deinit(&ctx.checkpoint);
	imap_source_deinit(&ctx.src);
	import_remote_compat_ssl_client_settings_free(&ctx.ssl_set);
	return ret;
}
