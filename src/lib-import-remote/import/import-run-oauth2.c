/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The run's OAuth2 sign-in: the access token for each login, from the
   grant's token endpoint, or the app's token that this process or another
   worker already got */

#include "lib.h"
#include "safe-memset.h"
#include "import-remote-compat.h"
#include "import-remote-config.h"
#include "oauth2-token.h"
#include "oauth2-token-cache.h"
#include "import-run-context.h"

#include <time.h>

/* An access token this close to its end is not used for a new login */
#define IMPORT_RUN_TOKEN_MARGIN_SECS 60

static int
import_run_ctx_oauth2_request(struct import_run_ctx *ctx,
			      struct oauth2_token_settings *oset,
			      struct oauth2_token_result *result_r,
			      struct import_remote_error *error_r)
{
	struct oauth2_service_account account;
	const char *error;

	switch (ctx->set->oauth2_grant) {
	case IMPORT_REMOTE_OAUTH2_GRANT_NONE:
		break;
	case IMPORT_REMOTE_OAUTH2_GRANT_REFRESH_TOKEN:
		return oauth2_token_refresh(oset, ctx->oauth2_refresh_token,
					    pool_datastack_create(), result_r,
					    error_r);
	case IMPORT_REMOTE_OAUTH2_GRANT_CLIENT_CREDENTIALS:
		return oauth2_token_client_credentials(oset,
					pool_datastack_create(), result_r,
					error_r);
	case IMPORT_REMOTE_OAUTH2_GRANT_JWT_BEARER:
		if (oauth2_service_account_parse(
				ctx->set->oauth2_service_account,
				pool_datastack_create(), &account,
				&error) < 0) {
			i_zero(error_r);
			import_remote_error_set(error_r,
				IMPORT_REMOTE_ERROR_OAUTH2_CLIENT_INVALID,
				error);
			return -1;
		}
		oset->client_id = account.client_email;
		if (oauth2_token_jwt_bearer(oset, &account, ctx->set->username,
					    pool_datastack_create(), result_r,
					    error_r) == 0)
			return 0;
		/* the hint tells a service account's causes apart */
		if (strncmp(error_r->detail,
			    IMPORT_REMOTE_DETAIL_SERVICE_ACCOUNT,
			    strlen(IMPORT_REMOTE_DETAIL_SERVICE_ACCOUNT)) != 0) {
			error_r->detail = t_strdup_printf("%s %s: %s",
				IMPORT_REMOTE_DETAIL_SERVICE_ACCOUNT,
				account.client_email, error_r->detail);
		}
		return -1;
	}
	i_unreached();
}

static const char *
import_run_ctx_oauth2_cache_key(struct import_run_ctx *ctx)
{
	return oauth2_token_cache_key(ctx->set->oauth2_token_url,
				      ctx->set->oauth2_client_id,
				      ctx->set->oauth2_scope,
				      ctx->set->oauth2_client_certificate != NULL ?
				      ctx->set->oauth2_client_certificate :
				      ctx->set->oauth2_client_secret);
}

/* The app's own token (client credentials) that an earlier import of
   this process, or another worker, got, if it is good for a while yet: one
   token request per token lifetime for a whole tenant's batch. force: the server refused
   ours, it is forgotten. Returns TRUE if one is used. */
static bool
import_run_ctx_oauth2_cached(struct import_run_ctx *ctx, bool force,
			     time_t now)
{
	const char *key = import_run_ctx_oauth2_cache_key(ctx);
	const char *token;
	time_t expires;

	if (force) {
		oauth2_token_cache_drop(ctx->event, key);
		return FALSE;
	}
	token = oauth2_token_cache_get(ctx->event, key, now, &expires);
	if (token == NULL || now + IMPORT_RUN_TOKEN_MARGIN_SECS >= expires) {
		/* another worker may be asking for one right now */
		token = oauth2_token_cache_await(ctx->event, key, now,
						 IMPORT_RUN_TOKEN_MARGIN_SECS,
						 &expires);
		if (token == NULL)
			return FALSE;
	}
	if (ctx->oauth2_access_token != NULL) {
		safe_memset(ctx->oauth2_access_token, 0,
			    strlen(ctx->oauth2_access_token));
		i_free(ctx->oauth2_access_token);
	}
	ctx->oauth2_access_token = i_strdup(token);
	ctx->oauth2_expires = expires;
	ctx->src_set.password = ctx->oauth2_access_token;
	e_debug(ctx->event, "OAuth2: the app's access "
		"token of an earlier import is good for %ld s more",
		(long)(expires - now));
	return TRUE;
}

int import_run_ctx_oauth2_token(struct import_run_ctx *ctx, bool force,
				struct import_remote_error *error_r)
{
	struct oauth2_token_settings oset;
	struct oauth2_token_result result;
	time_t now = time(NULL);
	int ret;

	if (ctx->set->oauth2_grant == IMPORT_REMOTE_OAUTH2_GRANT_NONE)
		return 0;
	if (!force && ctx->oauth2_access_token != NULL &&
	    (ctx->oauth2_expires == 0 ||
	     now + IMPORT_RUN_TOKEN_MARGIN_SECS < ctx->oauth2_expires))
		return 0;
	if (ctx->set->oauth2_grant ==
	    IMPORT_REMOTE_OAUTH2_GRANT_CLIENT_CREDENTIALS &&
	    import_run_ctx_oauth2_cached(ctx, force, now))
		return 0;
	if (ctx->oauth2_refresh_token == NULL &&
	    ctx->set->oauth2_refresh_token != NULL) {
		ctx->oauth2_refresh_token =
			i_strdup(ctx->set->oauth2_refresh_token);
	}

	i_zero(&oset);
	oset.token_url = ctx->set->oauth2_token_url;
	oset.client_id = ctx->set->oauth2_client_id;
	oset.client_secret = ctx->set->oauth2_client_secret;
	oset.client_certificate = ctx->set->oauth2_client_certificate;
	oset.client_key = ctx->set->oauth2_client_key;
	oset.scope = ctx->set->oauth2_scope;
	oset.guard = ctx->guard;
	if (ctx->ssl_set != NULL) {
		import_remote_compat_ssl_ca(ctx->ssl_set, &oset.ca_file,
					    &oset.ca_content, &oset.ca_dir);
	}
	oset.timeout_msecs = ctx->set->connect_timeout_msecs;
	oset.event = ctx->event;
	ctx->oauth2_requests++;
	T_BEGIN {
		ret = import_run_ctx_oauth2_request(ctx, &oset, &result,
						    error_r);
		if (ret < 0) {
			error_r->detail = p_strdup(ctx->pool, error_r->detail);
			if (ctx->set->oauth2_grant ==
			    IMPORT_REMOTE_OAUTH2_GRANT_CLIENT_CREDENTIALS) {
				/* other workers waiting for it ask themselves */
				oauth2_token_cache_drop(ctx->event,
					import_run_ctx_oauth2_cache_key(ctx));
			}
		} else {
			if (ctx->oauth2_access_token != NULL) {
				safe_memset(ctx->oauth2_access_token, 0,
					    strlen(ctx->oauth2_access_token));
				i_free(ctx->oauth2_access_token);
			}
			ctx->oauth2_access_token = i_strdup(result.access_token);
			safe_memset((char *)result.access_token, 0,
				    strlen(result.access_token));
			if (result.refresh_token != NULL &&
			    ctx->oauth2_refresh_token != NULL) {
				/* rotated: the old one is spent */
				safe_memset(ctx->oauth2_refresh_token, 0,
					    strlen(ctx->oauth2_refresh_token));
				i_free(ctx->oauth2_refresh_token);
				ctx->oauth2_refresh_token =
					i_strdup(result.refresh_token);
				safe_memset((char *)result.refresh_token, 0,
					    strlen(result.refresh_token));
				if (ctx->set->oauth2_rotated_callback != NULL) {
					ctx->set->oauth2_rotated_callback(
						ctx->oauth2_refresh_token,
						ctx->set->oauth2_rotated_context);
				}
			}
			ctx->oauth2_expires = result.expires_in == 0 ? 0 :
				now + result.expires_in;
			if (ctx->set->oauth2_grant ==
			    IMPORT_REMOTE_OAUTH2_GRANT_CLIENT_CREDENTIALS) {
				oauth2_token_cache_put(ctx->event,
					import_run_ctx_oauth2_cache_key(ctx),
					ctx->oauth2_access_token,
					ctx->oauth2_expires);
			}
		}
	} T_END;
	if (ret < 0)
		return -1;
	ctx->src_set.password = ctx->oauth2_access_token;
	return 0;
}
