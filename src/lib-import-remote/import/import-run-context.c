/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "time-util.h"
#include "safe-memset.h"
#include "ioloop.h"
#include "lib-signals.h"
#include "mail-user.h"
#include "master-service.h"
#include "import-remote-compat.h"
#include "import-remote-event.h"
#include "import-remote-config.h"
#include "outbound-guard.h"
#include "imap-source.h"
#include "import-tempfiles.h"
#include "import-connections.h"
#include "import-run-context.h"

/* While waiting (throttled, pacing) the session hears from us this often,
   so that a server's idle timeout doesn't end it */
#define IMPORT_RUN_KEEPALIVE_MSECS 3000
/* The longest wait between reconnects */
#define IMPORT_RUN_RECONNECT_MAX_DELAY_MSECS IMPORT_REMOTE_MAX_THROTTLE_DELAY_MSECS

/* SIGTERM or SIGINT during a run (as Dovecot's doveadm does when it goes
   through users): the run stops at its next safe point, within a second
   also while it waits on the network */
static volatile sig_atomic_t import_run_killed_signo = 0;

static void import_run_ctx_sig_die(const siginfo_t *si,
				   void *context ATTR_UNUSED)
{
	import_run_killed_signo = si->si_signo;
}

static bool import_run_ctx_tick(void *context)
{
	return import_run_ctx_progress(context, FALSE);
}

/* While the run waits for the source: the folders opened ahead take the
   answers that are there */
static void import_run_ctx_wait(void *context)
{
	struct import_run_ctx *ctx = context;

	if (ctx->conns != NULL)
		import_connections_advance_waiting(ctx->conns);
}

static void import_run_ctx_wait_watch(struct imap_source *src, bool watch,
				      void *context)
{
	struct import_run_ctx *ctx = context;

	if (ctx->conns != NULL)
		import_connections_watch(ctx->conns, src, watch);
}

void import_run_ctx_init(struct import_run_ctx *ctx, pool_t pool,
			 struct mail_user *user,
			 const struct import_remote_settings *set,
			 import_run_progress_callback_t *progress_callback,
			 void *context, struct import_run_result *result)
{
	i_zero(ctx);
	ctx->pool = pool;
	ctx->user = user;
	ctx->event = import_remote_event_create(set->event_parent != NULL ?
						set->event_parent : user->event);
	event_add_str(ctx->event, "user", user->username);
	event_add_str(ctx->event, "source_host", set->host);
	event_add_int(ctx->event, "source_port",
		      import_remote_settings_get_port(set));
	event_add_str(ctx->event, "source_user", set->username);
	ctx->set = set;
	ctx->result = result;
	ctx->progress = &result->progress;
	ctx->progress_callback = progress_callback;
	ctx->context = context;
	i_gettimeofday(&ctx->start_time);

	ctx->src_set.host = set->host;
	ctx->src_set.port = import_remote_settings_get_port(set);
	ctx->src_set.ssl = set->ssl;
	ctx->src_set.username = set->username;
	ctx->src_set.password = set->password;
	ctx->src_set.auth_mech = set->auth_mech;
	ctx->src_set.tls_insecure = set->tls_insecure;
	ctx->src_set.connect_timeout_msecs = set->connect_timeout_msecs;
	ctx->src_set.cmd_timeout_msecs = set->cmd_timeout_msecs;
	ctx->src_set.tick_callback = import_run_ctx_tick;
	ctx->src_set.tick_context = ctx;
	ctx->src_set.wait_callback = import_run_ctx_wait;
	ctx->src_set.wait_watch_callback = import_run_ctx_wait_watch;
	ctx->src_set.wait_context = ctx;

	import_run_killed_signo = 0;
	lib_signals_set_handler(SIGINT, LIBSIG_FLAG_RESTART,
				import_run_ctx_sig_die, NULL);
	lib_signals_set_handler(SIGTERM, LIBSIG_FLAG_RESTART,
				import_run_ctx_sig_die, NULL);
}

void import_run_ctx_deinit(struct import_run_ctx *ctx)
{
	lib_signals_unset_handler(SIGINT, import_run_ctx_sig_die, NULL);
	lib_signals_unset_handler(SIGTERM, import_run_ctx_sig_die, NULL);
	if (ctx->tempfiles != NULL)
		import_tempfiles_end(&ctx->tempfiles);
	if (ctx->src != NULL)
		imap_source_deinit(&ctx->src);
	if (ctx->ssl_set != NULL)
		import_remote_compat_ssl_client_settings_free(&ctx->ssl_set);
	outbound_guard_deinit(&ctx->guard);
	if (ctx->oauth2_access_token != NULL) {
		safe_memset(ctx->oauth2_access_token, 0,
			    strlen(ctx->oauth2_access_token));
		i_free(ctx->oauth2_access_token);
	}
	if (ctx->oauth2_refresh_token != NULL) {
		safe_memset(ctx->oauth2_refresh_token, 0,
			    strlen(ctx->oauth2_refresh_token));
		i_free(ctx->oauth2_refresh_token);
	}
	event_unref(&ctx->event);
}

/* One login: with a fresh access token if the grant needs one, and once
   more with another if the server refuses one not fresh from the
   endpoint (revoked, or ended before its time). Returns 0, or -1 with
   error_r (ctx->src is NULL if the token endpoint failed). */
static int
import_run_ctx_connect_once(struct import_run_ctx *ctx,
			    struct import_remote_error *error_r)
{
	unsigned int requests = ctx->oauth2_requests;

	if (import_run_ctx_oauth2_token(ctx, FALSE, error_r) < 0)
		return -1;
	if (imap_source_connect(&ctx->src_set, ctx->event, &ctx->src,
				error_r) == 0)
		return 0;
	if (error_r->code != IMPORT_REMOTE_ERROR_TOKEN_REJECTED ||
	    ctx->set->oauth2_grant == IMPORT_REMOTE_OAUTH2_GRANT_NONE ||
	    ctx->oauth2_requests != requests)
		return -1;
	e_debug(ctx->event, "The server refused the "
		"access token: asking for a new one");
	imap_source_deinit(&ctx->src);
	i_zero(error_r);
	if (import_run_ctx_oauth2_token(ctx, TRUE, error_r) < 0)
		return -1;
	return imap_source_connect(&ctx->src_set, ctx->event,
				   &ctx->src, error_r);
}

void import_run_ctx_update_elapsed(struct import_run_ctx *ctx)
{
	struct timeval now;

	i_gettimeofday(&now);
	ctx->progress->elapsed_msecs =
		timeval_diff_msecs(&now, &ctx->start_time);
}

/* A signal asked the process to stop, or the run is over its deadline:
   it ends at this safe point. Returns FALSE with the run's error set. */
static bool import_run_ctx_may_go_on(struct import_run_ctx *ctx)
{
	if (import_run_killed_signo != 0 ||
	    (master_service != NULL && master_service_is_killed(master_service))) {
		import_run_ctx_set_error(ctx, IMPORT_REMOTE_ERROR_INTERRUPTED,
			t_strdup_printf("The import was interrupted (%s): the "
				"process is stopping. What was copied is kept",
				import_run_killed_signo == SIGINT ? "SIGINT" :
				"SIGTERM"));
		return FALSE;
	}
	if (ctx->run_timeout_secs != 0 &&
	    ctx->progress->elapsed_msecs / 1000 >= ctx->run_timeout_secs) {
		import_run_ctx_set_error(ctx, IMPORT_REMOTE_ERROR_RUN_TIMEOUT,
			t_strdup_printf("The import ran for %u seconds, as long "
				"as import_remote_run_timeout allows. What was "
				"copied is kept", ctx->run_timeout_secs));
		return FALSE;
	}
	return TRUE;
}

bool import_run_ctx_progress(struct import_run_ctx *ctx, bool final)
{
	import_run_ctx_update_elapsed(ctx);
	if (!final && !import_run_ctx_may_go_on(ctx))
		return FALSE;
	if (ctx->progress_callback == NULL)
		return TRUE;
	if (ctx->progress_callback(ctx->progress, final, ctx->context) ||
	    final)
		return TRUE;
	import_run_ctx_set_error(ctx, IMPORT_REMOTE_ERROR_CANCELLED,
				 "The import was cancelled");
	return FALSE;
}

static void import_run_ctx_wake(struct ioloop *ioloop)
{
	io_loop_stop(ioloop);
}

/* Wait msecs in an ioloop of its own: timers of the caller's that follow
   the current ioloop (a job's heartbeat) go on firing meanwhile */
static void import_run_ctx_pause(unsigned int msecs)
{
	struct ioloop *ioloop = io_loop_create();
	struct timeout *to;

	to = timeout_add_short(msecs, import_run_ctx_wake, ioloop);
	io_loop_run(ioloop);
	timeout_remove(&to);
	io_loop_destroy(&ioloop);
}

int import_run_ctx_sleep(struct import_run_ctx *ctx, unsigned int msecs,
			 bool keepalive,
			 imap_source_untagged_callback_t *untagged_callback,
			 imap_source_literal_callback_t *literal_callback,
			 void *context)
{
	struct imap_source_reply reply;
	unsigned int slice, idle_msecs = 0;
	const char *tag;

	while (msecs > 0) {
		slice = I_MIN(msecs, 1000);
		import_run_ctx_pause(slice);
		msecs -= slice;
		idle_msecs += slice;
		if (!import_run_ctx_progress(ctx, FALSE))
			return -1;
		/* (not while folders wait behind the current one on its
		   connection: the answers read would be theirs) */
		if (keepalive && ctx->src != NULL &&
		    idle_msecs >= IMPORT_RUN_KEEPALIVE_MSECS &&
		    (ctx->conns == NULL ||
		     !import_connections_has_behind(ctx->conns, ctx->src))) {
			idle_msecs = 0;
			tag = imap_source_send(ctx->src, "NOOP");
			if (imap_source_wait(ctx->src, tag, untagged_callback,
					     literal_callback, context,
					     &reply) < 0)
				return -1;
		}
	}
	return 0;
}

/* How much mail has moved on (counts only go up within a run) */
static unsigned int import_run_ctx_progress_mark(struct import_run_ctx *ctx)
{
	return ctx->progress->msgs_done + ctx->progress->folders_done +
		ctx->resumed_further;
}

/* The wait before reconnect attempt n (1, 2, ...) in a row: none for the
   first one after a connection that worked (a cut link: at once), unless
   the server asked us to wait; then 1, 2, 4 ... 60 seconds. */
static unsigned int
import_run_reconnect_delay_msecs(unsigned int attempt, bool server_busy)
{
	unsigned int n;

	if (attempt <= 1 && !server_busy)
		return 0;
	n = attempt - (server_busy ? 1 : 2);
	if (n >= 6)
		return IMPORT_RUN_RECONNECT_MAX_DELAY_MSECS;
	return I_MIN(1000U << n, IMPORT_RUN_RECONNECT_MAX_DELAY_MSECS);
}

static void import_run_ctx_give_up(struct import_run_ctx *ctx,
				   const struct import_remote_error *error)
{
	if (ctx->progress->reconnects == 0) {
		import_run_ctx_set_error(ctx, error->code, error->detail);
		return;
	}
	import_run_ctx_set_error(ctx, error->code, t_strdup_printf(
		"%s (gave up after %u reconnects in a row, --reconnects)",
		error->detail, ctx->reconnects_in_row));
}

static bool
import_run_ctx_retry(struct import_run_ctx *ctx,
		     const struct import_remote_error *error);

bool import_run_ctx_reconnect(struct import_run_ctx *ctx)
{
	const struct import_remote_error *error;
	unsigned int mark;

	/* a cause of our own (a cancel, a local save) stays the cause */
	if (ctx->error.code != IMPORT_REMOTE_ERROR_NONE || ctx->src == NULL)
		return FALSE;
	error = imap_source_get_error(ctx->src);
	if (!imap_source_is_retryable(ctx->src) ||
	    error->code == IMPORT_REMOTE_ERROR_NONE) {
		import_run_ctx_source_failed(ctx);
		return FALSE;
	}
	mark = import_run_ctx_progress_mark(ctx);
	if (mark != ctx->progress_mark) {
		/* mail moved on since the last reconnect */
		ctx->reconnects_in_row = 0;
		ctx->progress_mark = mark;
	}
	return import_run_ctx_retry(ctx, error);
}

static bool
import_run_ctx_retry(struct import_run_ctx *ctx,
		     const struct import_remote_error *error)
{
	struct import_remote_error last;
	unsigned int delay_msecs;

	last = *error;
	last.detail = p_strdup(ctx->pool, error->detail);
	for (;;) {
		if (ctx->reconnects_in_row >= ctx->set->reconnects) {
			import_run_ctx_give_up(ctx, &last);
			return FALSE;
		}
		ctx->reconnects_in_row++;
		ctx->progress->reconnects++;
		ctx->progress->last_disconnect = last.detail;
		delay_msecs = import_run_reconnect_delay_msecs(
			ctx->reconnects_in_row,
			last.code == IMPORT_REMOTE_ERROR_THROTTLED);
		e_warning(event_create_passthrough(import_run_ctx_event(ctx))->
			  set_name("import_remote_reconnect")->
			  add_str("error_code", import_remote_error_get_info(
					last.code)->name)->
			  add_int("attempt", ctx->reconnects_in_row)->
			  add_int("delay_msecs", delay_msecs)->event(),
			  "%s: reconnecting "
			  "%s%s (%u of %u)", last.detail,
			  delay_msecs == 0 ? "at once" : "in ",
			  delay_msecs == 0 ? "" :
			  import_progress_format_wait(delay_msecs),
			  ctx->reconnects_in_row, ctx->set->reconnects);
		if (ctx->src != NULL) {
			if (ctx->conns != NULL)
				import_connections_src_lost(ctx->conns, ctx->src);
			imap_source_deinit(&ctx->src);
		}
		if (delay_msecs > 0 &&
		    import_run_ctx_sleep(ctx, delay_msecs, FALSE,
					 NULL, NULL, NULL) < 0)
			return FALSE;
		i_zero(&last);
		if (import_run_ctx_connect_once(ctx, &last) == 0) {
			ctx->progress_mark = import_run_ctx_progress_mark(ctx);
			return TRUE;
		}
		last.detail = p_strdup(ctx->pool, last.detail);
		if (ctx->error.code != IMPORT_REMOTE_ERROR_NONE) {
			/* cancelled while connecting */
			return FALSE;
		}
		/* the server may just be restarting: only a login or a
		   certificate that is refused ends the tries */
		if (last.code == IMPORT_REMOTE_ERROR_AUTH_FAILED ||
		    last.code == IMPORT_REMOTE_ERROR_TOKEN_REJECTED ||
		    last.code == IMPORT_REMOTE_ERROR_AUTH_MECH_UNSUPPORTED ||
		    last.code == IMPORT_REMOTE_ERROR_OAUTH2_GRANT_INVALID ||
		    last.code == IMPORT_REMOTE_ERROR_OAUTH2_CLIENT_INVALID ||
		    last.code == IMPORT_REMOTE_ERROR_TLS_FAILED ||
		    last.code == IMPORT_REMOTE_ERROR_SOURCE_NOT_ALLOWED ||
		    last.code == IMPORT_REMOTE_ERROR_INTERNAL) {
			import_run_ctx_set_error(ctx, last.code, last.detail);
			return FALSE;
		}
	}
}

/* What the administrator allows whoever queues an import to connect to:
   whatever the job says, the settings (the user's, with userdb and
   protocol overrides) decide */
static int import_run_ctx_init_guard(struct import_run_ctx *ctx)
{
	const struct import_remote_config *set;
	const char *error;
	int ret;

	if (import_remote_config_get_user(ctx->user, &set, &error) < 0) {
		import_run_ctx_set_error(ctx, IMPORT_REMOTE_ERROR_INTERNAL,
					 error);
		return -1;
	}
	if (ctx->set->ssl == IMPORT_REMOTE_SSL_NONE &&
	    !set->import_remote_allow_plaintext) {
		import_run_ctx_set_error(ctx,
			IMPORT_REMOTE_ERROR_SOURCE_NOT_ALLOWED,
			IMPORT_REMOTE_DETAIL_PLAINTEXT
			" (import_remote_allow_plaintext)");
		import_remote_config_free(&set);
		return -1;
	}
	ret = outbound_guard_init(set->import_remote_allowed_networks,
				  &ctx->guard, &error);
	import_remote_config_free(&set);
	if (ret < 0) {
		/* the settings check refuses it first; a userdb override
		   might not be checked */
		import_run_ctx_set_error(ctx, IMPORT_REMOTE_ERROR_INTERNAL,
					 error);
		return -1;
	}
	outbound_guard_add_own_addresses(ctx->guard);
	ctx->src_set.guard = ctx->guard;
	return 0;
}

int import_run_ctx_connect(struct import_run_ctx *ctx)
{
	struct import_remote_error error;

	i_assert(ctx->src == NULL);

	if (ctx->guard == NULL && import_run_ctx_init_guard(ctx) < 0)
		return -1;

	i_zero(&error);
	if (import_run_ctx_connect_once(ctx, &error) == 0)
		return 0;
	if (ctx->src == NULL) {
		/* the token endpoint failed: tried again like a connection
		   if that may help */
		if (!import_remote_error_get_info(error.code)->transient) {
			import_run_ctx_set_error(ctx, error.code,
						 error.detail);
			return -1;
		}
		return import_run_ctx_retry(ctx, &error) ? 0 : -1;
	}
	/* e.g. cut during the TLS handshake, or a BYE for a greeting */
	return import_run_ctx_reconnect(ctx) ? 0 : -1;
}

bool import_run_ctx_open_extra(struct import_run_ctx *ctx, unsigned int count,
			       struct imap_source **srcs_r,
			       struct import_remote_error *error_r)
{
	struct imap_source_settings set = ctx->src_set;
	unsigned int i;

	i_zero(error_r);
	i_assert(ctx->src != NULL);
	if (import_run_ctx_oauth2_token(ctx, FALSE, error_r) < 0) {
		error_r->detail = p_strdup(ctx->pool, error_r->detail);
		return FALSE;
	}
	/* a server that leaves an extra connection without a greeting (it
	   serves a few at a time) holds it up no longer than this */
	set.connect_timeout_msecs = I_MIN(set.connect_timeout_msecs,
		IMPORT_RUN_EXTRA_CONNECT_TIMEOUT_MSECS);
	for (i = 0; i < count; i++) {
		srcs_r[i] = imap_source_open_start(&set, ctx->event,
			imap_source_get_ip(ctx->src));
	}
	return TRUE;
}

struct event *import_run_ctx_event(struct import_run_ctx *ctx)
{
	return ctx->folder_event != NULL ? ctx->folder_event : ctx->event;
}

void import_run_ctx_warning(struct import_run_ctx *ctx, const char *text)
{
	text = p_strdup(ctx->pool, text);
	array_push_back(&ctx->result->warnings, &text);
}

void import_run_ctx_message_failed(struct import_run_ctx *ctx,
				   const struct import_failed_message *msg)
{
	struct import_failed_message *copy;

	e_warning(event_create_passthrough(import_run_ctx_event(ctx))->
		  set_name("import_remote_message_failed")->
		  add_int("uid", msg->uid)->
		  add_int("size", msg->size)->event(),
		  "Message UID %u in %s "
		  "(%"PRIuUOFF_T" bytes, Message-ID <%s>) not imported: %s",
		  msg->uid, msg->folder, msg->size, msg->message_id,
		  msg->reason);
	ctx->progress->failed++;
	if (array_count(&ctx->result->failed_messages) >=
	    IMPORT_RUN_MAX_FAILED_LISTED)
		return;
	copy = array_append_space(&ctx->result->failed_messages);
	copy->folder = p_strdup(ctx->pool, msg->folder);
	copy->uid = msg->uid;
	copy->size = msg->size;
	copy->message_id = p_strdup(ctx->pool, msg->message_id);
	copy->received = msg->received;
	copy->reason = p_strdup(ctx->pool, msg->reason);
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
	uint64_t limit;
	const char *error;
	int ret;

	ret = import_remote_compat_quota_remaining(ctx->user,
						   &ctx->quota_remaining,
						   &limit, &error);
	if (ret < 0) {
		import_run_ctx_warning(ctx, t_strdup_printf(
			"Quota pre-flight check failed: %s", error));
	}
	ctx->quota_limited = ret > 0;
	/* Dovecot's quota_grace default: a last message may go over by 10 %
	   of the limit */
	ctx->quota_grace = limit / 10;
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
