/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "sql-api.h"
#include "job-store-private.h"
#include "trigger-store.h"

struct trigger_row_read {
	pool_t pool;
	struct trigger_row *row;
};

static void trigger_row_read(struct sql_result *result,
			     struct trigger_row_read *ctx)
{
	ctx->row->job_id = result_num(result, 0);
	ctx->row->claim = result_str(result, ctx->pool, 1);
	ctx->row->claimed = result_num(result, 2);
	ctx->row->completed = result_num(result, 3);
}

static int
trigger_store_read(struct job_store *store, pool_t pool, const char *username,
		   const char *source_key, struct trigger_row *row_r,
		   const char **error_r)
{
	struct trigger_row_read ctx = { .pool = pool, .row = row_r };
	struct sql_statement *stmt;

	stmt = store_stmt(store,
		"SELECT job_id, claim, claimed, completed FROM "
		"import_remote_triggers WHERE username = ? AND source_key = ?",
		STORE_STR(username), STORE_STR(source_key));
	return store_query(&stmt, trigger_row_read, &ctx, error_r);
}

int trigger_store_get(struct job_store *store, pool_t pool,
		      const char *username, const char *source_key,
		      struct trigger_row *row_r, const char **error_r)
{
	struct sql_transaction_context *trans;
	struct sql_statement *stmt;
	int ret;

	i_zero(row_r);
	ret = trigger_store_read(store, pool, username, source_key, row_r,
				 error_r);
	if (ret != 0)
		return ret < 0 ? -1 : 0;
	/* a first login: a row to claim (another login may be adding it
	   at the same moment: then that one is it) */
	trans = store_transaction_begin(store);
	stmt = store_stmt(store,
		"INSERT INTO import_remote_triggers (username, source_key) "
		"VALUES (?, ?) ON CONFLICT DO NOTHING",
		STORE_STR(username), STORE_STR(source_key));
	sql_update_stmt(trans, &stmt);
	if (store_commit(store, &trans, error_r) < 0)
		return -1;
	ret = trigger_store_read(store, pool, username, source_key, row_r,
				 error_r);
	if (ret == 0)
		*error_r = "The trigger row vanished";
	return ret > 0 ? 0 : -1;
}

int trigger_store_claim(struct job_store *store, const char *username,
			const char *source_key, unsigned long long job_id,
			const char *claim, unsigned int stale_secs,
			const char **error_r)
{
	struct sql_statement *stmt;

	stmt = store_stmt(store,
		"UPDATE import_remote_triggers SET claim = ?, claimed = ? "
		"WHERE username = ? AND source_key = ? AND job_id = ? AND "
		"(claim = '' OR claimed < ?)",
		STORE_STR(claim), STORE_NUM(ioloop_time),
		STORE_STR(username), STORE_STR(source_key),
		STORE_NUM(job_id),
		STORE_NUM(ioloop_time - (time_t)stale_secs));
	return store_update(store, stmt, error_r);
}

int trigger_store_set_job(struct job_store *store, const char *username,
			  const char *source_key, const char *claim,
			  unsigned long long job_id, const char **error_r)
{
	struct sql_statement *stmt;
	int ret;

	stmt = store_stmt(store,
		"UPDATE import_remote_triggers SET job_id = ?, claim = '' "
		"WHERE username = ? AND source_key = ? AND claim = ?",
		STORE_NUM(job_id), STORE_STR(username),
		STORE_STR(source_key), STORE_STR(claim));
	ret = store_update(store, stmt, error_r);
	if (ret == 0)
		*error_r = "The claim was taken over while queueing";
	return ret > 0 ? 0 : -1;
}

struct trigger_job_read {
	pool_t pool;
	const char **source_key;
	time_t *completed;
};

static void trigger_job_read(struct sql_result *result,
			     struct trigger_job_read *ctx)
{
	*ctx->source_key = result_str(result, ctx->pool, 0);
	*ctx->completed = result_num(result, 1);
}

int trigger_store_find_job(struct job_store *store, pool_t pool,
			   unsigned long long job_id,
			   const char **source_key_r, time_t *completed_r,
			   const char **error_r)
{
	struct trigger_job_read ctx = {
		.pool = pool,
		.source_key = source_key_r,
		.completed = completed_r,
	};
	struct sql_statement *stmt;
	int ret;

	stmt = store_stmt(store,
		"SELECT source_key, completed FROM import_remote_triggers "
		"WHERE job_id = ?", STORE_NUM(job_id));
	ret = store_query(&stmt, trigger_job_read, &ctx, error_r);
	return ret < 0 ? -1 : (ret > 0 ? 1 : 0);
}

int trigger_store_completed(struct job_store *store, const char *username,
			    const char *source_key, unsigned long long job_id,
			    const char **error_r)
{
	struct sql_statement *stmt;

	stmt = store_stmt(store,
		"UPDATE import_remote_triggers SET completed = ? "
		"WHERE username = ? AND source_key = ? AND job_id = ?",
		STORE_NUM(ioloop_time), STORE_STR(username),
		STORE_STR(source_key), STORE_NUM(job_id));
	return store_update(store, stmt, error_r) < 0 ? -1 : 0;
}
