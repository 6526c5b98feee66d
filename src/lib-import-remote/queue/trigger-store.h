#ifndef TRIGGER_STORE_H
#define TRIGGER_STORE_H

/* The automatic imports in the job store (table import_remote_triggers):
   a row per user and source, with the job that imports it and when one
   completed. Claims are atomic, so that any number of logins at once
   queue one job. */

struct job_store;

struct trigger_row {
	/* the latest job queued for it, 0 if none */
	unsigned long long job_id;
	/* while a login queues a job: its claim, and since when */
	const char *claim;
	time_t claimed;
	/* when a job of it last completed, 0 if never */
	time_t completed;
};

/* The row, created if there is none yet. Returns 0, or -1. */
int trigger_store_get(struct job_store *store, pool_t pool,
		      const char *username, const char *source_key,
		      struct trigger_row *row_r, const char **error_r);
/* Take the row to queue a job for it: only while its job is still
   job_id and nobody else holds a claim younger than stale_secs. Returns 1
   if taken, 0 if not, -1. */
int trigger_store_claim(struct job_store *store, const char *username,
			const char *source_key, unsigned long long job_id,
			const char *claim, unsigned int stale_secs,
			const char **error_r);
/* The claim's job is queued: it is the row's job now. */
int trigger_store_set_job(struct job_store *store, const char *username,
			  const char *source_key, const char *claim,
			  unsigned long long job_id, const char **error_r);
/* Which trigger's job is job_id? Returns 1 and the source key and when a
   job of it last completed (0: never), 0 if none, -1. */
int trigger_store_find_job(struct job_store *store, pool_t pool,
			   unsigned long long job_id,
			   const char **source_key_r, time_t *completed_r,
			   const char **error_r);
/* The row's job completed now */
int trigger_store_completed(struct job_store *store, const char *username,
			    const char *source_key, unsigned long long job_id,
			    const char **error_r);

#endif
