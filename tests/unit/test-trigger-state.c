/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "test-common.h"
#include "trigger-state.h"

#include <stdio.h>
#include <fcntl.h>
#include <unistd.h>

static const char *test_dir;

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		i_fatal("write(%s) failed: %m", path);
	i_close_fd(&fd);
}

static void test_trigger_state(void)
{
	struct trigger_state state, read_state;
	const char *path, *error, *key1, *key2;
	pool_t pool = pool_alloconly_create("trigger state", 1024);

	test_begin("trigger state: source key, file, JSON");
	key1 = trigger_source_key("imap.example.org", 993, "imaps", "alice");
	key2 = trigger_source_key("imap.example.org", 993, "imaps", "alic");
	test_assert(strlen(key1) == 32 && strcmp(key1, key2) != 0);
	test_assert_strcmp(key1, trigger_source_key("imap.example.org", 993,
						    "imaps", "alice"));
	test_assert(strcmp(key1, trigger_source_key("imap.example.org", 143,
						    "imaps", "alice")) != 0);

	path = t_strconcat(test_dir, "/state", NULL);
	test_assert(trigger_state_read(path, pool, &read_state, &error) == 0);
	i_zero(&state);
	state.source_key = key1;
	state.state = TRIGGER_STATE_FAILED;
	state.job_id = 42;
	state.updated = 1700000000;
	state.msgs_done = 3;
	state.msgs_total = 10;
	state.error_code = "auth_failed";
	state.error_title = "Authentication\tfailed\n\"x\"";
	test_assert(trigger_state_write(path, &state, &error) == 0);
	test_assert(trigger_state_read(path, pool, &read_state, &error) == 1);
	test_assert_strcmp(read_state.source_key, key1);
	test_assert(read_state.state == TRIGGER_STATE_FAILED &&
		    read_state.job_id == 42 && read_state.updated == 1700000000 &&
		    read_state.msgs_done == 3 && read_state.msgs_total == 10);
	test_assert_strcmp(read_state.error_title, "Authentication\tfailed\n\"x\"");
	test_assert_strcmp(trigger_state_json(&read_state),
		"{\"state\":\"failed\",\"job\":42,\"updated\":1700000000,"
		"\"messages_done\":3,\"messages_total\":10,\"imported\":0,"
		"\"folders\":0,\"error\":\"auth_failed\",\"error_title\":"
		"\"Authentication\\tfailed\\n\\\"x\\\"\",\"folder\":\"\"}");

	/* running: the folder being copied, the source's name: kept across
	   the file, without control characters, escaped in the JSON */
	state.state = TRIGGER_STATE_RUNNING;
	state.error_code = "";
	state.folder = "<img src=x onerror=alert(1)>\"\\\n\x1b";
	test_assert(trigger_state_write(path, &state, &error) == 0);
	test_assert(trigger_state_read(path, pool, &read_state, &error) == 1);
	test_assert_strcmp(read_state.folder,
			   "<img src=x onerror=alert(1)>\"\\??");
	test_assert_strcmp(trigger_state_json(&read_state),
		"{\"state\":\"running\",\"job\":42,\"updated\":1700000000,"
		"\"messages_done\":3,\"messages_total\":10,\"imported\":0,"
		"\"folders\":0,\"error\":\"\",\"error_title\":\"\","
		"\"folder\":\"<img src=x onerror=alert(1)>\\\"\\\\??\"}");

	/* a file that isn't a state file counts as none */
	write_file(path, "source=x\nstate=bogus\n");
	test_assert(trigger_state_read(path, pool, &read_state, &error) == 0);
	write_file(path, "state=completed\n");
	test_assert(trigger_state_read(path, pool, &read_state, &error) == 0);
	write_file(path, "source=x\nstate=completed\njob=abc\n");
	test_assert(trigger_state_read(path, pool, &read_state, &error) == 0);
	write_file(path, "source=x\nstate=completed\nlater_key=1\n");
	test_assert(trigger_state_read(path, pool, &read_state, &error) == 1);

	/* (found by tests/fuzz) what was read is written back as it was
	   read: a source key that the file escaped, unescaped on reading,
	   is escaped again, or its line break would be a line of its own */
	write_file(path, "source=x\001ny\001nstate=failed\001t\nstate=completed\n");
	test_assert(trigger_state_read(path, pool, &read_state, &error) == 1);
	test_assert_strcmp(read_state.source_key, "x\ny\nstate=failed\t");
	test_assert(trigger_state_write(path, &read_state, &error) == 0);
	test_assert(trigger_state_read(path, pool, &state, &error) == 1);
	test_assert_strcmp(state.source_key, "x\ny\nstate=failed\t");
	test_assert(state.state == TRIGGER_STATE_COMPLETED);
	/* a time beyond time_t's is no time */
	write_file(path, "source=x\nstate=completed\nupdated=18446744073709551615\n");
	test_assert(trigger_state_read(path, pool, &read_state, &error) == 0);
	write_file(path, "source=x\nstate=completed\nnext_due=9223372036854775808\n");
	test_assert(trigger_state_read(path, pool, &read_state, &error) == 0);
	write_file(path, "source=x\nstate=completed\nnext_due=9223372036854775807\n");
	test_assert(trigger_state_read(path, pool, &read_state, &error) == 1);
	i_unlink(path);
	pool_unref(&pool);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_trigger_state,
		NULL
	};
	char dir[] = "/tmp/test-trigger-state.XXXXXX";
	int ret;

	if (mkdtemp(dir) == NULL)
		return 1;
	test_dir = dir;
	ret = test_run(test_functions);
	(void)rmdir(dir);
	return ret;
}
