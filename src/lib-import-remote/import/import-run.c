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

/* --newest-first copies in passes over received-date windows, newest
   first, each ending where the previous one starts (days before now). The
   last pass takes everything older. */
static const unsigned int newest_first_window_days[] = {
	7, 30, 90, 365, 3*365
};

/* The run: its shared context, and what only the run itself needs */
struct import_run {
	struct import_run_ctx ctx;
	struct mail_namespace *ns;
	ARRAY_TYPE(remote_folder) remote_folders;
	/* a remote folder's index + 1 by its name ("INBOX" in upper case) */
	HASH_TABLE(const char *, void *) remote_index;
	ARRAY_TYPE(folder_plan_entry) plan;
	/* the plan's entries in the order they are imported */
	ARRAY_TYPE(uint32_t) order;
	/* --connections: the folders opened ahead on connections of their
	   own; K of them */
	struct import_connections *conns;
	unsigned int connections;
};

/* --- remote folder list --- */

/* INBOX is INBOX whatever its case */
static const char *import_run_remote_key(const char *name)
{
	return strcasecmp(name, "INBOX") == 0 ? "INBOX" : name;
}

static struct remote_folder *
import_run_find_remote(struct import_run *run, const char *name)
{
	void *value;

	value = hash_table_lookup(run->remote_index,
				  import_run_remote_key(name));
	if (value == NULL)
		return NULL;
	return array_idx_modifiable(&run->remote_folders,
				    POINTER_CAST_TO(value, unsigned int) - 1);
}

/* A folder the server lists for the first time (NULL: one too many, the
   run's error set) */
static struct remote_folder *
import_run_add_remote(struct import_run *run, const char *name)
{
	struct import_run_ctx *ctx = &run->ctx;
	struct remote_folder *rf;
	unsigned int count = array_count(&run->remote_folders);

	if (ctx->max_folders != 0 && count >= ctx->max_folders) {
		import_run_ctx_set_error(ctx, IMPORT_REMOTE_ERROR_SOURCE_ERROR,
			t_strdup_printf("The source server lists more than %u "
				"folders (import_remote_max_folders): none "
				"imported", ctx->max_folders));
		return NULL;
	}
	rf = array_append_space(&run->remote_folders);
	if (strlen(name) > FOLDER_PLAN_MAX_NAME_LENGTH) {
		/* kept short: only to be named as not imported */
		rf->remote_name = p_strndup(ctx->pool, name, 64);
		rf->name_too_long = TRUE;
		return rf;
	}
	rf->remote_name = p_strdup(ctx->pool, name);
	hash_table_insert(run->remote_index,
			  import_run_remote_key(rf->remote_name),
			  POINTER_CAST(count + 1));
	return rf;
}

static int
import_run_list_callback(const struct imap_reply *reply, void *context)
{
	struct import_run *run = context;
	const struct imap_reply_list *list = &reply->list;
	struct remote_folder *rf;

	if (reply->type == IMAP_REPLY_STATUS) {
		/* LIST-STATUS: after the folder's LIST line (one for a
		   folder not listed is ignored) */
		rf = import_run_find_remote(run, reply->status.mailbox);
		if (rf != NULL && reply->status.have_messages &&
		    reply->status.uidnext != 0 &&
		    reply->status.uidvalidity != 0) {
			rf->have_status = TRUE;
			rf->status_messages = reply->status.messages;
			rf->status_uidnext = reply->status.uidnext;
			rf->status_uidvalidity = reply->status.uidvalidity;
		}
		return 0;
	}
	if (reply->type != IMAP_REPLY_LIST) {
		if (strcasecmp(reply->name, "LIST") == 0 ||
		    strcasecmp(reply->name, "XLIST") == 0 ||
		    strcasecmp(reply->name, "LSUB") == 0) {
			e_warning(run->ctx.event,
				"Ignoring an invalid %s reply", reply->name);
		}
		return 0;
	}

	rf = import_run_find_remote(run, list->mailbox);
	if (list->lsub) {
		/* LSUB flags (\Noselect) describe the subscription, not the
		   folder; only the subscription itself matters here */
		if (rf != NULL)
			rf->subscribed = TRUE;
		return 0;
	}
	if (rf == NULL &&
	    (rf = import_run_add_remote(run, list->mailbox)) == NULL)
		return -1;
	rf->separator = list->separator;
	rf->noselect = list->noselect;
	rf->subscribed = rf->subscribed || list->subscribed;
	rf->special_use = list->special_use;
	return 0;
}

static int import_run_list_remote(struct import_run *run)
{
	struct imap_source *src = run->ctx.src;
	struct imap_source_reply reply;
	const char *list_tag, *lsub_tag = NULL;

	if (!array_is_created(&run->remote_folders)) {
		p_array_init(&run->remote_folders, run->ctx.pool, 32);
		hash_table_create(&run->remote_index, default_pool, 0,
				  str_hash, strcmp);
	}
	array_clear(&run->remote_folders);
	hash_table_clear(run->remote_index, TRUE);
	if (imap_source_has_capability(src, IMAP_SOURCE_CAP_LIST_EXTENDED)) {
		/* with LIST-STATUS (RFC 5819) every folder's counts come
		   with the list: no STATUS command per folder */
		list_tag = imap_source_send(src, t_strdup_printf(
			"LIST \"\" \"*\" RETURN (SUBSCRIBED%s%s)",
			imap_source_has_capability(src, IMAP_SOURCE_CAP_SPECIAL_USE) ?
			" SPECIAL-USE" : "",
			imap_source_has_capability(src, IMAP_SOURCE_CAP_LIST_STATUS) ?
			" STATUS (MESSAGES UIDNEXT UIDVALIDITY)" : ""));
	} else {
		list_tag = imap_source_send(src,
			!imap_source_has_capability(src, IMAP_SOURCE_CAP_SPECIAL_USE) &&
			imap_source_has_capability(src, IMAP_SOURCE_CAP_XLIST) ?
			"XLIST \"\" \"*\"" : "LIST \"\" \"*\"");
		lsub_tag = imap_source_send(src, "LSUB \"\" \"*\"");
	}
	if (imap_source_wait(src, list_tag, import_run_list_callback, NULL,
			     run, &reply) < 0)
		return -1;
	if (reply.state != IMAP_SOURCE_REPLY_OK) {
		import_run_ctx_set_error(&run->ctx,
			imap_source_reply_classify(&reply),
			t_strdup_printf("Listing the source folders failed: %s",
					reply.text));
		return -1;
	}
	if (lsub_tag != NULL) {
		if (imap_source_wait(src, lsub_tag, import_run_list_callback,
				     NULL, run, &reply) < 0)
			return -1;
		/* a failed LSUB only loses subscriptions */
		if (reply.state != IMAP_SOURCE_REPLY_OK) {
			import_run_ctx_warning(&run->ctx, t_strdup_printf(
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

/* The local name of a folder the plan imports: relative to the namespace
   prefix, INBOX as it is */
static const char *
import_run_dest_vname(struct import_run *run,
		      const struct folder_plan_entry *entry)
{
	return strcasecmp(entry->dest_name, "INBOX") == 0 ? entry->dest_name :
		t_strconcat(run->ns->prefix, entry->dest_name, NULL);
}

/* Names Dovecot refuses to create ("..", "~root", "dbox-Mails" on dbox, a
   name with Maildir++'s '.' when the namespace separator is '/', ...) are
   not imported: checked as Dovecot checks them, before anything is
   created, so that they are said in the plan and skipped with a warning
   instead of ending the run. *exists_r: a mailbox of the usual name
   (special_use_fallback) is there already. */
static void
import_run_verify_dest_name(struct import_run *run,
			    struct folder_plan_entry *entry, bool *exists_r)
{
	struct mail_namespace *ns;
	struct mailbox *box;
	enum mailbox_existence existence;
	const char *vname, *errstr;

	*exists_r = FALSE;
	if (!folder_plan_entry_is_imported(entry))
		return;
	vname = import_run_dest_vname(run, entry);
	ns = mail_namespace_find(run->ctx.user->namespaces, vname);
	box = mailbox_alloc(ns->list, vname, 0);
	if (mailbox_verify_create_name(box) < 0) {
		errstr = mailbox_get_last_error(box, NULL);
		entry->error = p_strdup_printf(run->ctx.pool,
			"Dovecot refuses %s as a local mailbox name (%s)",
			vname, errstr);
		entry->dest_name = NULL;
	} else if (entry->special_use_fallback &&
		   mailbox_exists(box, FALSE, &existence) == 0 &&
		   existence == MAILBOX_EXISTENCE_SELECT) {
		/* (asked only where the run says it creates the mailbox) */
		*exists_r = TRUE;
	}
	mailbox_free(&box);
}

static void import_run_build_plan(struct import_run *run)
{
	struct import_run_ctx *ctx = &run->ctx;
	struct folder_plan_settings plan_set;
	const struct folder_plan_entry *entry;
	struct folder_plan_entry *mentry;
	struct import_run_folder *folder;
	ARRAY(bool) dest_exists;
	bool x_gm_ext_1, exists;

	i_zero(&plan_set);
	plan_set.ns_prefix = imap_source_get_ns_prefix(ctx->src);
	plan_set.local_separator = mail_namespace_get_sep(run->ns);
	plan_set.dest_parent = ctx->set->dest_parent;
	plan_set.include = import_run_patterns(&ctx->set->include_folders);
	plan_set.exclude = import_run_patterns(&ctx->set->exclude_folders);
	import_remote_compat_special_use_mailboxes(run->ns,
		import_run_local_special_use, &plan_set);
	/* Gmail: its capability, or (behind a proxy, or a copy of a Gmail
	   account on another server) its folder layout */
	x_gm_ext_1 = imap_source_has_capability(ctx->src,
						IMAP_SOURCE_CAP_X_GM_EXT_1);
	plan_set.gmail = !ctx->set->mirror &&
		(x_gm_ext_1 || folder_plan_is_gmail(&run->remote_folders,
						    plan_set.ns_prefix));
	plan_set.gmail_labels = plan_set.gmail && x_gm_ext_1;
	ctx->result->gmail = plan_set.gmail;
	ctx->gmail_labels = plan_set.gmail_labels;
	folder_plan_build(ctx->pool, &plan_set, &run->remote_folders,
			  &run->plan);
	/* before anything reads the plan: a refused name is not imported
	   (and Gmail's All Mail brings its label's mail) */
	t_array_init(&dest_exists, array_count(&run->plan));
	array_foreach_modifiable(&run->plan, mentry) {
		import_run_verify_dest_name(run, mentry, &exists);
		array_push_back(&dest_exists, &exists);
	}
	p_array_init(&run->order, ctx->pool, array_count(&run->plan));
	folder_plan_import_order(&run->plan, &run->order);
	if (ctx->gmail_copied_labels != NULL)
		folder_plan_labels_free(&ctx->gmail_copied_labels);
	if (ctx->gmail_labels) {
		ctx->gmail_copied_labels =
			folder_plan_copied_labels(ctx->pool, &run->plan);
	}

	/* sized at once: a pool array that grows leaves its old copies
	   behind (an account may have many thousands of folders) */
	if (array_count(&run->plan) > 32) {
		p_array_init(&ctx->result->folders, ctx->pool,
			     array_count(&run->plan));
	}
	array_foreach(&run->plan, entry) {
		folder = array_append_space(&ctx->result->folders);
		folder->source_name = entry->display_name;
		folder->selected = folder_plan_entry_is_examined(entry);
		folder->reason = entry->reason == NULL ? "" : entry->reason;
		folder->note = "";
		if (folder_plan_entry_is_imported(entry)) {
			/* local names are relative to the namespace prefix */
			folder->dest_name = strcasecmp(entry->dest_name, "INBOX") == 0 ?
				entry->dest_name :
				p_strconcat(ctx->pool, run->ns->prefix,
					    entry->dest_name, NULL);
		}
		if (folder->selected)
			ctx->progress->folders_total++;
		else if (entry->error != NULL) {
			folder->reason = entry->error;
			import_run_ctx_warning(ctx, t_strdup_printf(
				"Folder %s not imported: %s",
				entry->display_name, entry->error));
		} else if (entry->noselect) {
			folder->reason = "not selectable (parent only)";
		} else {
			folder->reason = "excluded by --folder/--exclude";
		}
		/* said once: when the run creates the mailbox (and in the
		   plan), not again on every re-run */
		if (entry->special_use_fallback && folder->dest_name != NULL &&
		    (ctx->set->dry_run ||
		     !*array_idx(&dest_exists,
				 entry - array_front(&run->plan)))) {
			import_run_ctx_warning(ctx, t_strdup_printf(
				"Folder %s lands in %s: no local mailbox has "
				"special_use %s (Dovecot takes it from the "
				"namespace's mailbox settings)",
				entry->display_name, folder->dest_name,
				folder_special_use_flag(entry->special_use ==
					FOLDER_SPECIAL_USE_ALL ?
					FOLDER_SPECIAL_USE_ARCHIVE :
					entry->special_use)));
		}
	}
}

/* Count what is to be copied: STATUS for every folder the import opens,
   all sent at once. UIDNEXT and UIDVALIDITY are kept for servers whose
   EXAMINE leaves them out (Courier): the checkpoint needs them to skip an
   unchanged folder. */
struct import_run_status_context {
	struct import_run_folder *folder;
	struct remote_folder *remote;
};

static int
import_run_status_callback(const struct imap_reply *reply, void *context)
{
	struct import_run_status_context *sctx = context;

	if (reply->type != IMAP_REPLY_STATUS)
		return 0;
	if (reply->status.have_messages)
		sctx->folder->msgs = reply->status.messages;
	sctx->remote->status_uidnext = reply->status.uidnext;
	sctx->remote->status_uidvalidity = reply->status.uidvalidity;
	return 0;
}

static int import_run_count(struct import_run *run)
{
	struct import_run_ctx *ctx = &run->ctx;
	const struct folder_plan_entry *entries;
	struct import_run_folder *folders;
	struct import_run_status_context sctx;
	struct imap_source_reply reply;
	ARRAY_TYPE(const_string) tags;
	const char *tag;
	unsigned int i, count;
	string_t *cmd;

	entries = array_get(&run->plan, &count);
	folders = array_front_modifiable(&ctx->result->folders);
	t_array_init(&tags, count);
	for (i = 0; i < count; i++) {
		tag = NULL;
		if (folders[i].selected && entries[i].remote->have_status) {
			/* told by LIST-STATUS */
			folders[i].msgs = entries[i].remote->status_messages;
			ctx->progress->msgs_total += folders[i].msgs;
		} else if (folders[i].selected) {
			cmd = t_str_new(128);
			str_append(cmd, "STATUS ");
			imap_source_append_string(ctx->src, cmd,
						  entries[i].remote->remote_name);
			str_append(cmd, " (MESSAGES UIDNEXT UIDVALIDITY)");
			tag = imap_source_send(ctx->src, str_c(cmd));
		}
		array_push_back(&tags, &tag);
	}
	for (i = 0; i < count; i++) {
		tag = array_idx_elem(&tags, i);
		if (tag == NULL)
			continue;
		/* the plan has an entry per remote folder, in their order */
		sctx.folder = &folders[i];
		sctx.remote = array_idx_modifiable(&run->remote_folders, i);
		i_assert(sctx.remote == entries[i].remote);
		/* each reply comes before its tagged OK, in order */
		if (imap_source_wait(ctx->src, tag, import_run_status_callback,
				     NULL, &sctx, &reply) < 0)
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
static void import_run_open_ahead(struct import_run *run, unsigned int pos,
				  unsigned int *ahead_pos)
{
	struct import_run_ctx *ctx = &run->ctx;
	const struct folder_plan_entry *entries;
	struct import_run_folder *folders;
	const uint32_t *order;
	unsigned int count;
	uint32_t i;

	if (run->connections <= 1)
		return;
	entries = array_front(&run->plan);
	folders = array_front_modifiable(&ctx->result->folders);
	order = array_get(&run->order, &count);
	if (*ahead_pos <= pos)
		*ahead_pos = pos + 1;
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

/* One pass over every selected folder */
static int import_run_pass(struct import_run *run)
{
	struct import_run_ctx *ctx = &run->ctx;
	const struct folder_plan_entry *entries;
	struct import_run_folder *folders;
	struct folder_import_ctx *primed;
	const uint32_t *order;
	unsigned int pos, count, ahead_pos = 0;
	uint32_t i;
	int ret;

	entries = array_front(&run->plan);
	folders = array_front_modifiable(&ctx->result->folders);
	order = array_get(&run->order, &count);
	ctx->progress->folders_done = 0;
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
		primed = import_connections_take(run->conns, i);
		import_run_open_ahead(run, pos, &ahead_pos);
		ret = primed != NULL ? folder_import_primed(&primed) :
			folder_import(ctx, &entries[i], &folders[i]);
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

/* What the source has: its folders, the plan, the counts. Can be done
   again after a reconnect. Returns 0, or -1 when the session failed. */
static int import_run_prepare(struct import_run *run)
{
	struct import_run_ctx *ctx = &run->ctx;

	if (array_is_created(&run->plan))
		array_clear(&run->plan);
	array_clear(&ctx->result->folders);
	ctx->progress->folders_total = 0;
	ctx->progress->msgs_total = 0;
	if (import_run_list_remote(run) < 0)
		return -1;
	import_run_build_plan(run);
	return import_run_count(run);
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
