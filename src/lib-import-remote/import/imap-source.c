/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The session's life: connect and log in, the end. */

#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "time-util.h"
#include "istream.h"
#include "ostream.h"
#include "str-sanitize.h"
#include "imap-parser.h"
#include "import-remote-event.h"
#include "imap-source-private.h"

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

unsigned int
imap_source_connect_many(const struct imap_source_settings *set,
			 struct event *event_parent,
			 const struct ip_addr *ip, unsigned int count,
			 struct imap_source **srcs_r,
			 struct import_remote_error *errors_r)
{
	struct imap_source *src;
	unsigned int i, connected = 0;

	/* every connect sent at once, then each one waited for */
	for (i = 0; i < count; i++) {
		srcs_r[i] = imap_source_alloc(set, event_parent);
		i_zero(&errors_r[i]);
		(void)imap_source_tcp_connect_start(srcs_r[i], ip);
	}
	for (i = 0; i < count; i++) {
		src = srcs_r[i];
		if (src->failed || imap_source_tcp_connect_finish(src) < 0) {
			src->failed = TRUE;
			continue;
		}
		imap_source_streams_create(src);
		/* the ClientHello out at once */
		if (set->ssl == IMPORT_REMOTE_SSL_IMAPS &&
		    (imap_source_ssl_start(src) < 0 ||
		     imap_source_flush(src) < 0))
			src->failed = TRUE;
	}
	/* each TLS handshake finished (the servers answered together), then
	   each greeting and login */
	for (i = 0; i < count; i++) {
		src = srcs_r[i];
		if (!src->failed && set->ssl == IMPORT_REMOTE_SSL_IMAPS &&
		    imap_source_ssl_finish(src) < 0)
			src->failed = TRUE;
	}
	/* the logins one after another: a server counts a session only once
	   it is logged in, and logins at the same moment would all pass a
	   limit on connections per account */
	for (i = 0; i < count; i++) {
		src = srcs_r[i];
		if (src->failed || imap_source_read_greeting(src) < 0 ||
		    imap_source_login(src) < 0) {
			src->failed = TRUE;
			errors_r[i] = src->error;
			if (errors_r[i].code == IMPORT_REMOTE_ERROR_NONE) {
				errors_r[i].code =
					IMPORT_REMOTE_ERROR_CONNECTION_LOST;
				errors_r[i].detail = "connection failed";
			}
			errors_r[i].detail = t_strdup(errors_r[i].detail);
			imap_source_deinit(&srcs_r[i]);
			continue;
		}
		imap_source_logged_in(src);
		connected++;
	}
	return connected;
}

const struct ip_addr *imap_source_get_ip(struct imap_source *src)
{
	return &src->ip;
}

void imap_source_logout_start(struct imap_source *src)
{
	if (src->phase != IMAP_SOURCE_PHASE_READY || src->disconnected ||
	    src->failed || src->logout_tag != NULL)
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
