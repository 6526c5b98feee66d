/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "time-util.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "imap-source.h"
#include "import-run-context.h"

void import_run_ctx_init(struct import_run_ctx *ctx, pool_t pool,
			 struct mail_user *user,
			 const struct import_remote_settings *set,
			 import_run_progress_callback_t *progress_callback,
			 void *context, struct import_run_result *result)
{
	i_zero(ctx);
	ctx->pool = pool;
	ctx->user = user;
	ctx->set = set;
	ctx->result = result;
	ctx->progress = &result->progress;
	ctx->progress_callback = progress_callback;
	ctx->context = context;
	i_gettimeofday(&ctx->start_time);
}

void import_run_ctx_update_elapsed(struct import_run_ctx *ctx)
{
	struct timeval now;

	i_gettimeofday(&now);
	ctx->progress->elapsed_msecs =
		timeval_diff_msecs(&now, &ctx->start_time);
}

bool import_run_ctx_progress(struct import_run_ctx *ctx, bool final)
{
	import_run_ctx_update_elapsed(ctx);
	if (ctx->progress_callback == NULL)
		return TRUE;
	if (ctx->progress_callback(ctx->progress, final, ctx->context) ||
	    final)
		return TRUE;
	import_run_ctx_set_error(ctx, IMPORT_REMOTE_ERROR_CANCELLED,
				 "The import was cancelled");
	return FALSE;
}

void import_run_ctx_warning(struct import_run_ctx *ctx, const char *text)
{
	text = p_strdup(ctx->pool, text);
	array_push_back(&ctx->result->warnings, &text);
}

void import_run_ctx_set_error(struct import_run_ctx *ctx,
			      enum import_remote_error_code code,
			      const char *detail)
{
	import_remote_error_set(&ctx->error, code,
				p_strdup(ctx->pool, detail));
}

void import_run_ctx_source_failed(struct import_run_ctx *ctx)
{
	const struct import_remote_error *error;

	if (ctx->src == NULL)
		return;
	error = imap_source_get_error(ctx->src);
	if (error->code != IMPORT_REMOTE_ERROR_NONE)
		import_run_ctx_set_error(ctx, error->code, error->detail);
}

void import_run_ctx_quota_preflight(struct import_run_ctx *ctx)
{
	const char *error;
	int ret;

	ret = import_remote_compat_quota_remaining(ctx->user,
						   &ctx->quota_remaining,
						   &error);
	if (ret < 0) {
		import_run_ctx_warning(ctx, t_strdup_printf(
			"Quota pre-flight check failed: %s", error));
	}
	ctx->quota_limited = ret > 0;
}

void import_run_ctx_check_quota(struct import_run_ctx *ctx)
{
	uoff_t selected = ctx->progress->bytes_total;

	if (!ctx->quota_limited || ctx->quota_warned ||
	    selected <= ctx->quota_remaining)
		return;
	ctx->quota_warned = TRUE;
	import_run_ctx_warning(ctx, t_strdup_printf(
		"The mail to import (%s so far) is more than the %s left in "
		"the user's quota: the import will stop when the quota is "
		"full. Raise the quota, or import recent mail first "
		"(--since, --newest-first).",
		import_progress_format_size(selected),
		import_progress_format_size(ctx->quota_remaining)));
}
