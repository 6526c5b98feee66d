/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "time-util.h"
#include "istream.h"
#include "iostream-ssl.h"
#include "imap-arg.h"
#include "imap-date.h"
#include "imap-util.h"
#include "mail-namespace.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "imap-source.h"
#include "folder-plan.h"
#include "message-saver.h"
#include "import-run.h"

/* One UID FETCH body command asks for at most this many messages; all of a
   chunk's commands are sent at once (pipelined). */
#define IMPORT_RUN_BODY_CMD_UIDS 500
/* CA directory used when Dovecot's settings name no CA at all */
#define IMPORT_RUN_DEFAULT_CA_DIR "/etc/ssl/certs"

#define IMPORT_MAIL_FLAGS_MASK \
	(MAIL_ANSWERED | MAIL_FLAGGED | MAIL_DELETED | MAIL_SEEN | MAIL_DRAFT)

struct import_msg {
	uint32_t seq, uid;
	uoff_t size;
	time_t received_date;
	int received_tz;
	enum mail_flags flags;
	const char *const *keywords;
	bool done;
};

struct import_chunk {
	pool_t pool;
	ARRAY(struct import_msg) msgs;
};

struct import_run_ctx {
	pool_t pool;
	struct mail_user *user;
	const struct import_remote_settings *set;
	struct import_run_result *result;
	import_run_progress_callback_t *progress_callback;
	void *context;

	struct ssl_iostream_settings ssl_set;
	struct imap_source *src;
	struct mail_namespace *ns;
	ARRAY_TYPE(remote_folder) remote_folders;
	ARRAY_TYPE(folder_plan_entry) plan;

	struct timeval start_time;
	struct import_progress *progress;
};

struct import_folder_ctx {
	struct import_run_ctx *run;
	const struct folder_plan_entry *entry;
	struct import_run_folder *result;
	struct mailbox *box;
	struct message_saver *saver;

	uint32_t exists, uidvalidity;
	/* the chunk whose bodies are being saved, and the one whose
	   metadata is arriving */
	struct import_chunk chunks[2];
	struct import_chunk *saving, *meta;
};

static void import_run_update_elapsed(struct import_run_ctx *ctx)
{
	struct timeval now;

	i_gettimeofday(&now);
	ctx->progress->elapsed_msecs =
		timeval_diff_msecs(&now, &ctx->start_time);
}

static void import_run_progress(struct import_run_ctx *ctx, bool final)
{
	if (ctx->progress_callback == NULL)
		return;
	import_run_update_elapsed(ctx);
	ctx->progress_callback(ctx->progress, final, ctx->context);
}

static void import_run_warning(struct import_run_ctx *ctx, const char *text)
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

/* --- copying one folder --- */

/* Metadata is fetched in sequence ranges of set->fetch_chunk messages, so
   memory stays bounded whatever the folder's size. */
static void import_chunk_reset(struct import_chunk *chunk, unsigned int count)
{
	if (chunk->pool == NULL)
		chunk->pool = pool_alloconly_create("import chunk", 16384);
	else
		p_clear(chunk->pool);
	p_array_init(&chunk->msgs, chunk->pool, count);
}

static void
import_msg_parse_flags(struct import_chunk *chunk, struct import_msg *msg,
		       const struct imap_arg *flags)
{
	ARRAY_TYPE(const_string) keywords;
	const char *flag;

	p_array_init(&keywords, chunk->pool, 4);
	for (; flags->type != IMAP_ARG_EOL; flags++) {
		if (!imap_arg_get_atom(flags, &flag))
			continue;
		if (flag[0] == '\\')
			msg->flags |= imap_parse_system_flag(flag);
		else {
			flag = p_strdup(chunk->pool, flag);
			array_push_back(&keywords, &flag);
		}
	}
	msg->flags &= IMPORT_MAIL_FLAGS_MASK;
	if (array_count(&keywords) > 0) {
		array_append_zero(&keywords);
		msg->keywords = array_front(&keywords);
	}
}

static void
import_folder_handle_meta(struct import_folder_ctx *ctx, uint32_t seq,
			  const struct imap_arg *list)
{
	struct import_msg msg;
	const struct imap_arg *flags;
	const char *key, *value;
	bool have_uid = FALSE, have_size = FALSE;
	unsigned int i;

	i_zero(&msg);
	msg.seq = seq;
	msg.received_date = (time_t)-1;
	for (i = 0; list[i].type != IMAP_ARG_EOL &&
		    list[i+1].type != IMAP_ARG_EOL; i += 2) {
		if (!imap_arg_get_atom(&list[i], &key))
			return;
		if (strcasecmp(key, "UID") == 0) {
			if (imap_arg_get_atom(&list[i+1], &value) &&
			    str_to_uint32(value, &msg.uid) == 0 && msg.uid > 0)
				have_uid = TRUE;
		} else if (strcasecmp(key, "RFC822.SIZE") == 0) {
			if (imap_arg_get_atom(&list[i+1], &value) &&
			    str_to_uoff(value, &msg.size) == 0)
				have_size = TRUE;
		} else if (strcasecmp(key, "INTERNALDATE") == 0) {
			if (!imap_arg_get_astring(&list[i+1], &value) ||
			    !imap_parse_datetime(value, &msg.received_date,
						 &msg.received_tz))
				msg.received_date = (time_t)-1;
		} else if (strcasecmp(key, "FLAGS") == 0) {
			if (imap_arg_get_list(&list[i+1], &flags))
				import_msg_parse_flags(ctx->meta, &msg, flags);
		}
	}
	/* a FETCH with only FLAGS is a flag change notification */
	if (!have_uid || !have_size)
		return;
	array_push_back(&ctx->meta->msgs, &msg);
	ctx->result->bytes += msg.size;
	ctx->run->progress->bytes_total += msg.size;
}

static int
import_folder_untagged(uint32_t num, const char *name,
		       const struct imap_arg *args, void *context)
{
	struct import_folder_ctx *ctx = context;
	const struct imap_arg *list;
	const char *text;

	if (strcasecmp(name, "EXISTS") == 0) {
		ctx->exists = num;
	} else if (strcasecmp(name, "OK") == 0) {
		if (imap_arg_get_atom(&args[0], &text) &&
		    strncasecmp(text, "[UIDVALIDITY ", 13) == 0 &&
		    str_to_uint32(t_strcut(text + 13, ']'),
				  &ctx->uidvalidity) < 0)
			ctx->uidvalidity = 0;
	} else if (strcasecmp(name, "FETCH") == 0) {
		if (imap_arg_get_list(&args[0], &list))
			import_folder_handle_meta(ctx, num, list);
	}
	return 0;
}

static int import_msg_uid_cmp(const uint32_t *uid, const struct import_msg *msg)
{
	if (*uid < msg->uid)
		return -1;
	return *uid > msg->uid ? 1 : 0;
}

static int import_msg_seq_cmp(const uint32_t *seq, const struct import_msg *msg)
{
	if (*seq < msg->seq)
		return -1;
	return *seq > msg->seq ? 1 : 0;
}

static int import_folder_wait_input(void *context)
{
	struct imap_source *src = context;

	return imap_source_wait_input(src);
}

static int
import_folder_literal(uint32_t num, const char *name,
		      const struct imap_arg *args, uoff_t size, void *context)
{
	struct import_folder_ctx *ctx = context;
	struct import_run_ctx *run = ctx->run;
	struct imap_source *src = run->src;
	struct import_remote_error error;
	struct message_saver_mail mail;
	struct import_msg *msg = NULL;
	const struct imap_arg *list;
	const char *key, *value;
	struct istream *input;
	unsigned int i, count;
	uint32_t uid = 0;
	int ret;

	if (strcasecmp(name, "FETCH") != 0 ||
	    !imap_arg_get_list(&args[0], &list))
		return 0;
	/* the literal is the last argument; its key comes just before */
	for (count = 0; list[count].type != IMAP_ARG_EOL; count++) ;
	if (count < 2 || !imap_arg_get_atom(&list[count-2], &key) ||
	    strcasecmp(key, "BODY[]") != 0)
		return 0;
	for (i = 0; i + 1 < count - 2; i += 2) {
		if (imap_arg_get_atom(&list[i], &key) &&
		    strcasecmp(key, "UID") == 0 &&
		    imap_arg_get_atom(&list[i+1], &value) &&
		    str_to_uint32(value, &uid) < 0)
			uid = 0;
	}
	if (uid != 0) {
		msg = array_bsearch(&ctx->saving->msgs, &uid,
				    import_msg_uid_cmp);
	} else {
		/* UID comes after BODY[] on some servers */
		msg = array_bsearch(&ctx->saving->msgs, &num,
				    import_msg_seq_cmp);
	}
	if (msg == NULL || msg->done) {
		/* not asked for (or twice): don't save it */
		return imap_source_skip_literal(src, size) < 0 ? -1 : 1;
	}
	if (size != msg->size) {
		/* RFC822.SIZE and the body disagree: the body is the truth */
		run->progress->bytes_total += size;
		run->progress->bytes_total -= msg->size;
	}

	i_zero(&mail);
	mail.flags = msg->flags;
	mail.keywords = msg->keywords;
	mail.received_date = msg->received_date;
	mail.received_tz_offset = msg->received_tz;

	i_zero(&error);
	input = i_stream_create_limit(imap_source_get_input(src), size);
	ret = message_saver_save(ctx->saver, &mail, input, size,
				 import_folder_wait_input, src, &error);
	i_stream_unref(&input);
	if (ret == 0) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_SOURCE_ERROR,
			t_strdup_printf("Server disconnected in the middle of "
					"message UID %u in %s", msg->uid,
					ctx->entry->display_name));
		return -1;
	}
	if (ret < 0) {
		/* stop everything: the rest of the literal is left unread,
		   so the connection can't be used any more either */
		imap_source_set_error(src, error.code, error.detail);
		return -1;
	}
	msg->done = TRUE;
	ctx->result->imported++;
	run->progress->imported++;
	run->progress->msgs_done++;
	run->progress->bytes_done += size;
	run->progress->bytes_imported += size;
	import_run_progress(run, FALSE);
	return 1;
}

static int import_folder_open_local(struct import_folder_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	struct mail_namespace *ns;
	enum mail_error error;
	const char *errstr;

	ns = mail_namespace_find(run->user->namespaces, ctx->result->dest_name);
	ctx->box = mailbox_alloc(ns->list, ctx->result->dest_name, 0);
	if (run->set->dry_run)
		return 0;
	if (mailbox_create(ctx->box, NULL, FALSE) < 0) {
		errstr = mailbox_get_last_internal_error(ctx->box, &error);
		if (error != MAIL_ERROR_EXISTS) {
			imap_source_set_error(run->src,
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
		imap_source_set_error(run->src, IMPORT_REMOTE_ERROR_DEST_ERROR,
			t_strdup_printf("Opening mailbox %s failed: %s",
					ctx->result->dest_name, errstr));
		return -1;
	}
	if (ctx->entry->remote->subscribed &&
	    mailbox_set_subscribed(ctx->box, TRUE) < 0) {
		errstr = mailbox_get_last_internal_error(ctx->box, &error);
		import_run_warning(run, t_strdup_printf(
			"Subscribing to %s failed: %s",
			ctx->result->dest_name, errstr));
	}
	ctx->saver = message_saver_init(ctx->box);
	return 0;
}

/* Send the body fetches for the chunk being saved. */
static void
import_folder_send_body_fetches(struct import_folder_ctx *ctx,
				ARRAY_TYPE(const_string) *tags)
{
	const struct import_msg *msg;
	string_t *uids = t_str_new(1024);
	unsigned int n = 0;
	const char *tag;

	array_foreach(&ctx->saving->msgs, msg) {
		if (str_len(uids) > 0)
			str_append_c(uids, ',');
		str_printfa(uids, "%u", msg->uid);
		if (++n == IMPORT_RUN_BODY_CMD_UIDS) {
			tag = imap_source_send(ctx->run->src, t_strdup_printf(
				"UID FETCH %s (BODY.PEEK[])", str_c(uids)));
			array_push_back(tags, &tag);
			str_truncate(uids, 0);
			n = 0;
		}
	}
	if (n > 0) {
		tag = imap_source_send(ctx->run->src, t_strdup_printf(
			"UID FETCH %s (BODY.PEEK[])", str_c(uids)));
		array_push_back(tags, &tag);
	}
}

static const char *
import_folder_send_meta_fetch(struct import_folder_ctx *ctx, uint32_t first)
{
	unsigned int chunk = ctx->run->set->fetch_chunk;
	uint32_t last = first + chunk - 1;

	if (last > ctx->exists || last < first)
		last = ctx->exists;
	import_chunk_reset(ctx->meta, last - first + 1);
	return imap_source_send(ctx->run->src, t_strdup_printf(
		"FETCH %u:%u (UID RFC822.SIZE INTERNALDATE FLAGS)", first, last));
}

static int
import_folder_check_reply(struct import_folder_ctx *ctx, const char *what,
			  const struct imap_source_reply *reply)
{
	if (reply->state == IMAP_SOURCE_REPLY_OK)
		return 0;
	imap_source_set_error(ctx->run->src,
		imap_source_reply_classify(reply),
		t_strdup_printf("%s of folder %s failed: %s", what,
				ctx->entry->display_name, reply->text));
	return -1;
}

/* Count the chunk's messages that the server did not send. */
static void import_folder_chunk_done(struct import_folder_ctx *ctx)
{
	const struct import_msg *msg;
	unsigned int missing = 0;

	array_foreach(&ctx->saving->msgs, msg) {
		if (!msg->done)
			missing++;
	}
	if (missing > 0) {
		ctx->result->failed += missing;
		ctx->run->progress->failed += missing;
		ctx->run->progress->msgs_done += missing;
	}
}

static int import_folder_copy(struct import_folder_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	struct imap_source *src = run->src;
	struct imap_source_reply reply;
	struct import_chunk *tmp;
	ARRAY_TYPE(const_string) body_tags;
	const char *meta_tag, *tag;
	string_t *cmd;
	uint32_t next_seq;

	cmd = t_str_new(128);
	str_append(cmd, "EXAMINE ");
	imap_source_append_string(src, cmd, ctx->entry->remote->remote_name);
	if (imap_source_cmd(src, str_c(cmd), import_folder_untagged, ctx,
			    &reply) < 0)
		return -1;
	if (import_folder_check_reply(ctx, "Selecting", &reply) < 0)
		return -1;
	if (ctx->exists == 0)
		return 0;

	ctx->saving = &ctx->chunks[0];
	ctx->meta = &ctx->chunks[1];
	import_chunk_reset(ctx->saving, 1);
	meta_tag = import_folder_send_meta_fetch(ctx, 1);
	next_seq = I_MIN(ctx->exists, run->set->fetch_chunk) + 1;
	t_array_init(&body_tags, 8);
	while (meta_tag != NULL) {
		if (imap_source_wait(src, meta_tag, import_folder_untagged,
				     NULL, ctx, &reply) < 0)
			return -1;
		if (import_folder_check_reply(ctx, "Fetching message list",
					      &reply) < 0)
			return -1;
		/* the chunk just listed is saved next */
		tmp = ctx->saving; ctx->saving = ctx->meta; ctx->meta = tmp;

		/* ask for the next chunk's list ahead of the bodies, so it is
		   there when they are done. Never behind them: a command
		   using sequence numbers pipelined after UID commands is
		   ambiguous (RFC 3501 5.5), and Dovecot answers it with a
		   "* BAD [CLIENTBUG]" that it may even write into the middle
		   of a literal it is sending. */
		meta_tag = NULL;
		if (next_seq <= ctx->exists) {
			meta_tag = import_folder_send_meta_fetch(ctx, next_seq);
			next_seq = I_MIN(ctx->exists,
				next_seq + run->set->fetch_chunk - 1) + 1;
		}
		array_clear(&body_tags);
		if (!run->set->dry_run)
			import_folder_send_body_fetches(ctx, &body_tags);
		array_foreach_elem(&body_tags, tag) {
			if (imap_source_wait(src, tag, import_folder_untagged,
					     import_folder_literal, ctx,
					     &reply) < 0)
				return -1;
			if (import_folder_check_reply(ctx, "Fetching messages",
						      &reply) < 0)
				return -1;
		}
		if (run->set->dry_run) {
			run->progress->msgs_done +=
				array_count(&ctx->saving->msgs);
		} else {
			import_folder_chunk_done(ctx);
		}
	}
	return 0;
}

static int import_folder(struct import_run_ctx *run,
			 const struct folder_plan_entry *entry,
			 struct import_run_folder *result)
{
	struct import_folder_ctx ctx;
	struct import_remote_error error;
	unsigned int i, lost;
	int ret = 0;

	i_zero(&ctx);
	ctx.run = run;
	ctx.entry = entry;
	ctx.result = result;
	/* the STATUS count is replaced by what is really there */
	run->progress->msgs_total -= result->msgs;
	result->msgs = 0;
	result->bytes = 0;
	run->progress->folder = entry->display_name;

	if (import_folder_open_local(&ctx) < 0)
		ret = -1;
	else T_BEGIN {
		ret = import_folder_copy(&ctx);
	} T_END;

	result->msgs = ctx.exists;
	run->progress->msgs_total += ctx.exists;
	if (ctx.saver != NULL) {
		/* keep what was saved, even when the folder failed */
		i_zero(&error);
		if (message_saver_commit(ctx.saver, &error) < 0) {
			imap_source_set_error(run->src, error.code, error.detail);
			ret = -1;
		}
		/* count only what really landed */
		lost = message_saver_get_lost_count(ctx.saver);
		result->imported -= lost;
		run->progress->imported -= lost;
		message_saver_deinit(&ctx.saver);
	}
	if (ctx.box != NULL)
		mailbox_free(&ctx.box);
	for (i = 0; i < N_ELEMENTS(ctx.chunks); i++)
		pool_unref(&ctx.chunks[i].pool);
	if (ret == 0 && result->failed > 0) {
		result->note = p_strdup_printf(run->pool,
			"%u messages not sent by the server", result->failed);
	}
	run->progress->folders_done++;
	run->progress->folder = NULL;
	return ret;
}

static void import_run_init_ssl(struct import_run_ctx *ctx)
{
	import_remote_compat_ssl_client_settings(ctx->user, &ctx->ssl_set);
	if ((ctx->ssl_set.ca_file == NULL || ctx->ssl_set.ca_file[0] == '\0') &&
	    (ctx->ssl_set.ca_dir == NULL || ctx->ssl_set.ca_dir[0] == '\0'))
		ctx->ssl_set.ca_dir = IMPORT_RUN_DEFAULT_CA_DIR;
	ctx->ssl_set.verify_remote_cert = !ctx->set->tls_insecure;
	ctx->ssl_set.allow_invalid_cert = ctx->set->tls_insecure;
}

static int import_run_copy_all(struct import_run_ctx *ctx)
{
	const struct folder_plan_entry *entries;
	struct import_run_folder *folders;
	unsigned int i, count;
	bool folder_failed = FALSE;

	entries = array_get(&ctx->plan, &count);
	folders = array_front_modifiable(&ctx->result->folders);
	for (i = 0; i < count; i++) {
		if (!folders[i].selected)
			continue;
		if (import_folder(ctx, &entries[i], &folders[i]) == 0)
			continue;

		const struct import_remote_error *error =
			imap_source_get_error(ctx->src);
		/* the connection is unusable after any error: see whether
		   it is only this folder the server refused */
		folders[i].note = p_strdup(ctx->pool, error->detail);
		folder_failed = TRUE;
		break;
	}
	import_run_progress(ctx, TRUE);
	return folder_failed ? -1 : 0;
}

int import_run(struct mail_user *user,
	       const struct import_remote_settings *set,
	       import_run_progress_callback_t *progress_callback,
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
	ctx.context = context;
	i_gettimeofday(&ctx.start_time);

	ctx.ns = mail_namespace_find_inbox(user->namespaces);
	import_run_init_ssl(&ctx);

	i_zero(&src_set);
	src_set.host = set->host;
	src_set.port = import_remote_settings_get_port(set);
	src_set.ssl = set->ssl;
	src_set.username = set->username;
	src_set.password = set->password;
	src_set.ssl_set = &ctx.ssl_set;
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
	imap_source_deinit(&ctx.src);
	return ret;
}
