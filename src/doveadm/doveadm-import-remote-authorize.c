/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* doveadm import-remote authorize: the OAuth2 device authorization grant
   (RFC 8628) for a person without a web app. It asks the provider for a
   code, prints where to enter it, polls the token endpoint until the
   person said yes (or no, or the code ran out), and keeps the refresh
   token for the user's imports in the job store, encrypted
   (oauth2-grant-store.h). run/start --oauth2-authorized use it. Neither
   the device code nor a token is ever printed or logged. */

#include "lib.h"
#include "istream.h"
#include "str.h"
#include "sleep.h"
#include "safe-memset.h"
#include "str-sanitize.h"
#include "doveadm-mail.h"
#include "doveadm-print.h"
#include "mail-user.h"
#include "import-remote-compat.h"
#include "import-remote-config.h"
#include "import-remote-error.h"
#include "import-remote-event.h"
#include "import-remote-settings.h"
#include "outbound-guard.h"
#include "oauth2-token.h"
#include "job-store.h"
#include "oauth2-grant-store.h"
#include "doveadm-import-remote-compat.h"
#include "doveadm-import-remote.h"

#include <time.h>

struct import_remote_authorize_cmd_context {
	struct doveadm_mail_cmd_context ctx;
	const char *device_url, *token_url, *client_id, *client_secret;
	const char *scope;
	/* --source-user: the account at the provider */
	const char *source_user;
};

static int
authorize_usage(struct doveadm_mail_cmd_context *_ctx, const char *msg)
{
	return doveadm_import_remote_fail(&_ctx->exit_code, EX_USAGE, "%s",
					  msg);
}

static int authorize_check_url(struct doveadm_mail_cmd_context *_ctx,
			       const char *what, const char *url)
{
	const char *error;

	if (oauth2_token_url_check(url, &error) < 0) {
		return doveadm_import_remote_fail(&_ctx->exit_code, EX_USAGE,
			"Invalid --%s: %s", what, error);
	}
	return 0;
}

/* --provider: the endpoints and scope where the command line says none */
static int authorize_provider(struct import_remote_authorize_cmd_context *ctx)
{
	struct doveadm_mail_cmd_context *_ctx = &ctx->ctx;
	const char *provider, *tenant = NULL;

	(void)doveadm_cmd_param_str(_ctx->cctx, "oauth2-tenant", &tenant);
	if (!doveadm_cmd_param_str(_ctx->cctx, "provider", &provider)) {
		if (tenant != NULL)
			return authorize_usage(_ctx, "--oauth2-tenant goes "
					       "with --provider microsoft");
		return 0;
	}
	if (strcmp(provider, "google") == 0) {
		if (tenant != NULL)
			return authorize_usage(_ctx, "--oauth2-tenant goes "
					       "with --provider microsoft");
		if (ctx->device_url == NULL)
			ctx->device_url = "https://oauth2.googleapis.com/device/code";
		if (ctx->token_url == NULL)
			ctx->token_url = "https://oauth2.googleapis.com/token";
		if (ctx->scope == NULL)
			ctx->scope = "https://mail.google.com/";
		return 0;
	}
	if (strcmp(provider, "microsoft") != 0) {
		return doveadm_import_remote_fail(&_ctx->exit_code, EX_USAGE,
			"Invalid --provider: %s (google, microsoft)",
			str_sanitize(provider, 64));
	}
	/* personal and work accounts alike, unless a tenant is said */
	if (tenant == NULL)
		tenant = "common";
	if (tenant[0] == '\0' ||
	    strspn(tenant, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		   "0123456789.-") != strlen(tenant)) {
		return doveadm_import_remote_fail(&_ctx->exit_code, EX_USAGE,
			"Invalid --oauth2-tenant: %s", str_sanitize(tenant, 64));
	}
	if (ctx->device_url == NULL) {
		ctx->device_url = p_strdup_printf(_ctx->pool,
			"https://login.microsoftonline.com/%s/oauth2/v2.0/"
			"devicecode", tenant);
	}
	if (ctx->token_url == NULL) {
		ctx->token_url = p_strdup_printf(_ctx->pool,
			"https://login.microsoftonline.com/%s/oauth2/v2.0/token",
			tenant);
	}
	if (ctx->scope == NULL) {
		ctx->scope = "https://outlook.office365.com/"
			"IMAP.AccessAsUser.All offline_access";
	}
	return 0;
}

static void import_remote_authorize_init(DOVEADM_IMPORT_REMOTE_INIT_ARGS)
{
	struct import_remote_authorize_cmd_context *ctx =
		(struct import_remote_authorize_cmd_context *)_ctx;
	struct istream *input;
	const char *str, *error;

	if (doveadm_cmd_param_str(_ctx->cctx, "oauth2-device-url", &str)) {
		if (authorize_check_url(_ctx, "oauth2-device-url", str) < 0)
			return;
		ctx->device_url = p_strdup(_ctx->pool, str);
	}
	if (doveadm_cmd_param_str(_ctx->cctx, "oauth2-token-url", &str)) {
		if (authorize_check_url(_ctx, "oauth2-token-url", str) < 0)
			return;
		ctx->token_url = p_strdup(_ctx->pool, str);
	}
	if (doveadm_cmd_param_str(_ctx->cctx, "oauth2-scope", &str))
		ctx->scope = p_strdup(_ctx->pool, str);
	if (authorize_provider(ctx) < 0)
		return;
	if (ctx->device_url == NULL || ctx->token_url == NULL) {
		(void)authorize_usage(_ctx, "authorize needs --provider "
			"google|microsoft, or --oauth2-device-url and "
			"--oauth2-token-url");
		return;
	}
	if (!doveadm_cmd_param_str(_ctx->cctx, "oauth2-client-id", &str) ||
	    str[0] == '\0' || strpbrk(str, "\r\n") != NULL) {
		(void)authorize_usage(_ctx, "authorize needs "
				      "--oauth2-client-id");
		return;
	}
	ctx->client_id = p_strdup(_ctx->pool, str);
	if (doveadm_cmd_param_str(_ctx->cctx,
				  DOVEADM_IMPORT_REMOTE_PARAM_SOURCE_USER, &str)) {
		if (str[0] == '\0' || import_remote_has_control_chars(str)) {
			(void)authorize_usage(_ctx, "Invalid --source-user: "
				"empty, or a control character or line break");
			return;
		}
		ctx->source_user = p_strdup(_ctx->pool, str);
	}
	if (doveadm_cmd_param_istream(_ctx->cctx, "oauth2-client-secret-file",
				      &input)) {
		i_stream_seek(input, 0);
		if (import_remote_password_read_stream(input, _ctx->pool,
				&ctx->client_secret, &error) < 0) {
			(void)doveadm_import_remote_fail(&_ctx->exit_code,
				input->stream_errno == 0 ? EX_DATAERR :
				EX_NOINPUT, "--oauth2-client-secret-file: %s",
				error);
			return;
		}
	}
	doveadm_print_header_simple("verification_uri");
	doveadm_print_header_simple("user_code");
	doveadm_print_header_simple("verification_uri_complete");
	doveadm_import_remote_header_num("expires_in");
}

static int
authorize_fail(struct doveadm_mail_cmd_context *_ctx,
	       const struct import_remote_error *error)
{
	e_error(import_remote_event(), "%s: %s",
		import_remote_error_get_title_detail(error->code,
						     error->detail),
		str_sanitize_utf8(error->detail == NULL ? "" :
				  error->detail, 4096));
	_ctx->exit_code = import_remote_error_get_info(error->code)->exit_code;
	return -1;
}

/* Poll until the person answered, the code ran out or we were killed.
   Returns 0 with result_r, or -1 with error_r. */
static int
authorize_poll(struct import_remote_authorize_cmd_context *ctx,
	       const struct oauth2_token_settings *oset,
	       const struct oauth2_device_code *code,
	       struct oauth2_token_result *result_r,
	       struct import_remote_error *error_r)
{
	time_t end = time(NULL) + code->expires_in;
	unsigned int interval = code->interval;
	int ret;

	for (;;) {
		if (time(NULL) + (time_t)interval > end) {
			i_zero(error_r);
			import_remote_error_set(error_r,
				IMPORT_REMOTE_ERROR_OAUTH2_DEVICE_EXPIRED,
				t_strdup_printf("No answer within %u s",
						code->expires_in));
			return -1;
		}
		if (!i_sleep_intr_msecs(interval * 1000)) {
			i_zero(error_r);
			import_remote_error_set(error_r,
				IMPORT_REMOTE_ERROR_INTERRUPTED,
				"Interrupted while waiting for the sign-in");
			return -1;
		}
		ret = oauth2_device_poll(oset, code->device_code,
					 ctx->ctx.pool, result_r, error_r);
		if (ret == 0)
			return 0;
		if (ret < 0)
			return -1;
		if (ret == 2) {
			/* RFC 8628 3.5: slow_down, 5 s more from now on */
			interval = I_MIN(interval + 5,
					 OAUTH2_DEVICE_MAX_INTERVAL);
			e_debug(import_remote_event(), "OAuth2: slow_down: "
				"polling every %u s", interval);
		}
	}
}

static int
import_remote_authorize_run(struct doveadm_mail_cmd_context *_ctx,
			    struct mail_user *user)
{
	struct import_remote_authorize_cmd_context *ctx =
		(struct import_remote_authorize_cmd_context *)_ctx;
	const struct import_remote_config *set;
	const struct ssl_iostream_settings *ssl_set = NULL;
	struct outbound_guard *guard = NULL;
	struct oauth2_token_settings oset;
	struct oauth2_device_code code;
	struct oauth2_token_result result;
	struct import_remote_error error;
	struct oauth2_grant grant;
	struct job_store *store = NULL;
	unsigned char key[SECRET_BOX_KEY_LEN];
	const char *errstr;
	int ret;

	/* 2.3 runs the command even when init() failed */
	if (_ctx->exit_code != 0)
		return -1;
	/* the store first: no code asked for that could not be kept */
	if (doveadm_import_remote_store_open(_ctx->cctx, user, &store, key,
					     &_ctx->exit_code) < 0)
		return -1;
	if (import_remote_config_get_user(user, &set, &errstr) < 0) {
		e_error(import_remote_event(), "%s", errstr);
		_ctx->exit_code = EX_CONFIG;
		job_store_close(&store);
		return -1;
	}
	ret = outbound_guard_init(set->import_remote_allowed_networks,
				  &guard, &errstr);
	import_remote_config_free(&set);
	if (ret < 0) {
		e_error(import_remote_event(), "%s", errstr);
		_ctx->exit_code = EX_CONFIG;
		job_store_close(&store);
		return -1;
	}
	outbound_guard_add_own_addresses(guard);

	i_zero(&oset);
	oset.token_url = ctx->token_url;
	oset.client_id = ctx->client_id;
	oset.client_secret = ctx->client_secret;
	oset.scope = ctx->scope;
	oset.guard = guard;
	oset.event = import_remote_event();
	if (import_remote_compat_ssl_client_settings(user, _ctx->pool, FALSE,
						     &ssl_set, &errstr) < 0) {
		e_error(import_remote_event(), "%s", errstr);
		_ctx->exit_code = EX_CONFIG;
		ret = -1;
	} else {
		import_remote_compat_ssl_ca(ssl_set, &oset.ca_file,
					    &oset.ca_content, &oset.ca_dir);
		ret = 0;
	}

	if (ret == 0 && oauth2_device_authorize(&oset, ctx->device_url,
						_ctx->pool, &code, &error) < 0)
		ret = authorize_fail(_ctx, &error);
	if (ret == 0) {
		doveadm_print(code.verification_uri);
		doveadm_print(code.user_code);
		doveadm_print(code.verification_uri_complete == NULL ? "" :
			      code.verification_uri_complete);
		doveadm_print_num(code.expires_in);
		doveadm_print_flush();
		if (authorize_poll(ctx, &oset, &code, &result, &error) < 0)
			ret = authorize_fail(_ctx, &error);
		safe_memset((char *)code.device_code, 0,
			    strlen(code.device_code));
	}
	if (ret == 0 && result.refresh_token == NULL) {
		i_zero(&error);
		import_remote_error_set(&error,
			IMPORT_REMOTE_ERROR_OAUTH2_CLIENT_INVALID,
			"The token endpoint gave no refresh token (ask for "
			"offline access in --oauth2-scope)");
		ret = authorize_fail(_ctx, &error);
	}
	if (ret == 0) {
		i_zero(&grant);
		grant.username = user->username;
		grant.token_url = ctx->token_url;
		grant.client_id = ctx->client_id;
		grant.client_secret = ctx->client_secret;
		grant.scope = ctx->scope;
		grant.refresh_token = result.refresh_token;
		grant.source_user = ctx->source_user;
		if (oauth2_grant_store_set(store, key, &grant, &errstr) < 0) {
			e_error(import_remote_event(), "%s", errstr);
			_ctx->exit_code = EX_TEMPFAIL;
			ret = -1;
		} else {
			e_info(import_remote_event(), "Signed in: the refresh "
			       "token is kept for %s's imports "
			       "(--oauth2-authorized)",
			       str_sanitize(user->username, 255));
		}
	}
	if (ret == 0) {
		safe_memset((char *)result.access_token, 0,
			    strlen(result.access_token));
		safe_memset((char *)result.refresh_token, 0,
			    strlen(result.refresh_token));
	}
	if (ssl_set != NULL)
		import_remote_compat_ssl_client_settings_free(&ssl_set);
	safe_memset(key, 0, sizeof(key));
	outbound_guard_deinit(&guard);
	job_store_close(&store);
	return ret;
}

static void import_remote_authorize_deinit(struct doveadm_mail_cmd_context *_ctx)
{
	struct import_remote_authorize_cmd_context *ctx =
		(struct import_remote_authorize_cmd_context *)_ctx;

	if (ctx->client_secret != NULL) {
		safe_memset((char *)ctx->client_secret, 0,
			    strlen(ctx->client_secret));
	}
}

static struct doveadm_mail_cmd_context *import_remote_authorize_alloc(void)
{
	struct import_remote_authorize_cmd_context *ctx;

	ctx = doveadm_mail_cmd_alloc(struct import_remote_authorize_cmd_context);
	ctx->ctx.v.init = import_remote_authorize_init;
	ctx->ctx.v.run = import_remote_authorize_run;
	ctx->ctx.v.deinit = import_remote_authorize_deinit;
	doveadm_print_init(DOVEADM_PRINT_TYPE_FLOW);
	return &ctx->ctx;
}

struct doveadm_cmd_ver2 doveadm_cmd_import_remote_authorize = {
	.name = "import-remote authorize",
	.cmd = doveadm_import_remote_mail_cmd,
	.mail_cmd = import_remote_authorize_alloc,
	.usage = "-u <user> [--provider google|microsoft "
		"[--oauth2-tenant <tenant>]] [--oauth2-device-url <url>] "
		"[--oauth2-token-url <url>] --oauth2-client-id <id> "
		"[--oauth2-client-secret-file <file>] [--oauth2-scope <scope>] "
		"[--source-user <account at the provider>]",
DOVEADM_CMD_PARAMS_START
DOVEADM_IMPORT_REMOTE_CMD_USER_PARAMS
DOVEADM_CMD_PARAM('\0', "provider", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "oauth2-tenant", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "oauth2-device-url", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "oauth2-token-url", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "oauth2-client-id", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', "oauth2-client-secret-file", CMD_PARAM_ISTREAM, 0)
DOVEADM_CMD_PARAM('\0', "oauth2-scope", CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAM('\0', DOVEADM_IMPORT_REMOTE_PARAM_SOURCE_USER, CMD_PARAM_STR, 0)
DOVEADM_CMD_PARAMS_END
};

/* --- run/start --oauth2-authorized --- */

struct doveadm_import_remote_authorized {
	struct job_store *store;
	unsigned char key[SECRET_BOX_KEY_LEN];
	struct oauth2_grant grant;
};

bool doveadm_import_remote_authorized(struct doveadm_mail_cmd_context *_ctx)
{
	bool authorized = FALSE;

	return doveadm_cmd_param_bool(_ctx->cctx, "oauth2-authorized",
				      &authorized) && authorized;
}

/* The token endpoint rotated the refresh token: the kept one is spent,
   the new one kept in its place */
static void doveadm_import_remote_authorized_rotated(const char *refresh_token,
						     void *context)
{
	struct doveadm_import_remote_authorized *auth = context;
	const char *error;

	auth->grant.refresh_token = refresh_token;
	if (oauth2_grant_store_set(auth->store, auth->key, &auth->grant,
				   &error) < 0) {
		e_error(import_remote_event(), "Keeping the rotated refresh "
			"token for %s failed: %s",
			str_sanitize(auth->grant.username, 255), error);
	}
	auth->grant.refresh_token = NULL;
}

int doveadm_import_remote_authorized_load(struct doveadm_mail_cmd_context *_ctx,
		struct mail_user *user, struct import_remote_settings *set,
		struct doveadm_import_remote_authorized **auth_r)
{
	struct doveadm_import_remote_authorized *auth;
	const char *error;
	int ret;

	auth = p_new(_ctx->pool, struct doveadm_import_remote_authorized, 1);
	if (doveadm_import_remote_store_open(_ctx->cctx, user, &auth->store,
					     auth->key, &_ctx->exit_code) < 0)
		return -1;
	ret = oauth2_grant_store_get(auth->store, auth->key, user->username,
				     _ctx->pool, &auth->grant, &error);
	if (ret <= 0) {
		if (ret < 0) {
			e_error(import_remote_event(), "%s", error);
			_ctx->exit_code = EX_TEMPFAIL;
		} else {
			e_error(import_remote_event(), "No OAuth2 grant is "
				"kept for %s: sign in first with "
				"doveadm import-remote authorize",
				str_sanitize(user->username, 255));
			_ctx->exit_code = EX_NOPERM;
		}
		doveadm_import_remote_authorized_end(&auth);
		return -1;
	}
	set->oauth2_grant = IMPORT_REMOTE_OAUTH2_GRANT_REFRESH_TOKEN;
	set->oauth2_token_url = auth->grant.token_url;
	set->oauth2_client_id = auth->grant.client_id;
	set->oauth2_client_secret = auth->grant.client_secret;
	set->oauth2_scope = auth->grant.scope;
	set->oauth2_refresh_token = auth->grant.refresh_token;
	auth->grant.refresh_token = NULL;
	/* the account authorize was told, unless --user says another */
	if (set->username == NULL)
		set->username = auth->grant.source_user;
	if (set->username == NULL) {
		e_error(import_remote_event(), "Missing source username: "
			"give --user, or keep it with the grant "
			"(authorize --source-user)");
		_ctx->exit_code = EX_USAGE;
		doveadm_import_remote_authorized_end(&auth);
		return -1;
	}
	if (import_remote_settings_check(set, &error) < 0) {
		e_error(import_remote_event(), "%s", error);
		_ctx->exit_code = EX_USAGE;
		doveadm_import_remote_authorized_end(&auth);
		return -1;
	}
	set->oauth2_rotated_callback = doveadm_import_remote_authorized_rotated;
	set->oauth2_rotated_context = auth;
	*auth_r = auth;
	return 0;
}

void doveadm_import_remote_authorized_end(
		struct doveadm_import_remote_authorized **_auth)
{
	struct doveadm_import_remote_authorized *auth = *_auth;

	*_auth = NULL;
	if (auth == NULL)
		return;
	safe_memset(auth->key, 0, sizeof(auth->key));
	if (auth->store != NULL)
		job_store_close(&auth->store);
}
