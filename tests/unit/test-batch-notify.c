/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "istream.h"
#if DOVECOT_PREREQ(2, 4, 0)
#  include "json-istream.h"
#else
#  include "json-parser.h"
#endif
#include "test-common.h"
#include "import-remote-compat.h"
#include "batch-notify.h"

static void make_batch(struct batch *batch_r, ARRAY_TYPE(job) *jobs)
{
	struct job job;

	i_zero(batch_r);
	batch_r->id = 42;
	batch_r->notify = "admin@example.org";
	batch_r->pause_reason = "";
	batch_r->jobs_total = 3;
	batch_r->job_counts[JOB_STATUS_COMPLETED] = 1;
	batch_r->job_counts[JOB_STATUS_FAILED] = 2;
	batch_r->storage_limit = 1000;
	batch_r->quota_used = 950;

	i_zero(&job);
	job.id = 1;
	job.username = "done@example.org";
	job.status = JOB_STATUS_COMPLETED;
	job.error_code = "";
	array_push_back(jobs, &job);
	/* hostile text from a CSV: quotes, backslashes, non-ASCII */
	job.id = 2;
	job.username = "j\xc3\xb6rg@example.org";
	job.source_user = "a\"b\\c";
	job.source_host = "imap.example.net";
	job.status = JOB_STATUS_FAILED;
	job.error_code = "auth_failed";
	job.error_detail = "server said: secret-detail";
	job.source_password = "v1:ENCRYPTED";
	array_push_back(jobs, &job);
	job.id = 3;
	job.username = "x@example.org";
	job.source_user = "x";
	job.error_code = "no_such_code";
	array_push_back(jobs, &job);
}

/* Is it one valid JSON object? */
#if DOVECOT_PREREQ(2, 4, 0)
static bool json_is_valid(const char *text)
{
	struct istream *input;
	struct json_istream *jinput;
	struct json_node node;
	const char *error;
	bool ok;

	input = i_stream_create_from_data(text, strlen(text));
	jinput = json_istream_create(input, JSON_ISTREAM_TYPE_NORMAL, NULL, 0);
	/* the whole object is parsed (and skipped) as one node */
	ok = json_istream_read_next(jinput, &node) > 0 &&
		node.type == JSON_TYPE_OBJECT;
	if (!ok)
		json_istream_destroy(&jinput);
	else
		ok = json_istream_finish(&jinput, &error) > 0;
	i_stream_unref(&input);
	return ok;
}
#else
static bool json_is_valid(const char *text)
{
	struct istream *input;
	struct json_parser *parser;
	enum json_type type;
	const char *value, *error;
	bool ok;

	input = i_stream_create_from_data(text, strlen(text));
	parser = json_parser_init(input);
	while (json_parse_next(parser, &type, &value) > 0) ;
	ok = json_parser_deinit(&parser, &error) == 0;
	i_stream_unref(&input);
	return ok;
}
#endif

static void test_batch_notify_json(void)
{
	ARRAY_TYPE(job) jobs;
	struct batch batch;
	const char *json;

	test_begin("batch notify: webhook JSON");
	t_array_init(&jobs, 4);
	make_batch(&batch, &jobs);
	json = batch_notify_format_json(&batch, &jobs, BATCH_EVENT_HALF_FAILED);
	test_assert(json_is_valid(json));
	test_assert(strstr(json, "\"event\":\"half_failed\"") != NULL);
	test_assert(strstr(json, "\"batch\":42,") != NULL);
	test_assert(strstr(json, "\"status\":\"completed_with_errors\"") != NULL);
	test_assert(strstr(json, "\"failed\":2") != NULL);
	test_assert(strstr(json, "\"source\":\"a\\\"b\\\\c\"") != NULL);
	test_assert(strstr(json, "\"error_title\":\"Authentication failed\"") != NULL);
	test_assert(strstr(json, "\"storage_used\":950,\"storage_limit\":1000") != NULL);
	/* an unknown code has no title; nothing secret goes out */
	test_assert(strstr(json, "\"error\":\"no_such_code\",\"error_title\":\"\"") != NULL);
	test_assert(strstr(json, "ENCRYPTED") == NULL);
	test_assert(strstr(json, "secret-detail") == NULL);
	test_assert(strstr(json, "done@example.org") == NULL);
	test_end();
}

static void test_batch_notify_email(void)
{
	ARRAY_TYPE(job) jobs;
	struct batch batch;
	const char *text;

	test_begin("batch notify: email text");
	t_array_init(&jobs, 4);
	make_batch(&batch, &jobs);
	text = batch_notify_format(&batch, &jobs, BATCH_EVENT_COMPLETED,
				   "from@example.org", 90);
	test_assert(import_remote_str_begins(text, "From: from@example.org\nTo: admin@example.org\n"));
	test_assert(strstr(text, "\nSubject: Import batch 42: Completed with errors\n") != NULL);
	test_assert(strstr(text, "\nMessage-ID: <import-remote-batch-42-") != NULL);
	test_assert(strstr(text, "\nContent-Type: text/plain; charset=utf-8\n") != NULL);
	test_assert(strstr(text, "  completed: 1\n  failed: 2\n") != NULL);
	test_assert(strstr(text, "Storage: 950 of 1000 bytes used") != NULL);
	test_assert(strstr(text, "  j\xc3\xb6rg@example.org (a\"b\\c at imap.example.net): Authentication failed\n") != NULL);
	test_assert(strstr(text, "doveadm import-remote batch retry-failed 42") != NULL);
	test_assert(strstr(text, "ENCRYPTED") == NULL);
	test_assert(strstr(text, "secret-detail") == NULL);

	batch.state = BATCH_STATE_PAUSED;
	batch.pause_reason = BATCH_PAUSE_REASON_STORAGE;
	text = batch_notify_format(&batch, &jobs,
				   BATCH_EVENT_PAUSED_FOR_STORAGE,
				   "from@example.org", 85);
	test_assert(strstr(text, "Subject: Import batch 42: Paused: storage limit (85% reached)\n") != NULL);
	test_assert(strstr(text, "doveadm import-remote batch resume 42 [--storage-limit SIZE]") != NULL);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_batch_notify_json,
		test_batch_notify_email,
		NULL
	};
	return test_run(test_functions);
}
