/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* A chunk's message list and what to copy of it: the date filter's SEARCH
   and the list (FETCH by sequence), header hashes where the list left
   messages without an identity, the decision (done before, filtered,
   duplicate, import), and the flags a crash left missing */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "mail-storage.h"
#include "mail-user.h"
#include "dedup-index.h"
#include "folder-plan.h"
#include "folder-import-private.h"

#include <time.h>

static const char *const imap_month_names[] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* IMAP SEARCH date (date only, RFC 3501 "date") */
static const char *imap_search_date(time_t t)
{
	struct tm *tm = gmtime(&t);

	return t_strdup_printf("%d-%s-%04d", tm->tm_mday,
			       imap_month_names[tm->tm_mon], tm->tm_year + 1900);
}

/* List the next chunk: [SEARCH for the date filter and] FETCH the message
   list. Sequence-number commands: they are always sent before the chunk's
   UID commands, never behind them (see folder_import_chunks()). Returns
   FALSE if there is nothing more to list. */
bool folder_import_send_list(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	struct imap_source *src = folder_import_src(ctx);
	string_t *cmd = t_str_new(128);
	uint32_t first, last;

	if (ctx->next_first > ctx->exists)
		return FALSE;
	first = ctx->next_first;
	last = I_MIN(ctx->exists, ctx->next_first + run->set->fetch_chunk - 1);
	ctx->next_first = (uint64_t)last + 1;

	import_chunk_reset(ctx->next, last - first + 1);
	ctx->next->first_seq = first;
	ctx->next->last_seq = last;
	if (folder_import_date_filter(ctx)) {
		str_printfa(cmd, "SEARCH %u:%u", first, last);
		if (run->since != 0)
			str_printfa(cmd, " SINCE %s", imap_search_date(run->since));
		if (run->before != 0)
			str_printfa(cmd, " BEFORE %s", imap_search_date(run->before));
		/* (kept beyond this chunk's data stack frame) */
		ctx->next->search_tag = p_strdup(ctx->next->pool,
			imap_source_send(src, str_c(cmd)));
		str_truncate(cmd, 0);
	}
	if (ctx->count_only)
		str_printfa(cmd, "FETCH %u:%u (UID RFC822.SIZE)", first, last);
	else {
		str_printfa(cmd, "FETCH %u:%u (UID RFC822.SIZE INTERNALDATE "
			    "FLAGS%s%s)", first, last,
			    ctx->want_labels ? " X-GM-LABELS" : "",
			    !folder_import_want_keys(ctx) ? "" :
			    " BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]");
	}
	ctx->next->meta_tag = p_strdup(ctx->next->pool,
				       imap_source_send(src, str_c(cmd)));
	return TRUE;
}

/* One header fetch for the UIDs, its tag kept with the chunk's */
static void folder_import_send_header_cmd(struct folder_import_ctx *ctx,
					  string_t *uids)
{
	struct import_chunk *chunk = ctx->current;
	const char *tag;

	tag = p_strdup(chunk->pool, imap_source_send(folder_import_src(ctx),
		t_strdup_printf("UID FETCH %s (BODY.PEEK[HEADER])",
				str_c(uids))));
	array_push_back(&chunk->header_tags, &tag);
	str_truncate(uids, 0);
}

/* Send UID FETCH BODY.PEEK[HEADER] for the chunk's messages without an
   identity, FOLDER_IMPORT_BODY_CMD_UIDS a command, all at once. */
void folder_import_send_headers(struct folder_import_ctx *ctx)
{
	struct import_chunk *chunk = ctx->current;
	const struct import_msg *msg;
	string_t *uids = t_str_new(1024);
	unsigned int n = 0;

	array_clear(&chunk->header_tags);
	array_foreach(&chunk->msgs, msg) {
		if (msg->key != NULL || msg->action != IMPORT_MSG_UNDECIDED ||
		    msg->state == IMPORT_MSG_STATE_FAILED)
			continue;
		if (str_len(uids) > 0)
			str_append_c(uids, ',');
		str_printfa(uids, "%u", msg->uid);
		if (++n == FOLDER_IMPORT_BODY_CMD_UIDS) {
			folder_import_send_header_cmd(ctx, uids);
			n = 0;
		}
	}
	if (n > 0)
		folder_import_send_header_cmd(ctx, uids);
}

int folder_import_receive_headers(struct folder_import_ctx *ctx)
{
	struct imap_source_reply reply;
	const char *tag;

	array_foreach_elem(&ctx->current->header_tags, tag) {
		if (imap_source_wait(folder_import_src(ctx), tag,
				     folder_import_untagged,
				     folder_import_literal, ctx, &reply) < 0)
			return -1;
		if (folder_import_check_reply(ctx, "Fetching message headers",
					      &reply) < 0)
			return -1;
	}
	array_clear(&ctx->current->header_tags);
	return 0;
}

static int uint32_cmp(const uint32_t *a, const uint32_t *b)
{
	return *a < *b ? -1 : (*a > *b ? 1 : 0);
}

/* First pass: what earlier runs did and what the date filter leaves out.
   Returns TRUE if some messages still need their header hashed. */
bool folder_import_classify(struct folder_import_ctx *ctx)
{
	struct import_msg *msg;
	bool need_hash = FALSE;

	array_sort(&ctx->current->matches, uint32_cmp);
	array_foreach_modifiable(&ctx->current->msgs, msg) {
		if (msg->action != IMPORT_MSG_UNDECIDED ||
		    msg->state == IMPORT_MSG_STATE_FAILED)
			continue;
		if (msg->uid <= ctx->done_uid)
			msg->action = IMPORT_MSG_DONE_BEFORE;
		else if (folder_import_date_filter(ctx) &&
			 array_bsearch(&ctx->current->matches, &msg->seq,
				       uint32_cmp) == NULL)
			msg->action = IMPORT_MSG_FILTERED;
		else if (ctx->count_only || msg->gmail_covered) {
			/* copies of mail that other folders bring */
			msg->action = IMPORT_MSG_DUPLICATE;
		} else if (!folder_import_want_keys(ctx))
			msg->action = IMPORT_MSG_IMPORT;
		else if (msg->key == NULL && !ctx->keys_from_bodies)
			need_hash = TRUE;
	}
	return need_hash;
}

/* Second pass, in order: a message whose identity is already in the
   destination (or came earlier in this folder) is a duplicate. */
void folder_import_decide(struct folder_import_ctx *ctx)
{
	struct import_progress *progress = ctx->run->progress;
	struct import_msg *msg;

	array_foreach_modifiable(&ctx->current->msgs, msg) {
		if (msg->state == IMPORT_MSG_STATE_FAILED) {
			/* given up while its header was read (and counted
			   then): the checkpoint stops before it, for a re-run
			   to try it again */
			msg->action = IMPORT_MSG_IMPORT;
			ctx->result->listed++;
			ctx->result->listed_bytes += msg->size;
			progress->msgs_listed++;
			continue;
		}
		if (msg->action == IMPORT_MSG_UNDECIDED) {
			if (msg->key == NULL) {
				/* the server sent no header (nothing to
				   compare with, so copy it), or it is taken
				   from the body */
				msg->action = IMPORT_MSG_IMPORT;
			} else if (ctx->index == NULL ||
				   dedup_index_add(ctx->index, msg->key))
				msg->action = IMPORT_MSG_IMPORT;
			else {
				msg->action = IMPORT_MSG_DUPLICATE;
				msg->dest_uid = dedup_index_lookup_uid(
					ctx->index, msg->key);
			}
			if (msg->action == IMPORT_MSG_IMPORT &&
			    msg->key != NULL && ctx->gmail_index != NULL &&
			    ctx->gmail_index != ctx->index)
				(void)dedup_index_add(ctx->gmail_index, msg->key);
		}
		/* (what the date filter leaves out has no bytes to copy,
		   and newest-first lists it again in another pass) */
		if (msg->action != IMPORT_MSG_FILTERED)
			progress->msgs_listed++;
		if (msg->action != IMPORT_MSG_FILTERED &&
		    msg->action != IMPORT_MSG_DONE_BEFORE) {
			ctx->result->listed++;
			ctx->result->listed_bytes += msg->size;
		}
		switch (msg->action) {
		case IMPORT_MSG_DUPLICATE:
		case IMPORT_MSG_DONE_BEFORE:
			progress->skipped_duplicates++;
			ctx->result->skipped++;
			break;
		case IMPORT_MSG_FILTERED:
			progress->filtered_by_date++;
			ctx->result->filtered++;
			break;
		case IMPORT_MSG_IMPORT:
			ctx->result->to_copy++;
			ctx->result->bytes_to_copy += msg->size;
			progress->bytes_total += msg->size;
			continue;
		case IMPORT_MSG_UNDECIDED:
			i_unreached();
		}
		progress->msgs_done++;
	}
	import_run_ctx_check_quota(ctx->run);
}

/* A crash can leave a message in the destination without its flags: sdbox
   puts a message file that was written but whose save was not yet
   committed back into the index, with no flags or keywords. A re-run finds
   it as a duplicate; when the destination copy has no flags and no
   keywords at all, it gets those of the source copy. A copy that has any
   flag is left alone: its flags were set on purpose (by the import or by
   the user since). */
int folder_import_add_missing_flags(struct folder_import_ctx *ctx)
{
	struct mailbox_transaction_context *trans;
	const struct import_msg *msg;
	struct mail_keywords *kw;
	struct mail *mail;
	ARRAY_TYPE(const_string) missing;
	const char *const *have, *const *want;
	enum mail_flags add;
	unsigned int mended = 0;
	int ret;

	if (ctx->box == NULL || ctx->run->set->dry_run)
		return 0;
	trans = mailbox_transaction_begin(ctx->box,
					  MAILBOX_TRANSACTION_FLAG_EXTERNAL,
					  __func__);
	mail = mail_alloc(trans, MAIL_FETCH_FLAGS, NULL);
	t_array_init(&missing, 8);
	array_foreach(&ctx->current->msgs, msg) {
		if (msg->dest_uid == 0 ||
		    (msg->flags == 0 && msg->keywords == NULL) ||
		    !mail_set_uid(mail, msg->dest_uid))
			continue;
		have = mail_get_keywords(mail);
		if ((mail_get_flags(mail) & IMPORT_MAIL_FLAGS_MASK) != 0 ||
		    have[0] != NULL)
			continue;
		add = msg->flags;
		array_clear(&missing);
		for (want = msg->keywords; want != NULL && *want != NULL; want++) {
			if (!str_array_find(have, *want))
				array_push_back(&missing, want);
		}
		if (add != 0)
			mail_update_flags(mail, MODIFY_ADD, add);
		if (array_count(&missing) > 0) {
			array_append_zero(&missing);
			kw = mailbox_keywords_create_valid(ctx->box,
							   array_front(&missing));
			mail_update_keywords(mail, MODIFY_ADD, kw);
			mailbox_keywords_unref(&kw);
		}
		if (add != 0 || array_count(&missing) > 0)
			mended++;
	}
	mail_free(&mail);
	ret = mailbox_transaction_commit(&trans);
	if (ret < 0) {
		import_run_ctx_set_error(ctx->run, IMPORT_REMOTE_ERROR_DEST_ERROR,
			t_strdup_printf("Updating flags in %s failed: %s",
				ctx->result->dest_name,
				mailbox_get_last_internal_error(ctx->box, NULL)));
		return -1;
	}
	if (mended > 0) {
		e_debug(ctx->run->event, "%s: gave %u "
			"existing messages their missing flags",
			ctx->result->dest_name, mended);
	}
	return 0;
}

/* The server said the folder holds more messages than it lists (a
   hostile EXISTS): what it lists is what there is, up to first (which it
   did not list). Listing goes on no further. */
static void folder_import_list_ended(struct folder_import_ctx *ctx,
				     uint32_t first)
{
	struct import_progress *progress = ctx->run->progress;
	uint32_t exists = first - 1;

	if (exists >= ctx->exists)
		return;
	ctx->list_cut = TRUE;
	import_run_ctx_warning(ctx->run, t_strdup_printf(
		"Folder %s: the server said it holds %u messages but listed "
		"none from %u on: taken as %u", ctx->entry->display_name,
		ctx->exists, first, exists));
	progress->msgs_total -= I_MIN(ctx->exists - exists,
				      progress->msgs_total);
	ctx->exists = exists;
	ctx->result->msgs = exists;
	ctx->next_first = (uint64_t)exists + 1;
}

/* Every message the list asked for is listed (each once, in order):
   what comes next may be the bodies asked for with it (Dovecot answers
   the list's tag after them) */
static bool folder_import_list_complete(void *context)
{
	struct folder_import_ctx *ctx = context;

	return array_count(&ctx->next->msgs) >=
		ctx->next->last_seq - ctx->next->first_seq + 1;
}

/* Wait for the next chunk's list and make it the current chunk */
int folder_import_receive_list(struct folder_import_ctx *ctx)
{
	struct imap_source *src = folder_import_src(ctx);
	struct imap_source_reply reply;
	struct import_chunk *tmp;
	const struct import_msg *last;
	bool early;
	int ret;

	if (ctx->next->search_tag != NULL &&
	    (imap_source_wait(src, ctx->next->search_tag,
			      folder_import_untagged, NULL, ctx, &reply) < 0 ||
	     folder_import_check_reply(ctx, "Searching by date", &reply) < 0))
		return -1;
	/* with bodies asked for behind it: read up to its last message;
	   bodies that come before that (a server may run both at once) are
	   thrown away, asked for again */
	early = ctx->next->bodies_tag != NULL;
	ret = imap_source_wait_until(src, ctx->next->meta_tag,
				     folder_import_untagged,
				     early ? folder_import_literal : NULL,
				     early ? folder_import_list_complete : NULL,
				     ctx, &reply);
	if (ret < 0 ||
	    (ret > 0 && folder_import_check_reply(ctx, "Fetching message list",
						  &reply) < 0))
		return -1;
	if (ret == 0) {
		/* (its tagged reply may come after the bodies, or after what
		   other folders sent behind them: it is not waited for) */
		imap_source_forget(src, ctx->next->meta_tag);
	}
	tmp = ctx->current; ctx->current = ctx->next; ctx->next = tmp;
	ctx->next->search_tag = NULL;
	ctx->next->meta_tag = NULL;
	ctx->current->search_tag = NULL;
	ctx->current->meta_tag = NULL;
	ctx->current->state = IMPORT_CHUNK_LISTED;
	if (ctx->current->listed_max_seq < ctx->current->last_seq) {
		folder_import_list_ended(ctx,
			I_MAX(ctx->current->listed_max_seq + 1,
			      ctx->current->first_seq));
	}
	if (array_count(&ctx->current->msgs) > 0) {
		last = array_back(&ctx->current->msgs);
		ctx->listed_uid = last->uid;
		ctx->listed_seq = last->seq;
	}
	return 0;
}
