#ifndef JOB_STORE_PRIVATE_H
#define JOB_STORE_PRIVATE_H

#include "job-store.h"
#include "secret-box.h"
#include "store-sql.h"

/* Shared by job-store.c and batch-store.c: the store's tables live in one
   database, one schema. */

struct sql_db;
struct sql_result;
struct sql_statement;
struct sql_transaction_context;

#define JOB_COLUMNS \
	"id, username, status, source_host, source_port, source_ssl, " \
	"source_user, options, created, started, finished, updated, worker, " \
	"msgs_done, msgs_total, bytes_done, bytes_total, imported, skipped, " \
	"filtered, failed, error_code, error_detail, cancel_requested, " \
	"source_password, folders_done, folders_total, batch_id, quota_used, " \
	"superseded_by, run_base_imported, run_base_bytes, retry_count, " \
	"retry_limit, retry_at, lost_claims, connections, leases, " \
	"current_folder"

struct job_store {
	struct sql_db *db;
	/* the key file's key, when the opener loaded it
	   (job_store_set_key()): what the store holds of notifications is
	   authenticated with it */
	unsigned char key[SECRET_BOX_KEY_LEN];
	bool have_key;
	bool pgsql;
	unsigned int schema_version;
	/* the caps on connections to one source host (job-caps.h); NULL:
	   none */
	pool_t caps_pool;
	const struct job_caps *caps;
	/* the live jobs the last claim allowed in the store (its slots; 0:
	   none claimed yet): the jobs that wait beyond them get no
	   connection left to them (job-caps.c) */
	unsigned int claim_slots;
};

/* SQL: the job of alias may run as far as its batch goes (none, or an
   active one: a paused or cancelled batch's jobs wait) */
#define JOB_STORE_SQL_BATCH_RUNS(alias) \
	"(" alias ".batch_id = 0 OR " alias ".batch_id IN (SELECT b.id " \
	"FROM import_remote_batches b WHERE b.state = 'active'))"

/* Run a statement selecting JOB_COLUMNS. Returns the number of rows, or
   -1. */
int job_store_query_jobs(struct sql_statement *stmt, pool_t pool,
			 ARRAY_TYPE(job) *jobs, const char **error_r);
/* A unique token that finds a new row again on every driver */
const char *job_store_new_token(void);
int job_store_id_by_token(struct job_store *store, const char *table,
			  const char *token, unsigned long long *id_r,
			  const char **error_r);
/* Queue a job in trans, in the batch of batch_token if it isn't NULL
   (else in job->batch_id). */
void job_store_add_job(struct job_store *store,
		       struct sql_transaction_context *trans,
		       const struct job *job, const char *token,
		       const char *batch_token);

/* Cancel in trans the jobs whose id_column ("id", "batch_id") is id: the
   queued ones now, the live ones at their next heartbeat */
void job_store_add_cancel(struct job_store *store,
			  struct sql_transaction_context *trans,
			  const char *id_column, unsigned long long id);

#endif
