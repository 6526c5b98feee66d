/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

#include "lib.h"
#include "array.h"
#include "test-common.h"
#include "import-remote-error.h"
#include "import-remote-settings.h"
#include "import-progress.h"

#include <unistd.h>

static void test_ssl_parse(void)
{
	enum import_remote_ssl ssl;

	test_begin("ssl mode parsing");
	test_assert(import_remote_ssl_parse("imaps", &ssl) == 0 &&
		    ssl == IMPORT_REMOTE_SSL_IMAPS);
	test_assert(import_remote_ssl_parse("SSL", &ssl) == 0 &&
		    ssl == IMPORT_REMOTE_SSL_IMAPS);
	test_assert(import_remote_ssl_parse("tls", &ssl) == 0 &&
		    ssl == IMPORT_REMOTE_SSL_IMAPS);
	test_assert(import_remote_ssl_parse("starttls", &ssl) == 0 &&
		    ssl == IMPORT_REMOTE_SSL_STARTTLS);
	test_assert(import_remote_ssl_parse("none", &ssl) == 0 &&
		    ssl == IMPORT_REMOTE_SSL_NONE);
	test_assert(import_remote_ssl_parse("", &ssl) < 0);
	test_assert(import_remote_ssl_parse("yes", &ssl) < 0);
	test_assert_strcmp(import_remote_ssl_name(IMPORT_REMOTE_SSL_STARTTLS),
			   "starttls");
	test_end();
}

static void test_default_port(void)
{
	struct import_remote_settings set;

	test_begin("default port by ssl mode");
	import_remote_settings_init(pool_datastack_create(), &set);
	test_assert(import_remote_settings_get_port(&set) == 993);
	set.ssl = IMPORT_REMOTE_SSL_STARTTLS;
	test_assert(import_remote_settings_get_port(&set) == 143);
	set.ssl = IMPORT_REMOTE_SSL_NONE;
	test_assert(import_remote_settings_get_port(&set) == 143);
	set.port = 10993;
	test_assert(import_remote_settings_get_port(&set) == 10993);
	test_end();
}

static void test_date_parse(void)
{
	time_t t;

	test_begin("date parsing");
	test_assert(import_remote_date_parse("2024-01-01", &t) == 0 &&
		    t == 1704067200);
	test_assert(import_remote_date_parse("1970-01-01", &t) == 0 && t == 0);
	test_assert(import_remote_date_parse("2024-02-29", &t) == 0);
	test_assert(import_remote_date_parse("2023-02-29", &t) < 0);
	test_assert(import_remote_date_parse("2024-02-31", &t) < 0);
	test_assert(import_remote_date_parse("2024-13-01", &t) < 0);
	test_assert(import_remote_date_parse("2024-1-01", &t) < 0);
	test_assert(import_remote_date_parse("01-01-2024", &t) < 0);
	test_assert(import_remote_date_parse("2024-01-01x", &t) < 0);
	test_assert(import_remote_date_parse("", &t) < 0);
	test_end();
}

static void test_settings_check(void)
{
	struct import_remote_settings set;
	const char *error;

	test_begin("settings check");
	import_remote_settings_init(pool_datastack_create(), &set);
	test_assert(import_remote_settings_check(&set, &error) < 0 &&
		    strstr(error, "--host") != NULL);
	set.host = "imap.example.com";
	test_assert(import_remote_settings_check(&set, &error) < 0 &&
		    strstr(error, "--user") != NULL);
	set.username = "alice";
	test_assert(import_remote_settings_check(&set, &error) < 0 &&
		    strstr(error, "password") != NULL);
	set.password = "secret";
	test_assert(import_remote_settings_check(&set, &error) == 0);
	set.host = "imap.example.com/x";
	test_assert(import_remote_settings_check(&set, &error) < 0);
	set.host = "imap.example.com";
	set.since = 2000; set.before = 1000;
	test_assert(import_remote_settings_check(&set, &error) < 0);
	set.since = 0; set.before = 0;
	/* a control character in the source user or host would forge log
	   and output lines */
	set.username = "a\nimport-remote-worker: Error: FORGED";
	test_assert(import_remote_settings_check(&set, &error) < 0 &&
		    strstr(error, "control character") != NULL);
	set.username = "a\x1b[31mb";
	test_assert(import_remote_settings_check(&set, &error) < 0);
	set.username = "a\x7f";
	test_assert(import_remote_settings_check(&set, &error) < 0);
	set.username = "a\tb";
	test_assert(import_remote_settings_check(&set, &error) < 0);
	set.username = "alice@example.com";
	test_assert(import_remote_settings_check(&set, &error) == 0);
	set.username = "j\xc3\xb6rg";
	test_assert(import_remote_settings_check(&set, &error) == 0);
	set.host = "imap.example.com\r";
	test_assert(import_remote_settings_check(&set, &error) < 0);
	set.host = "imap.example.com\x01";
	test_assert(import_remote_settings_check(&set, &error) < 0);
	test_end();
}

static int pipe_with(const void *data, size_t size)
{
	int fd[2];

	if (pipe(fd) < 0)
		i_fatal("pipe() failed: %m");
	if (write(fd[1], data, size) != (ssize_t)size)
		i_fatal("write() failed: %m");
	i_close_fd(&fd[1]);
	return fd[0];
}

static void test_password_read(void)
{
	const char *password, *error;
	int fd;

	test_begin("password reading");
	fd = pipe_with("s3cret pass\n", 12);
	test_assert(import_remote_password_read_fd(fd, pool_datastack_create(),
						   &password, &error) == 0);
	test_assert_strcmp(password, "s3cret pass");
	i_close_fd(&fd);

	fd = pipe_with("crlf\r\nsecond line\n", 18);
	test_assert(import_remote_password_read_fd(fd, pool_datastack_create(),
						   &password, &error) == 0);
	test_assert_strcmp(password, "crlf");
	i_close_fd(&fd);

	fd = pipe_with("no-newline", 10);
	test_assert(import_remote_password_read_fd(fd, pool_datastack_create(),
						   &password, &error) == 0);
	test_assert_strcmp(password, "no-newline");
	i_close_fd(&fd);

	fd = pipe_with("\n", 1);
	test_assert(import_remote_password_read_fd(fd, pool_datastack_create(),
						   &password, &error) < 0);
	test_assert(strstr(error, "empty") != NULL);
	i_close_fd(&fd);

	fd = pipe_with("a\0b\n", 4);
	test_assert(import_remote_password_read_fd(fd, pool_datastack_create(),
						   &password, &error) < 0);
	i_close_fd(&fd);

	/* non-ASCII passwords are kept byte for byte */
	fd = pipe_with("p\xc3\xa4ss\n", 6);
	test_assert(import_remote_password_read_fd(fd, pool_datastack_create(),
						   &password, &error) == 0);
	test_assert_strcmp(password, "p\xc3\xa4ss");
	i_close_fd(&fd);
	test_end();
}

static void test_error_catalogue(void)
{
	const struct import_remote_error_info *info;
	struct import_remote_error error;
	unsigned int i;

	test_begin("error catalogue");
	for (i = 1; i < IMPORT_REMOTE_ERROR_COUNT; i++) {
		info = import_remote_error_get_info(i);
		test_assert_idx(info->code == i, i);
		test_assert_idx(info->name[0] != '\0' && info->title[0] != '\0', i);
		test_assert_idx(info->exit_code != 0, i);
		test_assert_idx(import_remote_error_from_name(info->name) == i, i);
	}
	test_assert(import_remote_error_from_name("nope") ==
		    IMPORT_REMOTE_ERROR_COUNT);
	info = import_remote_error_get_info(IMPORT_REMOTE_ERROR_AUTH_FAILED);
	test_assert_strcmp(info->name, "auth_failed");
	test_assert_strcmp(info->title, "Authentication failed");
	test_assert(info->exit_code == 77);
	test_assert_strcmp(import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED)->title,
		"Mailbox quota exceeded");
	test_assert_strcmp(import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_CONNECT_TIMEOUT)->title,
		"Connection timed out");
	test_assert_strcmp(import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_HOST_UNREACHABLE)->title,
		"Host unreachable");
	/* "Connection refused": a title of its own, the hint names the port */
	test_assert_strcmp(import_remote_error_get_title_detail(
		IMPORT_REMOTE_ERROR_HOST_UNREACHABLE,
		"connect(192.0.2.1, 1143) failed: Connection refused"),
		"Connection refused");
	test_assert_strcmp(import_remote_error_get_title_detail(
		IMPORT_REMOTE_ERROR_HOST_UNREACHABLE,
		"Cannot resolve host name x.invalid: Unknown host"),
		"Host unreachable");
	test_assert(strstr(import_remote_error_get_hint_detail(
		IMPORT_REMOTE_ERROR_HOST_UNREACHABLE,
		"connect(192.0.2.1, 1143) failed: Connection refused", NULL),
		"nothing listens on port 1143:") != NULL);
	test_assert(strstr(import_remote_error_get_hint_detail(
		IMPORT_REMOTE_ERROR_HOST_UNREACHABLE,
		"imap.example.com:993: Connection refused", NULL),
		"nothing listens on port 993:") != NULL);
	test_assert(strstr(import_remote_error_get_hint_detail(
		IMPORT_REMOTE_ERROR_HOST_UNREACHABLE,
		"connect(192.0.2.1, 1143) failed: Connection refused", NULL),
		"(or the port given)") == NULL);

	/* provider-specific hints */
	test_assert(strstr(import_remote_error_get_hint(
		IMPORT_REMOTE_ERROR_AUTH_FAILED, "imap.gmail.com"),
		"2-Step Verification") != NULL);
	test_assert(strstr(import_remote_error_get_hint(
		IMPORT_REMOTE_ERROR_AUTH_FAILED, "imap.mail.yahoo.com"),
		"App Password") != NULL);
	test_assert(strstr(import_remote_error_get_hint(
		IMPORT_REMOTE_ERROR_AUTH_FAILED, "imap.mail.me.com"),
		"app-specific") != NULL);
	test_assert(strstr(import_remote_error_get_hint(
		IMPORT_REMOTE_ERROR_AUTH_FAILED, "notgmail.com"),
		"cPanel") != NULL);
	test_assert(strstr(import_remote_error_get_hint(
		IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED, "imap.gmail.com"),
		"--since") != NULL);

	/* what a queued job retries by itself: what may pass; never what
	   needs someone to act */
	test_assert(import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_CONNECT_TIMEOUT)->transient);
	test_assert(import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_HOST_UNREACHABLE)->transient);
	test_assert(import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_THROTTLED)->transient);
	test_assert(import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_SOURCE_ERROR)->transient);
	test_assert(!import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_AUTH_FAILED)->transient);
	test_assert(!import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_TLS_FAILED)->transient);
	test_assert(!import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_QUOTA_EXCEEDED)->transient);
	test_assert(import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_DEST_ERROR)->transient);
	test_assert(!import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_CANCELLED)->transient);
	test_assert(!import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_INTERNAL)->transient);
	test_assert(import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_CONNECTION_LOST)->transient);

	test_assert_strcmp(import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_CONNECTION_LOST)->name, "connection_lost");
	test_assert(import_remote_error_get_info(
		IMPORT_REMOTE_ERROR_CONNECTION_LOST)->exit_code == 75);
	/* a source the settings refuse stays refused: not retried */
	info = import_remote_error_get_info(IMPORT_REMOTE_ERROR_SOURCE_NOT_ALLOWED);
	test_assert_strcmp(info->name, "source_not_allowed");
	test_assert(info->exit_code == 77 && !info->transient);
	test_assert(strstr(info->hint, "import_remote_allowed_networks") != NULL);
	test_assert(strstr(import_remote_error_get_hint_detail(
		IMPORT_REMOTE_ERROR_SOURCE_NOT_ALLOWED,
		IMPORT_REMOTE_DETAIL_PLAINTEXT " (import_remote_allow_plaintext)",
		"mail.example.com"), "import_remote_allow_plaintext = yes") != NULL);

	/* the hint follows what the server said, whatever the host */
	test_assert(strstr(import_remote_error_get_hint_detail(
		IMPORT_REMOTE_ERROR_AUTH_FAILED, "host:993: login as a "
		"rejected: [ALERT] Application-specific password required: "
		"https://support.google.com/accounts/answer/185833 (Failure)",
		"mail.example.com"), "app-specific password") != NULL);
	test_assert(strstr(import_remote_error_get_hint_detail(
		IMPORT_REMOTE_ERROR_AUTH_FAILED, "host:993: login as a "
		"rejected: [AUTHENTICATIONFAILED] Invalid credentials",
		"mail.example.com"), "cPanel") != NULL);
	/* an [ALERT] about something else is no App Password case */
	test_assert(strstr(import_remote_error_get_hint_detail(
		IMPORT_REMOTE_ERROR_AUTH_FAILED, "[ALERT] Please log in via "
		"your web browser", "mail.example.com"), "cPanel") != NULL);
	test_assert(strstr(import_remote_error_get_hint_detail(
		IMPORT_REMOTE_ERROR_AUTH_FAILED, NULL, "imap.gmail.com"),
		"2-Step Verification") != NULL);
	/* a server that accepted the connection and said nothing */
	test_assert(strstr(import_remote_error_get_hint_detail(
		IMPORT_REMOTE_ERROR_CONNECT_TIMEOUT, "host:143: "
		IMPORT_REMOTE_DETAIL_NO_GREETING " in 30 seconds",
		"mail.example.com"), "said nothing") != NULL);
	test_assert(strstr(import_remote_error_get_hint_detail(
		IMPORT_REMOTE_ERROR_CONNECT_TIMEOUT, "connect(host:993) timed "
		"out after 30 seconds", "mail.example.com"),
		"firewalled") != NULL);

	/* the first cause wins */
	i_zero(&error);
	import_remote_error_set(&error, IMPORT_REMOTE_ERROR_TLS_FAILED, "first");
	import_remote_error_set(&error, IMPORT_REMOTE_ERROR_INTERNAL, "second");
	test_assert(error.code == IMPORT_REMOTE_ERROR_TLS_FAILED);
	test_assert_strcmp(error.detail, "first");
	test_end();
}

static void test_progress_format(void)
{
	struct import_progress p;

	test_begin("progress formatting");
	test_assert_strcmp(import_progress_format_size(512), "0.5 kB");
	test_assert_strcmp(import_progress_format_size(1536*1024), "1.5 MB");
	test_assert_strcmp(import_progress_format_size(3ULL*1024*1024*1024),
			   "3.00 GB");
	test_assert_strcmp(import_progress_format_duration(59), "0:59");
	test_assert_strcmp(import_progress_format_duration(3723), "1:02:03");

	i_zero(&p);
	p.folder = "INBOX";
	p.folders_total = 2;
	p.msgs_total = 100;
	p.msgs_done = 25;
	p.bytes_done = 10*1024*1024;
	p.elapsed_msecs = 10000;
	test_assert(import_progress_get_rate(&p) == 1024*1024);
	/* 25 messages in 10 s: 75 more take 30 s */
	test_assert(import_progress_get_eta_secs(&p) == 30);
	test_assert_strcmp(import_progress_format_line(&p),
		"25/100 msgs, 10.0 MB, 1.0 MB/s, ETA 0:30 [folder 1/2: INBOX]");
	/* the bytes known so far (the folders listed) are not the run's
	   total: no "/total", and the ETA stays the run's messages' */
	p.bytes_total = 20*1024*1024;
	p.folders_done = 1;
	test_assert(import_progress_get_eta_secs(&p) == 30);
	test_assert_strcmp(import_progress_format_line(&p),
		"25/100 msgs, 10.0 MB, 1.0 MB/s, ETA 0:30 [folder 2/2: INBOX]");
	p.folders_done = 0;
	p.reconnects = 2;
	p.last_disconnect = "host:993: Server disconnected";
	test_assert_strcmp(import_progress_format_line(&p),
		"25/100 msgs, 10.0 MB, 1.0 MB/s, ETA 0:30 [folder 1/2: INBOX], "
		"reconnects=2 (last: host:993: Server disconnected)");
	test_assert_strcmp(import_progress_format_wait(1000), "1 s");
	test_assert_strcmp(import_progress_format_wait(500), "0.5 s");
	p.msgs_done = 0;
	test_assert(import_progress_get_eta_secs(&p) == -1);
	test_end();
}

static void test_settings_export_import(void)
{
	struct import_remote_settings set, set2;
	pool_t pool = pool_alloconly_create("settings", 1024);
	const char *str, *error, *pattern;

	test_begin("settings export/import (queued jobs)");
	import_remote_settings_init(pool, &set);
	set.dedup = IMPORT_REMOTE_DEDUP_ACCOUNT;
	set.since = 1704067200;
	set.newest_first = TRUE;
	set.mirror = TRUE;
	set.dest_parent = "Imported\tstuff";
	pattern = "Work/*";
	array_push_back(&set.include_folders, &pattern);
	pattern = "[Gmail]/All Mail";
	array_push_back(&set.exclude_folders, &pattern);
	set.fetch_chunk = 7;
	set.reconnects = 3;
	set.cmd_timeout_msecs = 20000;
	set.connections = 4;
	str = import_remote_settings_export(&set);

	import_remote_settings_init(pool, &set2);
	test_assert(import_remote_settings_import(pool, str, &set2, &error) == 0);
	test_assert(set2.dedup == IMPORT_REMOTE_DEDUP_ACCOUNT);
	test_assert(set2.since == 1704067200 && set2.before == 0);
	test_assert(set2.newest_first && !set2.tls_insecure);
	test_assert(set2.mirror);
	test_assert_strcmp(set2.dest_parent, "Imported\tstuff");
	test_assert(array_count(&set2.include_folders) == 1);
	test_assert_strcmp(array_idx_elem(&set2.include_folders, 0), "Work/*");
	test_assert_strcmp(array_idx_elem(&set2.exclude_folders, 0),
			   "[Gmail]/All Mail");
	test_assert(set2.fetch_chunk == 7);
	test_assert(set2.reconnects == 3);
	test_assert(set2.cmd_timeout_msecs == 20000);
	test_assert(set2.connections == 4);

	/* a job queued before these options existed gets the defaults */
	import_remote_settings_init(pool, &set2);
	test_assert(import_remote_settings_import(pool, "dedup=folder", &set2,
						  &error) == 0);
	test_assert(set2.reconnects == IMPORT_REMOTE_DEFAULT_RECONNECTS);
	test_assert(set2.cmd_timeout_msecs ==
		    IMPORT_REMOTE_DEFAULT_CMD_TIMEOUT_MSECS);
	test_assert(import_remote_settings_import(pool, "reconnects=x", &set2,
						  &error) < 0);
	test_assert(import_remote_settings_import(pool, "stall_timeout_msecs=0",
						  &set2, &error) < 0);
	/* --connections: not said is 0 (the setting's default), 1 to 16 */
	test_assert(set2.connections == 0);
	test_assert(import_remote_settings_import(pool, "connections=0",
						  &set2, &error) < 0);
	test_assert(import_remote_settings_import(pool, "connections=17",
						  &set2, &error) < 0);
	test_assert(import_remote_settings_import(pool, "connections=16",
						  &set2, &error) == 0 &&
		    set2.connections == 16);

	/* not given: Gmail handling stays on */
	import_remote_settings_init(pool, &set2);
	test_assert(import_remote_settings_import(pool, "dedup=folder", &set2, &error) == 0);
	test_assert(!set2.mirror);

	import_remote_settings_init(pool, &set2);
	test_assert(import_remote_settings_import(pool, "bogus=1", &set2, &error) < 0);
	test_assert(import_remote_settings_import(pool, "dedup=maybe", &set2, &error) < 0);
	test_assert(import_remote_settings_import(pool, "nokey", &set2, &error) < 0);
	pool_unref(&pool);
	test_end();
}

int main(void)
{
	static void (*const test_functions[])(void) = {
		test_ssl_parse,
		test_default_port,
		test_date_parse,
		test_settings_check,
		test_password_read,
		test_error_catalogue,
		test_progress_format,
		test_settings_export_import,
		NULL
	};
	return test_run(test_functions);
}
