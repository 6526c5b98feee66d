/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "guid.h"
#include "safe-memset.h"
#include "str-sanitize.h"
#include "ioloop.h"
#include "sql-api.h"
#include "import-remote-compat.h"
#include "import-remote-event.h"
#include "job-store-private.h"
#include "job-caps.h"

/* The schema this code writes. Each step in schema_steps[] takes the store
   from version i to i+1; open applies the missing ones. */
#define JOB_STORE_SCHEMA_VERSION 28

/* lib-sql's driver list is per process: the first store opened sets it
   up (neither doveadm nor our worker has it otherwise), the last closed
   tears it down. */
static unsigned int job_store_refcount = 0;

static void job_store_drivers_ref(void)
{
	if (job_store_refcount++ > 0)
		return;
	import_remote_compat_sql_drivers_init();
}

static void job_store_drivers_unref(void)
{
	i_assert(job_store_refcount > 0);
	if (--job_store_refcount > 0)
		return;
	import_remote_compat_sql_drivers_deinit();
}

static const char *const job_status_names[JOB_STATUS_COUNT] = {
	[JOB_STATUS_QUEUED] = "queued",
	[JOB_STATUS_PREPARING] = "preparing",
	[JOB_STATUS_RUNNING] = "running",
	[JOB_STATUS_COMPLETED] = "completed",
	[JOB_STATUS_FAILED] = "failed",
	[JOB_STATUS_CANCELLED] = "cancelled",
};

const char *job_status_name(enum job_status status)
{
	i_assert(status < JOB_STATUS_COUNT);
	return job_status_names[status];
}

int job_status_parse(const char *name, enum job_status *status_r)
{
	unsigned int i;

	for (i = 0; i < JOB_STATUS_COUNT; i++) {
		if (strcmp(job_status_names[i], name) == 0) {
			*status_r = i;
			return 0;
		}
	}
	return -1;
}

bool job_status_is_final(enum job_status status)
{
	return status == JOB_STATUS_COMPLETED || status == JOB_STATUS_FAILED ||
		status == JOB_STATUS_CANCELLED;
}

/* the SQL of each schema step, per driver (id column differs) */
static const char *job_store_schema_step(struct job_store *store,
					 unsigned int version)
{
	switch (version) {
	case 0:
		return t_strdup_printf(
			"CREATE TABLE IF NOT EXISTS import_remote_jobs ("
			"id %s, "
			"token VARCHAR(40) NOT NULL, "
			"username VARCHAR(255) NOT NULL, "
			"status VARCHAR(16) NOT NULL, "
			"source_host VARCHAR(255) NOT NULL, "
			"source_port INTEGER NOT NULL, "
			"source_ssl VARCHAR(16) NOT NULL, "
			"source_user VARCHAR(255) NOT NULL, "
			"options TEXT NOT NULL, "
			"created BIGINT NOT NULL, started BIGINT NOT NULL, "
			"finished BIGINT NOT NULL, updated BIGINT NOT NULL, "
			"worker VARCHAR(255) NOT NULL, "
			"msgs_done BIGINT NOT NULL, msgs_total BIGINT NOT NULL, "
			"bytes_done BIGINT NOT NULL, bytes_total BIGINT NOT NULL, "
			"imported BIGINT NOT NULL, skipped BIGINT NOT NULL, "
			"filtered BIGINT NOT NULL, failed BIGINT NOT NULL, "
			"error_code VARCHAR(32) NOT NULL, "
			"error_detail TEXT NOT NULL, "
			"cancel_requested INTEGER NOT NULL)",
			store->pgsql ? "BIGSERIAL PRIMARY KEY" :
			"INTEGER PRIMARY KEY AUTOINCREMENT");
	case 1:
		/* the source password, encrypted (secret-box); '' once the
		   job has ended */
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"source_password TEXT NOT NULL DEFAULT ''";
	case 2:
		/* folders copied out of all (SQLite adds one column at a
		   time) */
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"folders_done BIGINT NOT NULL DEFAULT 0";
	case 3:
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"folders_total BIGINT NOT NULL DEFAULT 0";
	case 4:
		/* bulk imports: state is what the admin (or the storage
		   check) set, the status shown is derived from the jobs */
		return t_strdup_printf(
			"CREATE TABLE IF NOT EXISTS import_remote_batches ("
			"id %s, "
			"token VARCHAR(40) NOT NULL, "
			"created BIGINT NOT NULL, updated BIGINT NOT NULL, "
			"state VARCHAR(16) NOT NULL, "
			"pause_reason VARCHAR(32) NOT NULL, "
			"storage_limit BIGINT NOT NULL, "
			"notify VARCHAR(255) NOT NULL, "
			"notified_completed INTEGER NOT NULL, "
			"notified_half_failed INTEGER NOT NULL)",
			store->pgsql ? "BIGSERIAL PRIMARY KEY" :
			"INTEGER PRIMARY KEY AUTOINCREMENT");
	case 5:
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"batch_id BIGINT NOT NULL DEFAULT 0";
	case 6:
		/* the user's quota usage (bytes) as its job last saw it:
		   a batch's storage limit is checked against their sum */
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"quota_used BIGINT NOT NULL DEFAULT 0";
	case 7:
		/* the job that retried this one: a batch counts only the
		   newest job of each user */
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"superseded_by BIGINT NOT NULL DEFAULT 0";
	case 8:
		return "CREATE INDEX IF NOT EXISTS import_remote_jobs_batch "
			"ON import_remote_jobs (batch_id)";
	case 9:
		/* notifications waiting to be delivered (notify-outbox.c) */
		return t_strdup_printf(
			"CREATE TABLE IF NOT EXISTS import_remote_notifications ("
			"id %s, "
			"batch_id BIGINT NOT NULL, "
			"event VARCHAR(32) NOT NULL, "
			"channel VARCHAR(16) NOT NULL, "
			"sender VARCHAR(255) NOT NULL, "
			"recipient TEXT NOT NULL, "
			"payload TEXT NOT NULL, "
			"state VARCHAR(16) NOT NULL, "
			"created BIGINT NOT NULL, next_attempt BIGINT NOT NULL, "
			"attempts INTEGER NOT NULL, "
			"claimed_by VARCHAR(80) NOT NULL, "
			"claimed_at BIGINT NOT NULL, "
			"finished BIGINT NOT NULL, "
			"last_error TEXT NOT NULL)",
			store->pgsql ? "BIGSERIAL PRIMARY KEY" :
			"INTEGER PRIMARY KEY AUTOINCREMENT");
	case 10:
		/* what earlier runs of the job (before a pause or a worker's
		   death) imported: the current run's rate leaves them out */
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"run_base_imported BIGINT NOT NULL DEFAULT 0";
	case 11:
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"run_base_bytes BIGINT NOT NULL DEFAULT 0";
	case 12:
		/* the history grows for ever: claims look at the queued and
		   live jobs, status and history at one user's */
		return "CREATE INDEX IF NOT EXISTS import_remote_jobs_status "
			"ON import_remote_jobs (status)";
	case 13:
		return "CREATE INDEX IF NOT EXISTS import_remote_jobs_username "
			"ON import_remote_jobs (username)";
	case 14:
		/* a job that ended with a transient error is queued again
		   by itself: which retry it is, of how many, and when */
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"retry_count BIGINT NOT NULL DEFAULT 0";
	case 15:
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"retry_limit BIGINT NOT NULL DEFAULT 0";
	case 16:
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"retry_at BIGINT NOT NULL DEFAULT 0";
	case 17:
		/* automatic imports (trigger-store.h): a row per user and
		   source */
		return "CREATE TABLE IF NOT EXISTS import_remote_triggers ("
			"username VARCHAR(255) NOT NULL, "
			"source_key VARCHAR(64) NOT NULL, "
			"job_id BIGINT NOT NULL DEFAULT 0, "
			"claim VARCHAR(255) NOT NULL DEFAULT '', "
			"claimed BIGINT NOT NULL DEFAULT 0, "
			"completed BIGINT NOT NULL DEFAULT 0, "
			"PRIMARY KEY (username, source_key))";
	case 18:
		/* notifications authenticated with the key file: whoever
		   can write the store can't make the deliverer send or sign
		   a text of their own (notify-outbox.c) */
		return "ALTER TABLE import_remote_notifications ADD COLUMN "
			"mac VARCHAR(64) NOT NULL DEFAULT ''";
	case 19:
		return "ALTER TABLE import_remote_batches ADD COLUMN "
			"notify_mac VARCHAR(64) NOT NULL DEFAULT ''";
	case 20:
		/* messages a job could not import (failed-message-store.c) */
		return "CREATE TABLE IF NOT EXISTS import_remote_failed_messages ("
			"job_id BIGINT NOT NULL, "
			"folder TEXT NOT NULL, "
			"uid BIGINT NOT NULL, "
			"size BIGINT NOT NULL, "
			"message_id TEXT NOT NULL, "
			"received BIGINT NOT NULL, "
			"reason TEXT NOT NULL)";
	case 21:
		return "CREATE INDEX IF NOT EXISTS import_remote_failed_messages_job "
			"ON import_remote_failed_messages (job_id)";
	case 22:
		/* claims of the job in a row whose run never ended nor
		   committed mail: its worker died (a crash, a kill) or
		   stopped beating, and the job was taken over. Past a few,
		   the job fails (worker_crashed) rather than take every
		   worker down in turn. */
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"lost_claims BIGINT NOT NULL DEFAULT 0";
	case 23:
		/* connections to the source the job asks for (job-caps.h) */
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"connections BIGINT NOT NULL DEFAULT 1";
	case 24:
		/* connections to the source it holds while live: its leases
		   against the host's and the account's caps, granted by the
		   claim, kept by its heartbeat (updated), gone when it ends,
		   goes back to the queue or is taken over */
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"leases BIGINT NOT NULL DEFAULT 1";
	case 25:
		/* refresh tokens of the device authorization grant
		   (oauth2-grant-store.c), one per user, encrypted */
		return "CREATE TABLE IF NOT EXISTS import_remote_oauth2_grants ("
			"username TEXT NOT NULL PRIMARY KEY, "
			"token_url TEXT NOT NULL, "
			"client_id TEXT NOT NULL, "
			"scope TEXT NOT NULL, "
			"secret TEXT NOT NULL, "
			"updated BIGINT NOT NULL)";
	case 26:
		/* the folder a live job's run copies now, written with its
		   progress (job->folder) */
		return "ALTER TABLE import_remote_jobs ADD COLUMN "
			"current_folder TEXT NOT NULL DEFAULT ''";
	case 27:
		/* the app's access tokens (client credentials) shared by
		   the workers (oauth2-app-token-store.c), encrypted */
		return "CREATE TABLE IF NOT EXISTS "
			"import_remote_oauth2_app_tokens ("
			"name VARCHAR(64) NOT NULL PRIMARY KEY, "
			"secret TEXT NOT NULL, "
			"expires BIGINT NOT NULL, "
			"fetching_until BIGINT NOT NULL)";
	}
	i_unreached();
}

static int job_store_query_version(struct job_store *store,
				   const char **error_r)
{
	struct sql_result *result;
	const char *value;
	int ret;

	result = store_query_s(store, "SELECT value FROM import_remote_meta "
			       "WHERE name = 'schema_version'");
	ret = sql_result_next_row(result);
	if (ret < 0) {
		/* no meta table: a new database */
		store->schema_version = 0;
		ret = 0;
	} else if (ret == 0) {
		store->schema_version = 0;
	} else {
		value = sql_result_get_field_value(result, 0);
		if (value == NULL ||
		    str_to_uint(value, &store->schema_version) < 0) {
			*error_r = "Invalid schema_version in import_remote_meta";
			ret = -1;
		} else {
			ret = 0;
		}
	}
	sql_result_unref(result);
	return ret;
}

static int job_store_migrate_once(struct job_store *store,
				  const char **error_r)
{
	struct sql_transaction_context *trans;
	unsigned int version;

	if (job_store_query_version(store, error_r) < 0)
		return -1;
	if (store->schema_version > JOB_STORE_SCHEMA_VERSION) {
		*error_r = t_strdup_printf("The job store has schema version "
			"%u, newer than this version understands (%u)",
			store->schema_version, JOB_STORE_SCHEMA_VERSION);
		return -1;
	}
	if (store->schema_version == JOB_STORE_SCHEMA_VERSION)
		return 0;

	trans = store_transaction_begin(store);
	if (store->schema_version == 0) {
		sql_update(trans, "CREATE TABLE IF NOT EXISTS import_remote_meta ("
			   "name VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)");
	}
	for (version = store->schema_version;
	     version < JOB_STORE_SCHEMA_VERSION; version++)
		sql_update(trans, job_store_schema_step(store, version));
	sql_update(trans, "DELETE FROM import_remote_meta "
		   "WHERE name = 'schema_version'");
	sql_update(trans, t_strdup_printf(
		"INSERT INTO import_remote_meta (name, value) "
		"VALUES ('schema_version', '%u')", JOB_STORE_SCHEMA_VERSION));
	if (store_commit(store, &trans, error_r) < 0)
		return -1;
	store->schema_version = JOB_STORE_SCHEMA_VERSION;
	return 0;
}

/* Several workers may start at once and race to create or migrate the
   schema: when a migration fails, see whether another one did it. */
static int job_store_migrate(struct job_store *store, const char **error_r)
{
	const char *error;

	if (job_store_migrate_once(store, &error) == 0)
		return 0;
	if (job_store_query_version(store, error_r) == 0 &&
	    store->schema_version == JOB_STORE_SCHEMA_VERSION)
		return 0;
	*error_r = error;
	return -1;
}

int job_store_open(const char *driver, const char *connect_string,
		   struct event *event_parent, struct job_store **store_r,
		   const char **error_r)
{
	struct job_store *store;
	const char *error;

	store = i_new(struct job_store, 1);
	store->pgsql = strcmp(driver, "pgsql") == 0;
	job_store_drivers_ref();
	if (import_remote_compat_sql_init(driver, connect_string, event_parent,
					  &store->db, &error) < 0) {
		*error_r = t_strdup_printf("Job store %s: %s", driver, error);
		job_store_close(&store);
		return -1;
	}
	if (sql_connect(store->db) < 0) {
		*error_r = t_strdup_printf("Job store %s: cannot connect",
					   driver);
		job_store_close(&store);
		return -1;
	}
	if (job_store_migrate(store, &error) < 0) {
		*error_r = t_strdup_printf("Job store %s: %s", driver, error);
		job_store_close(&store);
		return -1;
	}
	*store_r = store;
	return 0;
}

void job_store_close(struct job_store **_store)
{
	struct job_store *store = *_store;

	*_store = NULL;
	safe_memset(store->key, 0, sizeof(store->key));
	if (store->db != NULL) {
		sql_disconnect(store->db);
		sql_unref(&store->db);
	}
	job_store_drivers_unref();
	pool_unref(&store->caps_pool);
	i_free(store);
}

void job_store_set_key(struct job_store *store, const unsigned char *key)
{
	memcpy(store->key, key, sizeof(store->key));
	store->have_key = TRUE;
}

const unsigned char *job_store_get_key(struct job_store *store)
{
	return store->have_key ? store->key : NULL;
}

unsigned int job_store_get_schema_version(struct job_store *store)
{
	return store->schema_version;
}

void job_store_add_job(struct job_store *store,
		       struct sql_transaction_context *trans,
		       const struct job *job, const char *token,
		       const char *batch_token)
{
	struct sql_statement *stmt;

	stmt = store_stmt(store, t_strdup_printf(
		"INSERT INTO import_remote_jobs (token, username, status, "
		"source_host, source_port, source_ssl, source_user, options, "
		"created, started, finished, updated, worker, msgs_done, "
		"msgs_total, bytes_done, bytes_total, imported, skipped, "
		"filtered, failed, error_code, error_detail, cancel_requested, "
		"source_password, batch_id, connections) "
		"VALUES (?, ?, 'queued', ?, ?, ?, ?, ?, ?, 0, 0, ?, '', "
		"0, 0, 0, 0, 0, 0, 0, 0, '', '', 0, ?, %s, ?)",
		batch_token == NULL ? "?" :
		"(SELECT id FROM import_remote_batches WHERE token = ?)"),
		STORE_STR(token), STORE_STR(job->username),
		STORE_STR(job->source_host), STORE_NUM(job->source_port),
		STORE_STR(job->source_ssl), STORE_STR(job->source_user),
		STORE_STR(job->options == NULL ? "" : job->options),
		STORE_NUM(ioloop_time), STORE_NUM(ioloop_time),
		STORE_STR(job->source_password == NULL ? "" :
			  job->source_password),
		/* the batch: its id, or the row of its token */
		batch_token == NULL ?
		(struct store_param)STORE_NUM(job->batch_id) :
		(struct store_param)STORE_STR(batch_token),
		STORE_NUM(job->connections == 0 ? 1 : job->connections));
	sql_update_stmt(trans, &stmt);
}

const char *job_store_new_token(void)
{
	guid_128_t guid;

	guid_128_generate(guid);
	return guid_128_to_string(guid);
}

static void job_store_id_read(struct sql_result *result,
			      unsigned long long *id)
{
	*id = result_num(result, 0);
}

int job_store_id_by_token(struct job_store *store, const char *table,
			  const char *token, unsigned long long *id_r,
			  const char **error_r)
{
	struct sql_statement *stmt;
	int ret;

	*id_r = 0;
	stmt = store_stmt(store, t_strdup_printf(
		"SELECT id FROM %s WHERE token = ?", table),
		STORE_STR(token));
	ret = store_query(&stmt, job_store_id_read, id_r, error_r);
	if (ret < 0)
		return -1;
	if (ret == 0) {
		*error_r = "The new row disappeared";
		return -1;
	}
	if (*id_r == 0) {
		*error_r = "Invalid id";
		return -1;
	}
	return 0;
}

int job_store_create(struct job_store *store, const struct job *job,
		     unsigned long long *id_r, const char **error_r)
{
	struct sql_transaction_context *trans;
	/* a unique token finds the new row again, on every driver */
	const char *token = job_store_new_token();

	trans = store_transaction_begin(store);
	job_store_add_job(store, trans, job, token, NULL);
	if (store_commit(store, &trans, error_r) < 0)
		return -1;
	return job_store_id_by_token(store, "import_remote_jobs", token,
				     id_r, error_r);
}

/* One row in JOB_COLUMNS order */
static int job_from_row(struct sql_result *result, pool_t pool,
			struct job *job_r)
{
	const char *status = sql_result_get_field_value(result, 2);

	i_zero(job_r);
	job_r->id = result_num(result, 0);
	job_r->username = result_str(result, pool, 1);
	if (status == NULL || job_status_parse(status, &job_r->status) < 0)
		return -1;
	job_r->source_host = result_str(result, pool, 3);
	job_r->source_port = result_num(result, 4);
	job_r->source_ssl = result_str(result, pool, 5);
	job_r->source_user = result_str(result, pool, 6);
	job_r->options = result_str(result, pool, 7);
	job_r->created = result_num(result, 8);
	job_r->started = result_num(result, 9);
	job_r->finished = result_num(result, 10);
	job_r->updated = result_num(result, 11);
	job_r->worker = result_str(result, pool, 12);
	job_r->msgs_done = result_num(result, 13);
	job_r->msgs_total = result_num(result, 14);
	job_r->bytes_done = result_num(result, 15);
	job_r->bytes_total = result_num(result, 16);
	job_r->imported = result_num(result, 17);
	job_r->skipped = result_num(result, 18);
	job_r->filtered = result_num(result, 19);
	job_r->failed = result_num(result, 20);
	job_r->error_code = result_str(result, pool, 21);
	job_r->error_detail = result_str(result, pool, 22);
	job_r->cancel_requested = result_num(result, 23) != 0;
	job_r->source_password = result_str(result, pool, 24);
	job_r->folders_done = result_num(result, 25);
	job_r->folders_total = result_num(result, 26);
	job_r->batch_id = result_num(result, 27);
	job_r->quota_used = result_num(result, 28);
	job_r->superseded_by = result_num(result, 29);
	job_r->run_base_imported = result_num(result, 30);
	job_r->run_base_bytes = result_num(result, 31);
	job_r->retry_count = result_num(result, 32);
	job_r->retry_limit = result_num(result, 33);
	job_r->retry_at = result_num(result, 34);
	job_r->lost_claims = result_num(result, 35);
	job_r->connections = result_num(result, 36);
	job_r->leases = result_num(result, 37);
	job_r->folder = result_str(result, pool, 38);
	/* an update of this copy of the job succeeds only while it has
	   the worker it was read with */
	job_r->claim = job_r->worker;
	return 0;
}

struct job_read {
	pool_t pool;
	ARRAY_TYPE(job) *jobs;
	bool invalid_status;
};

static void job_read(struct sql_result *result, struct job_read *ctx)
{
	struct job job;

	if (job_from_row(result, ctx->pool, &job) < 0)
		ctx->invalid_status = TRUE;
	else
		array_push_back(ctx->jobs, &job);
}

/* Run a statement returning jobs. Returns the number of rows, or -1. */
int job_store_query_jobs(struct sql_statement *stmt, pool_t pool,
			 ARRAY_TYPE(job) *jobs, const char **error_r)
{
	struct job_read ctx = { .pool = pool, .jobs = jobs };
	int ret;

	ret = store_query(&stmt, job_read, &ctx, error_r);
	if (ret >= 0 && ctx.invalid_status) {
		*error_r = "Invalid job status in the job store";
		return -1;
	}
	return ret;
}

int job_store_get(struct job_store *store, pool_t pool,
		  unsigned long long id, struct job *job_r,
		  const char **error_r)
{
	struct sql_statement *stmt;
	ARRAY_TYPE(job) jobs;
	int ret;

	t_array_init(&jobs, 1);
	stmt = store_stmt(store, "SELECT "JOB_COLUMNS
		" FROM import_remote_jobs WHERE id = ?", STORE_NUM(id));
	ret = job_store_query_jobs(stmt, pool, &jobs, error_r);
	if (ret <= 0)
		return ret;
	*job_r = *array_idx(&jobs, 0);
	return 1;
}

int job_store_list_user(struct job_store *store, pool_t pool,
			const char *username, ARRAY_TYPE(job) *jobs,
			const char **error_r)
{
	struct sql_statement *stmt;

	stmt = store_stmt(store, "SELECT "JOB_COLUMNS
		" FROM import_remote_jobs WHERE username = ? ORDER BY id DESC",
		STORE_STR(username));
	return job_store_query_jobs(stmt, pool, jobs, error_r) < 0 ? -1 : 0;
}


/* The WHERE clause of filter (" WHERE …" or ""), its parameters
   appended to params in their order */
static void
job_list_where(const struct job_list_filter *filter, string_t *query,
	       ARRAY_TYPE(store_param) *params)
{
	struct store_param param;
	const char *sep = " WHERE ";
	unsigned int i;

	if (filter->status_mask != 0) {
		str_printfa(query, "%sstatus IN (", sep);
		for (i = 0; i < JOB_STATUS_COUNT; i++) {
			if ((filter->status_mask & (1U << i)) == 0)
				continue;
			if (str_data(query)[str_len(query) - 1] != '(')
				str_append(query, ", ");
			str_append_c(query, '?');
			param = (struct store_param)
				STORE_STR(job_status_name(i));
			array_push_back(params, &param);
		}
		str_append_c(query, ')');
		sep = " AND ";
	}
	if (filter->host != NULL) {
		str_printfa(query, "%sLOWER(source_host) = LOWER(?)", sep);
		param = (struct store_param)STORE_STR(filter->host);
		array_push_back(params, &param);
		sep = " AND ";
	}
	if (filter->since != 0) {
		str_printfa(query, "%supdated >= ?", sep);
		param = (struct store_param)STORE_NUM(filter->since);
		array_push_back(params, &param);
		sep = " AND ";
	}
	if (!filter->include_superseded)
		str_printfa(query, "%ssuperseded_by = 0", sep);
}

struct job_list_read {
	pool_t pool;
	ARRAY_TYPE(job) *jobs;
};

static void job_list_read(struct sql_result *result,
			  struct job_list_read *ctx)
{
	struct job job;

	/* one row the store garbled leaves the others readable; its
	   status is not shown, only that it is there */
	if (job_from_row(result, ctx->pool, &job) < 0) {
		e_warning(import_remote_event(),
			"Job %llu has an invalid status in "
			  "the job store: not listed", result_num(result, 0));
	} else {
		array_push_back(ctx->jobs, &job);
	}
}

int job_store_list(struct job_store *store, pool_t pool,
		   const struct job_list_filter *filter,
		   ARRAY_TYPE(job) *jobs, const char **error_r)
{
	struct job_list_read ctx = { .pool = pool, .jobs = jobs };
	ARRAY_TYPE(store_param) params;
	const struct store_param *bound;
	struct sql_statement *stmt;
	struct store_param param;
	unsigned int count;
	string_t *query;

	t_array_init(&params, 8);
	query = t_str_new(256);
	str_append(query, "SELECT "JOB_COLUMNS" FROM import_remote_jobs");
	job_list_where(filter, query, &params);
	/* newest first: the primary key's order, so that the store reads
	   only as far as the limit */
	str_append(query, " ORDER BY id DESC");
	if (filter->limit > 0) {
		str_append(query, " LIMIT ?");
		param = (struct store_param)STORE_NUM(filter->limit);
		array_push_back(&params, &param);
	}
	bound = array_get(&params, &count);
	stmt = store_stmt_bind(store, str_c(query), bound, count);
	return store_query(&stmt, job_list_read, &ctx, error_r) < 0 ? -1 : 0;
}

static void job_count_read(struct sql_result *result, unsigned int *counts)
{
	const char *name = sql_result_get_field_value(result, 0);
	enum job_status status;

	if (name != NULL && job_status_parse(name, &status) == 0)
		counts[status] = result_num(result, 1);
}

int job_store_count(struct job_store *store,
		    const struct job_list_filter *filter,
		    unsigned int counts_r[JOB_STATUS_COUNT],
		    const char **error_r)
{
	ARRAY_TYPE(store_param) params;
	const struct store_param *bound;
	struct sql_statement *stmt;
	unsigned int count;
	string_t *query;

	memset(counts_r, 0, sizeof(*counts_r) * JOB_STATUS_COUNT);
	t_array_init(&params, 8);
	query = t_str_new(256);
	str_append(query, "SELECT status, COUNT(*) FROM import_remote_jobs");
	job_list_where(filter, query, &params);
	str_append(query, " GROUP BY status");
	bound = array_get(&params, &count);
	stmt = store_stmt_bind(store, str_c(query), bound, count);
	return store_query(&stmt, job_count_read, counts_r, error_r) < 0 ?
		-1 : 0;
}

int job_store_claim(struct job_store *store, pool_t pool, const char *worker,
		    unsigned int stale_secs, unsigned int slots,
		    time_t due_by, struct job *job_r, const char **error_r)
{
	struct sql_transaction_context *trans;
	struct sql_statement *stmt;
	ARRAY_TYPE(job) jobs;
	unsigned int affected = 0;
	guid_128_t guid;
	const char *claim;
	int ret;

	/* the claim is marked with a token of its own, to find the row */
	guid_128_generate(guid);
	claim = t_strdup_printf("%s/%s", worker, guid_128_to_string(guid));

	i_assert(slots > 0);
	store->claim_slots = slots;
	trans = store_transaction_begin(store);
	/* SQLite runs one writer at a time; PostgreSQL's READ COMMITTED would
	   let two claims each see the other's job as not yet live (a user's
	   second import, a slot too many): one claim at a time there too */
	if (store->pgsql) {
		sql_update(trans, "LOCK TABLE import_remote_jobs "
			   "IN SHARE ROW EXCLUSIVE MODE");
	}
	/* claimable: queued (a retry once its time has come), or live but
	   not updated for stale_secs (its worker died; the claim changes
	   the worker, which fences that one's updates off, and counts the
	   claim that never ended); never while the user has another live
	   job or all slots are taken */
	{
	const struct store_param claim_params[] = {
		STORE_STR(claim), STORE_NUM(ioloop_time),
		STORE_NUM(ioloop_time), STORE_NUM(ioloop_time - stale_secs),
		STORE_NUM(due_by), STORE_NUM(ioloop_time - stale_secs),
		STORE_NUM(ioloop_time - stale_secs),
		STORE_NUM(ioloop_time - stale_secs), STORE_NUM(slots),
	};
	ARRAY_TYPE(store_param) params;
	const struct store_param *bound;
	unsigned int count;
	string_t *query = t_str_new(2048);

	t_array_init(&params, 32);
	array_append(&params, claim_params, N_ELEMENTS(claim_params));
	str_append(query,
		"UPDATE import_remote_jobs SET status = 'preparing', "
		"worker = ?, started = ?, updated = ?, "
		/* a run taken over: its folder is not the new run's */
		"current_folder = '', "
		"lost_claims = CASE WHEN status = 'queued' THEN lost_claims "
		"ELSE lost_claims + 1 END "
		"WHERE (status = 'queued' OR (status IN ('preparing', 'running')"
		" AND updated < ?)) AND id = ("
		" SELECT j.id FROM import_remote_jobs j"
		" WHERE ((j.status = 'queued' AND j.retry_at <= ?)"
		"  OR (j.status IN ('preparing', 'running') AND j.updated < ?))"
		" AND NOT EXISTS (SELECT 1 FROM import_remote_jobs l"
		"  WHERE l.username = j.username AND l.id <> j.id"
		"  AND l.status IN ('preparing', 'running') AND l.updated >= ?)"
		" AND (SELECT COUNT(*) FROM import_remote_jobs s"
		"  WHERE s.status IN ('preparing', 'running')"
		"  AND s.updated >= ?) < ?"
		/* a paused or cancelled batch's jobs wait */
		" AND " JOB_STORE_SQL_BATCH_RUNS("j"));
	/* a job whose host (or account) has no connection free waits, and
	   the next one in the queue is looked at: no host holds up the
	   others */
	job_caps_append_claim_where(store, "j", ioloop_time - stale_secs,
				    query, &params);
	str_append(query, " ORDER BY j.id LIMIT 1)");
	bound = array_get(&params, &count);
	stmt = store_stmt_bind(store, str_c(query), bound, count);
	}
	sql_update_stmt_get_rows(trans, &stmt, &affected);
	/* in the same transaction (the same lock): the connections it may
	   open, as many as it asks for and its caps leave free */
	job_caps_add_claim_leases(store, trans, claim,
				  ioloop_time - stale_secs);
	if (store_commit(store, &trans, error_r) < 0)
		return -1;
	if (affected == 0)
		return 0;

	t_array_init(&jobs, 1);
	stmt = store_stmt(store, "SELECT "JOB_COLUMNS
		" FROM import_remote_jobs WHERE worker = ?", STORE_STR(claim));
	ret = job_store_query_jobs(stmt, pool, &jobs, error_r);
	if (ret <= 0) {
		if (ret == 0)
			*error_r = "The claimed job disappeared";
		return -1;
	}
	*job_r = *array_idx(&jobs, 0);
	return 1;
}

int job_store_update(struct job_store *store, const struct job *job,
		     const char **error_r)
{
	struct sql_statement *stmt;

	i_assert(job->claim != NULL);
	stmt = store_stmt(store,
		"UPDATE import_remote_jobs SET status = ?, started = ?, "
		"finished = ?, updated = ?, msgs_done = ?, msgs_total = ?, "
		"bytes_done = ?, bytes_total = ?, imported = ?, skipped = ?, "
		"filtered = ?, failed = ?, error_code = ?, error_detail = ?, "
		"source_password = CASE WHEN ? = 1 THEN '' "
		"ELSE source_password END, folders_done = ?, "
		"folders_total = ?, quota_used = ?, worker = ?, "
		"run_base_imported = ?, run_base_bytes = ?, retry_count = ?, "
		"retry_limit = ?, retry_at = ?, current_folder = ?, "
		"lost_claims = CASE WHEN imported < ? THEN 0 "
		"ELSE lost_claims END WHERE id = ? AND worker = ?",
		STORE_STR(job_status_name(job->status)),
		STORE_NUM(job->started), STORE_NUM(job->finished),
		STORE_NUM(ioloop_time), STORE_NUM(job->msgs_done),
		STORE_NUM(job->msgs_total), STORE_NUM(job->bytes_done),
		STORE_NUM(job->bytes_total), STORE_NUM(job->imported),
		STORE_NUM(job->skipped), STORE_NUM(job->filtered),
		STORE_NUM(job->failed),
		STORE_STR(job->error_code == NULL ? "" : job->error_code),
		STORE_STR(job->error_detail == NULL ? "" : job->error_detail),
		/* the password is erased when the job completes or is cancelled; a
	   failed job keeps it (encrypted) until it is retried */
		STORE_NUM(job->status == JOB_STATUS_COMPLETED || job->status == JOB_STATUS_CANCELLED),
		STORE_NUM(job->folders_done), STORE_NUM(job->folders_total),
		STORE_NUM(job->quota_used),
		STORE_STR(job->worker == NULL ? "" : job->worker),
		STORE_NUM(job->run_base_imported),
		STORE_NUM(job->run_base_bytes), STORE_NUM(job->retry_count),
		STORE_NUM(job->retry_limit), STORE_NUM(job->retry_at),
		/* the source's name: no control character, valid UTF-8,
		   bounded */
		STORE_STR(job->folder == NULL ? "" :
			  str_sanitize(job->folder, JOB_FOLDER_MAX_BYTES)),
		/* mail committed: the claims lost before got somewhere, they are
	   not a crash that comes back at the same place */
		STORE_NUM(job->imported), STORE_NUM(job->id),
		/* the fence: another worker that took the job over has changed it */
		STORE_STR(job->claim));
	return store_update(store, stmt, error_r);
}

int job_store_update_secret(struct job_store *store, const struct job *job,
			    const char *source_password, const char **error_r)
{
	struct sql_statement *stmt;

	i_assert(job->claim != NULL);
	stmt = store_stmt(store,
		"UPDATE import_remote_jobs SET source_password = ? "
		"WHERE id = ? AND worker = ?",
		STORE_STR(source_password), STORE_NUM(job->id),
		/* the fence, as in job_store_update() */
		STORE_STR(job->claim));
	return store_update(store, stmt, error_r);
}

void job_store_add_cancel(struct job_store *store,
			  struct sql_transaction_context *trans,
			  const char *id_column, unsigned long long id)
{
	struct sql_statement *stmt;

	/* a queued job ends at once; a live one stops at its next update */
	stmt = store_stmt(store, t_strdup_printf(
		"UPDATE import_remote_jobs SET status = 'cancelled', "
		"finished = ?, updated = ?, error_code = 'cancelled', "
		"source_password = '' WHERE %s = ? AND status = 'queued'",
		id_column),
		STORE_NUM(ioloop_time), STORE_NUM(ioloop_time), STORE_NUM(id));
	sql_update_stmt(trans, &stmt);
	stmt = store_stmt(store, t_strdup_printf(
		"UPDATE import_remote_jobs SET cancel_requested = 1 "
		"WHERE %s = ? AND status IN ('preparing', 'running')",
		id_column),
		STORE_NUM(id));
	sql_update_stmt(trans, &stmt);
}

int job_store_cancel(struct job_store *store, unsigned long long id,
		     const char **error_r)
{
	struct sql_transaction_context *trans;

	trans = store_transaction_begin(store);
	job_store_add_cancel(store, trans, "id", id);
	return store_commit(store, &trans, error_r);
}

/* Set the job's superseded_by (and erase its password) if it is still
   "from". Returns 1 if it was, 0 if not, -1. */
static int job_store_set_superseded(struct job_store *store,
				    unsigned long long id,
				    unsigned long long from,
				    unsigned long long to,
				    const char **error_r)
{
	struct sql_statement *stmt;

	stmt = store_stmt(store,
		"UPDATE import_remote_jobs SET superseded_by = ?, "
		"source_password = CASE WHEN ? = 1 THEN '' "
		"ELSE source_password END WHERE id = ? AND superseded_by = ?",
		STORE_NUM(to),
		/* the password lives on in the new job only */
		STORE_NUM(to != id && to != 0), STORE_NUM(id),
		STORE_NUM(from));
	return store_update(store, stmt, error_r);
}

int job_store_retry(struct job_store *store, unsigned long long id,
		    unsigned long long *new_id_r, const char **error_r)
{
	struct job job;
	pool_t pool;
	int ret;

	pool = pool_alloconly_create("job retry", 1024);
	ret = job_store_get(store, pool, id, &job, error_r);
	if (ret > 0 && job.status != JOB_STATUS_FAILED) {
		*error_r = t_strdup_printf("Job %llu is %s, not failed",
					   id, job_status_name(job.status));
		ret = -1;
	} else if (ret > 0 && job.source_password[0] == '\0' &&
		   job.superseded_by == 0) {
		*error_r = t_strdup_printf("Job %llu has no stored password",
					   id);
		ret = -1;
	} else if (ret > 0) {
		/* one retry per job, also when two come at once: the one
		   that marks the job (as superseded by itself, meanwhile)
		   goes on */
		ret = job_store_set_superseded(store, id, 0, id, error_r);
		if (ret == 0) {
			*error_r = t_strdup_printf("Job %llu was retried "
				"already", id);
			ret = -1;
		}
	}
	if (ret > 0 && job_store_create(store, &job, new_id_r, error_r) < 0) {
		/* not retried after all */
		const char *error;

		if (job_store_set_superseded(store, id, id, 0, &error) < 0)
			e_error(import_remote_event(),
				"Job %llu: %s", id, error);
		ret = -1;
	}
	if (ret > 0 &&
	    job_store_set_superseded(store, id, id, *new_id_r, error_r) < 0)
		ret = -1;
	pool_unref(&pool);
	return ret;
}
