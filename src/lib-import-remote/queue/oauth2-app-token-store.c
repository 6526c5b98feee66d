/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "hex-binary.h"
#include "sha2.h"
#include "safe-memset.h"
#include "sql-api.h"
#include "secret-box.h"
#include "oauth2-token-cache.h"
#include "job-store-private.h"
#include "oauth2-app-token-store.h"

struct oauth2_app_token_store {
	struct job_store *store;
	unsigned char key[SECRET_BOX_KEY_LEN];
	void (*guard)(bool enter, void *context);
	void *guard_context;
};

static struct oauth2_app_token_store app_token_store;

/* The row's name: the cache key holds the token URL, client and scope */
/* Around each use of the store (the job runner's: its heartbeat held) */
static void oauth2_app_token_guard(struct oauth2_app_token_store *ts,
				   bool enter)
{
	if (ts->guard != NULL)
		ts->guard(enter, ts->guard_context);
}

static const char *oauth2_app_token_name(const char *cache_key)
{
	unsigned char digest[SHA256_RESULTLEN];

	sha256_get_digest(cache_key, strlen(cache_key), digest);
	return binary_to_hex(digest, sizeof(digest));
}

/* What the secret is bound to: a ciphertext moved to another grant's row
   does not decrypt */
static const char *oauth2_app_token_context(const char *name)
{
	return t_strconcat("oauth2-app-token\001", name, NULL);
}

struct oauth2_app_token_read {
	const char *secret;
	time_t expires;
};

static void oauth2_app_token_read_row(struct sql_result *result,
				      struct oauth2_app_token_read *ctx)
{
	ctx->secret = result_str(result, pool_datastack_create(), 0);
	ctx->expires = result_num(result, 1);
}

static int
oauth2_app_token_get(struct event *event, const char *cache_key, time_t now,
		     const char **token_r, time_t *expires_r, void *context)
{
	struct oauth2_app_token_store *ts = context;
	struct oauth2_app_token_read ctx;
	struct sql_statement *stmt;
	const char *name = oauth2_app_token_name(cache_key), *error;
	int ret;

	i_zero(&ctx);
	stmt = store_stmt(ts->store,
		"SELECT secret, expires FROM import_remote_oauth2_app_tokens "
		"WHERE name = ? AND expires > ? AND secret != ''",
		STORE_STR(name), STORE_NUM(now));
	oauth2_app_token_guard(ts, TRUE);
	ret = store_query(&stmt, oauth2_app_token_read_row, &ctx, &error);
	oauth2_app_token_guard(ts, FALSE);
	if (ret < 0) {
		e_error(event, "Reading the shared OAuth2 app token "
			"failed: %s", error);
		return -1;
	}
	if (ret == 0)
		return 0;
	if (secret_box_decrypt(ts->key, ctx.secret,
			       oauth2_app_token_context(name),
			       pool_datastack_create(), token_r, &error) < 0) {
		/* never its content */
		e_error(event, "The shared OAuth2 app token does not "
			"decrypt: %s", error);
		return -1;
	}
	*expires_r = ctx.expires;
	return 1;
}

static int
oauth2_app_token_claim(struct event *event, const char *cache_key,
		       time_t now, void *context)
{
	struct oauth2_app_token_store *ts = context;
	struct sql_statement *stmt;
	const char *name = oauth2_app_token_name(cache_key), *error;
	int ret;

	/* the row first, if the grant has none: a second worker doing the
	   same at once fails on the primary key, harmlessly */
	stmt = store_stmt(ts->store,
		"INSERT INTO import_remote_oauth2_app_tokens "
		"(name, secret, expires, fetching_until) "
		"SELECT ?, '', 0, 0 WHERE NOT EXISTS (SELECT 1 FROM "
		"import_remote_oauth2_app_tokens WHERE name = ?)",
		STORE_STR(name), STORE_STR(name));
	oauth2_app_token_guard(ts, TRUE);
	(void)store_update(ts->store, stmt, &error);
	/* ours to fetch unless another worker fetches now */
	stmt = store_stmt(ts->store,
		"UPDATE import_remote_oauth2_app_tokens SET fetching_until = ? "
		"WHERE name = ? AND fetching_until <= ?",
		STORE_NUM(now + OAUTH2_APP_TOKEN_FETCH_SECS), STORE_STR(name),
		STORE_NUM(now));
	ret = store_update(ts->store, stmt, &error);
	oauth2_app_token_guard(ts, FALSE);
	if (ret < 0) {
		e_error(event, "Marking the shared OAuth2 app token "
			"failed: %s", error);
		/* ask the endpoint ourselves */
		return 1;
	}
	return ret;
}

static void
oauth2_app_token_put(struct event *event, const char *cache_key,
		     const char *token, time_t expires, void *context)
{
	struct oauth2_app_token_store *ts = context;
	struct sql_statement *stmt;
	const char *name = oauth2_app_token_name(cache_key), *secret, *error;

	secret = secret_box_encrypt(ts->key, token,
				    oauth2_app_token_context(name));
	stmt = store_stmt(ts->store,
		"UPDATE import_remote_oauth2_app_tokens "
		"SET secret = ?, expires = ?, fetching_until = 0 "
		"WHERE name = ?",
		STORE_STR(secret), STORE_NUM(expires), STORE_STR(name));
	oauth2_app_token_guard(ts, TRUE);
	if (store_update(ts->store, stmt, &error) < 0) {
		e_error(event, "Keeping the shared OAuth2 app token "
			"failed: %s", error);
	}
	oauth2_app_token_guard(ts, FALSE);
}

static void
oauth2_app_token_release(struct event *event, const char *cache_key,
			 void *context)
{
	struct oauth2_app_token_store *ts = context;
	struct sql_statement *stmt;
	const char *name = oauth2_app_token_name(cache_key), *error;

	stmt = store_stmt(ts->store,
		"UPDATE import_remote_oauth2_app_tokens "
		"SET secret = '', expires = 0, fetching_until = 0 "
		"WHERE name = ?", STORE_STR(name));
	oauth2_app_token_guard(ts, TRUE);
	if (store_update(ts->store, stmt, &error) < 0) {
		e_error(event, "Dropping the shared OAuth2 app token "
			"failed: %s", error);
	}
	oauth2_app_token_guard(ts, FALSE);
}

static const struct oauth2_token_shared oauth2_app_token_shared = {
	.get = oauth2_app_token_get,
	.claim = oauth2_app_token_claim,
	.put = oauth2_app_token_put,
	.release = oauth2_app_token_release,
	.context = &app_token_store,
};

void oauth2_app_token_store_use(struct job_store *store,
				const unsigned char key[SECRET_BOX_KEY_LEN],
				void (*guard)(bool enter, void *context),
				void *guard_context)
{
	safe_memset(app_token_store.key, 0, sizeof(app_token_store.key));
	app_token_store.store = store;
	app_token_store.guard = guard;
	app_token_store.guard_context = guard_context;
	if (store == NULL) {
		oauth2_token_cache_set_shared(NULL);
		return;
	}
	memcpy(app_token_store.key, key, sizeof(app_token_store.key));
	oauth2_token_cache_set_shared(&oauth2_app_token_shared);
}
