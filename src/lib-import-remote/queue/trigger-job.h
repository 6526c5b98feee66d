#ifndef TRIGGER_JOB_H
#define TRIGGER_JOB_H

/* The job runner's side of an automatic import: while the job runs, the
   user's state file (and so the METADATA entry) follows its progress; when
   it ends, the store records a completion, and the user finds a notice in
   their INBOX. Nothing here fails the job: problems are logged. */

struct job;
struct job_store;
struct mail_user;
struct import_remote_config;
struct trigger_job;

/* The trigger whose job this is, or NULL if it is no automatic import's */
struct trigger_job *trigger_job_begin(struct job_store *store,
				      struct mail_user *user,
				      const struct job *job);
/* At a heartbeat: the job's progress into the state file */
void trigger_job_progress(struct trigger_job *tjob, const struct job *job);
/* The job was written with its result (retry: queued again for a retry;
   else an end: completed, failed, cancelled). */
void trigger_job_end(struct trigger_job **tjob, struct job_store *store,
		     const struct import_remote_config *set,
		     const struct job *job, bool retry);
/* Without an end (the job went back to the queue, or to another worker) */
void trigger_job_free(struct trigger_job **tjob);

#endif
