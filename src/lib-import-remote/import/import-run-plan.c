/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* What the source has: its folders (LIST), the plan of what goes where,
   and the counts (STATUS, all sent at once) */

#include "lib.h"
#include "array.h"
#include "hash.h"
#include "str.h"
#include "mail-namespace.h"
#include "mailbox-list-iter.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "import-remote-config.h"
#include "imap-source.h"
#include "folder-plan.h"
#include "import-run-context.h"
#include "import-run-private.h"

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
	const char *ns_tag, *list_tag, *lsub_tag = NULL;

	if (!array_is_created(&run->remote_folders)) {
		p_array_init(&run->remote_folders, run->ctx.pool, 32);
		hash_table_create(&run->remote_index, default_pool, 0,
				  str_hash, strcmp);
	}
	array_clear(&run->remote_folders);
	hash_table_clear(run->remote_index, TRUE);
	/* the plan drops the personal namespace's prefix: asked for
	   together with the list */
	ns_tag = imap_source_namespace_send(src);
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
	if (imap_source_namespace_wait(src, ns_tag, import_run_list_callback,
				       run) < 0 ||
	    imap_source_wait(src, list_tag, import_run_list_callback, NULL,
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

int import_run_prepare(struct import_run *run)
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
