/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "test-common.h"
#include "job-store.h"
#include "job-runner.h"

#include <time.h>

static void test_job_runner_retry_delay(void)
{
	/* 1 min, 5 min, 15 min, 1 h, 4 h, and 4 h after that */
	static const unsigned int expected[] = {
		60, 300, 900, 3600, 14400, 14400, 14400 };
	unsigned int i;

	test_begin("job runner: retry backoff");
	for (i = 0; i < N_ELEMENTS(expected); i++)
		test_assert_idx(job_runner_retry_delay(60, i + 1) == expected[i], i);
	/* what tests set: the same schedule in seconds */
	test_assert(job_runner_retry_delay(1, 1) == 1);
	test_assert(job_runner_retry_delay(1, 2) == 5);
	/* never wraps */
	test_assert(job_runner_retry_delay(UINT_MAX / 2, 5) == UINT_MAX);
	test_end();
}

static void test_job_runner_status_text(void)
{
	struct job job;
	struct tm tm;
	time_t now;

	test_begin("job runner: status in words");
	i_zero(&tm);
	tm.tm_year = 2026 - 1900;
	tm.tm_mon = 10;
	tm.tm_mday = 30;
	tm.tm_hour = 14;
	tm.tm_min = 1;
	tm.tm_isdst = -1;
	now = mktime(&tm);

	i_zero(&job);
	job.status = JOB_STATUS_QUEUED;
	job.error_code = "";
	test_assert_strcmp(job_runner_status_text(&job, now), "queued");
	job.retry_count = 2;
	job.retry_limit = 5;
	job.retry_at = now + 4*60;
	job.error_code = "connect_timeout";
	test_assert_strcmp(job_runner_status_text(&job, now),
		"queued \xE2\x80\x94 retry 2 of 5 at 14:05 after: Connection timed out");
	/* another day: with the date */
	job.retry_at = now + 24*3600;
	test_assert_strcmp(job_runner_status_text(&job, now),
		"queued \xE2\x80\x94 retry 2 of 5 at 2026-12-01 14:01 after: Connection timed out");
	job.status = JOB_STATUS_RUNNING;
	test_assert_strcmp(job_runner_status_text(&job, now),
		"running \xE2\x80\x94 retry 2 of 5");
	job.status = JOB_STATUS_COMPLETED;
	test_assert_strcmp(job_runner_status_text(&job, now),
		"completed after 2 retries");
	job.status = JOB_STATUS_FAILED;
	job.retry_count = 1;
	test_assert_strcmp(job_runner_status_text(&job, now),
		"failed after 1 retry");
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_job_runner_retry_delay,
		test_job_runner_status_text,
		NULL
	};
	return test_run(test_functions);
}
