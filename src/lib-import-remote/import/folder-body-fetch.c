/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The body pipeline: UID FETCH BODY.PEEK[] commands for the chunk's
   bodies (pipelined, or one at a time when paced; a message alone when a
   group would not bring it; the rest of a resumed body), waiting for them,
   rounds until every body is saved or given up, [THROTTLED] waits */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "str-sanitize.h"
#include "mail-user.h"
#include "folder-plan.h"
#include "import-connections.h"
#include "folder-import-private.h"

/* the longest pause between body fetches that "OK [THROTTLED]" brings */
#define FOLDER_IMPORT_MAX_PACE_MSECS 2000

/* Gmail says "OK Success [THROTTLED]" when it delivered but wants us to
   slow down; the code may come after the text */
static bool imap_reply_is_throttled_ok(const struct imap_source_reply *reply)
{
	return reply->state == IMAP_SOURCE_REPLY_OK &&
		(strcmp(reply->resp_code, "THROTTLED") == 0 ||
		 strstr(t_str_ucase(reply->text), "[THROTTLED]") != NULL);
}

/* "OK [THROTTLED]": the server delivered, and asks for a slower pace. The
   pause between body fetches starts short (a quarter of
   --throttle-delay), grows by half while the server keeps asking, never
   beyond FOLDER_IMPORT_MAX_PACE_MSECS (the fetches themselves are smaller
   meanwhile), and halves each time a fetch goes through without it: a
   few seconds for a handful of such replies, not minutes. */
static void folder_import_pace(struct folder_import_ctx *ctx, bool throttled)
{
	struct import_run_ctx *run = ctx->run;
	unsigned int first = I_MAX(run->set->throttle_delay_msecs / 4, 1);
	unsigned int max = I_MAX(FOLDER_IMPORT_MAX_PACE_MSECS, first);

	if (throttled) {
		if (run->pace_msecs == 0) {
			run->pace_msecs = first;
			e_warning(event_create_passthrough(
					import_run_ctx_event(run))->
				  set_name("import_remote_throttled")->
				  add_str("action", "pace")->
				  add_int("delay_msecs", first)->event(),
				  "Source "
				  "server asks to slow down ([THROTTLED]): "
				  "pacing the downloads");
		} else {
			run->pace_msecs = I_MIN(run->pace_msecs +
						run->pace_msecs / 2, max);
		}
	} else if (run->pace_msecs > 0) {
		/* it went through: faster again */
		run->pace_msecs /= 2;
		if (run->pace_msecs < first / 2)
			run->pace_msecs = 0;
	}
}

/* Wait for one body command's reply and judge it */
static int
folder_import_wait_body_cmd(struct folder_import_ctx *ctx,
			    const struct folder_fetch_cmd *cmd,
			    struct import_msg *const *asked)
{
	struct imap_source_reply reply;
	struct import_msg *msg;

	if (imap_source_wait(folder_import_src(ctx), cmd->tag,
			     folder_import_untagged, folder_import_literal,
			     ctx, &reply) < 0)
		return -1;
	if (ctx->pending_msg != NULL) {
		/* its FETCH reply ended in a way we could not read */
		folder_import_pending_drop(ctx);
	}
	folder_import_pace(ctx, imap_reply_is_throttled_ok(&reply));
	if (reply.state == IMAP_SOURCE_REPLY_OK)
		return 0;
	if (reply.state == IMAP_SOURCE_REPLY_NO &&
	    strcmp(reply.resp_code, "THROTTLED") == 0) {
		ctx->throttled = t_strdup(reply.text);
		return 0;
	}
	if (cmd->early) {
		/* a server that would not send them so: what did not come is
		   asked for by UID in the next round */
		return 0;
	}
	if (reply.state != IMAP_SOURCE_REPLY_NO)
		return folder_import_check_reply(ctx, "Fetching messages", &reply);
	/* NO: some message of it can't be sent. Asked for alone, that is
	   the one; else each one not sent is asked for alone next. */
	if (cmd->count == 1) {
		msg = asked[cmd->first];
		if (msg == ctx->resume_msg) {
			/* a server that won't do partial fetches: asked for
			   whole in the next round */
			folder_import_resume_drop(ctx);
			msg->no_resume = TRUE;
			msg->sent = TRUE;
			return 0;
		}
		msg->refused = p_strdup(ctx->current->pool, reply.text);
	}
	return 0;
}

/* (in the chunk's pool: a round sent ahead outlives the data stack frame
   it was sent in) */
unsigned int folder_import_round_build(struct folder_import_ctx *ctx)
{
	struct import_chunk *chunk = ctx->current;
	struct folder_fetch_cmd *cmd = NULL;
	struct import_msg *msg, *const *asked_msgs;
	unsigned int per_cmd;
	bool prev_alone = FALSE;

	per_cmd = ctx->run->pace_msecs > 0 ? FOLDER_IMPORT_PACED_CMD_UIDS :
		FOLDER_IMPORT_BODY_CMD_UIDS;
	ctx->round_early = FALSE;
	p_array_init(&ctx->round_asked, chunk->pool, 64);
	p_array_init(&ctx->round_cmds, chunk->pool, 8);
	ctx->round_bytes = 0;
	array_foreach_modifiable(&chunk->msgs, msg) {
		/* a body to resume is asked for in its own command */
		bool alone = msg->alone || msg == ctx->resume_msg;

		if (msg->action != IMPORT_MSG_IMPORT ||
		    msg->state != IMPORT_MSG_STATE_WANTED)
			continue;
		msg->sent = FALSE;
		msg->asked_alone = FALSE;
		if (cmd == NULL || cmd->count == per_cmd || alone ||
		    prev_alone) {
			cmd = array_append_space(&ctx->round_cmds);
			cmd->first = array_count(&ctx->round_asked);
		}
		array_push_back(&ctx->round_asked, &msg);
		cmd->count++;
		ctx->round_bytes += msg->size;
		prev_alone = alone;
	}
	if (chunk->bodies_tag != NULL) {
		if (array_count(&ctx->round_asked) == 0) {
			folder_import_drain_early_bodies(ctx, chunk);
			return 0;
		}
		/* asked for already, with the list: one command for all */
		array_clear(&ctx->round_cmds);
		cmd = array_append_space(&ctx->round_cmds);
		cmd->count = array_count(&ctx->round_asked);
		cmd->tag = chunk->bodies_tag;
		cmd->early = TRUE;
		chunk->bodies_tag = NULL;
		ctx->round_sent = TRUE;
		ctx->round_early = TRUE;
		return cmd->count;
	}
	if (array_count(&ctx->round_asked) == 0)
		return 0;
	asked_msgs = array_front(&ctx->round_asked);
	array_foreach_modifiable(&ctx->round_cmds, cmd)
		asked_msgs[cmd->first]->asked_alone = cmd->count == 1;
	return array_count(&ctx->round_asked);
}

/* Send one of the round's commands */
static void folder_import_round_send_cmd(struct folder_import_ctx *ctx,
					 struct folder_fetch_cmd *cmd)
{
	struct import_msg *const *asked_msgs = array_front(&ctx->round_asked);
	struct import_msg *msg = asked_msgs[cmd->first];
	string_t *uids = t_str_new(1024);
	const char *tag;
	unsigned int i;

	if (cmd->count == 1 && msg == ctx->resume_msg) {
		/* the rest of it, from a little before where it stopped */
		uoff_t have = ctx->resume_check.size;
		uoff_t from = have - I_MIN(have, FOLDER_IMPORT_RESUME_OVERLAP);

		tag = imap_source_send(folder_import_src(ctx),
			t_strdup_printf("UID FETCH %u (BODY.PEEK[]<%"
				PRIuUOFF_T".%"PRIuUOFF_T">)", msg->uid,
				from, ctx->resume_total - from));
	} else {
		for (i = 0; i < cmd->count; i++) {
			if (i > 0)
				str_append_c(uids, ',');
			str_printfa(uids, "%u", asked_msgs[cmd->first + i]->uid);
		}
		tag = imap_source_send(folder_import_src(ctx),
			t_strdup_printf("UID FETCH %s (BODY.PEEK[])",
					str_c(uids)));
	}
	cmd->tag = p_strdup(ctx->current->pool, tag);
}

/* Send every command of the round (pipelined) */
static void folder_import_round_send(struct folder_import_ctx *ctx)
{
	struct folder_fetch_cmd *cmd;

	ctx->throttled = NULL;
	array_foreach_modifiable(&ctx->round_cmds, cmd)
		folder_import_round_send_cmd(ctx, cmd);
}

void folder_import_round_send_ahead(struct folder_import_ctx *ctx)
{
	i_assert(!ctx->round_sent && array_count(&ctx->round_asked) > 0);

	folder_import_round_send(ctx);
	ctx->round_sent = TRUE;
}

void folder_import_send_early_bodies(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	const struct remote_folder *remote = ctx->entry->remote;
	struct import_chunk *chunk = ctx->next;

	/* the whole folder in this list; what is decided depends on nothing
	   but the folder itself (its own duplicate index, no labels); no
	   dry run, no pace */
	if (chunk->meta_tag == NULL || chunk->first_seq != 1 ||
	    chunk->last_seq < ctx->result->msgs ||
	    ctx->result->msgs > FOLDER_IMPORT_EARLY_MAX_MSGS ||
	    remote->status_uidnext <= 1 || ctx->retrying ||
	    run->set->dry_run || run->pace_msecs > 0 || ctx->count_only ||
	    ctx->want_labels || ctx->gmail_index != NULL ||
	    (ctx->index != NULL && !ctx->own_index) ||
	    ctx->entry->action != FOLDER_PLAN_COPY)
		return;
	/* mail there already (a re-run without a checkpoint) may be all
	   of it: its bodies are not fetched to be thrown away */
	if (!folder_import_dest_empty(ctx))
		return;
	/* (UIDs below STATUS's UIDNEXT: mail that comes later is not among
	   them; it is listed, and asked for, on its own) */
	chunk->bodies_tag = p_strdup(chunk->pool,
		imap_source_send(folder_import_src(ctx), t_strdup_printf(
			"UID FETCH 1:%u (BODY.PEEK[])",
			remote->status_uidnext - 1)));
	e_debug(run->event, "Folder %s: %severy body asked for with its list",
		str_sanitize(ctx->entry->display_name, 128),
		ctx->primed_list_early ? "opened ahead, " : "");
}

void folder_import_drain_early_bodies(struct folder_import_ctx *ctx,
				      struct import_chunk *chunk)
{
	struct imap_source_reply reply;

	if (chunk->bodies_tag == NULL)
		return;
	/* (while bodies_tag is set, folder_import_literal() throws away
	   what is not wanted; a failure is the connection's: whoever waits
	   next sees it) */
	(void)imap_source_wait(folder_import_src(ctx), chunk->bodies_tag,
			       folder_import_untagged, folder_import_literal,
			       ctx, &reply);
	chunk->bodies_tag = NULL;
}

/* One round: ask for every body still wanted (unless that was done
   ahead) and wait for them. Returns 1 if something was asked for, 0 if
   nothing is wanted, -1 on error. */
static int folder_import_fetch_round(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	struct folder_fetch_cmd *cmd;
	struct import_msg *msg, *const *asked_msgs;
	unsigned int i, count;
	bool paced = run->pace_msecs > 0;

	if (ctx->round_sent) {
		/* sent ahead of the folder's turn */
		ctx->round_sent = FALSE;
		paced = FALSE;
	} else {
		if (folder_import_round_build(ctx) == 0)
			return 0;
		/* (the folder EXAMINEd again sends the round with it; the
		   bodies asked for with the list need nothing sent) */
		if (!ctx->round_sent && folder_import_own_connection(ctx) < 0)
			return -1;
		if (ctx->round_sent) {
			ctx->round_sent = FALSE;
			paced = FALSE;
		} else if (!paced)
			folder_import_round_send(ctx);
	}
	asked_msgs = array_front(&ctx->round_asked);
	if (paced) {
		ctx->throttled = NULL;
		array_foreach_modifiable(&ctx->round_cmds, cmd) {
			/* one at a time, each after a pause */
			if (run->pace_msecs > 0 &&
			    import_run_ctx_sleep(run, run->pace_msecs, TRUE,
						 folder_import_untagged,
						 folder_import_literal, ctx) < 0)
				return -1;
			folder_import_round_send_cmd(ctx, cmd);
			if (folder_import_wait_body_cmd(ctx, cmd,
							asked_msgs) < 0)
				return -1;
			cmd->tag = NULL;
		}
	} else if (run->conns != NULL) {
		/* while these bodies come: the next folders' asked for, if
		   this is the folder's last round (a big folder's rounds
		   would keep theirs waiting unread) */
		(void)imap_source_flush(folder_import_src(ctx));
		import_connections_advance(run->conns, ctx->result->dest_name,
			!folder_import_in_last_chunk(ctx) ? UOFF_T_MAX :
			ctx->round_bytes);
	}
	array_foreach_modifiable(&ctx->round_cmds, cmd) {
		if (cmd->tag != NULL &&
		    folder_import_wait_body_cmd(ctx, cmd, asked_msgs) < 0)
			return -1;
	}

	/* what was asked for and did not come */
	count = array_count(&ctx->round_asked);
	for (i = 0; i < count; i++) {
		msg = asked_msgs[i];
		if (msg->sent || msg->state != IMPORT_MSG_STATE_WANTED)
			continue;
		if (msg->refused != NULL) {
			folder_import_failed(ctx, msg, t_strdup_printf(
				"the server refused to send it: %s",
				msg->refused));
		} else if (ctx->throttled != NULL) {
			/* asked for again after the wait */
		} else if (ctx->round_early) {
			/* asked for by UID in the next round, with the
			   others */
		} else if (!msg->asked_alone) {
			msg->alone = TRUE;
		} else {
			folder_import_failed(ctx, msg,
				"listed by the server but not sent");
		}
	}
	return 1;
}

/* Fetch and save the chunk's bodies, round by round, until every one is
   saved or given up. When the server says NO [THROTTLED] (Gmail's rate
   limits), wait and ask again for what is still missing: 1, 2, 4, ...
   seconds (at most a minute), --throttle-retries times, the session kept
   alive meanwhile. */
int folder_import_fetch_bodies(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	const struct import_remote_settings *set = run->set;
	unsigned int attempt = 0, delay_msecs = set->throttle_delay_msecs;
	int ret;

	for (;;) {
		ret = folder_import_fetch_round(ctx);
		if (ret <= 0)
			return ret;
		if (ctx->throttled == NULL)
			continue;
		if (attempt >= set->throttle_retries) {
			import_run_ctx_set_error(run,
				IMPORT_REMOTE_ERROR_THROTTLED,
				t_strdup_printf("Fetching messages of folder %s "
					"failed after %u retries: %s",
					ctx->entry->display_name, attempt,
					ctx->throttled));
			return -1;
		}
		attempt++;
		e_warning(event_create_passthrough(import_run_ctx_event(run))->
			  set_name("import_remote_throttled")->
			  add_str("action", "retry")->
			  add_int("attempt", attempt)->
			  add_int("delay_msecs", delay_msecs)->event(),
			  "Source "
			  "server is throttling (%s): asking again in %s",
			  ctx->throttled, import_progress_format_wait(delay_msecs));
		if (import_run_ctx_sleep(run, delay_msecs, TRUE,
					 folder_import_untagged,
					 folder_import_literal, ctx) < 0)
			return -1;
		delay_msecs = I_MIN(delay_msecs * 2,
				    IMPORT_REMOTE_MAX_THROTTLE_DELAY_MSECS);
	}
}
