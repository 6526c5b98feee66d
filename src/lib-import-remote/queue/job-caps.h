#ifndef JOB_CAPS_H
#define JOB_CAPS_H

/* Caps on the connections to one source host, and to one account on it,
   across all live jobs of the store: every worker of every Dovecot backend
   that shares it (a PostgreSQL store), or of one machine (SQLite).

   A job's leases are a column of its own row: the claim grants them in its
   transaction, under the claim's lock (PostgreSQL) or SQLite's one writer,
   so two claims never both take the last free connection. They count
   while the job is live and beating (updated within the takeover time):
   the heartbeat renews them, the end of the job (or its going back to the
   queue) releases them, and a worker that died holds them no longer than
   the takeover time. A job whose host or account has no connection free
   stays queued and the claim takes the next job that can run: no host
   holds up the others. */

#include "import-remote-config.h"
#include "store-sql.h"

struct job;
struct job_store;

/* 0: no cap */
struct job_caps {
	unsigned int per_host, per_account;
	/* hosts with caps of their own (lower case) */
	const struct import_remote_host_cap *hosts;
	unsigned int hosts_count;
};

/* The caps the settings say */
void job_caps_from_config(const struct import_remote_config *set,
			  struct job_caps *caps_r);
/* Claims apply these caps from now on (a copy); NULL: none */
void job_store_set_caps(struct job_store *store, const struct job_caps *caps);
/* The caps of host (0: none) */
void job_caps_get(const struct job_caps *caps, const char *host,
		  unsigned int *per_host_r, unsigned int *per_account_r);

/* The claim's SQL: " AND …" that the job aliased alias has a connection
   free (leases of jobs beating since live_since count), its parameters
   appended */
void job_caps_append_claim_where(struct job_store *store, const char *alias,
				 time_t live_since, string_t *query,
				 ARRAY_TYPE(store_param) *params);
/* In the claim's transaction: the claimed job's leases, as many
   connections as it asks for and its caps leave free (at least 1) */
void job_caps_add_claim_leases(struct job_store *store,
			       struct sql_transaction_context *trans,
			       const char *claim, time_t live_since);
/* Ask for more leases: up to want more connections, as many as the job's
   caps leave free now (leases of jobs beating within stale_secs count),
   in a transaction of the claim's discipline. Returns 1 with the leases
   the job holds now in *leases_r, 0 if the job has another worker now,
   -1. */
int job_store_add_leases(struct job_store *store, const struct job *job,
			 unsigned int want, unsigned int stale_secs,
			 unsigned int *leases_r, const char **error_r);
/* Give back leases: the job goes on with n connections (fewer than it
   holds; a server refused more), fenced by its claim. Returns 1, 0 if
   the job has another worker now, -1. */
int job_store_set_leases(struct job_store *store, const struct job *job,
			 unsigned int n, const char **error_r);

/* The connections in use, per host and account, as one listing sees them */
struct job_cap_usage;
/* Read the live jobs' leases (those beating within stale_secs) */
int job_store_cap_usage(struct job_store *store, pool_t pool,
			unsigned int stale_secs,
			struct job_cap_usage **usage_r, const char **error_r);
/* For a queued job: what it waits for ("waiting for imap.example.com: 8
   of 8 connections in use"), or NULL if its host and account have a
   connection free (or the store has no caps) */
const char *job_cap_usage_waiting(struct job_store *store,
				  const struct job_cap_usage *usage,
				  const struct job *job);

#endif
