#ifndef JOB_STORE_H
#define JOB_STORE_H

/* The job store: import jobs persisted through Dovecot's lib-sql, SQLite by
   default (one file), PostgreSQL when several Dovecot backends share one
   queue. The schema is created and migrated on open, and versioned.

   Claims are atomic: a queued job goes to exactly one worker (an UPDATE
   that only succeeds while the job is still queued), and a user never has
   two jobs preparing/running at once. */

enum job_status {
	JOB_STATUS_QUEUED = 0,
	JOB_STATUS_PREPARING,
	JOB_STATUS_RUNNING,
	JOB_STATUS_COMPLETED,
	JOB_STATUS_FAILED,
	JOB_STATUS_CANCELLED,

	JOB_STATUS_COUNT
};

struct job {
	unsigned long long id;
	const char *username;
	enum job_status status;
	const char *source_host;
	unsigned int source_port;
	const char *source_ssl;
	const char *source_user;
	/* the import options, serialized by the caller */
	const char *options;
	time_t created, started, finished, updated;
	const char *worker;
	unsigned int folders_done, folders_total;
	unsigned int msgs_done, msgs_total;
	unsigned long long bytes_done, bytes_total;
	unsigned int imported, skipped, filtered, failed;
	/* error catalogue name ("" if none) and the cause */
	const char *error_code, *error_detail;
	/* the source password, encrypted with secret-box; "" after the end */
	const char *source_password;
	/* the bulk import it belongs to, 0 if none */
	unsigned long long batch_id;
	/* the user's quota usage in bytes, as last seen by the job */
	unsigned long long quota_used;
	/* the job that retried this one, 0 if none */
	unsigned long long superseded_by;
	/* what earlier runs of this job imported (messages, bytes): a run
	   after a pause or a worker's death counts on from there */
	unsigned long long run_base_imported, run_base_bytes;
	/* automatic retries after transient errors: the number of this
	   (or the next) one, the limit it was scheduled under, and, while
	   the job waits Queued for it, when it may run (0: now) */
	unsigned int retry_count, retry_limit;
	time_t retry_at;
	/* claims of this job in a row whose worker never ended the run (it
	   died, or stopped beating and the job was taken over) and committed
	   no mail: counted by the claim that takes it over, back to 0 once
	   a run commits more */
	unsigned int lost_claims;
	/* connections to the source the job asks for (0 when queueing:
	   1), and those the claim granted it: what it may open, within the
	   host's and the account's caps (job-caps.h) */
	unsigned int connections, leases;
	/* the folder the run copies now (the source server's name, decoded
	   to UTF-8), NULL or "" between folders and when no run is on;
	   written with the progress by job_store_update(), stored
	   sanitized and cut to JOB_FOLDER_MAX_BYTES */
	const char *folder;
	/* not stored: the worker this copy was read with (a claim's
	   token); job_store_update() changes the job only while it is
	   still that */
	const char *claim;
	bool cancel_requested;
};
ARRAY_DEFINE_TYPE(job, struct job);

/* The longest current folder name the store keeps (bytes, "..." included) */
#define JOB_FOLDER_MAX_BYTES 200

struct job_store;

/* "running" and "preparing" are the live states: a job in them has a
   worker. */
const char *job_status_name(enum job_status status);
/* Returns -1 for an unknown name */
int job_status_parse(const char *name, enum job_status *status_r);
bool job_status_is_final(enum job_status status);

/* Open the store: driver "sqlite" (connect_string = file path) or "pgsql"
   (a libpq connect string). Loads the lib-sql driver module if needed,
   creates or migrates the schema. */
int job_store_open(const char *driver, const char *connect_string,
		   struct event *event_parent, struct job_store **store_r,
		   const char **error_r);
void job_store_close(struct job_store **store);
/* The key file's key (secret-box.h), which authenticates what the store
   holds of notifications; NULL until job_store_set_key() */
void job_store_set_key(struct job_store *store, const unsigned char *key);
/* TRUE while a call of this process into a job store waits for its
   database. With PostgreSQL lib-sql waits in an ioloop of its own, where
   a timer of the caller's may fire: such a timer must not use a store then
   (lib-sql does not support a wait nested in another wait of the same
   connection: the outer one never ends) */
bool job_store_waiting(void);
const unsigned char *job_store_get_key(struct job_store *store);
/* Schema version the store is at */
unsigned int job_store_get_schema_version(struct job_store *store);

/* Queue a job (status, times and counters are set here). */
int job_store_create(struct job_store *store, const struct job *job,
		     unsigned long long *id_r, const char **error_r);
/* Returns 1 and the job, 0 if there is no such job, -1 on error. Strings
   are allocated from pool. */
int job_store_get(struct job_store *store, pool_t pool,
		  unsigned long long id, struct job *job_r,
		  const char **error_r);
/* A user's jobs, newest first */
int job_store_list_user(struct job_store *store, pool_t pool,
			const char *username, ARRAY_TYPE(job) *jobs,
			const char **error_r);
/* A status as a bit of job_list_filter.status_mask; the live ones */
#define JOB_STATUS_BIT(status) (1U << (status))
#define JOB_STATUS_LIVE_MASK \
	(JOB_STATUS_BIT(JOB_STATUS_PREPARING) | \
	 JOB_STATUS_BIT(JOB_STATUS_RUNNING))

/* Which jobs job_store_list() and job_store_count() find, of all users:
   those that match everything set */
struct job_list_filter {
	/* the statuses wanted, a bit (1 << status) each; 0: any */
	unsigned int status_mask;
	/* the source host, compared without regard to case; NULL: any */
	const char *host;
	/* changed (queued, claimed, progress or heartbeat, ended) at or
	   after this time; 0: whenever */
	time_t since;
	/* also the jobs a retry replaced (superseded_by != 0) */
	bool include_superseded;
	/* job_store_list(): at most this many, the newest; 0: no limit */
	unsigned int limit;
};
/* The jobs of all users that match filter, newest (highest id) first.
   The store selects and limits them: a large history costs no more
   than the rows asked for. A row whose status is no known one is left
   out (with a warning naming its id). Returns 0, or -1. */
int job_store_list(struct job_store *store, pool_t pool,
		   const struct job_list_filter *filter,
		   ARRAY_TYPE(job) *jobs, const char **error_r);
/* How many jobs match filter (its limit aside), per status. Returns 0,
   or -1. */
int job_store_count(struct job_store *store,
		    const struct job_list_filter *filter,
		    unsigned int counts_r[JOB_STATUS_COUNT],
		    const char **error_r);
/* Claim the oldest queued job whose user has no live job, if fewer than
   slots jobs are live in the whole store: it becomes Preparing with this
   worker. A job waiting for a retry is claimable once its retry_at is at
   or before due_by (the caller's pass start: a job failing during a pass
   is not retried within that pass). A
   live job not updated for stale_secs (its worker died, or stopped
   beating) is claimable again: the import resumes safely, and the
   job's lost_claims counts one more. Each claim
   has a token of its own (job->worker = job->claim = "worker/guid").
   With caps set (job-caps.h), a job whose source host or account has
   no connection free is passed over (the next one is claimed), and the
   claimed job gets its leases (job->leases) in the same transaction.
   Returns 1 and the job, 0 if none, -1. */
int job_store_claim(struct job_store *store, pool_t pool, const char *worker,
		    unsigned int stale_secs, unsigned int slots,
		    time_t due_by, struct job *job_r, const char **error_r);
/* Write the job's status, counters, quota usage, worker, error and retry
   (and the time: a live job's updates are its heartbeat), fenced by
   job->claim: only while the job's worker is still that. The password is
   erased once the job has completed or been cancelled (a failed job keeps
   it for a retry). Returns 1 if written, 0 if the job has another worker
   now (its claim was taken over: the caller must stop at once), -1. */
int job_store_update(struct job_store *store, const struct job *job,
		     const char **error_r);
/* Replace the job's stored (encrypted) secret, e.g. with a rotated OAuth2
   refresh token in it, fenced by job->claim like job_store_update().
   Returns 1 if written, 0 if the job has another worker now, -1. */
int job_store_update_secret(struct job_store *store, const struct job *job,
			    const char *source_password, const char **error_r);
/* Queue a failed job again, with the same source, options, batch and
   (stored) password, as a new job that supersedes it. Returns 1 and its
   id, 0 if there is no such job, -1 (also when the job didn't fail). */
int job_store_retry(struct job_store *store, unsigned long long id,
		    unsigned long long *new_id_r, const char **error_r);
/* Cancel: a queued job at once, a live one asks its worker to stop. */
int job_store_cancel(struct job_store *store, unsigned long long id,
		     const char **error_r);

#endif
