/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "ioloop.h"
#include "sql-api.h"
#include "job-store-private.h"
#include "job-caps.h"

/* a cap of 0 (none) in SQL: more than any store has jobs */
#define JOB_CAPS_SQL_NONE 1000000000U

struct job_cap_use {
	const char *host, *account;
	unsigned int used;
};

struct job_cap_usage {
	ARRAY(struct job_cap_use) uses;
};

void job_caps_from_config(const struct import_remote_config *set,
			  struct job_caps *caps_r)
{
	i_zero(caps_r);
	caps_r->per_host = set->import_remote_host_connections;
	caps_r->per_account = set->import_remote_account_connections;
	caps_r->hosts = set->parsed_host_caps;
	caps_r->hosts_count = set->parsed_host_caps_count;
}

void job_store_set_caps(struct job_store *store, const struct job_caps *caps)
{
	struct import_remote_host_cap *hosts;
	struct job_caps *copy;
	unsigned int i;

	pool_unref(&store->caps_pool);
	store->caps = NULL;
	if (caps == NULL)
		return;
	store->caps_pool = pool_alloconly_create("job store caps", 512);
	copy = p_new(store->caps_pool, struct job_caps, 1);
	*copy = *caps;
	hosts = p_new(store->caps_pool, struct import_remote_host_cap,
		      I_MAX(caps->hosts_count, 1));
	for (i = 0; i < caps->hosts_count; i++) {
		hosts[i] = caps->hosts[i];
		hosts[i].host = p_strdup(store->caps_pool,
			t_str_lcase(caps->hosts[i].host));
	}
	copy->hosts = hosts;
	store->caps = copy;
}

void job_caps_get(const struct job_caps *caps, const char *host,
		  unsigned int *per_host_r, unsigned int *per_account_r)
{
	unsigned int i;

	for (i = 0; i < caps->hosts_count; i++) {
		if (strcasecmp(caps->hosts[i].host, host) == 0) {
			*per_host_r = caps->hosts[i].per_host;
			*per_account_r = caps->hosts[i].per_account;
			return;
		}
	}
	*per_host_r = caps->per_host;
	*per_account_r = caps->per_account;
}

static unsigned int job_caps_sql_value(unsigned int cap)
{
	return cap == 0 ? JOB_CAPS_SQL_NONE : I_MIN(cap, JOB_CAPS_SQL_NONE);
}

/* The cap (of the host, else of the account) of alias's host */
static void
job_caps_append_cap(const struct job_caps *caps, const char *alias,
		    bool account, string_t *query,
		    ARRAY_TYPE(store_param) *params)
{
	struct store_param param;
	unsigned int i;

	if (caps->hosts_count == 0) {
		str_printfa(query, "%u", job_caps_sql_value(account ?
			caps->per_account : caps->per_host));
		return;
	}
	str_printfa(query, "(CASE LOWER(%s.source_host)", alias);
	for (i = 0; i < caps->hosts_count; i++) {
		str_printfa(query, " WHEN ? THEN %u", job_caps_sql_value(
			account ? caps->hosts[i].per_account :
			caps->hosts[i].per_host));
		param = (struct store_param)STORE_STR(caps->hosts[i].host);
		array_push_back(params, &param);
	}
	str_printfa(query, " ELSE %u END)", job_caps_sql_value(account ?
		caps->per_account : caps->per_host));
}

/* (SELECT what FROM the other jobs of alias's host, or account, WHERE
   where): where has one parameter, value */
static void
job_caps_append_others(const char *alias, bool account, const char *what,
		       const char *where, time_t value, string_t *query,
		       ARRAY_TYPE(store_param) *params)
{
	struct store_param param = STORE_NUM(value);

	str_printfa(query, "(SELECT %s FROM import_remote_jobs c "
		"WHERE %s AND c.id <> %s.id "
		"AND LOWER(c.source_host) = LOWER(%s.source_host)",
		what, where, alias, alias);
	array_push_back(params, &param);
	if (account) {
		str_printfa(query, " AND LOWER(c.source_user) = "
			    "LOWER(%s.source_user)", alias);
	}
	str_append_c(query, ')');
}

/* The connections that the other live jobs of alias's host (or account)
   hold */
static void
job_caps_append_used(const char *alias, bool account, time_t live_since,
		     string_t *query, ARRAY_TYPE(store_param) *params)
{
	job_caps_append_others(alias, account, "COALESCE(SUM(c.leases), 0)",
		"c.status IN ('preparing', 'running') AND c.updated >= ?",
		live_since, query, params);
}

void job_caps_append_claim_where(struct job_store *store, const char *alias,
				 time_t live_since, string_t *query,
				 ARRAY_TYPE(store_param) *params)
{
	if (store->caps == NULL)
		return;
	str_append(query, " AND ");
	job_caps_append_used(alias, FALSE, live_since, query, params);
	str_append(query, " < ");
	job_caps_append_cap(store->caps, alias, FALSE, query, params);
	str_append(query, " AND ");
	job_caps_append_used(alias, TRUE, live_since, query, params);
	str_append(query, " < ");
	job_caps_append_cap(store->caps, alias, TRUE, query, params);
}

/* The other jobs of alias's host (or account) that are queued and due,
   in no batch or an active one, as many as the slots left free for
   others can run: each is left one connection */
static void
job_caps_append_waiting(struct job_store *store, const char *alias,
			bool account, time_t live_since, string_t *query,
			ARRAY_TYPE(store_param) *params)
{
	struct store_param param;

	if (store->claim_slots > 0) {
		str_printfa(query, "%s(", store->pgsql ? "LEAST" : "MIN");
	}
	job_caps_append_others(alias, account, "COUNT(*)",
		"c.status = 'queued' AND c.retry_at <= ? AND "
		JOB_STORE_SQL_BATCH_RUNS("c"),
		ioloop_time, query, params);
	if (store->claim_slots == 0)
		return;
	/* the slots: the job's own, and the other live jobs' (any host) */
	str_printfa(query, ", %s(0, ? - 1 - (SELECT COUNT(*) FROM "
		"import_remote_jobs s WHERE s.status IN ('preparing', "
		"'running') AND s.updated >= ? AND s.id <> %s.id)))",
		store->pgsql ? "GREATEST" : "MAX", alias);
	param = (struct store_param)STORE_NUM(store->claim_slots);
	array_push_back(params, &param);
	param = (struct store_param)STORE_NUM(live_since);
	array_push_back(params, &param);
}

/* "HOSTCAP - USED - WAITING, ACCOUNTCAP - USED - WAITING": the connections
   free for the job of alias at its host and its account (less its own
   leases too, with own_leases: a job asking for more). A connection
   beyond its first is taken only where no job that waits for the host
   (or account), and has a slot to run in, would want it: a batch against
   one host runs as many jobs as the cap and the slots allow, one
   connection each, what the slots leave of the cap goes to the jobs
   running, and a job alone gets all it asks for. */
static void
job_caps_append_free(struct job_store *store, const char *alias,
		     bool own_leases, time_t live_since, string_t *query,
		     ARRAY_TYPE(store_param) *params)
{
	const char *minus = own_leases ? " - leases - " : " - ";

	job_caps_append_cap(store->caps, alias, FALSE, query, params);
	str_append(query, minus);
	job_caps_append_used(alias, FALSE, live_since, query, params);
	str_append(query, " - ");
	job_caps_append_waiting(store, alias, FALSE, live_since, query,
				params);
	str_append(query, ", ");
	job_caps_append_cap(store->caps, alias, TRUE, query, params);
	str_append(query, minus);
	job_caps_append_used(alias, TRUE, live_since, query, params);
	str_append(query, " - ");
	job_caps_append_waiting(store, alias, TRUE, live_since, query,
				params);
}

void job_caps_add_claim_leases(struct job_store *store,
			       struct sql_transaction_context *trans,
			       const char *claim, time_t live_since)
{
	const char *alias = "import_remote_jobs";
	ARRAY_TYPE(store_param) params;
	const struct store_param *bound;
	struct sql_statement *stmt;
	struct store_param param;
	unsigned int count;
	string_t *query;

	t_array_init(&params, 16);
	query = t_str_new(1024);
	str_append(query, "UPDATE import_remote_jobs SET leases = ");
	if (store->caps == NULL) {
		str_append(query,
			"CASE WHEN connections > 1 THEN connections ELSE 1 END");
	} else {
		/* SQLite's scalar MIN() and MAX() are PostgreSQL's LEAST()
		   and GREATEST() */
		str_printfa(query, "%s(1, %s(CASE WHEN connections > 1 THEN "
			    "connections ELSE 1 END, ",
			    store->pgsql ? "GREATEST" : "MAX",
			    store->pgsql ? "LEAST" : "MIN");
		job_caps_append_free(store, alias, FALSE, live_since, query,
				     &params);
		str_append(query, "))");
	}
	str_append(query, " WHERE worker = ?");
	param = (struct store_param)STORE_STR(claim);
	array_push_back(&params, &param);
	bound = array_get(&params, &count);
	stmt = store_stmt_bind(store, str_c(query), bound, count);
	sql_update_stmt(trans, &stmt);
}

static void job_caps_leases_read(struct sql_result *result,
				 unsigned int *leases)
{
	*leases = result_num(result, 0);
}

int job_store_add_leases(struct job_store *store, const struct job *job,
			 unsigned int want, unsigned int stale_secs,
			 unsigned int *leases_r, const char **error_r)
{
	const char *alias = "import_remote_jobs";
	time_t live_since = ioloop_time - (time_t)stale_secs;
	struct sql_transaction_context *trans;
	ARRAY_TYPE(store_param) params;
	const struct store_param *bound;
	struct sql_statement *stmt;
	struct store_param param;
	unsigned int count, affected = 0;
	string_t *query;
	int ret;

	i_assert(job->claim != NULL);
	*leases_r = 0;
	t_array_init(&params, 16);
	query = t_str_new(1024);
	param = (struct store_param)STORE_NUM(want);
	array_push_back(&params, &param);
	if (store->caps == NULL)
		str_append(query, "UPDATE import_remote_jobs SET leases = leases + ?");
	else {
		/* what is free for it: the cap less the others' leases
		   and its own */
		str_printfa(query, "UPDATE import_remote_jobs SET leases = "
			    "leases + %s(0, %s(?, ",
			    store->pgsql ? "GREATEST" : "MAX",
			    store->pgsql ? "LEAST" : "MIN");
		job_caps_append_free(store, alias, TRUE, live_since, query,
				     &params);
		str_append(query, "))");
	}
	str_append(query, " WHERE id = ? AND worker = ?");
	param = (struct store_param)STORE_NUM(job->id);
	array_push_back(&params, &param);
	param = (struct store_param)STORE_STR(job->claim);
	array_push_back(&params, &param);
	bound = array_get(&params, &count);

	trans = store_transaction_begin(store);
	/* as the claim: one at a time, so that two jobs never both take
	   the host's last connection */
	if (store->pgsql) {
		sql_update(trans, "LOCK TABLE import_remote_jobs "
			   "IN SHARE ROW EXCLUSIVE MODE");
	}
	stmt = store_stmt_bind(store, str_c(query), bound, count);
	sql_update_stmt_get_rows(trans, &stmt, &affected);
	if (store_commit(store, &trans, error_r) < 0)
		return -1;
	if (affected == 0)
		return 0;
	stmt = store_stmt(store, "SELECT leases FROM import_remote_jobs "
			  "WHERE id = ? AND worker = ?",
			  STORE_NUM(job->id), STORE_STR(job->claim));
	ret = store_query(&stmt, job_caps_leases_read, leases_r, error_r);
	return ret < 0 ? -1 : (ret == 0 ? 0 : 1);
}

int job_store_set_leases(struct job_store *store, const struct job *job,
			 unsigned int n, const char **error_r)
{
	struct sql_statement *stmt;

	i_assert(job->claim != NULL);
	i_assert(n > 0);
	stmt = store_stmt(store,
		"UPDATE import_remote_jobs SET leases = ? "
		"WHERE id = ? AND worker = ? AND leases >= ?",
		STORE_NUM(n), STORE_NUM(job->id), STORE_STR(job->claim),
		STORE_NUM(n));
	return store_update(store, stmt, error_r);
}

struct job_cap_usage_read {
	pool_t pool;
	struct job_cap_usage *usage;
};

static void job_cap_usage_read(struct sql_result *result,
			       struct job_cap_usage_read *ctx)
{
	struct job_cap_use *use;

	use = array_append_space(&ctx->usage->uses);
	use->host = result_str(result, ctx->pool, 0);
	use->account = result_str(result, ctx->pool, 1);
	use->used = result_num(result, 2);
}

int job_store_cap_usage(struct job_store *store, pool_t pool,
			unsigned int stale_secs,
			struct job_cap_usage **usage_r, const char **error_r)
{
	struct job_cap_usage_read ctx = { .pool = pool };
	struct sql_statement *stmt;

	ctx.usage = p_new(pool, struct job_cap_usage, 1);
	p_array_init(&ctx.usage->uses, pool, 16);
	*usage_r = ctx.usage;
	if (store->caps == NULL)
		return 0;
	stmt = store_stmt(store,
		"SELECT LOWER(source_host), LOWER(source_user), SUM(leases) "
		"FROM import_remote_jobs "
		"WHERE status IN ('preparing', 'running') AND updated >= ? "
		"GROUP BY LOWER(source_host), LOWER(source_user)",
		STORE_NUM(ioloop_time - (time_t)stale_secs));
	return store_query(&stmt, job_cap_usage_read, &ctx, error_r) < 0 ?
		-1 : 0;
}

const char *job_cap_usage_waiting(struct job_store *store,
				  const struct job_cap_usage *usage,
				  const struct job *job)
{
	const struct job_cap_use *use;
	unsigned int per_host, per_account, host_used = 0, account_used = 0;

	if (store->caps == NULL || job->status != JOB_STATUS_QUEUED)
		return NULL;
	job_caps_get(store->caps, job->source_host, &per_host, &per_account);
	array_foreach(&usage->uses, use) {
		if (strcasecmp(use->host, job->source_host) != 0)
			continue;
		host_used += use->used;
		if (strcasecmp(use->account, job->source_user) == 0)
			account_used += use->used;
	}
	if (per_host != 0 && host_used >= per_host) {
		return t_strdup_printf("waiting for %s: %u of %u connections "
				       "in use", job->source_host, host_used,
				       per_host);
	}
	if (per_account != 0 && account_used >= per_account) {
		return t_strdup_printf("waiting for %s at %s: %u of %u "
				       "connections to the account in use",
				       job->source_user, job->source_host,
				       account_used, per_account);
	}
	return NULL;
}
