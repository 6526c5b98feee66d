#ifndef JOB_RUNNER_H
#define JOB_RUNNER_H

#include "secret-box.h"

/* Runs one claimed job for its (looked up) user: the import with the job's
   source and options, its progress written to the job store every couple
   of seconds (which is also the heartbeat that keeps the job claimed), a
   cancel request obeyed, and the result (Completed, Failed with the error
   catalogue's code, or Cancelled) stored at the end, with the password
   erased. */

#define JOB_RUNNER_UPDATE_INTERVAL_MSECS 2000

struct mail_user;
struct job;
struct job_store;
struct import_progress;

struct import_remote_config;

/* A stored job's counters as import_progress (the reverse of what the
   runner stores), to show its rate and ETA; elapsed up to now, or to its
   end. */
void job_runner_get_progress(const struct job *job, time_t now,
			     struct import_progress *progress_r);

/* Run the job with the user's settings; global_set (the worker's) stands
   in if those are invalid, for the job's failure to be told. Returns 0
   when the job ended (whatever its result), -1 if the store could not be
   updated. */
int job_runner_run(struct mail_user *user, struct job_store *store,
		   struct job *job,
		   const unsigned char key[SECRET_BOX_KEY_LEN],
		   const struct import_remote_config *global_set);

#endif
