/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "sleep.h"
#include "unlink-directory.h"
#include "test-common.h"
#include "job-store.h"

#include <stdio.h>
#include <unistd.h>

/* more than the other tests ever have live at once */
#define SLOTS 4

static const char *db_driver, *db_connect;

static struct job_store *store_open(void)
{
	struct job_store *store;
	const char *error;

	if (job_store_open(db_driver, db_connect, NULL, &store, &error) < 0)
		i_fatal("job_store_open() failed: %s", error);
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
	test_assert(job_store_get_schema_version(store) == 4);
	job_store_close(&store);
	store = store_open();
	test_assert(job_store_get_schema_version(store) == 4);
	job_store_close(&store);
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
	test_assert(job_store_update(store, &job, &error) == 0);
}

/* runs first, on an empty store, and leaves no job live */
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
	test_assert(job_store_claim(store, pool, "w1", 60, 2, &job, &error) == 1);
	test_assert(job.id == d1);
	test_assert(job_store_claim(store, pool, "w2", 60, 2, &job, &error) == 1);
	test_assert(job.id == e1);
	/* both slots taken: frank waits */
	test_assert(job_store_claim(store, pool, "w3", 60, 2, &job, &error) == 0);
	test_assert(job_store_claim(store, pool, "w3", 60, 3, &job, &error) == 1);
	test_assert(job.id == f1);
	/* a slot frees when its job ends */
	g1 = create_job(store, "gina");
	test_assert(job_store_claim(store, pool, "w4", 60, 3, &job, &error) == 0);
	finish_job(store, pool, d1);
	test_assert(job_store_claim(store, pool, "w4", 60, 3, &job, &error) == 1);
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
	test_assert(job_store_claim(store, pool, "w1", 60, SLOTS, &job, &error) == 1);
	test_assert(job.id == a1 && job.status == JOB_STATUS_PREPARING);
	test_assert(strncmp(job.worker, "w1/", 3) == 0);
	test_assert(job_store_claim(store, pool, "w2", 60, SLOTS, &job, &error) == 1);
	test_assert(job.id == b1);
	test_assert(job_store_claim(store, pool, "w3", 60, SLOTS, &job, &error) == 0);

	/* a1 finishes: a2 can go */
	test_assert(job_store_get(store, pool, a1, &job, &error) == 1);
	job.status = JOB_STATUS_COMPLETED;
	job.imported = 42;
	job.error_code = "";
	test_assert(job_store_update(store, &job, &error) == 0);
	test_assert(job_store_get(store, pool, a1, &job, &error) == 1);
	test_assert(job.status == JOB_STATUS_COMPLETED && job.imported == 42);
	test_assert(job_store_claim(store, pool, "w3", 60, SLOTS, &job, &error) == 1);
	test_assert(job.id == a2);
	test_assert(job_store_claim(store, pool, "w4", 60, SLOTS, &job, &error) == 0);

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
	test_assert(job_store_claim(store, pool, "w1", 60, SLOTS, &job, &error) == 1);
	test_assert(job.id == c1);
	/* not stale yet: nothing for carol */
	test_assert(job_store_claim(store, pool, "w2", 60, SLOTS, &job, &error) == 0);
	/* w1 has not updated the job for a second, which with stale_secs=0
	   is stale (so are the earlier test's jobs: they come first, being
	   older) */
	i_sleep_msecs(1100);
	io_loop_time_refresh();
	while (job_store_claim(store, pool, "w2", 0, SLOTS, &job, &error) == 1 &&
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
		test_job_store_slots,
		test_job_store_claims,
		test_job_store_stale_and_cancel,
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
