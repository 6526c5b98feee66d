/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "test-common.h"
#include "import-progress.h"

static void test_import_progress_permille(void)
{
	struct import_progress p;

	test_begin("progress: nothing counted yet is 0 %");
	i_zero(&p);
	test_assert(import_progress_get_permille(&p) == 0);
	test_assert(import_progress_get_eta_secs(&p) == -1);
	test_end();

	test_begin("progress: by messages while nothing is listed");
	i_zero(&p);
	p.msgs_total = 200;
	p.msgs_done = 50;
	test_assert(import_progress_get_permille(&p) == 250);
	test_end();

	test_begin("progress: by bytes once listed, the rest estimated");
	/* 100 of 200 messages listed, 10 MB of them to copy, 5 MB copied:
	   the other 100 are taken to be 10 MB too */
	i_zero(&p);
	p.msgs_total = 200;
	p.msgs_listed = 100;
	p.msgs_done = 60;
	p.bytes_total = 10*1024*1024;
	p.bytes_done = 5*1024*1024;
	test_assert(import_progress_get_permille(&p) == 250);
	/* a big message weighs more than many small ones */
	p.msgs_done = 2;
	test_assert(import_progress_get_permille(&p) == 250);
	/* all listed: exact */
	p.msgs_listed = 200;
	p.bytes_total = 20*1024*1024;
	p.bytes_done = 15*1024*1024;
	test_assert(import_progress_get_permille(&p) == 750);
	test_end();

	test_begin("progress: what the date filter leaves out is not estimated");
	i_zero(&p);
	p.msgs_total = 200;
	p.filtered_by_date = 100;
	p.msgs_listed = 50;
	p.bytes_total = 1000;
	p.bytes_done = 500;
	/* 50 more to list, at 20 bytes each: 500 of 2000 */
	test_assert(import_progress_get_permille(&p) == 250);
	test_end();

	test_begin("progress: never 100 % before every message is done");
	i_zero(&p);
	p.msgs_total = 10;
	p.msgs_listed = 10;
	p.msgs_done = 9;
	p.bytes_total = 1000;
	p.bytes_done = 1000;
	test_assert(import_progress_get_permille(&p) == 999);
	p.msgs_done = 10;
	test_assert(import_progress_get_permille(&p) == 1000);
	test_end();

	test_begin("progress: a re-run (nothing to copy) goes by messages");
	i_zero(&p);
	p.msgs_total = 100;
	p.msgs_listed = 40;
	p.msgs_done = 40;
	test_assert(import_progress_get_permille(&p) == 400);
	test_end();

	test_begin("progress: more listed than counted (a folder grew)");
	i_zero(&p);
	p.msgs_total = 10;
	p.msgs_listed = 20;
	p.msgs_done = 5;
	p.bytes_total = 1000;
	p.bytes_done = 1500;
	test_assert(import_progress_get_permille(&p) == 999);
	test_end();
}

static void test_import_progress_eta(void)
{
	struct import_progress p;

	test_begin("progress: ETA from the share done");
	i_zero(&p);
	p.msgs_total = 200;
	p.msgs_listed = 200;
	p.msgs_done = 100;
	p.bytes_total = 4000;
	p.bytes_done = 1000;
	p.elapsed_msecs = 10000;
	/* a quarter in 10 s: 30 s left */
	test_assert(import_progress_get_eta_secs(&p) == 30);
	/* under a second: too early to say */
	p.elapsed_msecs = 999;
	test_assert(import_progress_get_eta_secs(&p) == -1);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_import_progress_permille,
		test_import_progress_eta,
		NULL
	};
	return test_run(test_functions);
}
