/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The session's life: connect and log in, the end. */

#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "time-util.h"
#include "istream.h"
#include "ostream.h"
#include "iostream-ssl.h"
#include "str-sanitize.h"
#include "imap-parser.h"
#include "import-remote-event.h"
#include "imap-source-private.h"

#include <poll.h>

const struct import_remote_error *imap_source_get_error(struct imap_source *src)
{
	return &src->error;
}

bool imap_source_is_retryable(struct imap_source *src)
{
	return src->failed && src->retryable;
}

const char *imap_source_get_ns_prefix(struct imap_source *src)
{
	return src->ns_prefix;
}

static struct imap_source *
imap_source_alloc(const struct imap_source_settings *set,
		  struct event *event_parent)
{
	struct imap_source *src;
	struct ioloop *prev_ioloop;
	pool_t pool;

	pool = pool_alloconly_create("imap source", 2048);
	src = p_new(pool, struct imap_source, 1);
	src->pool = pool;
	src->set = *set;
	src->set.host = p_strdup(pool, set->host);
	src->set.username = p_strdup(pool, set->username);
	/* the password stays in the caller's memory only */
	src->fd = -1;
	src->ns_prefix = "";
	i_gettimeofday(&src->last_tick);
	i_array_init(&src->commands, 8);
	src->event = event_create(event_parent);
	/* a child of the run's event: its fields, its own prefix */
	if (import_remote_event_is_ours(event_parent))
		event_drop_parent_log_prefixes(src->event, 1);
	event_add_category(src->event, &event_category_import_remote);
	event_set_append_log_prefix(src->event, t_strdup_printf(
		"import-remote(%s): ", set->host));
	prev_ioloop = current_ioloop;
	src->ioloop = io_loop_create();
	io_loop_set_current(prev_ioloop);
	src->phase = IMAP_SOURCE_PHASE_CONNECTING;
	return src;
}

/* The connection is made: its streams */
static void imap_source_streams_create(struct imap_source *src)
{
	const struct imap_parser_params parser_params = {
		.list_count_limit = IMAP_SOURCE_MAX_LISTS_PER_LINE,
	};

	src->input = i_stream_create_fd(src->fd, IMAP_SOURCE_MAX_LINE_LENGTH);
	src->output = o_stream_create_fd(src->fd, SIZE_MAX);
	o_stream_set_no_error_handling(src->output, TRUE);
	src->parser = imap_parser_create(src->input, NULL,
					 IMAP_SOURCE_MAX_LINE_LENGTH, &parser_params);
	src->phase = IMAP_SOURCE_PHASE_GREETING;
}

static void imap_source_logged_in(struct imap_source *src)
{
	e_debug(src->event, "Logged in as %s",
		str_sanitize(src->set.username, 255));
}

int imap_source_connect(const struct imap_source_settings *set,
			struct event *event_parent,
			struct imap_source **src_r,
			struct import_remote_error *error_r)
{
	struct imap_source *src;

	src = imap_source_alloc(set, event_parent);
	*src_r = src;
	if (imap_source_tcp_connect(src) < 0) {
		*error_r = src->error;
		return -1;
	}
	imap_source_streams_create(src);
	if (set->ssl == IMPORT_REMOTE_SSL_IMAPS &&
	    imap_source_ssl_start(src) < 0) {
		*error_r = src->error;
		return -1;
	}
	if (imap_source_read_greeting(src) < 0 ||
	    imap_source_login(src) < 0) {
		*error_r = src->error;
		return -1;
	}
	imap_source_logged_in(src);
	return 0;
}

struct imap_source *
imap_source_open_start(const struct imap_source_settings *set,
		       struct event *event_parent, const struct ip_addr *ip)
{
	struct imap_source *src;

	src = imap_source_alloc(set, event_parent);
	i_gettimeofday(&src->open_step_started);
	/* (a failure is kept for imap_source_open_step() to return) */
	(void)imap_source_tcp_connect_start(src, ip);
	return src;
}

static bool imap_source_fd_writable(struct imap_source *src)
{
	struct pollfd pfd;

	i_zero(&pfd);
	pfd.fd = src->fd;
	pfd.events = POLLOUT;
	/* (an error or a hangup counts: the step that follows sees it) */
	return poll(&pfd, 1, 0) > 0;
}

/* Does the opening wait for the server (not for its turn to log in), and
   for what */
static bool imap_source_open_awaits(struct imap_source *src, bool *for_output_r)
{
	*for_output_r = src->phase == IMAP_SOURCE_PHASE_CONNECTING;
	if (src->failed || src->phase == IMAP_SOURCE_PHASE_READY)
		return FALSE;
	return src->phase != IMAP_SOURCE_PHASE_GREETING || !src->greeted ||
		src->caps_tag != NULL;
}

/* An opening whose answer has not come within the connect timeout since it
   was due */
static int imap_source_open_timed_out(struct imap_source *src)
{
	struct timeval now;

	i_gettimeofday(&now);
	if (timeval_diff_msecs(&now, &src->open_step_started) <
	    (long long)src->set.connect_timeout_msecs)
		return 0;
	src->disconnected = TRUE;
	imap_source_set_error(src, IMPORT_REMOTE_ERROR_CONNECT_TIMEOUT,
		src->phase == IMAP_SOURCE_PHASE_CONNECTING ?
		t_strdup_printf("connect(%s) timed out after %u seconds",
				imap_source_addr(src),
				src->set.connect_timeout_msecs/1000) :
		src->phase == IMAP_SOURCE_PHASE_LOGIN ?
		t_strdup_printf("%s: login timed out after %u seconds",
				imap_source_addr(src),
				src->set.connect_timeout_msecs/1000) :
		t_strdup_printf("%s: "IMPORT_REMOTE_DETAIL_NO_GREETING
				" in %u seconds", imap_source_addr(src),
				src->set.connect_timeout_msecs/1000));
	return -1;
}

static int imap_source_open_continue(struct imap_source *src, bool may_login)
{
	bool for_output;

	/* (an answer may be in the TLS layer already, read from the socket
	   with the one before it: poll() does not see it there, a read
	   does). Past this, what the opening waits for is there. */
	if (imap_source_open_awaits(src, &for_output) &&
	    !(for_output ? imap_source_fd_writable(src) :
	      imap_source_has_input(src)))
		return imap_source_open_timed_out(src);
	if (src->phase == IMAP_SOURCE_PHASE_CONNECTING) {
		if (imap_source_tcp_connect_finish(src) < 0)
			return -1;
		imap_source_streams_create(src);
		/* the ClientHello out at once */
		if (src->set.ssl == IMPORT_REMOTE_SSL_IMAPS &&
		    (imap_source_ssl_start(src) < 0 ||
		     imap_source_flush(src) < 0))
			return -1;
		i_gettimeofday(&src->open_step_started);
		return 0;
	}
	if (src->phase == IMAP_SOURCE_PHASE_GREETING && !src->greeted) {
		if (src->ssl_io != NULL &&
		    !ssl_iostream_is_handshaked(src->ssl_io)) {
			if (imap_source_ssl_finish(src) < 0)
				return -1;
		}
		/* (the greeting may have come with the handshake's end) */
		if (!imap_source_has_input(src))
			return imap_source_open_timed_out(src);
		if (imap_source_read_greeting(src) < 0)
			return -1;
		src->greeted = TRUE;
		if (src->caps == 0) {
			/* not in the greeting (Gmail, Exchange): asked for
			   at once, not in the login's turn */
			src->caps_tag = p_strdup(src->pool,
				imap_source_send(src, "CAPABILITY"));
			i_gettimeofday(&src->open_step_started);
			return imap_source_flush(src);
		}
	}
	if (src->caps_tag != NULL) {
		struct imap_source_reply reply;

		/* (a NO leaves them unknown: the login asks again) */
		if (imap_source_wait(src, src->caps_tag, NULL, NULL, NULL,
				     &reply) < 0)
			return -1;
		src->caps_tag = NULL;
	}
	if (src->phase == IMAP_SOURCE_PHASE_GREETING) {
		if (!may_login)
			return 0;
		if (!imap_source_login_is_one_command(src)) {
			/* a login of several steps: done here, waiting */
			if (imap_source_login(src) < 0)
				return -1;
			return 1;
		}
		src->login_tag = imap_source_login_send(src);
		i_gettimeofday(&src->open_step_started);
		return imap_source_flush(src);
	}
	i_assert(src->phase == IMAP_SOURCE_PHASE_LOGIN &&
		 src->login_tag != NULL);
	if (imap_source_login_finish(src, src->login_tag) < 0)
		return -1;
	return 1;
}

int imap_source_open_step(struct imap_source *src, bool may_login)
{
	int ret;

	if (src->failed)
		return -1;
	if (src->phase == IMAP_SOURCE_PHASE_READY)
		return 1;
	ret = imap_source_open_continue(src, may_login);
	if (ret < 0) {
		src->failed = TRUE;
		if (src->error.code == IMPORT_REMOTE_ERROR_NONE) {
			imap_source_set_error(src,
				IMPORT_REMOTE_ERROR_CONNECTION_LOST,
				"connection failed");
		}
		return -1;
	}
	if (ret > 0)
		imap_source_logged_in(src);
	return ret;
}

bool imap_source_open_is_logging_in(struct imap_source *src)
{
	return !src->failed && src->phase == IMAP_SOURCE_PHASE_LOGIN;
}

static void imap_source_open_wake(void *context ATTR_UNUSED)
{
	io_loop_stop(current_ioloop);
}

struct io *imap_source_open_io(struct imap_source *src)
{
	bool for_output;

	if (!imap_source_open_awaits(src, &for_output) || src->fd == -1)
		return NULL;
	if (!for_output && src->input != NULL)
		return io_add_istream(src->input, imap_source_open_wake, NULL);
	return io_add(src->fd, for_output ? IO_WRITE : IO_READ,
		      imap_source_open_wake, NULL);
}

int imap_source_open_wait(struct imap_source *const *srcs, unsigned int count)
{
	struct ioloop *ioloop;
	ARRAY(struct io *) ios;
	struct timeout *to;
	struct io *io;
	unsigned int i;

	/* (the tick: a cancel or the run's end is seen meanwhile) */
	for (i = 0; i < count; i++) {
		if (!imap_source_tick(srcs[i]))
			return -1;
	}
	ioloop = io_loop_create();
	t_array_init(&ios, count);
	for (i = 0; i < count; i++) {
		io = imap_source_open_io(srcs[i]);
		if (io != NULL)
			array_push_back(&ios, &io);
	}
	/* at least once a second: the ticks, and each one's timeout */
	to = timeout_add(IMAP_SOURCE_TICK_MSECS, imap_source_open_wake, NULL);
	io_loop_run(ioloop);
	timeout_remove(&to);
	array_foreach_elem(&ios, io)
		io_remove(&io);
	io_loop_destroy(&ioloop);
	return 0;
}

const struct ip_addr *imap_source_get_ip(struct imap_source *src)
{
	return &src->ip;
}

bool imap_source_is_ready(struct imap_source *src)
{
	return src->phase == IMAP_SOURCE_PHASE_READY && !src->failed &&
		!src->disconnected;
}

static void imap_source_read_ahead(struct imap_source *src)
{
	ssize_t ret;

	ret = i_stream_read(src->input);
	if (ret > 0)
		src->read_ahead_bytes += ret;
	/* full (-2), the end or an error (-1): nothing more to do until
	   src is read (the end or error is seen then) */
	if (ret < 0)
		io_remove(&src->read_ahead_io);
}

void imap_source_read_ahead_start(struct imap_source *src)
{
	if (src->read_ahead_io != NULL ||
	    !imap_source_is_ready(src) || src->input == NULL ||
	    src->input->eof || src->input->stream_errno != 0)
		return;
	src->read_ahead_io = io_add_istream(src->input,
					    imap_source_read_ahead, src);
}

void imap_source_read_ahead_stop(struct imap_source *src)
{
	io_remove(&src->read_ahead_io);
}

uoff_t imap_source_read_ahead_count(struct imap_source *src)
{
	uoff_t count = src->read_ahead_bytes;

	src->read_ahead_bytes = 0;
	return count;
}

void imap_source_logout_start(struct imap_source *src)
{
	if (!imap_source_is_ready(src) || src->logout_tag != NULL)
		return;
	/* polite LOGOUT */
	src->logging_out = TRUE;
	src->logout_tag = p_strdup(src->pool,
				   imap_source_send(src, "LOGOUT"));
	(void)imap_source_flush(src);
}

void imap_source_deinit(struct imap_source **_src)
{
	struct imap_source *src = *_src;
	struct imap_source_reply reply;
	struct ioloop *prev_ioloop;

	*_src = NULL;
	io_remove(&src->read_ahead_io);
	imap_source_logout_start(src);
	if (src->logout_tag != NULL && !src->disconnected && !src->failed) {
		/* a failure here changes nothing */
		(void)imap_source_wait(src, src->logout_tag, NULL, NULL, NULL,
				       &reply);
	}
	imap_source_commands_free(src);
	imap_source_connection_close(src);
	prev_ioloop = current_ioloop;
	io_loop_set_current(src->ioloop);
	io_loop_destroy(&src->ioloop);
	io_loop_set_current(prev_ioloop);
	event_unref(&src->event);
	pool_unref(&src->pool);
}
