/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "sql-api.h"
#include "job-store-private.h"
#include "secret-box.h"
#include "batch-store.h"

#define BATCH_COLUMNS \
	"id, created, updated, state, pause_reason, storage_limit, notify, " \
	"notified_completed, notified_half_failed, notify_mac"
#define BATCH_NOTIFY_MAC_PURPOSE "import-remote batch notify address"

static const char *const batch_status_names[BATCH_STATUS_COUNT] = {
	[BATCH_STATUS_IN_PROGRESS] = "in_progress",
	[BATCH_STATUS_PAUSED] = "paused",
	[BATCH_STATUS_COMPLETED] = "completed",
	[BATCH_STATUS_COMPLETED_WITH_ERRORS] = "completed_with_errors",
	[BATCH_STATUS_CANCELLED] = "cancelled",
};

static const char *const batch_status_titles[BATCH_STATUS_COUNT] = {
	[BATCH_STATUS_IN_PROGRESS] = "In Progress",
	[BATCH_STATUS_PAUSED] = "Paused",
	[BATCH_STATUS_COMPLETED] = "Completed",
	[BATCH_STATUS_COMPLETED_WITH_ERRORS] = "Completed with errors",
	[BATCH_STATUS_CANCELLED] = "Cancelled",
};

static const char *const batch_state_names[BATCH_STATE_COUNT] = {
	[BATCH_STATE_ACTIVE] = "active",
	[BATCH_STATE_PAUSED] = "paused",
	[BATCH_STATE_CANCELLED] = "cancelled",
};

static const char *const batch_event_names[BATCH_EVENT_COUNT] = {
	[BATCH_EVENT_COMPLETED] = "completed",
	[BATCH_EVENT_PAUSED_FOR_STORAGE] = "paused_for_storage",
	[BATCH_EVENT_HALF_FAILED] = "half_failed",
};

const char *batch_status_name(enum batch_status status)
{
	i_assert(status < BATCH_STATUS_COUNT);
	return batch_status_names[status];
}

const char *batch_status_title(enum batch_status status)
{
	i_assert(status < BATCH_STATUS_COUNT);
	return batch_status_titles[status];
}

const char *batch_event_name(enum batch_event event)
{
	i_assert(event < BATCH_EVENT_COUNT);
	return batch_event_names[event];
}

enum batch_status batch_get_status(const struct batch *batch)
{
	const unsigned int *counts = batch->job_counts;

	switch (batch->state) {
	case BATCH_STATE_CANCELLED:
		return BATCH_STATUS_CANCELLED;
	case BATCH_STATE_PAUSED:
		return BATCH_STATUS_PAUSED;
	case BATCH_STATE_ACTIVE:
	case BATCH_STATE_COUNT:
		break;
	}
	if (counts[JOB_STATUS_QUEUED] + counts[JOB_STATUS_PREPARING] +
	    counts[JOB_STATUS_RUNNING] > 0)
		return BATCH_STATUS_IN_PROGRESS;
	if (counts[JOB_STATUS_COMPLETED] == batch->jobs_total)
		return BATCH_STATUS_COMPLETED;
	/* failed, or cancelled one by one */
	return BATCH_STATUS_COMPLETED_WITH_ERRORS;
}

bool batch_is_half_failed(const struct batch *batch)
{
	return batch->job_counts[JOB_STATUS_FAILED] * 2 > batch->jobs_total;
}

static int batch_state_parse(const char *name, enum batch_state *state_r)
{
	unsigned int i;

	for (i = 0; i < BATCH_STATE_COUNT; i++) {
		if (strcmp(batch_state_names[i], name) == 0) {
			*state_r = i;
			return 0;
		}
	}
	return -1;
}

bool batch_store_notify_is_authentic(struct job_store *store,
				     const struct batch *batch)
{
	const unsigned char *key = job_store_get_key(store);
	const char *mac_parts[] = { batch->notify, NULL };

	return key != NULL && secret_box_mac_verify(key,
		BATCH_NOTIFY_MAC_PURPOSE, mac_parts, batch->notify_mac);
}

int batch_store_create(struct job_store *store, const struct batch *batch,
		       const ARRAY_TYPE(job) *jobs,
		       unsigned long long *id_r, const char **error_r)
{
	struct sql_transaction_context *trans;
	struct sql_statement *stmt;
	const struct job *job;
	const char *token = job_store_new_token();
	const char *notify = batch->notify == NULL ? "" : batch->notify;
	const unsigned char *key = job_store_get_key(store);
	const char *mac_parts[] = { notify, NULL };

	if (key == NULL) {
		*error_r = "No key to authenticate the batch's notify address";
		return -1;
	}
	trans = store_transaction_begin(store);
	stmt = store_stmt(store,
		"INSERT INTO import_remote_batches (token, created, updated, "
		"state, pause_reason, storage_limit, notify, "
		"notified_completed, notified_half_failed, notify_mac) "
		"VALUES (?, ?, ?, 'active', '', ?, ?, 0, 0, ?)",
		STORE_STR(token), STORE_NUM(ioloop_time),
		STORE_NUM(ioloop_time), STORE_NUM(batch->storage_limit),
		STORE_STR(notify), STORE_STR(secret_box_mac(key,
			BATCH_NOTIFY_MAC_PURPOSE, mac_parts)));
	sql_update_stmt(trans, &stmt);
	array_foreach(jobs, job) {
		job_store_add_job(store, trans, job, job_store_new_token(),
				  token);
	}
	if (store_commit(store, &trans, error_r) < 0)
		return -1;
	return job_store_id_by_token(store, "import_remote_batches", token,
				     id_r, error_r);
}

static void batch_count_read(struct sql_result *result, struct batch *batch)
{
	enum job_status status;
	unsigned int count;

	if (job_status_parse(sql_result_get_field_value(result, 0),
			     &status) < 0)
		return;
	count = result_num(result, 1);
	batch->job_counts[status] += count;
	batch->jobs_total += count;
	batch->quota_used += result_num(result, 2);
}

static int batch_store_count_jobs(struct job_store *store,
				  struct batch *batch, const char **error_r)
{
	struct sql_statement *stmt;

	stmt = store_stmt(store,
		"SELECT status, COUNT(*), SUM(quota_used) "
		"FROM import_remote_jobs WHERE batch_id = ? "
		"AND superseded_by = 0 GROUP BY status", STORE_NUM(batch->id));
	return store_query(&stmt, batch_count_read, batch, error_r);
}

struct batch_read {
	pool_t pool;
	ARRAY_TYPE(batch) *batches;
	bool invalid_state;
};

static void batch_read(struct sql_result *result, struct batch_read *ctx)
{
	struct batch batch;

	i_zero(&batch);
	batch.id = result_num(result, 0);
	batch.created = result_num(result, 1);
	batch.updated = result_num(result, 2);
	if (batch_state_parse(sql_result_get_field_value(result, 3),
			      &batch.state) < 0) {
		ctx->invalid_state = TRUE;
		return;
	}
	batch.pause_reason = result_str(result, ctx->pool, 4);
	batch.storage_limit = result_num(result, 5);
	batch.notify = result_str(result, ctx->pool, 6);
	batch.notified_completed = result_num(result, 7) != 0;
	batch.notified_half_failed = result_num(result, 8) != 0;
	batch.notify_mac = result_str(result, ctx->pool, 9);
	array_push_back(ctx->batches, &batch);
}

/* Run a statement selecting BATCH_COLUMNS; each batch gets its counts */
static int batch_store_query(struct job_store *store,
			     struct sql_statement *stmt, pool_t pool,
			     ARRAY_TYPE(batch) *batches, const char **error_r)
{
	struct batch_read ctx = { .pool = pool, .batches = batches };
	struct batch *batchp;

	if (store_query(&stmt, batch_read, &ctx, error_r) < 0)
		return -1;
	if (ctx.invalid_state) {
		*error_r = "Invalid batch state in the job store";
		return -1;
	}
	array_foreach_modifiable(batches, batchp) {
		if (batch_store_count_jobs(store, batchp, error_r) < 0)
			return -1;
	}
	return 0;
}

int batch_store_get(struct job_store *store, pool_t pool,
		    unsigned long long id, struct batch *batch_r,
		    const char **error_r)
{
	struct sql_statement *stmt;
	ARRAY_TYPE(batch) batches;

	t_array_init(&batches, 1);
	stmt = store_stmt(store, "SELECT "BATCH_COLUMNS
			  " FROM import_remote_batches WHERE id = ?",
			  STORE_NUM(id));
	if (batch_store_query(store, stmt, pool, &batches, error_r) < 0)
		return -1;
	if (array_count(&batches) == 0)
		return 0;
	*batch_r = *array_idx(&batches, 0);
	return 1;
}

int batch_store_list(struct job_store *store, pool_t pool,
		     ARRAY_TYPE(batch) *batches, const char **error_r)
{
	struct sql_statement *stmt;

	stmt = store_stmt_bind(store, "SELECT "BATCH_COLUMNS
		" FROM import_remote_batches ORDER BY id DESC", NULL, 0);
	return batch_store_query(store, stmt, pool, batches, error_r);
}

int batch_store_list_jobs(struct job_store *store, pool_t pool,
			  unsigned long long id, ARRAY_TYPE(job) *jobs,
			  const char **error_r)
{
	struct sql_statement *stmt;

	stmt = store_stmt(store, "SELECT "JOB_COLUMNS
		" FROM import_remote_jobs WHERE batch_id = ?"
		" AND superseded_by = 0 ORDER BY id", STORE_NUM(id));
	return job_store_query_jobs(stmt, pool, jobs, error_r) < 0 ? -1 : 0;
}

int batch_store_pause(struct job_store *store, unsigned long long id,
		      const char *reason, const char **error_r)
{
	struct sql_statement *stmt;

	/* its live jobs see it at their next heartbeat and stop */
	stmt = store_stmt(store,
		"UPDATE import_remote_batches SET state = 'paused', "
		"pause_reason = ?, updated = ? WHERE id = ? AND state = 'active'",
		STORE_STR(reason), STORE_NUM(ioloop_time), STORE_NUM(id));
	return store_update(store, stmt, error_r);
}

int batch_store_resume(struct job_store *store, unsigned long long id,
		       unsigned long long storage_limit,
		       const char **error_r)
{
	struct sql_statement *stmt;

	stmt = store_stmt(store,
		"UPDATE import_remote_batches SET state = 'active', "
		"pause_reason = '', updated = ?, storage_limit = "
		"CASE WHEN ? = 1 THEN ? ELSE storage_limit END "
		"WHERE id = ? AND state = 'paused'",
		STORE_NUM(ioloop_time),
		STORE_NUM(storage_limit != (unsigned long long)-1),
		STORE_NUM(storage_limit == (unsigned long long)-1 ?
			  0 : storage_limit),
		STORE_NUM(id));
	return store_update(store, stmt, error_r);
}

int batch_store_cancel(struct job_store *store, unsigned long long id,
		       const char **error_r)
{
	struct sql_transaction_context *trans;
	struct sql_statement *stmt;
	unsigned int affected = 0;

	trans = store_transaction_begin(store);
	stmt = store_stmt(store,
		"UPDATE import_remote_batches SET state = 'cancelled', "
		"pause_reason = '', updated = ? "
		"WHERE id = ? AND state <> 'cancelled'",
		STORE_NUM(ioloop_time), STORE_NUM(id));
	sql_update_stmt_get_rows(trans, &stmt, &affected);
	/* what has not started ends now; what runs stops at a safe point */
	job_store_add_cancel(store, trans, "batch_id", id);
	if (store_commit(store, &trans, error_r) < 0)
		return -1;
	return affected > 0 ? 1 : 0;
}

static bool batch_store_job_superseded(struct job_store *store, pool_t pool,
				       unsigned long long job_id)
{
	struct job job;
	const char *error;

	return job_store_get(store, pool, job_id, &job, &error) > 0 &&
		job.superseded_by != 0;
}

int batch_store_retry_failed(struct job_store *store, unsigned long long id,
			     const char **error_r)
{
	struct sql_statement *stmt;
	ARRAY_TYPE(job) jobs;
	const struct job *job;
	unsigned long long new_id;
	pool_t pool;
	int ret, count = 0;

	pool = pool_alloconly_create("batch retry", 4096);
	p_array_init(&jobs, pool, 16);
	ret = batch_store_list_jobs(store, pool, id, &jobs, error_r);
	array_foreach(&jobs, job) {
		if (ret < 0)
			break;
		if (job->status != JOB_STATUS_FAILED)
			continue;
		if (job_store_retry(store, job->id, &new_id, error_r) > 0)
			count++;
		else if (!batch_store_job_superseded(store, pool, job->id))
			ret = -1;
		/* else another retry-failed took it meanwhile */
	}
	pool_unref(&pool);
	if (ret < 0)
		return -1;
	/* its end is a new occurrence, told again */
	stmt = store_stmt(store,
		"UPDATE import_remote_batches SET notified_completed = 0, "
		"notified_half_failed = 0, updated = ? WHERE id = ?",
		STORE_NUM(ioloop_time), STORE_NUM(id));
	if (store_update(store, stmt, error_r) < 0)
		return -1;
	return count;
}

int batch_store_mark_notified(struct job_store *store, unsigned long long id,
			      enum batch_event event, const char **error_r)
{
	struct sql_statement *stmt;
	const char *column;

	switch (event) {
	case BATCH_EVENT_COMPLETED:
		column = "notified_completed";
		break;
	case BATCH_EVENT_HALF_FAILED:
		column = "notified_half_failed";
		break;
	default:
		/* a pause is told by whoever paused the batch */
		i_unreached();
	}
	stmt = store_stmt(store, t_strdup_printf(
		"UPDATE import_remote_batches SET %s = 1 "
		"WHERE id = ? AND %s = 0", column, column), STORE_NUM(id));
	return store_update(store, stmt, error_r);
}
