#ifndef JOB_LEASES_H
#define JOB_LEASES_H

/* The connections to the source a claimed job's run opens: what the job
   asks for (its --connections, else the user's import_remote_connections,
   else the job row's), never more than its leases (job-caps.h). A claim
   that granted fewer than asked asks once for more before the run; a
   server that refuses connections makes the job give back what it does
   not use. */

struct job_store;
struct job;

/* The connections the run may open (at least 1). want: what the job asks
   for. *claim_lost_r is set if the job has another worker now. */
unsigned int job_leases_connections(struct job_store *store, struct job *job,
				    unsigned int want, unsigned int stale_secs,
				    struct event *event, bool *claim_lost_r);
/* The run goes on with n connections: the leases beyond them go back */
void job_leases_give_back(struct job_store *store, struct job *job,
			  unsigned int n, struct event *event,
			  bool *claim_lost_r);

#endif
