/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* Where a folder's import starts and goes on: EXAMINE, the first message
   after the checkpoint, and after a reconnect the first one after the last
   listed (EXAMINE again, FETCH n (UID) to see whether the place moved) */

#include "lib.h"
#include "str.h"
#include "str-sanitize.h"
#include "import-checkpoint.h"
#include "folder-plan.h"
#include "import-connections.h"
#include "folder-import-private.h"

/* The sequence of the first message above uid, if ESEARCH can't say:
   UID FETCH uid+1:* (UID) answers with those messages (and the last one),
   a line each, where listing the folder would fetch every header. */
static int folder_import_find_first(struct folder_import_ctx *ctx,
				    uint32_t uid, uint64_t *seq_r)
{
	struct imap_source_reply reply;
	int ret;

	ctx->have_min_seq = FALSE;
	ctx->finding_first = TRUE;
	ctx->find_above_uid = uid;
	ret = imap_source_cmd(folder_import_src(ctx), t_strdup_printf(
			"UID FETCH %u:* (UID)", uid + 1),
			folder_import_untagged, ctx, &reply);
	ctx->finding_first = FALSE;
	if (ret < 0 ||
	    folder_import_check_reply(ctx, "Searching for new mail",
				      &reply) < 0)
		return -1;
	*seq_r = ctx->have_min_seq ? ctx->min_seq : (uint64_t)ctx->exists + 1;
	return 0;
}

/* The sequence of the first message above uid: SEARCH RETURN (MIN), or
   without ESEARCH folder_import_find_first() */
static int folder_import_first_after(struct folder_import_ctx *ctx,
				     uint32_t uid, uint64_t *seq_r)
{
	struct imap_source *src = folder_import_src(ctx);
	struct imap_source_reply reply;

	if (ctx->exists == 0) {
		*seq_r = 1;
		return 0;
	}
	if (!imap_source_has_capability(src, IMAP_SOURCE_CAP_ESEARCH))
		return folder_import_find_first(ctx, uid, seq_r);
	ctx->have_min_seq = FALSE;
	if (imap_source_cmd(src, t_strdup_printf(
			"SEARCH RETURN (MIN) UID %u:*", uid + 1),
			folder_import_untagged, ctx, &reply) < 0 ||
	    folder_import_check_reply(ctx, "Searching for new mail",
				      &reply) < 0)
		return -1;
	/* "UID n:*" always matches the highest UID, so MIN may point at a
	   message at or below uid; the checkpoint (or the list floor after
	   a reconnect) then skips it */
	*seq_r = ctx->have_min_seq ? ctx->min_seq : (uint64_t)ctx->exists + 1;
	return 0;
}

/* Where to start: after the checkpoint, if there is one for this
   UIDVALIDITY. Returns the first sequence to list (> exists: nothing). */
static int folder_import_resume(struct folder_import_ctx *ctx,
				uint64_t *first_r)
{
	struct import_run_ctx *run = ctx->run;
	const struct remote_folder *remote = ctx->entry->remote;
	uint32_t last_uid, uidnext = ctx->uidnext;

	*first_r = 1;
	if (uidnext == 0 && remote->status_uidvalidity == ctx->uidvalidity) {
		/* EXAMINE without UIDNEXT (Courier): STATUS's, from a moment
		   earlier. Mail that came since is only left for the next
		   run: the checkpoint stays before it. */
		uidnext = remote->status_uidnext;
	}
	if (run->checkpoint == NULL || folder_import_date_filter(ctx) ||
	    ctx->uidvalidity == 0 ||
	    !import_checkpoint_get(run->checkpoint,
				   ctx->entry->remote->remote_name,
				   ctx->uidvalidity, &last_uid))
		return 0;
	ctx->done_uid = last_uid;
	if (uidnext != 0 && last_uid >= uidnext - 1) {
		/* nothing new since */
		*first_r = (uint64_t)ctx->exists + 1;
		return 0;
	}
	return folder_import_first_after(ctx, last_uid, first_r);
}

/* After a reconnect: where the next list starts, once the current chunk's
   bodies asked for with the EXAMINE are answered (no UID command may be on
   its way: a search returns sequences). The probe, FETCH n (UID) of the
   old place of the last message listed, went out before them; messages
   expunged meanwhile shift sequences, and its answer (or a body's reply
   for that sequence: the same fact, in whatever order a server runs
   them) tells whether any did. */
int folder_import_read_probe(struct folder_import_ctx *ctx)
{
	struct imap_source_reply reply;
	uint32_t seq = ctx->probe_seq;

	if (!ctx->place_unknown || seq == 0)
		return 0;
	if (ctx->probe_tag != NULL) {
		if (imap_source_wait(folder_import_src(ctx), ctx->probe_tag,
				     folder_import_untagged, NULL, ctx,
				     &reply) < 0)
			return -1;
		ctx->probe_tag = NULL;
	}
	ctx->probe_seq = 0;
	if (seq <= ctx->exists && ctx->probe_uid == ctx->list_floor_uid) {
		ctx->place_unknown = FALSE;
		ctx->next_first = (uint64_t)seq + 1;
	}
	return 0;
}

int folder_import_find_place(struct folder_import_ctx *ctx)
{
	uint64_t first;

	if (folder_import_read_probe(ctx) < 0)
		return -1;
	if (!ctx->place_unknown)
		return 0;
	/* "UID n:*" always matches the highest UID: the list floor drops it
	   if it was listed */
	if (folder_import_first_after(ctx, ctx->list_floor_uid, &first) < 0)
		return -1;
	ctx->place_unknown = FALSE;
	ctx->next_first = first;
	return 0;
}

/* After a reconnect: send the probe (see above) for the old place seq of
   the last message listed, if it may still be there */
static void folder_import_send_probe(struct folder_import_ctx *ctx,
				     uint32_t seq, uint32_t exists)
{
	ctx->probe_tag = NULL;
	ctx->probe_seq = 0;
	ctx->probe_uid = 0;
	if (seq == 0 || seq > exists)
		return;
	ctx->probe_seq = seq;
	ctx->probe_tag = p_strdup(ctx->run->pool,
		imap_source_send(folder_import_src(ctx),
				 t_strdup_printf("FETCH %u (UID)", seq)));
}

/* After a reconnect: the current chunk's bodies, asked for by UID, need
   nothing EXAMINE or the probe answer: they go out with them, a round
   trip or two less per reconnect. None of them is saved before the
   EXAMINE's UIDVALIDITY is checked (its answer comes first), and a new
   connection with no folder selected answers them with an error if the
   EXAMINE fails. */
static void folder_import_restart_send_round(struct folder_import_ctx *ctx,
					     bool last_round)
{
	struct import_run_ctx *run = ctx->run;

	if (ctx->current->state != IMPORT_CHUNK_DECIDED || run->set->dry_run ||
	    run->pace_msecs > 0 || ctx->count_only)
		return;
	if (folder_import_round_build(ctx) == 0)
		return;
	folder_import_round_send_ahead(ctx);
	/* its last round (every message was listed before the connection
	   was lost): the folders that were behind it there go out behind
	   it again at once, not once it is done (dropped again if it must
	   ask for more after all, e.g. mail that came meanwhile) */
	if (run->conns != NULL) {
		import_connections_advance(run->conns, ctx->result->dest_name,
			!last_round ? UOFF_T_MAX : ctx->round_bytes);
	}
}

/* Queue the EXAMINE; returns its tag */
static const char *folder_import_send_select(struct folder_import_ctx *ctx)
{
	struct imap_source *src = folder_import_src(ctx);
	string_t *cmd;

	if (!ctx->select_pending) {
		ctx->prev_exists = ctx->exists;
		ctx->prev_uidvalidity = ctx->uidvalidity;
		ctx->select_pending = TRUE;
	}
	ctx->exists = ctx->uidnext = ctx->uidvalidity = 0;
	cmd = t_str_new(128);
	str_append(cmd, "EXAMINE ");
	imap_source_append_string(src, cmd, ctx->entry->remote->remote_name);
	return imap_source_send(src, str_c(cmd));
}

/* The EXAMINE's answer */
static int folder_import_select_reply(struct folder_import_ctx *ctx,
				      const char *tag)
{
	struct imap_source_reply reply;

	/* (bodies asked for with the first list may come before a
	   server's answer to the EXAMINE: thrown away, nothing of the folder
	   is listed yet) */
	if (imap_source_wait(folder_import_src(ctx), tag,
			     folder_import_untagged,
			     ctx->next->bodies_tag == NULL ? NULL :
			     folder_import_literal, ctx, &reply) < 0 ||
	    folder_import_check_reply(ctx, "Selecting", &reply) < 0)
		return -1;
	ctx->select_pending = FALSE;
	if (ctx->uidvalidity == 0) {
		/* EXAMINE without UIDVALIDITY: STATUS's */
		ctx->uidvalidity = ctx->entry->remote->status_uidvalidity;
	}
	if (ctx->uidnext != 0 && ctx->exists > ctx->uidnext - 1) {
		/* each message has its own UID below UIDNEXT */
		import_run_ctx_set_error(ctx->run,
			IMPORT_REMOTE_ERROR_SOURCE_ERROR, t_strdup_printf(
			"Folder %s: the server says it holds %u messages, but "
			"its UIDNEXT %u leaves room for at most %u: invalid",
			ctx->entry->display_name, ctx->exists, ctx->uidnext,
			ctx->uidnext - 1));
		return -1;
	}
	return 0;
}

static int folder_import_select(struct folder_import_ctx *ctx)
{
	return folder_import_select_reply(ctx, folder_import_send_select(ctx));
}

bool folder_import_can_list_early(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	const struct remote_folder *remote = ctx->entry->remote;
	uint32_t last_uid;

	return !ctx->retrying && !folder_import_date_filter(ctx) &&
		ctx->result->msgs > 0 && remote->status_uidvalidity != 0 &&
		(run->checkpoint == NULL ||
		 !import_checkpoint_get(run->checkpoint, remote->remote_name,
					remote->status_uidvalidity, &last_uid));
}

/* The first chunk's list, sent right behind the EXAMINE, is not the one
   the folder needs (EXAMINE told another UIDVALIDITY, or fewer messages
   than STATUS did): its answer is read and thrown away */
static int folder_import_drop_early_list(struct folder_import_ctx *ctx)
{
	struct imap_source_reply reply;

	/* (a NO or BAD for sequences no longer there is fine) */
	if (imap_source_wait(folder_import_src(ctx), ctx->next->meta_tag,
			     NULL, folder_import_literal, ctx, &reply) < 0)
		return -1;
	folder_import_drain_early_bodies(ctx, ctx->next);
	import_chunk_reset(ctx->next, 1);
	return 0;
}

/* EXAMINE again found another UIDVALIDITY: the UIDs known are no longer
   the folder's. Returns TRUE with the run's error set. */
static bool
folder_import_uidvalidity_changed(struct folder_import_ctx *ctx,
				  uint32_t old_uidvalidity)
{
	if (ctx->uidvalidity == old_uidvalidity)
		return FALSE;
	import_run_ctx_set_error(ctx->run,
		IMPORT_REMOTE_ERROR_SOURCE_ERROR, t_strdup_printf(
		"Folder %s changed its UIDVALIDITY (%u, now %u) while "
		"it was imported: run the import again",
		ctx->entry->display_name, old_uidvalidity,
		ctx->uidvalidity));
	return TRUE;
}

/* The retry at the end of the run: EXAMINE, nothing to list (the current
   chunk holds the messages to try again) */
static int folder_import_retry_select(struct folder_import_ctx *ctx)
{
	uint32_t old_uidvalidity = ctx->select_pending ?
		ctx->prev_uidvalidity : ctx->uidvalidity;

	if (folder_import_select(ctx) < 0)
		return -1;
	if (folder_import_uidvalidity_changed(ctx, old_uidvalidity))
		return -1;
	import_chunk_reset(ctx->next, 1);
	ctx->next_first = (uint64_t)ctx->exists + 1;
	return 0;
}

/* The EXAMINE, and the first chunk's list right behind it (list_early):
   queued, not waited for. Returns the EXAMINE's tag. */
static const char *
folder_import_send_start(struct folder_import_ctx *ctx, bool list_early)
{
	const char *tag;

	tag = folder_import_send_select(ctx);
	if (list_early) {
		/* listed as if EXAMINE had said what STATUS did */
		ctx->exists = ctx->result->msgs;
		ctx->next_first = 1;
		if (folder_import_send_list(ctx))
			folder_import_send_early_bodies(ctx);
		ctx->exists = 0;
	}
	return tag;
}

void folder_import_prime_start(struct folder_import_ctx *ctx)
{
	i_assert(ctx->primed_tag == NULL && !ctx->retrying);

	ctx->primed_list_early = folder_import_can_list_early(ctx);
	ctx->primed_tag = i_strdup(folder_import_send_start(ctx,
		ctx->primed_list_early));
}

/* The first EXAMINE: count what is there, start after the checkpoint.
   list_early: the first chunk's list goes out right behind the EXAMINE,
   sized by STATUS's MESSAGES (a round trip less per folder); it is kept if
   EXAMINE agrees (the same UIDVALIDITY, at least as many messages). */
int folder_import_start(struct folder_import_ctx *ctx, bool list_early)
{
	struct import_progress *progress = ctx->run->progress;
	const struct remote_folder *remote = ctx->entry->remote;
	const char *tag;
	uint64_t first;

	if (ctx->retrying)
		return folder_import_retry_select(ctx);
	if (ctx->primed_tag != NULL) {
		/* sent ahead: only once (a reconnect sends them again) */
		tag = t_strdup(ctx->primed_tag);
		i_free(ctx->primed_tag);
		i_assert(list_early == ctx->primed_list_early);
	} else {
		tag = folder_import_send_start(ctx, list_early);
	}
	if (folder_import_select_reply(ctx, tag) < 0)
		return -1;
	if (list_early &&
	    (ctx->uidvalidity != remote->status_uidvalidity ||
	     ctx->exists < ctx->next->last_seq)) {
		if (folder_import_drop_early_list(ctx) < 0)
			return -1;
		list_early = FALSE;
	}
	/* the STATUS count is replaced by what is really there */
	progress->msgs_total -= I_MIN(ctx->result->msgs, progress->msgs_total);
	ctx->result->msgs = ctx->exists;
	progress->msgs_total += ctx->exists;

	if (folder_import_resume(ctx, &first) < 0)
		return -1;
	if (list_early && first != 1) {
		/* (not expected: no checkpoint has this UIDVALIDITY) */
		if (folder_import_drop_early_list(ctx) < 0)
			return -1;
		list_early = FALSE;
	}
	if (first > 1) {
		/* what the checkpoint covers counts as already there */
		unsigned int before = I_MIN(first - 1, (uint64_t)ctx->exists);
		progress->skipped_duplicates += before;
		progress->msgs_done += before;
		progress->msgs_listed += before;
		ctx->result->skipped += before;
	}
	ctx->next_first = list_early ?
		(uint64_t)ctx->next->last_seq + 1 : first;
	return 0;
}

int folder_import_own_connection(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;

	if (run->conns == NULL ||
	    !import_connections_drop_behind(run->conns, run->src))
		return 0;
	/* another folder was selected behind it: as after a reconnect */
	e_debug(run->event, "Folder %s: more to ask for, the folder opened "
		"behind it dropped: EXAMINEd again",
		str_sanitize(ctx->entry->display_name, 128));
	return folder_import_restart(ctx);
}

/* After a reconnect: EXAMINE again and find the place after the last
   message listed (the current chunk's messages are asked for by UID). */
int folder_import_restart(struct folder_import_ctx *ctx)
{
	struct import_progress *progress = ctx->run->progress;
	/* (an EXAMINE again that the connection lost before its answer
	   tells nothing) */
	uint32_t old_uidvalidity = ctx->select_pending ?
		ctx->prev_uidvalidity : ctx->uidvalidity;
	uint32_t old_exists = ctx->select_pending ?
		ctx->prev_exists : ctx->exists;
	/* every message was listed before the connection was lost (its
	   place known, nothing listed after it): this chunk's round is the
	   folder's last (unless mail came meanwhile; the probe tells) */
	bool last_round = ctx->next->meta_tag == NULL &&
		!ctx->place_unknown && ctx->next_first > old_exists;
	uint32_t floor_uid, floor_seq;
	const char *tag;

	if (ctx->retrying)
		return folder_import_retry_select(ctx);
	if (ctx->listed_uid >= ctx->done_uid) {
		floor_uid = ctx->listed_uid;
		floor_seq = ctx->listed_seq;
	} else {
		floor_uid = ctx->done_uid;
		floor_seq = 0;
	}
	ctx->place_unknown = FALSE;
	tag = folder_import_send_select(ctx);
	/* (sequences before the UID commands, never behind them) */
	folder_import_send_probe(ctx, floor_uid == 0 ? 0 : floor_seq,
				 old_exists);
	folder_import_restart_send_round(ctx, last_round);
	if (folder_import_select_reply(ctx, tag) < 0)
		return -1;
	if (folder_import_uidvalidity_changed(ctx, old_uidvalidity))
		return -1;
	if (ctx->exists != old_exists) {
		progress->msgs_total += ctx->exists;
		progress->msgs_total -= I_MIN(old_exists, progress->msgs_total);
		ctx->result->msgs = ctx->exists;
	}
	/* the list on its way was lost with the connection */
	import_chunk_reset(ctx->next, 1);
	ctx->list_floor_uid = floor_uid;
	if (floor_uid == 0) {
		ctx->next_first = 1;
		return 0;
	}
	ctx->place_unknown = TRUE;
	ctx->next_first = 1;
	/* now, unless bodies went out with the EXAMINE */
	return ctx->round_sent ? 0 : folder_import_find_place(ctx);
}
