/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "ioloop.h"
#include "sql-api.h"
#include "job-store-private.h"
#include "trigger-store.h"

static int
trigger_store_read(struct job_store *store, pool_t pool, const char *username,
		   const char *source_key, struct trigger_row *row_r,
		   const char **error_r)
{
	struct sql_statement *stmt;
	struct sql_result *result;
	int ret;

	stmt = sql_statement_init(store->db,
		"SELECT job_id, claim, claimed, completed FROM "
		"import_remote_triggers WHERE username = ? AND source_key = ?");
	sql_statement_bind_str(stmt, 0, username);
	sql_statement_bind_str(stmt, 1, source_key);
	result = sql_statement_query_s(&stmt);
	ret = sql_result_next_row(result);
	if (ret < 0)
		*error_r = t_strdup(sql_result_get_error(result));
	else if (ret > 0) {
		row_r->job_id = result_num(result, 0);
		row_r->claim = result_str(result, pool, 1);
		row_r->claimed = result_num(result, 2);
		row_r->completed = result_num(result, 3);
	}
	sql_result_unref(result);
	return ret;
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
	trans = sql_transaction_begin(store->db);
	stmt = sql_statement_init(store->db,
		"INSERT INTO import_remote_triggers (username, source_key) "
		"VALUES (?, ?) ON CONFLICT DO NOTHING");
	sql_statement_bind_str(stmt, 0, username);
	sql_statement_bind_str(stmt, 1, source_key);
	sql_update_stmt(trans, &stmt);
	if (job_store_commit(store, &trans, error_r) < 0)
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

	stmt = sql_statement_init(store->db,
		"UPDATE import_remote_triggers SET claim = ?, claimed = ? "
		"WHERE username = ? AND source_key = ? AND job_id = ? AND "
		"(claim = '' OR claimed < ?)");
	sql_statement_bind_str(stmt, 0, claim);
	sql_statement_bind_int64(stmt, 1, ioloop_time);
	sql_statement_bind_str(stmt, 2, username);
	sql_statement_bind_str(stmt, 3, source_key);
	sql_statement_bind_int64(stmt, 4, job_id);
	sql_statement_bind_int64(stmt, 5, ioloop_time - (time_t)stale_secs);
	return job_store_update_rows(store, stmt, error_r);
}

int trigger_store_set_job(struct job_store *store, const char *username,
			  const char *source_key, const char *claim,
			  unsigned long long job_id, const char **error_r)
{
	struct sql_statement *stmt;
	int ret;

	stmt = sql_statement_init(store->db,
		"UPDATE import_remote_triggers SET job_id = ?, claim = '' "
		"WHERE username = ? AND source_key = ? AND claim = ?");
	sql_statement_bind_int64(stmt, 0, job_id);
	sql_statement_bind_str(stmt, 1, username);
	sql_statement_bind_str(stmt, 2, source_key);
	sql_statement_bind_str(stmt, 3, claim);
	ret = job_store_update_rows(store, stmt, error_r);
	if (ret == 0)
		*error_r = "The claim was taken over while queueing";
	return ret > 0 ? 0 : -1;
}

int trigger_store_find_job(struct job_store *store, pool_t pool,
			   unsigned long long job_id,
			   const char **source_key_r, time_t *completed_r,
			   const char **error_r)
{
	struct sql_statement *stmt;
	struct sql_result *result;
	int ret;

	stmt = sql_statement_init(store->db,
		"SELECT source_key, completed FROM import_remote_triggers "
		"WHERE job_id = ?");
	sql_statement_bind_int64(stmt, 0, job_id);
	result = sql_statement_query_s(&stmt);
	ret = sql_result_next_row(result);
	if (ret < 0)
		*error_r = t_strdup(sql_result_get_error(result));
	else if (ret > 0) {
		*source_key_r = result_str(result, pool, 0);
		*completed_r = result_num(result, 1);
	}
	sql_result_unref(result);
	return ret;
}

int trigger_store_completed(struct job_store *store, const char *username,
			    const char *source_key, unsigned long long job_id,
			    const char **error_r)
{
	struct sql_statement *stmt;

	stmt = sql_statement_init(store->db,
		"UPDATE import_remote_triggers SET completed = ? "
		"WHERE username = ? AND source_key = ? AND job_id = ?");
	sql_statement_bind_int64(stmt, 0, ioloop_time);
	sql_statement_bind_str(stmt, 1, username);
	sql_statement_bind_str(stmt, 2, source_key);
	sql_statement_bind_int64(stmt, 3, job_id);
	return job_store_update_rows(store, stmt, error_r) < 0 ? -1 : 0;
}
