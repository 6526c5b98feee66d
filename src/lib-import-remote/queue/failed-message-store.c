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

	trans = store_transaction_begin(store);
	stmt = store_stmt(store,
		"DELETE FROM import_remote_failed_messages WHERE job_id = ?",
		STORE_NUM(job_id));
	sql_update_stmt(trans, &stmt);
	array_foreach(msgs, msg) {
		stmt = store_stmt(store,
			"INSERT INTO import_remote_failed_messages "
			"(job_id, folder, uid, size, message_id, received, "
			"reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
			STORE_NUM(job_id), STORE_STR(msg->folder),
			STORE_NUM(msg->uid), STORE_NUM(msg->size),
			STORE_STR(msg->message_id), STORE_NUM(msg->received),
			STORE_STR(msg->reason));
		sql_update_stmt(trans, &stmt);
	}
	return store_commit(store, &trans, error_r);
}

struct failed_message_read {
	pool_t pool;
	ARRAY_TYPE(import_failed_message) *msgs;
};

static void failed_message_read(struct sql_result *result,
				struct failed_message_read *ctx)
{
	struct import_failed_message *msg = array_append_space(ctx->msgs);

	msg->folder = result_str(result, ctx->pool, 0);
	msg->uid = result_num(result, 1);
	msg->size = result_num(result, 2);
	msg->message_id = result_str(result, ctx->pool, 3);
	msg->received = result_num(result, 4);
	msg->reason = result_str(result, ctx->pool, 5);
}

int failed_message_store_list(struct job_store *store, pool_t pool,
			      unsigned long long job_id,
			      ARRAY_TYPE(import_failed_message) *msgs,
			      const char **error_r)
{
	struct failed_message_read ctx = { .pool = pool, .msgs = msgs };
	struct sql_statement *stmt;

	stmt = store_stmt(store,
		"SELECT folder, uid, size, message_id, received, reason "
		"FROM import_remote_failed_messages WHERE job_id = ? "
		"ORDER BY folder, uid", STORE_NUM(job_id));
	return store_query(&stmt, failed_message_read, &ctx, error_r) < 0 ?
		-1 : 0;
}
