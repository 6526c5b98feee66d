/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "str.h"
#include "safe-memset.h"
#include "sql-api.h"
#include "secret-box.h"
#include "job-store-private.h"
#include "oauth2-grant-store.h"

/* What the secret is bound to: a row's ciphertext moved to another user,
   endpoint or client does not decrypt */
static const char *oauth2_grant_context(const char *username,
					const char *token_url,
					const char *client_id)
{
	return t_strdup_printf("oauth2-grant\001%s\001%s\001%s", username,
			       token_url, client_id);
}

/* The secrets packed: client secret and refresh token, each after a
   length (neither holds '\n'; their lengths keep them apart anyway), then
   the source user likewise if there is one (a grant kept before there was
   one has two parts) */
static const char *oauth2_grant_pack(const struct oauth2_grant *grant)
{
	string_t *str = t_str_new(256);
	const char *secret = grant->client_secret == NULL ? "" :
		grant->client_secret;

	str_printfa(str, "%zu\n%s%zu\n%s", strlen(secret), secret,
		    strlen(grant->refresh_token), grant->refresh_token);
	if (grant->source_user != NULL) {
		str_printfa(str, "%zu\n%s", strlen(grant->source_user),
			    grant->source_user);
	}
	return str_c(str);
}

static int oauth2_grant_unpack(const char *packed, pool_t pool,
			       struct oauth2_grant *grant_r)
{
	const char *p = packed, *nl;
	const char *parts[3] = { NULL, NULL, NULL };
	unsigned int i, len;

	for (i = 0; i < 3; i++) {
		if (i == 2 && *p == '\0')
			break;
		nl = strchr(p, '\n');
		if (nl == NULL ||
		    str_to_uint(t_strdup_until(p, nl), &len) < 0 ||
		    strlen(nl + 1) < len)
			return -1;
		parts[i] = p_strndup(pool, nl + 1, len);
		p = nl + 1 + len;
	}
	if (*p != '\0' || parts[1][0] == '\0')
		return -1;
	grant_r->client_secret = parts[0][0] == '\0' ? NULL : parts[0];
	grant_r->refresh_token = parts[1];
	grant_r->source_user = parts[2] == NULL || parts[2][0] == '\0' ?
		NULL : parts[2];
	return 0;
}

int oauth2_grant_store_set(struct job_store *store,
			   const unsigned char key[SECRET_BOX_KEY_LEN],
			   const struct oauth2_grant *grant,
			   const char **error_r)
{
	struct sql_transaction_context *trans;
	struct sql_statement *stmt;
	const char *packed, *secret;

	packed = oauth2_grant_pack(grant);
	secret = secret_box_encrypt(key, packed, oauth2_grant_context(
		grant->username, grant->token_url, grant->client_id));
	safe_memset((char *)packed, 0, strlen(packed));

	trans = store_transaction_begin(store);
	stmt = store_stmt(store,
		"DELETE FROM import_remote_oauth2_grants WHERE username = ?",
		STORE_STR(grant->username));
	sql_update_stmt(trans, &stmt);
	stmt = store_stmt(store,
		"INSERT INTO import_remote_oauth2_grants "
		"(username, token_url, client_id, scope, secret, updated) "
		"VALUES (?, ?, ?, ?, ?, ?)",
		STORE_STR(grant->username), STORE_STR(grant->token_url),
		STORE_STR(grant->client_id),
		STORE_STR(grant->scope == NULL ? "" : grant->scope),
		STORE_STR(secret), STORE_NUM(ioloop_time));
	sql_update_stmt(trans, &stmt);
	return store_commit(store, &trans, error_r);
}

struct oauth2_grant_read {
	pool_t pool;
	struct oauth2_grant *grant;
	const char *secret;
};

static void oauth2_grant_read_row(struct sql_result *result,
				  struct oauth2_grant_read *ctx)
{
	ctx->grant->token_url = result_str(result, ctx->pool, 0);
	ctx->grant->client_id = result_str(result, ctx->pool, 1);
	ctx->grant->scope = result_str(result, ctx->pool, 2);
	ctx->secret = result_str(result, pool_datastack_create(), 3);
}

int oauth2_grant_store_get(struct job_store *store,
			   const unsigned char key[SECRET_BOX_KEY_LEN],
			   const char *username, pool_t pool,
			   struct oauth2_grant *grant_r,
			   const char **error_r)
{
	struct oauth2_grant_read ctx;
	struct sql_statement *stmt;
	const char *packed, *error;
	int ret;

	i_zero(grant_r);
	i_zero(&ctx);
	ctx.pool = pool;
	ctx.grant = grant_r;
	stmt = store_stmt(store,
		"SELECT token_url, client_id, scope, secret "
		"FROM import_remote_oauth2_grants WHERE username = ?",
		STORE_STR(username));
	ret = store_query(&stmt, oauth2_grant_read_row, &ctx, error_r);
	if (ret <= 0)
		return ret;
	grant_r->username = p_strdup(pool, username);
	if (grant_r->scope[0] == '\0')
		grant_r->scope = NULL;
	if (secret_box_decrypt(key, ctx.secret, oauth2_grant_context(
			username, grant_r->token_url, grant_r->client_id),
			pool_datastack_create(), &packed, &error) < 0) {
		*error_r = t_strdup_printf("The OAuth2 grant kept for %s "
			"does not decrypt: %s", username, error);
		return -1;
	}
	ret = oauth2_grant_unpack(packed, pool, grant_r);
	safe_memset((char *)packed, 0, strlen(packed));
	if (ret < 0) {
		*error_r = t_strdup_printf("The OAuth2 grant kept for %s is "
					   "damaged", username);
		return -1;
	}
	return 1;
}
