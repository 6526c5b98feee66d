#ifndef BATCH_STORE_H
#define BATCH_STORE_H

#include "job-store.h"

/* Bulk imports (DESIGN §6): a batch is a set of jobs, one per destination
   user, created together from a CSV. It lives in the job store's
   database. Its state is what the admin (or the storage check) set; the
   status shown is derived from that and from its jobs. */

enum batch_state {
	BATCH_STATE_ACTIVE = 0,
	BATCH_STATE_PAUSED,
	BATCH_STATE_CANCELLED,

	BATCH_STATE_COUNT
};

enum batch_status {
	BATCH_STATUS_IN_PROGRESS = 0,
	BATCH_STATUS_PAUSED,
	BATCH_STATUS_COMPLETED,
	BATCH_STATUS_COMPLETED_WITH_ERRORS,
	BATCH_STATUS_CANCELLED,

	BATCH_STATUS_COUNT
};

/* why a batch is paused */
#define BATCH_PAUSE_REASON_ADMIN "admin"
#define BATCH_PAUSE_REASON_STORAGE "storage limit"

struct batch {
	unsigned long long id;
	time_t created, updated;
	enum batch_state state;
	/* "" unless paused */
	const char *pause_reason;
	/* the plan size (bytes) its users share, 0 if none */
	unsigned long long storage_limit;
	/* where notifications go, "" for nowhere, and its authenticator
	   (batch_store_notify_is_authentic()) */
	const char *notify, *notify_mac;
	/* each notification is sent once per occurrence */
	bool notified_completed, notified_half_failed;

	/* its current jobs (a retried job counts as its retry) by status */
	unsigned int job_counts[JOB_STATUS_COUNT];
	unsigned int jobs_total;
	/* the sum of its users' quota usage, as their jobs last saw it */
	unsigned long long quota_used;
};
ARRAY_DEFINE_TYPE(batch, struct batch);

/* "in_progress", "paused", ... for scripts */
const char *batch_status_name(enum batch_status status);
/* "In Progress", "Paused", ... for people */
const char *batch_status_title(enum batch_status status);

/* Cancelled or paused as the admin said, else by its jobs: In Progress
   while any is queued or live, Completed when all completed, Completed
   with errors when all ended but not all completed. */
enum batch_status batch_get_status(const struct batch *batch);
/* More than half of its jobs have failed */
bool batch_is_half_failed(const struct batch *batch);

/* Was the notify address set by one with the key (batch create), and not
   changed in the store since? */
bool batch_store_notify_is_authentic(struct job_store *store,
				     const struct batch *batch);
/* Store a batch and queue its jobs, in one transaction: all or nothing.
   jobs' batch_id is ignored. Needs the store's key (its notify address is
   authenticated). */
int batch_store_create(struct job_store *store, const struct batch *batch,
		       const ARRAY_TYPE(job) *jobs,
		       unsigned long long *id_r, const char **error_r);
/* Returns 1 and the batch with its job counts, 0 if there is no such
   batch, -1. */
int batch_store_get(struct job_store *store, pool_t pool,
		    unsigned long long id, struct batch *batch_r,
		    const char **error_r);
/* All batches, newest first, with their job counts */
int batch_store_list(struct job_store *store, pool_t pool,
		     ARRAY_TYPE(batch) *batches, const char **error_r);
/* Its current jobs (not those a retry superseded), in CSV order */
int batch_store_list_jobs(struct job_store *store, pool_t pool,
			  unsigned long long id, ARRAY_TYPE(job) *jobs,
			  const char **error_r);

/* Pause an active batch. Returns 1 if this call paused it (so this caller
   tells about it, once), 0 if it wasn't active, -1. */
int batch_store_pause(struct job_store *store, unsigned long long id,
		      const char *reason, const char **error_r);
/* Resume a paused batch, with a new storage limit unless it is
   (unsigned long long)-1. Returns 1, 0 if it wasn't paused, -1. */
int batch_store_resume(struct job_store *store, unsigned long long id,
		       unsigned long long storage_limit,
		       const char **error_r);
/* Cancel a batch: its queued jobs end now, its live ones are asked to
   stop. Returns 1, 0 if it was cancelled already, -1. */
int batch_store_cancel(struct job_store *store, unsigned long long id,
		       const char **error_r);
/* Queue its failed jobs again (each as a new job that skips what the
   failed one imported). Returns the number re-queued, or -1. */
int batch_store_retry_failed(struct job_store *store, unsigned long long id,
			     const char **error_r);

enum batch_event {
	BATCH_EVENT_COMPLETED = 0,
	BATCH_EVENT_PAUSED_FOR_STORAGE,
	BATCH_EVENT_HALF_FAILED,

	BATCH_EVENT_COUNT
};
const char *batch_event_name(enum batch_event event);
/* Mark the batch's completed or half-failed event as told. Returns 1 if
   this call did (so it tells, exactly once), 0 if already marked, -1.
   Retrying the failed jobs clears both: a new occurrence is told again. */
int batch_store_mark_notified(struct job_store *store, unsigned long long id,
			      enum batch_event event, const char **error_r);

#endif
