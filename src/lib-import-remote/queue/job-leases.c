/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* A running job's connections within its leases (job-leases.h) */

#include "lib.h"
#include "job-store.h"
#include "job-caps.h"
#include "job-leases.h"

unsigned int job_leases_connections(struct job_store *store, struct job *job,
				    unsigned int want, unsigned int stale_secs,
				    struct event *event, bool *claim_lost_r)
{
	unsigned int leases = I_MAX(job->leases, 1);
	const char *error;
	int ret;

	want = I_MAX(want, 1);
	if (leases < want) {
		/* the claim left others some: what is free now */
		ret = job_store_add_leases(store, job, want - leases,
					   stale_secs, &leases, &error);
		if (ret < 0) {
			e_error(event, "Job %llu: asking for more connections "
				"failed: %s", job->id, error);
			leases = I_MAX(job->leases, 1);
		} else if (ret == 0) {
			*claim_lost_r = TRUE;
			leases = I_MAX(job->leases, 1);
		} else {
			job->leases = leases;
		}
	}
	if (want > 1) {
		e_debug(event, "Job %llu: %u connection%s to the source "
			"(asked for %u)", job->id, I_MIN(want, leases),
			I_MIN(want, leases) == 1 ? "" : "s", want);
	}
	return I_MIN(want, I_MAX(leases, 1));
}

void job_leases_give_back(struct job_store *store, struct job *job,
			  unsigned int n, struct event *event,
			  bool *claim_lost_r)
{
	const char *error;
	int ret;

	n = I_MAX(n, 1);
	if (n >= job->leases)
		return;
	ret = job_store_set_leases(store, job, n, &error);
	if (ret < 0) {
		e_error(event, "Job %llu: giving back connections failed: %s",
			job->id, error);
	} else if (ret == 0) {
		*claim_lost_r = TRUE;
	} else {
		e_debug(event, "Job %llu: holds %u connection%s now (the "
			"source refused more)", job->id, n,
			n == 1 ? "" : "s");
		job->leases = n;
	}
}
