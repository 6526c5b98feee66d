/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* A folder opened ahead on a connection of its own, advanced while the run
   waits for the source (import-connections.c calls it): its list taken
   and its first chunk decided as far as the answers that are there allow,
   then its bodies asked for within the bytes allowed ahead. Nothing of it
   is saved before its turn. */

#include "lib.h"
#include "array.h"
#include "str-sanitize.h"
#include "import-remote-error.h"
#include "folder-plan.h"
#include "folder-import.h"
#include "folder-import-private.h"

/* Can the folder be advanced: its decision depends on nothing the
   folders before it still do (its own duplicate index, not the account's
   or Gmail's), its first list went out with its EXAMINE, and it is
   neither a dry run's nor paced */
static bool folder_import_can_advance(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;

	return ctx->primed_tag != NULL && ctx->primed_list_early &&
		!run->set->dry_run && !ctx->count_only && !ctx->want_labels &&
		ctx->gmail_index == NULL && run->pace_msecs == 0 &&
		(ctx->index == NULL || ctx->own_index) &&
		ctx->entry->action == FOLDER_PLAN_COPY &&
		run->error.code == IMPORT_REMOTE_ERROR_NONE;
}

/* Returns 1 when the first chunk is decided or waits for the server, 0
   when the folder has nothing to list, -1 on error */
static int folder_import_advance_run(struct folder_import_ctx *ctx)
{
	int ret;

	if (folder_import_open_local(ctx) < 0 ||
	    folder_import_position(ctx) < 0)
		return -1;
	ret = folder_import_chunks(ctx, TRUE);
	return ret < 0 ? -1 : (ret == 0 ? 0 : 1);
}

/* Up to its first chunk decided, without waiting for the server. Returns
   FALSE if not (yet) decided. */
static bool folder_import_advance_decide(struct folder_import_ctx *ctx)
{
	struct import_run_ctx *run = ctx->run;
	int ret;

	if (ctx->advance_decided)
		return TRUE;
	if (ctx->advance_failed ||
	    (!ctx->advanced && !folder_import_can_advance(ctx)))
		return FALSE;
	/* its answers not there yet: waiting for them would keep every
	   connection waiting (looked at again at the next wait) */
	if (!imap_source_has_input(folder_import_src(ctx)))
		return FALSE;
	ctx->advanced = TRUE;
	T_BEGIN {
		ret = folder_import_advance_run(ctx);
	} T_END;
	if (ret < 0) {
		ctx->advance_failed = TRUE;
		switch (run->error.code) {
		case IMPORT_REMOTE_ERROR_CANCELLED:
		case IMPORT_REMOTE_ERROR_INTERRUPTED:
		case IMPORT_REMOTE_ERROR_RUN_TIMEOUT:
			/* the run's end, seen while waiting here */
			break;
		default:
			/* not the run's failure yet: the folder's, when it
			   runs */
			ctx->advance_error = run->error;
			i_zero(&run->error);
			break;
		}
		return FALSE;
	}
	if (ret > 0 && ctx->current->state != IMPORT_CHUNK_DECIDED) {
		/* its headers are on their way */
		return FALSE;
	}
	ctx->advance_decided = TRUE;
	/* nothing to list, or nothing of it to fetch (or its bodies were
	   asked for with the list) */
	ctx->advanced_all = ret == 0 ||
		((folder_import_round_build(ctx) == 0 || ctx->round_sent) &&
		 folder_import_in_last_chunk(ctx));
	if (ctx->round_sent) {
		e_debug(run->event, "Folder %s: %u bodies "
			"(%"PRIuUOFF_T" bytes) asked for ahead, with its list",
			str_sanitize(ctx->entry->display_name, 128),
			array_count(&ctx->round_asked), ctx->round_bytes);
	}
	return TRUE;
}

void folder_import_advance(struct folder_import_ctx *ctx, uoff_t *max_bytes)
{
	struct import_run_ctx *run = ctx->run;

	if (!folder_import_advance_decide(ctx))
		return;
	/* its round (built when it was decided), within what may be asked
	   for ahead, and not while the server asks for a slower pace */
	if (!ctx->round_sent && array_is_created(&ctx->round_asked) &&
	    array_count(&ctx->round_asked) > 0 &&
	    ctx->round_bytes <= *max_bytes && run->pace_msecs == 0) T_BEGIN {
		folder_import_round_send_ahead(ctx);
		e_debug(run->event, "Folder %s: %u bodies "
			"(%"PRIuUOFF_T" bytes) asked for ahead",
			str_sanitize(ctx->entry->display_name, 128),
			array_count(&ctx->round_asked), ctx->round_bytes);
		ctx->advanced_all = folder_import_in_last_chunk(ctx);
	} T_END;
	if (ctx->round_sent)
		*max_bytes -= I_MIN(ctx->round_bytes, *max_bytes);
}

bool folder_import_all_asked(struct folder_import_ctx *ctx)
{
	return ctx->advance_decided && ctx->advanced_all &&
		!ctx->advance_failed;
}

bool folder_import_all_sent(struct folder_import_ctx *ctx)
{
	/* opened ahead, not looked at yet, every body asked for with its
	   list */
	if (!ctx->advanced && ctx->primed_tag != NULL &&
	    ctx->next->bodies_tag != NULL)
		return TRUE;
	return folder_import_all_asked(ctx);
}

void folder_import_primed_drain(struct folder_import_ctx *ctx)
{
	struct imap_source_reply reply;

	/* (a failure is the connection's: whoever waits next sees it; a
	   failed connection is not read again) */
	if (ctx->primed_tag != NULL) {
		(void)imap_source_wait(folder_import_src(ctx), ctx->primed_tag,
				       NULL, folder_import_literal, ctx,
				       &reply);
	}
	if (ctx->next->meta_tag != NULL) {
		(void)imap_source_wait(folder_import_src(ctx),
				       ctx->next->meta_tag, NULL,
				       folder_import_literal, ctx, &reply);
	}
	folder_import_drain_early_bodies(ctx, ctx->current);
	folder_import_drain_early_bodies(ctx, ctx->next);
}

void folder_import_primed_reset(struct folder_import_ctx *ctx)
{
	i_free(ctx->primed_tag);
	import_chunk_reset(ctx->next, 1);
	ctx->select_pending = FALSE;
	ctx->exists = ctx->uidvalidity = ctx->uidnext = 0;
}

void folder_import_primed_send(struct folder_import_ctx *ctx)
{
	T_BEGIN {
		folder_import_prime_start(ctx);
	} T_END;
}

uoff_t folder_import_ahead_to_come(struct folder_import_ctx *ctx)
{
	if (!ctx->advance_decided)
		return 0;
	if (!ctx->advanced_all)
		return UOFF_T_MAX;
	return ctx->round_sent ? ctx->round_bytes : 0;
}
