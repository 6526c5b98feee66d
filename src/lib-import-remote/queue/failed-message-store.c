/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "sql-api.h"
#include "job-store-private.h"
#include "failed-message-store.h"

int failed_message_store_replace(struct job_store *store,
				 unsigned long long job_id,
				 const ARRAY_TYPE(import_failed_message) *msgs,
				 const char **error_r)
{
	struct sql_transaction_context *trans;
	struct sql_statement *stmt;
	const struct import_failed_message *msg;

	trans = sql_transaction_begin(store->db);
	stmt = sql_statement_init(store->db,
		"DELETE FROM import_remote_failed_messages WHERE job_id = ?");
	sql_statement_bind_int64(stmt, 0, job_id);
	sql_update_stmt(trans, &stmt);
	array_foreach(msgs, msg) {
		stmt = sql_statement_init(store->db,
			"INSERT INTO import_remote_failed_messages "
			"(job_id, folder, uid, size, message_id, received, "
			"reason) VALUES (?, ?, ?, ?, ?, ?, ?)");
		sql_statement_bind_int64(stmt, 0, job_id);
		sql_statement_bind_str(stmt, 1, msg->folder);
		sql_statement_bind_int64(stmt, 2, msg->uid);
		sql_statement_bind_int64(stmt, 3, msg->size);
		sql_statement_bind_str(stmt, 4, msg->message_id);
		sql_statement_bind_int64(stmt, 5, msg->received);
		sql_statement_bind_str(stmt, 6, msg->reason);
		sql_update_stmt(trans, &stmt);
	}
	return job_store_commit(store, &trans, error_r);
}

int failed_message_store_list(struct job_store *store, pool_t pool,
			      unsigned long long job_id,
			      ARRAY_TYPE(import_failed_message) *msgs,
			      const char **error_r)
{
	struct sql_statement *stmt;
	struct sql_result *result;
	struct import_failed_message *msg;
	int ret;

	stmt = sql_statement_init(store->db,
		"SELECT folder, uid, size, message_id, received, reason "
		"FROM import_remote_failed_messages WHERE job_id = ? "
		"ORDER BY folder, uid");
	sql_statement_bind_int64(stmt, 0, job_id);
	result = sql_statement_query_s(&stmt);
	while ((ret = sql_result_next_row(result)) > 0) {
		msg = array_append_space(msgs);
		msg->folder = result_str(result, pool, 0);
		msg->uid = result_num(result, 1);
		msg->size = result_num(result, 2);
		msg->message_id = result_str(result, pool, 3);
		msg->received = result_num(result, 4);
		msg->reason = result_str(result, pool, 5);
	}
	if (ret < 0)
		*error_r = t_strdup(sql_result_get_error(result));
	sql_result_unref(result);
	return ret < 0 ? -1 : 0;
}
