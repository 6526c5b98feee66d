/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "sql-api.h"
#include "job-store-private.h"
#include "store-sql.h"

struct sql_statement *
store_stmt_bind(struct job_store *store, const char *query,
		const struct store_param *params, unsigned int count)
{
	struct sql_statement *stmt;
	unsigned int i;

	stmt = sql_statement_init(store->db, query);
	for (i = 0; i < count; i++) {
		switch (params[i].type) {
		case STORE_PARAM_STR:
			sql_statement_bind_str(stmt, i, params[i].str);
			break;
		case STORE_PARAM_NUM:
			sql_statement_bind_int64(stmt, i, params[i].num);
			break;
		}
	}
	return stmt;
}

struct store_commit_ctx {
	bool done;
	char *error;
};

static void store_commit_callback(const struct sql_commit_result *result,
				  struct store_commit_ctx *ctx)
{
	ctx->done = TRUE;
	/* not the data stack: with PostgreSQL this runs in an I/O handler
	   of lib-sql's own ioloop, whose data stack frame ends with it */
	ctx->error = i_strdup(result->error);
}

struct sql_transaction_context *store_transaction_begin(struct job_store *store)
{
	struct sql_transaction_context *trans;

	trans = sql_transaction_begin(store->db);
	/* a lock another session holds (a claim, a session stuck while
	   holding one) fails the transaction after a while, rather than
	   stalling this process for ever: the caller says so and tries
	   again later, as after any error of the store */
	if (store->pgsql)
		sql_update(trans, "SET LOCAL lock_timeout = '30s'");
	return trans;
}

/* Commit and wait. Not sql_transaction_commit_s(): in 2.3 its sqlite
   version ignores a failed COMMIT, sets no error for a failed transaction
   and leaks the transaction's event. */
int store_commit(struct job_store *store,
		 struct sql_transaction_context **trans, const char **error_r)
{
	struct store_commit_ctx ctx;

	i_zero(&ctx);
	sql_transaction_commit(trans, store_commit_callback, &ctx);
	if (!ctx.done)
		sql_wait(store->db);
	i_assert(ctx.done);
	if (ctx.error != NULL) {
		*error_r = t_strdup(ctx.error);
		i_free(ctx.error);
		return -1;
	}
	return 0;
}

int store_update(struct job_store *store, struct sql_statement *stmt,
		 const char **error_r)
{
	struct sql_transaction_context *trans;
	unsigned int affected = 0;

	trans = store_transaction_begin(store);
	sql_update_stmt_get_rows(trans, &stmt, &affected);
	if (store_commit(store, &trans, error_r) < 0)
		return -1;
	return affected > 0 ? 1 : 0;
}

int store_query_rows(struct sql_statement **stmt,
		     store_row_callback_t *read_row, void *context,
		     const char **error_r)
{
	struct sql_result *result;
	int ret, rows = 0;

	result = sql_statement_query_s(stmt);
	while ((ret = sql_result_next_row(result)) > 0) {
		read_row(result, context);
		rows++;
	}
	if (ret < 0)
		*error_r = t_strdup(sql_result_get_error(result));
	sql_result_unref(result);
	return ret < 0 ? -1 : rows;
}

const char *
result_str(struct sql_result *result, pool_t pool, unsigned int idx)
{
	const char *value = sql_result_get_field_value(result, idx);

	return p_strdup(pool, value == NULL ? "" : value);
}

unsigned long long
result_num(struct sql_result *result, unsigned int idx)
{
	const char *value = sql_result_get_field_value(result, idx);
	unsigned long long num;

	if (value == NULL || str_to_ullong(value, &num) < 0)
		return 0;
	return num;
}
