/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "str.h"
#include "ioloop.h"
#include "sleep.h"
#include "unlink-directory.h"
#include "test-common.h"
#include "secret-box.h"
#include "job-store.h"
#include "batch-store.h"
#include "notify-outbox.h"
#include "failed-message-store.h"
#include "sql-api.h"
#include "job-store-private.h"
#include "job-caps.h"
#include "oauth2-grant-store.h"

#include <stdio.h>
#include <unistd.h>

/* more than the other tests ever have live at once */
#define SLOTS 4

static const char *db_driver, *db_connect;
static const unsigned char test_key[SECRET_BOX_KEY_LEN] = { 1, 2, 3 };

static struct job_store *store_open(void)
{
	struct job_store *store;
	const char *error;

	if (job_store_open(db_driver, db_connect, NULL, &store, &error) < 0)
		i_fatal("job_store_open() failed: %s", error);
	/* what the openers with a key file have: notifications and batch
	   notify addresses are authenticated with it */
	job_store_set_key(store, test_key);
	return store;
}

static unsigned long long
create_job(struct job_store *store, const char *username)
{
	struct job job;
	unsigned long long id;
	const char *error;

	i_zero(&job);
	job.username = username;
	job.source_host = "imap.example.org";
	job.source_port = 993;
	job.source_ssl = "imaps";
	job.source_user = t_strconcat(username, "@example.org", NULL);
	job.options = "dedup=folder";
	job.source_password = "v1:secret";
	if (job_store_create(store, &job, &id, &error) < 0)
		i_fatal("job_store_create() failed: %s", error);
	return id;
}

static void test_job_store_schema(void)
{
	struct job_store *store;

	test_begin("job store: schema created and kept");
	store = store_open();
	test_assert(job_store_get_schema_version(store) == 28);
	job_store_close(&store);
	store = store_open();
	test_assert(job_store_get_schema_version(store) == 28);
	job_store_close(&store);
	test_end();
}

static void test_failed_message_store(void)
{
	struct job_store *store;
	ARRAY_TYPE(import_failed_message) msgs, got;
	struct import_failed_message *msg;
	const struct import_failed_message *m;
	pool_t pool = pool_alloconly_create("failed messages", 1024);
	unsigned long long a, b;
	const char *error;

	test_begin("job store: failed messages of a job");
	store = store_open();
	a = create_job(store, "fm-a");
	b = create_job(store, "fm-b");
	p_array_init(&msgs, pool, 4);
	msg = array_append_space(&msgs);
	msg->folder = "Lists/it's \"odd\"\ttab";
	msg->uid = 4294967295U;
	msg->size = 123456789012ULL;
	msg->message_id = "a'b@example.org";
	msg->received = 1704103200;
	msg->reason = "the server refused to send it: NO [x] 'quoted'";
	msg = array_append_space(&msgs);
	msg->folder = "INBOX";
	msg->uid = 7;
	msg->size = 10;
	msg->message_id = "";
	msg->received = 0;
	msg->reason = "corrupt";
	test_assert(failed_message_store_replace(store, a, &msgs, &error) == 0);
	array_delete(&msgs, 1, 1);
	test_assert(failed_message_store_replace(store, b, &msgs, &error) == 0);

	/* by folder and UID, every field as it was */
	p_array_init(&got, pool, 4);
	test_assert(failed_message_store_list(store, pool, a, &got, &error) == 0);
	test_assert(array_count(&got) == 2);
	if (array_count(&got) == 2) {
		m = array_idx(&got, 0);
		test_assert_strcmp(m->folder, "INBOX");
		test_assert(m->uid == 7 && m->size == 10 && m->received == 0);
		test_assert_strcmp(m->message_id, "");
		m = array_idx(&got, 1);
		test_assert_strcmp(m->folder, "Lists/it's \"odd\"\ttab");
		test_assert(m->uid == 4294967295U && m->size == 123456789012ULL);
		test_assert_strcmp(m->message_id, "a'b@example.org");
		test_assert(m->received == 1704103200);
		test_assert_strcmp(m->reason, "the server refused to send it: "
				   "NO [x] 'quoted'");
	}

	/* a later run replaces the list, of that job only */
	array_clear(&msgs);
	test_assert(failed_message_store_replace(store, a, &msgs, &error) == 0);
	array_clear(&got);
	test_assert(failed_message_store_list(store, pool, a, &got, &error) == 0);
	test_assert(array_count(&got) == 0);
	test_assert(failed_message_store_list(store, pool, b, &got, &error) == 0);
	test_assert(array_count(&got) == 1);
	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

static void
finish_job(struct job_store *store, pool_t pool, unsigned long long id)
{
	struct job job;
	const char *error;

	test_assert(job_store_get(store, pool, id, &job, &error) == 1);
	job.status = JOB_STATUS_COMPLETED;
	job.error_code = "";
	test_assert(job_store_update(store, &job, &error) == 1);
}

/* runs first, on an empty store, and leaves no job live */
static int caps_sql(struct job_store *store, const char *query)
{
	struct sql_transaction_context *trans;
	const char *error;

	trans = sql_transaction_begin(store->db);
	sql_update(trans, query);
	if (store_commit(store, &trans, &error) < 0) {
		i_error("%s: %s", query, error);
		return -1;
	}
	return 0;
}

static unsigned long long
create_caps_job(struct job_store *store, const char *username,
		const char *host, const char *source_user,
		unsigned int connections)
{
	struct job job;
	unsigned long long id;
	const char *error;

	i_zero(&job);
	job.username = username;
	job.source_host = host;
	job.source_port = 993;
	job.source_ssl = "imaps";
	job.source_user = source_user;
	job.options = "dedup=folder";
	job.source_password = "v1:secret";
	job.connections = connections;
	if (job_store_create(store, &job, &id, &error) < 0)
		i_fatal("job_store_create() failed: %s", error);
	return id;
}

static unsigned long long
caps_claim(struct job_store *store, pool_t pool, unsigned int stale_secs,
	   struct job *job_r)
{
	const char *error;
	int ret;

	ret = job_store_claim(store, pool, "wc", stale_secs, 1000,
			      ioloop_time, job_r, &error);
	test_assert(ret >= 0);
	return ret <= 0 ? 0 : job_r->id;
}

/* Three jobs of f.example, of three accounts, each asking for 4 */
static void
caps_create_three(struct job_store *store, unsigned long long *f1_r,
		  unsigned long long *f2_r, unsigned long long *f3_r)
{
	*f1_r = create_caps_job(store, "f1", "f.example", "x", 4);
	*f2_r = create_caps_job(store, "f2", "f.example", "y", 4);
	*f3_r = create_caps_job(store, "f3", "f.example", "z", 4);
}

/* A claim allowing slots live jobs in the store */
static unsigned long long
caps_claim_slots(struct job_store *store, pool_t pool, unsigned int slots,
		 struct job *job_r)
{
	const char *error;
	int ret;

	ret = job_store_claim(store, pool, "wc", 60, slots, ioloop_time,
			      job_r, &error);
	test_assert(ret >= 0);
	return ret <= 0 ? 0 : job_r->id;
}

static void caps_end(struct job_store *store, pool_t pool,
		     unsigned long long id)
{
	struct job job;
	const char *error;

	test_assert(job_store_get(store, pool, id, &job, &error) == 1);
	if (job.status == JOB_STATUS_QUEUED) {
		test_assert(job_store_cancel(store, id, &error) == 0);
		return;
	}
	job.status = JOB_STATUS_COMPLETED;
	job.error_code = "";
	test_assert(job_store_update(store, &job, &error) == 1);
}

/* A job of account x asking for 2 while one of other_account waits
   behind it: the first gets leases, the second runs too */
static void
caps_two_waiting(struct job_store *store, pool_t pool,
		 const char *other_account, unsigned int leases)
{
	unsigned long long f1, f2;
	struct job job;

	f1 = create_caps_job(store, "f1", "f.example", "x", 2);
	f2 = create_caps_job(store, "f2", "f.example", other_account, 1);
	test_assert(caps_claim(store, pool, 60, &job) == f1);
	test_assert(job.leases == leases);
	test_assert(caps_claim(store, pool, 60, &job) == f2);
	caps_end(store, pool, f1); caps_end(store, pool, f2);
}

static const char *
caps_waiting(struct job_store *store, pool_t pool, unsigned long long id)
{
	struct job_cap_usage *usage;
	struct job job;
	const char *error;

	test_assert(job_store_cap_usage(store, pool, 60, &usage, &error) == 0);
	test_assert(job_store_get(store, pool, id, &job, &error) == 1);
	return job_cap_usage_waiting(store, usage, &job);
}

static void test_job_store_caps(void)
{
	static const struct import_remote_host_cap hosts[] = {
		/* no cap on the host, 1 per account */
		{ .host = "IMAP.Gmail.Example", .per_host = 0,
		  .per_account = 1 },
	};
	const struct job_caps caps = {
		.per_host = 3, .per_account = 2,
		.hosts = hosts, .hosts_count = N_ELEMENTS(hosts),
	};
	unsigned long long j1, j2, j3, j4, j5, j6, g1, g2, g3, k1, k2, k3;
	unsigned long long f1, f2, f3;
	pool_t pool = pool_alloconly_create("test caps", 4096);
	struct job_store *store;
	struct job job, k1job, f1job;
	const char *error, *text;
	unsigned int leases;

	test_begin("job store: connection caps per host and account");
	store = store_open();
	job_store_set_caps(store, &caps);
	j1 = create_caps_job(store, "c1", "caps.example", "shared", 0);
	j2 = create_caps_job(store, "c2", "CAPS.example", "Shared", 0);
	j3 = create_caps_job(store, "c3", "caps.example", "shared", 0);
	j4 = create_caps_job(store, "c4", "caps.example", "other", 0);
	j5 = create_caps_job(store, "c5", "caps.example", "third", 0);
	j6 = create_caps_job(store, "c6", "other.example", "shared", 0);

	test_assert(caps_claim(store, pool, 60, &job) == j1);
	test_assert(job.leases == 1 && job.connections == 1);
	test_assert(caps_claim(store, pool, 60, &job) == j2);
	/* j3: the account has 2 of 2; j4 takes the host's last */
	test_assert(caps_claim(store, pool, 60, &job) == j4);
	/* j5: the host has 3 of 3; the next host's job is not held up */
	test_assert(caps_claim(store, pool, 60, &job) == j6);
	test_assert(caps_claim(store, pool, 60, &job) == 0);
	text = caps_waiting(store, pool, j5);
	test_assert_strcmp(text,
		"waiting for caps.example: 3 of 3 connections in use");
	test_assert(caps_waiting(store, pool, j6) == NULL);

	/* a job that ends gives its connection back */
	caps_end(store, pool, j4);
	text = caps_waiting(store, pool, j3);
	test_assert_strcmp(text, "waiting for shared at caps.example: "
			   "2 of 2 connections to the account in use");
	test_assert(caps_claim(store, pool, 60, &job) == j5);

	/* a dead worker's leases count no longer than the takeover time:
	   its job is taken over, and the other account's job goes on */
	test_assert(caps_sql(store, t_strdup_printf(
		"UPDATE import_remote_jobs SET updated = updated - 100 "
		"WHERE id IN (%llu, %llu)", j1, j2)) == 0);
	test_assert(caps_claim(store, pool, 60, &job) == j1);
	test_assert(caps_claim(store, pool, 60, &job) == j2);
	test_assert(caps_claim(store, pool, 60, &job) == 0);

	/* a host of its own caps */
	g1 = create_caps_job(store, "g1", "imap.gmail.example", "a", 0);
	g2 = create_caps_job(store, "g2", "imap.gmail.example", "A", 0);
	g3 = create_caps_job(store, "g3", "imap.gmail.example", "b", 0);
	test_assert(caps_claim(store, pool, 60, &job) == g1);
	test_assert(caps_claim(store, pool, 60, &job) == g3);
	test_assert(caps_claim(store, pool, 60, &job) == 0);
	test_assert(caps_waiting(store, pool, g2) != NULL);

	/* a job asking for K connections gets what its caps leave free */
	k1 = create_caps_job(store, "k1", "k.example", "x", 5);
	test_assert(caps_claim(store, pool, 60, &k1job) == k1);
	test_assert(k1job.connections == 5 && k1job.leases == 2);
	k2 = create_caps_job(store, "k2", "k.example", "y", 1);
	k3 = create_caps_job(store, "k3", "k.example", "z", 1);
	test_assert(caps_claim(store, pool, 60, &job) == k2);
	test_assert(job.leases == 1);
	test_assert(caps_claim(store, pool, 60, &job) == 0);
	/* it goes on with one: k3 can run */
	test_assert(job_store_set_leases(store, &k1job, 1, &error) == 1);
	test_assert(caps_claim(store, pool, 60, &job) == k3);
	/* and asks for more later: none free (k2 and k3 hold 2 of 3) */
	test_assert(job_store_add_leases(store, &k1job, 4, 60, &leases,
					 &error) == 1);
	test_assert(leases == 1);
	/* k2 ends: one more (the host's last) */
	caps_end(store, pool, k2);
	test_assert(job_store_add_leases(store, &k1job, 4, 60, &leases,
					 &error) == 1);
	test_assert(leases == 2);
	/* fenced by the claim */
	job = k1job;
	job.claim = "someone else";
	test_assert(job_store_add_leases(store, &job, 1, 60, &leases,
					 &error) == 0);

	caps_end(store, pool, k1); caps_end(store, pool, k2);
	caps_end(store, pool, k3);

	/* jobs that wait for the host are left a connection each: three
	   asking for 4 (the host's cap 3) run at once, one each */
	caps_create_three(store, &f1, &f2, &f3);
	test_assert(caps_claim(store, pool, 60, &f1job) == f1);
	test_assert(f1job.leases == 1);
	test_assert(caps_claim(store, pool, 60, &job) == f2);
	test_assert(job.leases == 1);
	/* asking for more while f3 waits: nothing */
	test_assert(job_store_add_leases(store, &f1job, 3, 60, &leases,
					 &error) == 1);
	test_assert(leases == 1);
	test_assert(caps_claim(store, pool, 60, &job) == f3);
	test_assert(job.leases == 1);
	/* once one is done and none waits, the others may take more */
	caps_end(store, pool, f3);
	test_assert(job_store_add_leases(store, &f1job, 3, 60, &leases,
					 &error) == 1);
	test_assert(leases == 2);
	caps_end(store, pool, f1); caps_end(store, pool, f2);
	/* the same for an account (its cap 2): a second job of it waits
	   for one, the first gets one */
	caps_two_waiting(store, pool, "X", 1);
	/* a job of another account that waits takes nothing from the
	   account's cap: only from the host's (3 - 1) */
	caps_two_waiting(store, pool, "y", 2);

	caps_end(store, pool, j1); caps_end(store, pool, j2);
	caps_end(store, pool, j3); caps_end(store, pool, j5);
	caps_end(store, pool, j6); caps_end(store, pool, g1);
	caps_end(store, pool, g2); caps_end(store, pool, g3);
	/* the jobs waiting beyond the slots get none left to them: with 2
	   slots (no other job live), the first of three takes 2 (1 left
	   for the one that can run after it), the second the host's last,
	   the third waits */
	caps_create_three(store, &f1, &f2, &f3);
	test_assert(caps_claim_slots(store, pool, 2, &job) == f1);
	test_assert(job.leases == 2);
	test_assert(caps_claim_slots(store, pool, 2, &job) == f2);
	test_assert(job.leases == 1);
	test_assert(caps_claim_slots(store, pool, 2, &job) == 0);
	caps_end(store, pool, f1); caps_end(store, pool, f2);
	caps_end(store, pool, f3);
	/* without caps a job gets all it asks for */
	job_store_set_caps(store, NULL);
	k1 = create_caps_job(store, "k1", "k.example", "x", 5);
	test_assert(caps_claim(store, pool, 60, &job) == k1);
	test_assert(job.leases == 5);
	caps_end(store, pool, k1);
	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

/* A store written by schema version 23 (before the leases) is upgraded,
   its jobs ask for and hold one connection each */
static void test_job_store_upgrade_23(void)
{
	pool_t pool = pool_alloconly_create("test upgrade", 1024);
	struct job_store *store;
	unsigned long long id;
	struct job job;
	const char *error;

	test_begin("job store: upgrade from schema version 23");
	store = store_open();
	id = create_caps_job(store, "u1", "up.example", "u", 3);
	test_assert(caps_sql(store, "ALTER TABLE import_remote_jobs "
			     "DROP COLUMN leases") == 0);
	test_assert(caps_sql(store, "ALTER TABLE import_remote_jobs "
			     "DROP COLUMN connections") == 0);
	/* (and what later versions added) */
	test_assert(caps_sql(store, "ALTER TABLE import_remote_jobs "
			     "DROP COLUMN current_folder") == 0);
	test_assert(caps_sql(store, "UPDATE import_remote_meta "
			     "SET value = '23' "
			     "WHERE name = 'schema_version'") == 0);
	job_store_close(&store);
	store = store_open();
	test_assert(job_store_get_schema_version(store) == 28);
	test_assert(job_store_get(store, pool, id, &job, &error) == 1);
	test_assert(job.connections == 1 && job.leases == 1);
	test_assert(job_store_cancel(store, id, &error) == 0);
	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

/* The grant authorize keeps: encrypted, one per user, replaced; a row
   moved to another client or user does not decrypt */
/* A store written by schema version 26 (before the current folder) is
   upgraded, its jobs have none; the folder is written with the progress,
   a hostile name kept sanitized and bounded */
static void test_job_store_upgrade_26(void)
{
	pool_t pool = pool_alloconly_create("test upgrade", 2048);
	struct job_store *store;
	unsigned long long id;
	struct job job;
	const char *error, *hostile;
	string_t *name;
	unsigned int i;

	test_begin("job store: upgrade from schema version 26, current folder");
	store = store_open();
	id = create_job(store, "f1");
	test_assert(caps_sql(store, "ALTER TABLE import_remote_jobs "
			     "DROP COLUMN current_folder") == 0);
	test_assert(caps_sql(store, "UPDATE import_remote_meta "
			     "SET value = '26' "
			     "WHERE name = 'schema_version'") == 0);
	job_store_close(&store);
	store = store_open();
	test_assert(job_store_get_schema_version(store) == 28);
	test_assert(job_store_get(store, pool, id, &job, &error) == 1);
	test_assert_strcmp(job.folder, "");

	/* written with the progress (the same update) */
	job.folder = "Archiv/2024 \xc3\xa4";
	job.msgs_done = 3;
	test_assert(job_store_update(store, &job, &error) == 1);
	test_assert(job_store_get(store, pool, id, &job, &error) == 1);
	test_assert_strcmp(job.folder, "Archiv/2024 \xc3\xa4");
	test_assert(job.msgs_done == 3);

	/* HTML, quotes and backslashes are kept as they are (escaped where
	   shown); control characters and invalid UTF-8 are not */
	hostile = "<img src=x onerror=alert(1)> \"q\" \\ \x1b[31m\xff";
	job.folder = hostile;
	test_assert(job_store_update(store, &job, &error) == 1);
	test_assert(job_store_get(store, pool, id, &job, &error) == 1);
	test_assert_strcmp(job.folder,
			   "<img src=x onerror=alert(1)> \"q\" \\ ?[31m?");

	/* bounded: a long name is cut on a character's boundary */
	name = t_str_new(4096);
	for (i = 0; i < 1000; i++)
		str_append(name, "\xc3\xa4");
	job.folder = str_c(name);
	test_assert(job_store_update(store, &job, &error) == 1);
	test_assert(job_store_get(store, pool, id, &job, &error) == 1);
	test_assert(strlen(job.folder) <= JOB_FOLDER_MAX_BYTES);
	test_assert(strlen(job.folder) > JOB_FOLDER_MAX_BYTES / 2);
	test_assert(strcmp(job.folder + strlen(job.folder) - 5,
			   "\xc3\xa4...") == 0);

	/* a claim (a run taken over, or begun) starts with none: the
	   folder was the earlier run's */
	test_assert(caps_sql(store, t_strdup_printf(
		"UPDATE import_remote_jobs SET status = 'cancelled' "
		"WHERE id <> %llu AND status IN "
		"('queued', 'preparing', 'running')", id)) == 0);
	test_assert(job_store_claim(store, pool, "wf", 60, SLOTS,
				    ioloop_time, &job, &error) == 1);
	test_assert(job.id == id);
	test_assert_strcmp(job.folder, "");

	/* none between folders */
	job.folder = "INBOX";
	test_assert(job_store_update(store, &job, &error) == 1);
	job.folder = NULL;
	test_assert(job_store_update(store, &job, &error) == 1);
	test_assert(job_store_get(store, pool, id, &job, &error) == 1);
	test_assert_strcmp(job.folder, "");
	test_assert(job_store_cancel(store, id, &error) == 0);
	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

static void test_oauth2_grant_store(void)
{
	pool_t pool = pool_alloconly_create("test grants", 1024);
	struct job_store *store;
	struct oauth2_grant grant, got;
	const char *error;

	test_begin("oauth2 grant store");
	store = store_open();
	i_zero(&grant);
	grant.username = "gina";
	grant.token_url = "https://login.example.com/token";
	grant.client_id = "tv-app";
	grant.client_secret = "s3cret";
	grant.scope = "mail offline_access";
	grant.refresh_token = "rt-first";
	test_assert(oauth2_grant_store_set(store, test_key, &grant, &error) == 0);
	grant.refresh_token = "rt-second";
	grant.client_secret = NULL;
	test_assert(oauth2_grant_store_set(store, test_key, &grant, &error) == 0);
	test_assert(oauth2_grant_store_get(store, test_key, "gina", pool,
					   &got, &error) == 1);
	test_assert_strcmp(got.refresh_token, "rt-second");
	test_assert(got.client_secret == NULL);
	test_assert_strcmp(got.client_id, "tv-app");
	test_assert_strcmp(got.scope, "mail offline_access");
	test_assert(oauth2_grant_store_get(store, test_key, "nobody", pool,
					   &got, &error) == 0);
	test_assert(caps_sql(store, "UPDATE import_remote_oauth2_grants "
			     "SET client_id = 'other-app'") == 0);
	test_assert(oauth2_grant_store_get(store, test_key, "gina", pool,
					   &got, &error) == -1);
	test_assert(caps_sql(store, "DELETE FROM "
			     "import_remote_oauth2_grants") == 0);
	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

static void test_job_store_slots(void)
{
	struct job_store *store;
	pool_t pool = pool_alloconly_create("test jobs", 4096);
	unsigned long long d1, e1, f1, g1;
	struct job job;
	const char *error;

	test_begin("job store: no more live jobs than slots");
	store = store_open();
	d1 = create_job(store, "dave");
	e1 = create_job(store, "erin");
	f1 = create_job(store, "frank");
	test_assert(job_store_claim(store, pool, "w1", 60, 2, ioloop_time, &job, &error) == 1);
	test_assert(job.id == d1);
	test_assert(job_store_claim(store, pool, "w2", 60, 2, ioloop_time, &job, &error) == 1);
	test_assert(job.id == e1);
	/* both slots taken: frank waits */
	test_assert(job_store_claim(store, pool, "w3", 60, 2, ioloop_time, &job, &error) == 0);
	test_assert(job_store_claim(store, pool, "w3", 60, 3, ioloop_time, &job, &error) == 1);
	test_assert(job.id == f1);
	/* a slot frees when its job ends */
	g1 = create_job(store, "gina");
	test_assert(job_store_claim(store, pool, "w4", 60, 3, ioloop_time, &job, &error) == 0);
	finish_job(store, pool, d1);
	test_assert(job_store_claim(store, pool, "w4", 60, 3, ioloop_time, &job, &error) == 1);
	test_assert(job.id == g1);
	finish_job(store, pool, e1);
	finish_job(store, pool, f1);
	finish_job(store, pool, g1);
	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

static void test_job_store_claims(void)
{
	struct job_store *store;
	unsigned long long a1, a2, b1;
	pool_t pool = pool_alloconly_create("test jobs", 4096);
	ARRAY_TYPE(job) jobs;
	struct job job;
	const char *error;

	test_begin("job store: create, claim, one live job per user, history");
	store = store_open();
	a1 = create_job(store, "alice");
	a2 = create_job(store, "alice");
	b1 = create_job(store, "bob");
	test_assert(a1 < a2 && a2 < b1);

	test_assert(job_store_get(store, pool, a1, &job, &error) == 1);
	test_assert(job.status == JOB_STATUS_QUEUED);
	test_assert_strcmp(job.source_user, "alice@example.org");
	test_assert(job.source_port == 993);
	test_assert(job_store_get(store, pool, 999999, &job, &error) == 0);

	/* oldest first; alice's second job waits for her first */
	test_assert(job_store_claim(store, pool, "w1", 60, SLOTS, ioloop_time, &job, &error) == 1);
	test_assert(job.id == a1 && job.status == JOB_STATUS_PREPARING);
	test_assert(strncmp(job.worker, "w1/", 3) == 0);
	test_assert(job_store_claim(store, pool, "w2", 60, SLOTS, ioloop_time, &job, &error) == 1);
	test_assert(job.id == b1);
	test_assert(job_store_claim(store, pool, "w3", 60, SLOTS, ioloop_time, &job, &error) == 0);

	/* a1 finishes: a2 can go */
	test_assert(job_store_get(store, pool, a1, &job, &error) == 1);
	job.status = JOB_STATUS_COMPLETED;
	job.imported = 42;
	job.error_code = "";
	test_assert(job_store_update(store, &job, &error) == 1);
	test_assert(job_store_get(store, pool, a1, &job, &error) == 1);
	test_assert(job.status == JOB_STATUS_COMPLETED && job.imported == 42);
	test_assert(job_store_claim(store, pool, "w3", 60, SLOTS, ioloop_time, &job, &error) == 1);
	test_assert(job.id == a2);
	test_assert(job_store_claim(store, pool, "w4", 60, SLOTS, ioloop_time, &job, &error) == 0);

	/* the password is kept while the job lives, erased at its end */
	test_assert(job_store_get(store, pool, a2, &job, &error) == 1);
	test_assert_strcmp(job.source_password, "v1:secret");
	test_assert(job_store_get(store, pool, a1, &job, &error) == 1);
	test_assert_strcmp(job.source_password, "");

	/* history: newest first */
	t_array_init(&jobs, 4);
	test_assert(job_store_list_user(store, pool, "alice", &jobs, &error) == 0);
	test_assert(array_count(&jobs) == 2);
	const struct job *listed = array_front(&jobs);
	test_assert(listed[0].id == a2);
	test_assert(listed[1].id == a1);
	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

static void test_job_store_stale_and_cancel(void)
{
	struct job_store *store;
	pool_t pool = pool_alloconly_create("test jobs", 4096);
	unsigned long long c1, c2;
	struct job job;
	const char *error;

	test_begin("job store: a dead worker's job is claimed again; cancel");
	store = store_open();
	c1 = create_job(store, "carol");
	c2 = create_job(store, "carol");
	test_assert(job_store_claim(store, pool, "w1", 60, SLOTS, ioloop_time, &job, &error) == 1);
	test_assert(job.id == c1);
	/* not stale yet: nothing for carol */
	test_assert(job_store_claim(store, pool, "w2", 60, SLOTS, ioloop_time, &job, &error) == 0);
	/* w1 has not updated the job for a second, which with stale_secs=0
	   is stale (so are the earlier test's jobs: they come first, being
	   older) */
	i_sleep_msecs(1100);
	io_loop_time_refresh();
	while (job_store_claim(store, pool, "w2", 0, SLOTS, ioloop_time, &job, &error) == 1 &&
	       job.id != c1) ;
	test_assert(job.id == c1 && strncmp(job.worker, "w2/", 3) == 0);

	/* cancel: the queued one ends now, the live one is asked to stop */
	test_assert(job_store_cancel(store, c2, &error) == 0);
	test_assert(job_store_get(store, pool, c2, &job, &error) == 1);
	test_assert(job.status == JOB_STATUS_CANCELLED);
	test_assert_strcmp(job.source_password, "");
	test_assert(job_store_cancel(store, c1, &error) == 0);
	test_assert(job_store_get(store, pool, c1, &job, &error) == 1);
	test_assert(job.status == JOB_STATUS_PREPARING && job.cancel_requested);
	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

/* claims taken over from a worker that never ended the run count, in a
   row: back to 0 once a run commits mail; a claim of a queued job does
   not count */
static void test_job_store_lost_claims(void)
{
	struct job_store *store;
	pool_t pool = pool_alloconly_create("test jobs", 4096);
	unsigned long long id;
	struct job job;
	const char *error;

	test_begin("job store: lost claims");
	store = store_open();
	id = create_job(store, "lena");
	/* older tests' live jobs may be claimable too */
	while (job_store_claim(store, pool, "w1", 60, 100, ioloop_time, &job, &error) == 1 &&
	       job.id != id) ;
	test_assert(job.id == id && job.lost_claims == 0);
	job.status = JOB_STATUS_RUNNING;
	test_assert(job_store_update(store, &job, &error) == 1);
	/* w1 died: taken over */
	i_sleep_msecs(1100);
	io_loop_time_refresh();
	while (job_store_claim(store, pool, "w2", 0, 100, ioloop_time, &job, &error) == 1 &&
	       job.id != id) ;
	test_assert(job.id == id && job.lost_claims == 1);
	/* a heartbeat without new mail keeps the count */
	job.status = JOB_STATUS_RUNNING;
	test_assert(job_store_update(store, &job, &error) == 1);
	i_sleep_msecs(1100);
	io_loop_time_refresh();
	while (job_store_claim(store, pool, "w3", 0, 100, ioloop_time, &job, &error) == 1 &&
	       job.id != id) ;
	test_assert(job.id == id && job.lost_claims == 2);
	/* mail committed: the deaths got somewhere */
	job.status = JOB_STATUS_RUNNING;
	job.imported = 1;
	test_assert(job_store_update(store, &job, &error) == 1);
	test_assert(job_store_get(store, pool, id, &job, &error) == 1);
	test_assert(job.lost_claims == 0);
	/* back to the queue (SIGTERM): its next claim is no lost one */
	job.status = JOB_STATUS_QUEUED;
	test_assert(job_store_update(store, &job, &error) == 1);
	while (job_store_claim(store, pool, "w4", 60, 100, ioloop_time, &job, &error) == 1 &&
	       job.id != id) ;
	test_assert(job.id == id && job.lost_claims == 0);
	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

/* a job's claim fences its updates: once another worker has taken the
   job over, the first one's updates change nothing */
static void test_job_store_fence(void)
{
	struct job_store *store;
	pool_t pool = pool_alloconly_create("test jobs", 4096);
	struct job job, old, current;
	unsigned long long id;
	const char *error;

	test_begin("job store: updates are fenced by the claim");
	store = store_open();
	id = create_job(store, "fiona");
	/* older tests' live jobs may be claimable too */
	while (job_store_claim(store, pool, "w1", 60, 100, ioloop_time, &job, &error) == 1 &&
	       job.id != id) ;
	test_assert(job.id == id && strcmp(job.claim, job.worker) == 0);
	job.status = JOB_STATUS_RUNNING;
	job.imported = 5;
	test_assert(job_store_update(store, &job, &error) == 1);
	old = job;

	/* w1 stops beating: w2 takes the job over */
	i_sleep_msecs(1100);
	io_loop_time_refresh();
	while (job_store_claim(store, pool, "w2", 0, 100, ioloop_time, &job, &error) == 1 &&
	       job.id != id) ;
	test_assert(job.id == id && strncmp(job.worker, "w2/", 3) == 0);

	/* w1's heartbeat and its result are refused */
	old.imported = 99;
	test_assert(job_store_update(store, &old, &error) == 0);
	old.status = JOB_STATUS_COMPLETED;
	test_assert(job_store_update(store, &old, &error) == 0);
	test_assert(job_store_get(store, pool, id, &current, &error) == 1);
	test_assert(current.status == JOB_STATUS_PREPARING &&
		    current.imported == 5 &&
		    strcmp(current.worker, job.worker) == 0);
	/* w2's go through */
	job.status = JOB_STATUS_COMPLETED;
	job.error_code = "";
	test_assert(job_store_update(store, &job, &error) == 1);
	test_assert(job_store_get(store, pool, id, &current, &error) == 1);
	test_assert(current.status == JOB_STATUS_COMPLETED);
	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

/* a job queued again for a retry waits for its time */
static void test_job_store_retry_at(void)
{
	struct job_store *store;
	pool_t pool = pool_alloconly_create("test jobs", 4096);
	struct job job;
	unsigned long long id;
	const char *error;

	test_begin("job store: a retry waits for its time");
	store = store_open();
	id = create_job(store, "gus");
	while (job_store_claim(store, pool, "w1", 3600, 100, ioloop_time, &job, &error) == 1 &&
	       job.id != id) ;
	test_assert(job.id == id && job.retry_count == 0 && job.retry_at == 0);
	/* what the runner does after a transient error */
	job.status = JOB_STATUS_QUEUED;
	job.worker = "";
	job.error_code = "connect_timeout";
	job.retry_count = 1;
	job.retry_limit = 5;
	job.retry_at = ioloop_time + 2;
	test_assert(job_store_update(store, &job, &error) == 1);
	test_assert(job_store_get(store, pool, id, &job, &error) == 1);
	test_assert(job.status == JOB_STATUS_QUEUED && job.retry_count == 1 &&
		    job.retry_limit == 5 && job.retry_at == ioloop_time + 2);
	test_assert_strcmp(job.error_code, "connect_timeout");
	/* the password stays for the retry */
	test_assert_strcmp(job.source_password, "v1:secret");
	/* due_by is the caller's "now" (its pass start) */
	test_assert(job_store_claim(store, pool, "w2", 3600, 100,
				    ioloop_time + 1, &job, &error) == 0);
	test_assert(job_store_claim(store, pool, "w2", 3600, 100,
				    ioloop_time + 2, &job, &error) == 1);
	test_assert(job.id == id && job.retry_count == 1);
	job.status = JOB_STATUS_COMPLETED;
	job.error_code = "";
	test_assert(job_store_update(store, &job, &error) == 1);
	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

static unsigned long long
claim_batch_job(struct job_store *store, pool_t pool,
		unsigned long long batch_id)
{
	struct job job;
	const char *error;

	/* jobs of the earlier tests may still be claimable: skip them */
	while (job_store_claim(store, pool, "wb", 3600, 100, ioloop_time, &job, &error) == 1) {
		if (job.batch_id == batch_id)
			return job.id;
		test_assert(job.batch_id == 0);
	}
	return 0;
}

static void
end_job(struct job_store *store, pool_t pool, unsigned long long id,
	enum job_status status, unsigned long long quota_used)
{
	struct job job;
	const char *error;

	test_assert(job_store_get(store, pool, id, &job, &error) == 1);
	job.status = status;
	job.error_code = status == JOB_STATUS_FAILED ? "auth_failed" : "";
	job.quota_used = quota_used;
	test_assert(job_store_update(store, &job, &error) == 1);
}

static void test_batch_store(void)
{
	struct job_store *store;
	pool_t pool = pool_alloconly_create("test batches", 4096);
	ARRAY_TYPE(job) jobs;
	ARRAY_TYPE(batch) batches;
	const struct job *listed;
	struct batch batch;
	struct job job;
	unsigned long long batch_id, j1, j2, j3, new_id;
	const char *error;
	unsigned int i;

	test_begin("batch store: create, pause, resume, retry failed, cancel");
	store = store_open();
	t_array_init(&jobs, 3);
	for (i = 1; i <= 3; i++) {
		i_zero(&job);
		job.username = t_strdup_printf("batch-u%u", i);
		job.source_host = "imap.example.org";
		job.source_port = 993;
		job.source_ssl = "imaps";
		job.source_user = t_strdup_printf("u%u@example.org", i);
		job.options = "dedup=folder";
		job.source_password = "v1:secret";
		array_push_back(&jobs, &job);
	}
	i_zero(&batch);
	batch.storage_limit = 1000;
	batch.notify = "admin@example.org";
	test_assert(batch_store_create(store, &batch, &jobs, &batch_id,
				       &error) == 0);
	test_assert(batch_store_get(store, pool, batch_id, &batch, &error) == 1);
	test_assert(batch.state == BATCH_STATE_ACTIVE);
	test_assert(batch.jobs_total == 3 &&
		    batch.job_counts[JOB_STATUS_QUEUED] == 3);
	test_assert(batch.storage_limit == 1000);
	test_assert_strcmp(batch.notify, "admin@example.org");
	test_assert(batch_get_status(&batch) == BATCH_STATUS_IN_PROGRESS);
	test_assert(batch_store_get(store, pool, batch_id + 1000, &batch,
				    &error) == 0);

	/* paused: its jobs are not claimed */
	test_assert(batch_store_pause(store, batch_id, BATCH_PAUSE_REASON_ADMIN,
				      &error) == 1);
	test_assert(batch_store_pause(store, batch_id, BATCH_PAUSE_REASON_STORAGE,
				      &error) == 0);
	test_assert(batch_store_get(store, pool, batch_id, &batch, &error) == 1);
	test_assert(batch_get_status(&batch) == BATCH_STATUS_PAUSED);
	test_assert_strcmp(batch.pause_reason, BATCH_PAUSE_REASON_ADMIN);
	test_assert(claim_batch_job(store, pool, batch_id) == 0);
	test_assert(batch_store_resume(store, batch_id, 2000, &error) == 1);
	test_assert(batch_store_resume(store, batch_id, 3000, &error) == 0);
	test_assert(batch_store_get(store, pool, batch_id, &batch, &error) == 1);
	test_assert(batch.storage_limit == 2000 && batch.pause_reason[0] == '\0');
	test_assert(batch_store_resume(store, batch_id, (unsigned long long)-1,
				       &error) == 0);

	/* CSV order; one fails, one completes, one fails */
	j1 = claim_batch_job(store, pool, batch_id);
	j2 = claim_batch_job(store, pool, batch_id);
	j3 = claim_batch_job(store, pool, batch_id);
	test_assert(j1 != 0 && j1 < j2 && j2 < j3);
	end_job(store, pool, j1, JOB_STATUS_FAILED, 100);
	end_job(store, pool, j2, JOB_STATUS_COMPLETED, 300);
	test_assert(batch_store_get(store, pool, batch_id, &batch, &error) == 1);
	test_assert(batch_get_status(&batch) == BATCH_STATUS_IN_PROGRESS);
	test_assert(!batch_is_half_failed(&batch));
	end_job(store, pool, j3, JOB_STATUS_FAILED, 50);
	test_assert(batch_store_get(store, pool, batch_id, &batch, &error) == 1);
	test_assert(batch_get_status(&batch) == BATCH_STATUS_COMPLETED_WITH_ERRORS);
	test_assert(batch_is_half_failed(&batch));
	test_assert(batch.quota_used == 450);
	test_assert(batch_store_mark_notified(store, batch_id,
			BATCH_EVENT_COMPLETED, &error) == 1);
	test_assert(batch_store_mark_notified(store, batch_id,
			BATCH_EVENT_COMPLETED, &error) == 0);
	test_assert(batch_store_mark_notified(store, batch_id,
			BATCH_EVENT_HALF_FAILED, &error) == 1);

	/* retry-failed: new jobs take the failed ones' place */
	test_assert(batch_store_retry_failed(store, batch_id, &error) == 2);
	test_assert(batch_store_get(store, pool, batch_id, &batch, &error) == 1);
	test_assert(batch.jobs_total == 3);
	test_assert(batch.job_counts[JOB_STATUS_QUEUED] == 2 &&
		    batch.job_counts[JOB_STATUS_COMPLETED] == 1 &&
		    batch.job_counts[JOB_STATUS_FAILED] == 0);
	test_assert(batch_get_status(&batch) == BATCH_STATUS_IN_PROGRESS);
	test_assert(job_store_get(store, pool, j1, &job, &error) == 1);
	test_assert(job.superseded_by > j3 && job.source_password[0] == '\0');
	test_assert(job_store_retry(store, j1, &new_id, &error) < 0);
	p_array_init(&jobs, pool, 4);
	test_assert(batch_store_list_jobs(store, pool, batch_id, &jobs,
					  &error) == 0);
	test_assert(array_count(&jobs) == 3);
	listed = array_front(&jobs);
	test_assert(listed[0].id == j2 && listed[1].id > j3 &&
		    listed[2].id > listed[1].id);
	test_assert_strcmp(listed[1].username, "batch-u1");
	test_assert(listed[1].batch_id == batch_id);
	/* the end after the retry is a new occurrence */
	test_assert(batch_store_mark_notified(store, batch_id,
			BATCH_EVENT_COMPLETED, &error) == 1);

	/* cancel: what is queued ends now */
	test_assert(batch_store_cancel(store, batch_id, &error) == 1);
	test_assert(batch_store_cancel(store, batch_id, &error) == 0);
	test_assert(batch_store_get(store, pool, batch_id, &batch, &error) == 1);
	test_assert(batch_get_status(&batch) == BATCH_STATUS_CANCELLED);
	test_assert(batch.job_counts[JOB_STATUS_CANCELLED] == 2);
	test_assert(batch_store_resume(store, batch_id, 5, &error) == 0);

	p_array_init(&batches, pool, 4);
	test_assert(batch_store_list(store, pool, &batches, &error) == 0);
	test_assert(array_count(&batches) >= 1);
	if (array_count(&batches) >= 1) {
		const struct batch *newest = array_front(&batches);
		test_assert(newest->id == batch_id);
	}
	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

static void test_batch_status(void)
{
	struct batch batch;

	test_begin("batch store: status from state and jobs");
	i_zero(&batch);
	batch.jobs_total = 4;
	batch.job_counts[JOB_STATUS_COMPLETED] = 4;
	test_assert(batch_get_status(&batch) == BATCH_STATUS_COMPLETED);
	test_assert_strcmp(batch_status_title(batch_get_status(&batch)), "Completed");
	batch.job_counts[JOB_STATUS_COMPLETED] = 3;
	batch.job_counts[JOB_STATUS_CANCELLED] = 1;
	test_assert(batch_get_status(&batch) == BATCH_STATUS_COMPLETED_WITH_ERRORS);
	test_assert(!batch_is_half_failed(&batch));
	batch.job_counts[JOB_STATUS_CANCELLED] = 0;
	batch.job_counts[JOB_STATUS_RUNNING] = 1;
	test_assert(batch_get_status(&batch) == BATCH_STATUS_IN_PROGRESS);
	batch.state = BATCH_STATE_PAUSED;
	test_assert(batch_get_status(&batch) == BATCH_STATUS_PAUSED);
	batch.state = BATCH_STATE_CANCELLED;
	test_assert(batch_get_status(&batch) == BATCH_STATUS_CANCELLED);
	test_assert_strcmp(batch_status_name(BATCH_STATUS_COMPLETED_WITH_ERRORS),
			   "completed_with_errors");
	/* exactly half is not more than half */
	batch.job_counts[JOB_STATUS_FAILED] = 2;
	test_assert(!batch_is_half_failed(&batch));
	batch.job_counts[JOB_STATUS_FAILED] = 3;
	test_assert(batch_is_half_failed(&batch));
	test_end();
}

static void test_notify_outbox(void)
{
	struct job_store *store;
	pool_t pool = pool_alloconly_create("test outbox", 4096);
	ARRAY_TYPE(notify_message) msgs, msgs2;
	static const unsigned char other_key[SECRET_BOX_KEY_LEN] = { 9 };
	const struct notify_message *claimed;
	struct notify_message msg, claimed_copy;
	const char *error;
	unsigned int i;

	test_begin("notify outbox: add, claim once, retry with backoff, give up");
	store = store_open();
	i_zero(&msg);
	msg.batch_id = 7;
	msg.event = "completed";
	msg.channel = NOTIFY_CHANNEL_EMAIL;
	msg.sender = "from@example.org";
	msg.recipient = "admin@example.org";
	msg.payload = "Subject: x\n\nbody\n";
	test_assert(notify_outbox_add(store, &msg, &error) == 0);
	msg.channel = NOTIFY_CHANNEL_WEBHOOK;
	msg.recipient = "http://127.0.0.1:1/hook";
	msg.payload = "{}";
	test_assert(notify_outbox_add(store, &msg, &error) == 0);
	test_assert(notify_outbox_count_due(store, &error) == 2);

	/* two deliverers: each row goes to one */
	p_array_init(&msgs, pool, 4);
	p_array_init(&msgs2, pool, 4);
	test_assert(notify_outbox_claim(store, pool, "d1", 1, &msgs, &error) == 0);
	test_assert(notify_outbox_claim(store, pool, "d2", 10, &msgs2, &error) == 0);
	test_assert(array_count(&msgs) == 1 && array_count(&msgs2) == 1);
	if (array_count(&msgs) == 1 && array_count(&msgs2) == 1) {
		claimed = array_front(&msgs);
		test_assert(claimed->channel == NOTIFY_CHANNEL_EMAIL);
		test_assert_strcmp(claimed->recipient, "admin@example.org");
		test_assert_strcmp(claimed->payload, "Subject: x\n\nbody\n");
		test_assert(claimed->batch_id == 7 && claimed->attempts == 0);
		test_assert(notify_outbox_count_due(store, &error) == 0);
		/* queued with the key, unchanged: authentic; changed or
		   under another key: not */
		test_assert(notify_outbox_verify(store, claimed));
		claimed_copy = *claimed;
		claimed_copy.payload = "Subject: y\n\nbody\n";
		test_assert(!notify_outbox_verify(store, &claimed_copy));
		claimed_copy = *claimed;
		claimed_copy.recipient = "evil@example.net";
		test_assert(!notify_outbox_verify(store, &claimed_copy));
		job_store_set_key(store, other_key);
		test_assert(!notify_outbox_verify(store, claimed));
		job_store_set_key(store, test_key);
		/* sent: gone */
		test_assert(notify_outbox_finish(store, claimed, NULL, 100, FALSE,
						 &error) == 0);
		/* failed: due again only after the delay */
		claimed = array_front(&msgs2);
		test_assert(claimed->channel == NOTIFY_CHANNEL_WEBHOOK);
		test_assert(notify_outbox_finish(store, claimed, "HTTP 500",
						 100, FALSE, &error) == 0);
		test_assert(notify_outbox_count_due(store, &error) == 0);
		/* the test can't wait 100 s: a retry delay of 0 makes it due
		   at once; attempts are counted and after the last one it is
		   given up */
		test_assert(notify_outbox_finish(store, claimed, "HTTP 500",
						 0, FALSE, &error) == 0);
		for (i = 1; i < NOTIFY_OUTBOX_MAX_ATTEMPTS; i++) {
			array_clear(&msgs2);
			test_assert_idx(notify_outbox_claim(store, pool, "d2", 10,
							    &msgs2, &error) == 0 &&
					array_count(&msgs2) == 1, i);
			if (array_count(&msgs2) != 1)
				break;
			claimed = array_front(&msgs2);
			test_assert_idx(claimed->attempts == i, i);
			test_assert(notify_outbox_finish(store, claimed, "down",
							 0, FALSE, &error) == 0);
		}
		test_assert(notify_outbox_count_due(store, &error) == 0);
	}
	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

/* every user's jobs, filtered and limited by the store (the admin's
   "jobs" and "top") */
static unsigned long long
create_host_job(struct job_store *store, const char *username,
		const char *host)
{
	struct job job;
	unsigned long long id;
	const char *error;

	i_zero(&job);
	job.username = username;
	job.source_host = host;
	job.source_port = 143;
	job.source_ssl = "starttls";
	job.source_user = username;
	job.options = "";
	job.source_password = "v1:secret";
	if (job_store_create(store, &job, &id, &error) < 0)
		i_fatal("job_store_create() failed: %s", error);
	return id;
}

static void claim_until(struct job_store *store, pool_t pool,
			unsigned long long id, struct job *job_r)
{
	const char *error;

	/* older tests' jobs may be claimable too: they come first */
	while (job_store_claim(store, pool, "wl", 3600, 100, ioloop_time,
			       job_r, &error) == 1 && job_r->id != id) ;
	test_assert(job_r->id == id);
}

static const char *list_ids(struct job_store *store, pool_t pool,
			    const struct job_list_filter *filter)
{
	ARRAY_TYPE(job) jobs;
	const struct job *job;
	const char *error;
	string_t *str = t_str_new(64);

	p_array_init(&jobs, pool, 8);
	if (job_store_list(store, pool, filter, &jobs, &error) < 0)
		return t_strconcat("error: ", error, NULL);
	array_foreach(&jobs, job) {
		if (str_len(str) > 0)
			str_append_c(str, ' ');
		str_printfa(str, "%llu", job->id);
	}
	return str_c(str);
}

static void test_job_store_list(void)
{
	struct job_store *store;
	pool_t pool = pool_alloconly_create("test jobs", 4096);
	struct job_list_filter filter;
	unsigned int counts[JOB_STATUS_COUNT];
	unsigned long long a1, b1, b2 = 0, c1;
	ARRAY_TYPE(job) jobs;
	const struct job *listed;
	struct job job;
	const char *error;

	test_begin("job store: every user's jobs, filtered");
	store = store_open();
	a1 = create_host_job(store, "list-a", "list-one.example.net");
	b1 = create_host_job(store, "list-b", "LIST-TWO.example.net");
	c1 = create_host_job(store, "list-c", "list-one.example.net");
	/* a1 runs, b1 fails and is retried (b2), c1 is cancelled */
	claim_until(store, pool, a1, &job);
	job.status = JOB_STATUS_RUNNING;
	job.msgs_done = 5;
	job.msgs_total = 10;
	test_assert(job_store_update(store, &job, &error) == 1);
	claim_until(store, pool, b1, &job);
	job.status = JOB_STATUS_FAILED;
	job.error_code = "auth_failed";
	test_assert(job_store_update(store, &job, &error) == 1);
	test_assert(job_store_retry(store, b1, &b2, &error) == 1);
	test_assert(job_store_cancel(store, c1, &error) == 0);

	/* by host, whatever its case; newest first; the row as stored */
	i_zero(&filter);
	filter.host = "List-One.Example.NET";
	test_assert_strcmp(list_ids(store, pool, &filter),
			   t_strdup_printf("%llu %llu", c1, a1));
	p_array_init(&jobs, pool, 4);
	test_assert(job_store_list(store, pool, &filter, &jobs, &error) == 0);
	listed = array_count(&jobs) == 2 ? array_idx(&jobs, 1) : NULL;
	test_assert(listed != NULL && listed->status == JOB_STATUS_RUNNING &&
		    listed->msgs_done == 5 && listed->msgs_total == 10);
	if (listed != NULL)
		test_assert_strcmp(listed->username, "list-a");
	filter.host = "list-one.example";
	test_assert_strcmp(list_ids(store, pool, &filter), "");

	/* the store's limit: the newest */
	filter.host = "list-one.example.net";
	filter.limit = 1;
	test_assert_strcmp(list_ids(store, pool, &filter),
			   t_strdup_printf("%llu", c1));
	i_zero(&filter);
	filter.limit = 2;
	test_assert_strcmp(list_ids(store, pool, &filter),
			   t_strdup_printf("%llu %llu", b2, c1));

	/* by status */
	i_zero(&filter);
	filter.host = "list-one.example.net";
	filter.status_mask = 1U << JOB_STATUS_RUNNING;
	test_assert_strcmp(list_ids(store, pool, &filter),
			   t_strdup_printf("%llu", a1));
	filter.status_mask = (1U << JOB_STATUS_CANCELLED) |
		(1U << JOB_STATUS_QUEUED);
	test_assert_strcmp(list_ids(store, pool, &filter),
			   t_strdup_printf("%llu", c1));

	/* a retried job only when asked for */
	i_zero(&filter);
	filter.host = "list-two.example.net";
	test_assert_strcmp(list_ids(store, pool, &filter),
			   t_strdup_printf("%llu", b2));
	filter.include_superseded = TRUE;
	test_assert_strcmp(list_ids(store, pool, &filter),
			   t_strdup_printf("%llu %llu", b2, b1));

	/* by the time of the last change */
	filter.since = ioloop_time + 3600;
	test_assert_strcmp(list_ids(store, pool, &filter), "");
	filter.since = ioloop_time - 3600;
	test_assert_strcmp(list_ids(store, pool, &filter),
			   t_strdup_printf("%llu %llu", b2, b1));

	/* counted per status */
	i_zero(&filter);
	filter.host = "list-one.example.net";
	test_assert(job_store_count(store, &filter, counts, &error) == 0);
	test_assert(counts[JOB_STATUS_RUNNING] == 1 &&
		    counts[JOB_STATUS_CANCELLED] == 1 &&
		    counts[JOB_STATUS_QUEUED] == 0);
	filter.host = "list-two.example.net";
	filter.status_mask = 1U << JOB_STATUS_QUEUED;
	filter.include_superseded = TRUE;
	test_assert(job_store_count(store, &filter, counts, &error) == 0);
	test_assert(counts[JOB_STATUS_QUEUED] == 1 &&
		    counts[JOB_STATUS_FAILED] == 0);
	job_store_close(&store);
	pool_unref(&pool);
	test_end();
}

static void test_job_store_status_names(void)
{
	enum job_status status;
	unsigned int i;

	test_begin("job store: status names");
	for (i = 0; i < JOB_STATUS_COUNT; i++) {
		test_assert_idx(job_status_parse(job_status_name(i), &status) == 0 &&
				status == i, i);
	}
	test_assert(job_status_parse("Running", &status) < 0);
	test_assert(job_status_is_final(JOB_STATUS_FAILED));
	test_assert(!job_status_is_final(JOB_STATUS_RUNNING));
	test_end();
}

/* test-job-store [DRIVER CONNECT]: SQLite in a temp dir by default; the
   integration tests run it against a throwaway PostgreSQL too. */
int main(int argc, char *argv[])
{
	static void (*const test_functions[])(void) = {
		test_job_store_status_names,
		test_job_store_schema,
		test_job_store_upgrade_23,
		test_oauth2_grant_store,
		test_job_store_caps,
		test_job_store_slots,
		test_job_store_claims,
		test_job_store_stale_and_cancel,
		test_job_store_lost_claims,
		test_job_store_fence,
		test_job_store_retry_at,
		test_batch_store,
		test_batch_status,
		test_notify_outbox,
		test_job_store_list,
		test_job_store_upgrade_26,
		/* last: its queued jobs would be claimed by the others */
		test_failed_message_store,
		NULL
	};
	struct ioloop *ioloop;
	char dir[] = "/tmp/test-job-store.XXXXXX";
	int ret;

	if (mkdtemp(dir) == NULL)
		return 1;
	lib_init();
	ioloop = io_loop_create();
	if (argc == 3) {
		db_driver = argv[1];
		db_connect = argv[2];
		printf("job store driver: %s\n", db_driver);
	} else {
		db_driver = "sqlite";
		db_connect = t_strconcat(dir, "/jobs.db", NULL);
	}
	ret = test_run(test_functions);
	io_loop_destroy(&ioloop);
	if (argc != 3)
		(void)unlink(db_connect);
	(void)rmdir(dir);
	lib_deinit();
	return ret;
}
