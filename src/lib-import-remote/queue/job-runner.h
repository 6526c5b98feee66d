#ifndef JOB_RUNNER_H
#define JOB_RUNNER_H

#include "secret-box.h"

/* Runs one claimed job for its (looked up) user: the import with the job's
   source and options, a cancel request or its batch's pause obeyed, and the
   result (Completed, Failed with the error catalogue's code, Cancelled, or
   Queued again for a retry after a transient error) stored at the end, with
   the password erased.

   One owner per job: while the import runs, a timer writes the job's
   progress every couple of seconds, which is also the heartbeat that keeps
   the job claimed. The timer follows whichever ioloop is current, so it
   beats also while the import waits for the source server. Every write is
   fenced by the claim (job_store_update()), and the import's save path
   asks before every commit, which a fenced write confirms first: once a
   write finds the job taken over, the import commits nothing more, stops
   at its next progress report, and the runner leaves the job to its new
   owner. (A commit must take less than the takeover time, -t, counted
   from the write before it: nobody can claim the job sooner.) A write
   that fails (the store busy a few times in a row) refuses the commit as
   well: the run ends dest_error, a transient error, and is retried. */

#define JOB_RUNNER_UPDATE_INTERVAL_MSECS 2000

struct mail_user;
struct job;
struct job_store;
struct import_progress;

struct import_remote_config;

/* The worker's -t: a live job not written for this long is taken over by
   another worker. It should be longer than the longest stretch of an
   import that runs no ioloop (and so beats no heartbeat): local work such
   as a save or a commit; the import's waits ([THROTTLED] back-off, pacing,
   a reconnect's back-off, each at most
   IMPORT_REMOTE_MAX_THROTTLE_DELAY_MSECS) run an ioloop. A
   shorter one is safe, only wasteful: such a job is taken over, and its
   first worker stops without committing more. */
#define JOB_RUNNER_DEFAULT_TAKEOVER_SECS 120

/* A job claimed again after this many claims in a row whose run never
   ended and committed no mail (its worker died each time, at the same
   place) fails as worker_crashed instead of running: a job that crashes
   its worker takes down no more of them. */
#define JOB_RUNNER_MAX_LOST_CLAIMS 3

/* Seconds to wait before the given retry (1 = the first) of a job that
   ended with a transient error: 1, 5, 15, 60 and 240 times
   import_remote_job_retry_delay (1 min, 5 min, 15 min, 1 h, 4 h by
   default), any later one like the 5th */
unsigned int job_runner_retry_delay(unsigned int retry_delay_secs,
				    unsigned int retry);

/* A stored job's counters as import_progress (the reverse of what the
   runner stores), to show its rate and ETA; elapsed up to now, or to its
   end. */
void job_runner_get_progress(const struct job *job, time_t now,
			     struct import_progress *progress_r);
/* The folder a live job's run copies now (as stored: the source's name,
   sanitized), NULL if none */
const char *job_runner_current_folder(const struct job *job);
/* How the job stands, in words: its status, and for a job that retries
   by itself "queued — retry 2 of 5 at 14:05 after: Connection timed
   out", "running — retry 2 of 5", "completed after 2 retries", "failed
   after 5 retries". */
const char *job_runner_status_text(const struct job *job, time_t now);

/* Run the job with the user's settings; global_set (the worker's) stands
   in if those are invalid, for the job's failure to be told. takeover_secs
   is the worker's -t. Returns 0 when the job ended (whatever its result,
   also when another worker took it over), -1 if the store could not be
   updated. */
int job_runner_run(struct mail_user *user, struct job_store *store,
		   struct job *job,
		   const unsigned char key[SECRET_BOX_KEY_LEN],
		   const struct import_remote_config *global_set,
		   unsigned int takeover_secs);

#endif
