/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The session's connection: TCP (every address of the host in turn), TLS
   with certificate checks, and waiting for the socket with the phase's
   timeout. Each failure is classified by its real cause and kept as the
   session's error. */

#include "lib.h"
#include "ioloop.h"
#include "time-util.h"
#include "istream.h"
#include "ostream.h"
#include "iostream-ssl.h"
#include "imap-parser.h"
#include "import-remote-compat.h"
#include "outbound-guard.h"
#include "imap-source-private.h"

#include <netdb.h>

void imap_source_set_error(struct imap_source *src,
			   enum import_remote_error_code code,
			   const char *detail)
{
	if (!src->failed) {
		e_debug(src->event, "Failed: %s", detail);
		import_remote_error_set(&src->error, code,
					p_strdup(src->pool, detail));
	}
	src->failed = TRUE;
}

void imap_source_set_retryable_error(struct imap_source *src,
				     enum import_remote_error_code code,
				     const char *detail)
{
	if (!src->failed)
		src->retryable = TRUE;
	imap_source_set_error(src, code, detail);
}

const char *imap_source_addr(struct imap_source *src)
{
	return t_strdup_printf("%s:%u", src->set.host, src->set.port);
}

static bool imap_source_errno_is_cut(int err)
{
	return err == ECONNRESET || err == EPIPE || err == ECONNABORTED;
}

/* The TCP connection under TLS was closed or reset (rather than TLS
   failing on what the server sent): while reading, or while sending (a
   reset that came before the ClientHello went out) */
static bool imap_source_tcp_cut(struct imap_source *src)
{
	struct istream *plain = src->plain_input;

	if (src->plain_output != NULL &&
	    imap_source_errno_is_cut(src->plain_output->stream_errno))
		return TRUE;
	if (plain == NULL)
		return FALSE;
	if (plain->stream_errno == 0)
		return plain->eof;
	return imap_source_errno_is_cut(plain->stream_errno);
}

/* OpenSSL's words for a first record that is no TLS at all: the server
   answered in plain text (an IMAP greeting, HTTP) */
static bool imap_source_ssl_error_not_tls(const char *ssl_error)
{
	return ssl_error != NULL &&
		(strstr(ssl_error, "wrong version number") != NULL ||
		 strstr(ssl_error, "unknown protocol") != NULL ||
		 strstr(ssl_error, "http request") != NULL ||
		 strstr(ssl_error, "packet length too long") != NULL);
}

void imap_source_set_io_error(struct imap_source *src, const char *why)
{
	src->disconnected = TRUE;
	if (src->cert_error != NULL) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_TLS_FAILED,
			t_strdup_printf("%s: %s", imap_source_addr(src),
					src->cert_error));
		return;
	}
	if (src->ssl_io != NULL && !ssl_iostream_is_handshaked(src->ssl_io)) {
		const char *ssl_error = ssl_iostream_get_last_error(src->ssl_io);

		if (src->set.ssl == IMPORT_REMOTE_SSL_IMAPS &&
		    imap_source_ssl_error_not_tls(ssl_error)) {
			/* a plain-text port: no other connection speaks
			   TLS either */
			imap_source_set_error(src,
				IMPORT_REMOTE_ERROR_TLS_FAILED,
				t_strdup_printf("%s: "IMPORT_REMOTE_DETAIL_NOT_TLS
					" (it answered the TLS handshake in "
					"plain text: %s)", imap_source_addr(src),
					ssl_error));
			return;
		}
		/* a server refusing the handshake sends an alert and closes
		   the connection: that is TLS failing, not the network */
		if (imap_source_tcp_cut(src) &&
		    (ssl_error == NULL || strstr(ssl_error, "alert") == NULL)) {
			/* no certificate was judged: the network, not TLS */
			imap_source_set_retryable_error(src,
				IMPORT_REMOTE_ERROR_CONNECTION_LOST,
				t_strdup_printf("%s: connection lost during the "
					"TLS handshake, before any certificate "
					"was seen: %s", imap_source_addr(src),
					ssl_error != NULL ? ssl_error : why));
			return;
		}
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_TLS_FAILED,
			t_strdup_printf("%s: TLS handshake failed: %s",
					imap_source_addr(src),
					ssl_error != NULL ? ssl_error : why));
		return;
	}
	if (src->phase == IMAP_SOURCE_PHASE_CONNECTING) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_HOST_UNREACHABLE,
			t_strdup_printf("%s: %s", imap_source_addr(src), why));
		return;
	}
	imap_source_set_retryable_error(src, IMPORT_REMOTE_ERROR_CONNECTION_LOST,
		t_strdup_printf("%s: %s", imap_source_addr(src), why));
}

static void imap_source_wait_ready(struct imap_source *src)
{
	src->wait_done = TRUE;
	io_loop_stop(src->ioloop);
}

static void imap_source_wait_timeout(struct imap_source *src)
{
	src->wait_timed_out = TRUE;
	io_loop_stop(src->ioloop);
}

bool imap_source_tick(struct imap_source *src)
{
	struct timeval now;

	if (src->set.tick_callback == NULL)
		return TRUE;
	i_gettimeofday(&now);
	/* (a timer may fire a little early) */
	if (timeval_diff_msecs(&now, &src->last_tick) <
	    IMAP_SOURCE_TICK_MSECS - 50)
		return TRUE;
	src->last_tick = now;
	if (src->set.tick_callback(src->set.tick_context))
		return TRUE;
	/* the caller stopped it: it has the error */
	src->failed = TRUE;
	return FALSE;
}

static void imap_source_wait_tick(struct imap_source *src)
{
	if (imap_source_tick(src))
		return;
	src->wait_aborted = TRUE;
	io_loop_stop(src->ioloop);
}

static unsigned int imap_source_current_timeout(struct imap_source *src)
{
	return src->phase == IMAP_SOURCE_PHASE_READY ?
		src->set.cmd_timeout_msecs : src->set.connect_timeout_msecs;
}

/* Run the session's private ioloop until the fd is ready (for output, or
   input on the possibly TLS-wrapped stream) or the timeout hits. The loop is
   current only while waiting: everything else (local saves included) runs
   on the caller's ioloop, so nothing of theirs ends up in ours. A private
   loop is needed because the caller may itself be running inside its
   ioloop (doveadm-server), which can't be run recursively. */
int imap_source_wait_io(struct imap_source *src, bool for_output)
{
	unsigned int msecs = imap_source_current_timeout(src);
	struct ioloop *prev_ioloop = current_ioloop;
	struct timeout *to_tick;
	bool watch;

	i_assert(src->io == NULL && src->to == NULL);

	/* also when each wait is short (a server that sends a byte at a
	   time): a cancel, a signal or the run's deadline is seen */
	if (!imap_source_tick(src))
		return -1;
	/* (what arrives meanwhile makes the fd ready at once below) */
	if (src->set.wait_callback != NULL &&
	    src->phase == IMAP_SOURCE_PHASE_READY)
		src->set.wait_callback(src->set.wait_context);
	io_loop_set_current(src->ioloop);
	src->wait_done = FALSE;
	src->wait_timed_out = FALSE;
	src->wait_aborted = FALSE;
	if (for_output || src->input == NULL)
		src->io = io_add(src->fd, IO_WRITE, imap_source_wait_ready, src);
	else
		src->io = io_add_istream(src->input, imap_source_wait_ready, src);
	src->to = timeout_add(msecs, imap_source_wait_timeout, src);
	to_tick = timeout_add(IMAP_SOURCE_TICK_MSECS, imap_source_wait_tick, src);
	watch = src->set.wait_watch_callback != NULL && !for_output;
	if (watch)
		src->set.wait_watch_callback(src, TRUE, src->set.wait_context);
	io_loop_run(src->ioloop);
	if (watch)
		src->set.wait_watch_callback(src, FALSE, src->set.wait_context);
	io_remove(&src->io);
	timeout_remove(&src->to);
	timeout_remove(&to_tick);
	io_loop_set_current(prev_ioloop);

	if (src->wait_aborted) {
		/* the caller stopped it: it has the error */
		src->failed = TRUE;
		return -1;
	}
	if (!src->wait_timed_out)
		return 0;

	src->disconnected = TRUE;
	switch (src->phase) {
	case IMAP_SOURCE_PHASE_CONNECTING:
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_CONNECT_TIMEOUT,
			t_strdup_printf("connect(%s) timed out after %u seconds",
					imap_source_addr(src), msecs/1000));
		break;
	case IMAP_SOURCE_PHASE_GREETING:
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_CONNECT_TIMEOUT,
			t_strdup_printf("%s: "IMPORT_REMOTE_DETAIL_NO_GREETING
					"%s in %u seconds", imap_source_addr(src),
					src->ssl_io != NULL &&
					!ssl_iostream_is_handshaked(src->ssl_io) ?
					" (nor a TLS handshake)" : "",
					msecs/1000));
		break;
	case IMAP_SOURCE_PHASE_LOGIN:
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_CONNECT_TIMEOUT,
			t_strdup_printf("%s: login timed out after %u seconds",
					imap_source_addr(src), msecs/1000));
		break;
	case IMAP_SOURCE_PHASE_READY:
		imap_source_set_retryable_error(src,
			IMPORT_REMOTE_ERROR_CONNECTION_LOST,
			t_strdup_printf("%s: server stopped answering for "
					"%u seconds%s%s (--stall-timeout)",
					imap_source_addr(src), msecs/1000,
					src->reading == NULL ? "" :
					" in the middle of ",
					src->reading == NULL ? "" : src->reading));
		break;
	}
	return -1;
}

int imap_source_flush(struct imap_source *src)
{
	int ret;

	while ((ret = o_stream_flush(src->output)) == 0) {
		if (imap_source_wait_io(src, TRUE) < 0)
			return -1;
	}
	if (ret < 0) {
		imap_source_set_io_error(src, t_strdup_printf("write() failed: %s",
			o_stream_get_error(src->output)));
		return -1;
	}
	return 0;
}

bool imap_source_has_input(struct imap_source *src)
{
	if (src->input == NULL || src->fd == -1)
		return FALSE;
	if (i_stream_get_data_size(src->input) > 0)
		return TRUE;
	/* a read that does not wait (the fd is non-blocking): poll() alone
	   would miss what TLS has already taken from the socket (an output
	   flush reads it into the TLS layer). An error or the end counts:
	   whoever reads next sees it. */
	return i_stream_read(src->input) != 0;
}

int imap_source_read_more(struct imap_source *src)
{
	ssize_t ret;

	for (;;) {
		/* a server sending fast never lets the session wait */
		if (!imap_source_tick(src))
			return -1;
		ret = i_stream_read(src->input);
		if (ret > 0)
			return 0;
		if (ret == -2) {
			imap_source_set_error(src, IMPORT_REMOTE_ERROR_SOURCE_ERROR,
				t_strdup_printf("%s: server sent a reply line "
						"longer than %u bytes",
						imap_source_addr(src),
						IMAP_SOURCE_MAX_LINE_LENGTH));
			return -1;
		}
		if (ret < 0) {
			const char *where = src->reading == NULL ? "" :
				t_strconcat(" in the middle of ", src->reading,
					    NULL);

			imap_source_set_io_error(src, src->input->stream_errno == 0 ?
				t_strconcat("Server disconnected", where, NULL) :
				t_strdup_printf("Server disconnected%s: %s", where,
					i_stream_get_error(src->input)));
			return -1;
		}
		/* ret == 0: the server hasn't sent more yet. Our commands may
		   still be sitting in the output buffer. */
		if (o_stream_get_buffer_used_size(src->output) > 0 &&
		    imap_source_flush(src) < 0)
			return -1;
		if (imap_source_wait_io(src, FALSE) < 0)
			return -1;
	}
}

/* Wait for the connect to ip that src->fd started. Returns 0, -1 with
   error_r (another address may be tried), -2 with the session's error
   set. */
static int imap_source_connect_ip_finish(struct imap_source *src,
					 const struct ip_addr *ip,
					 const char **error_r)
{
	int err;

	if (imap_source_wait_io(src, TRUE) < 0) {
		/* timed out: error already set */
		return -2;
	}
	err = net_geterror(src->fd);
	if (imap_source_errno_is_cut(err)) {
		/* the server accepted the connection and reset it before we
		   looked: it was reached, as when the reset comes a moment
		   later (during the greeting or TLS handshake) */
		imap_source_set_retryable_error(src,
			IMPORT_REMOTE_ERROR_CONNECTION_LOST,
			t_strdup_printf("%s: connection lost as soon as the "
					"server accepted it: %s",
					imap_source_addr(src), strerror(err)));
		src->disconnected = TRUE;
		i_close_fd(&src->fd);
		return -2;
	}
	if (err != 0) {
		*error_r = t_strdup_printf("connect(%s, %u) failed: %s",
					   net_ip2addr(ip), src->set.port,
					   strerror(err));
		i_close_fd(&src->fd);
		return -1;
	}
	src->ip = *ip;
	return 0;
}

/* Start connecting to ip, without waiting. Returns 0, or -1 with
   error_r. */
static int imap_source_connect_ip_start(struct imap_source *src,
					const struct ip_addr *ip,
					const char **error_r)
{
	src->fd = net_connect_ip(ip, src->set.port, NULL);
	if (src->fd == -1) {
		*error_r = t_strdup_printf("connect(%s, %u) failed: %m",
					   net_ip2addr(ip), src->set.port);
		return -1;
	}
	return 0;
}

static int imap_source_connect_ip(struct imap_source *src,
				  const struct ip_addr *ip, const char **error_r)
{
	if (imap_source_connect_ip_start(src, ip, error_r) < 0)
		return -1;
	return imap_source_connect_ip_finish(src, ip, error_r);
}

/* Keep the addresses the guard allows. If it allows none, fail with the
   first one's kind: before any packet is sent to them, and saying nothing
   about what might answer there. */
static int imap_source_guard_ips(struct imap_source *src,
				 struct ip_addr *ips, unsigned int *_count)
{
	const char *kind, *first_kind = NULL, *first_ip = NULL, *name;
	unsigned int i, count = *_count, allowed = 0;

	for (i = 0; i < count; i++) {
		if (outbound_guard_allows(src->set.guard, &ips[i], &kind)) {
			ips[allowed++] = ips[i];
			continue;
		}
		e_debug(src->event, "Not connecting to %s: %s",
			net_ip2addr(&ips[i]), kind);
		if (first_kind == NULL) {
			first_kind = kind;
			first_ip = t_strdup(net_ip2addr(&ips[i]));
		}
	}
	*_count = allowed;
	if (allowed > 0)
		return 0;
	name = strcmp(first_ip, src->set.host) == 0 ? first_ip :
		t_strdup_printf("%s (%s)", src->set.host, first_ip);
	imap_source_set_error(src, IMPORT_REMOTE_ERROR_SOURCE_NOT_ALLOWED,
		t_strdup_printf("%s is %s, not a public Internet address, and "
				"not in import_remote_allowed_networks",
				name, first_kind));
	return -1;
}

int imap_source_tcp_connect(struct imap_source *src)
{
	struct ip_addr *ips, ip;
	unsigned int i, ips_count;
	const char *error = NULL;
	int ret;

	if (net_addr2ip(src->set.host, &ip) == 0) {
		ips = &ip;
		ips_count = 1;
	} else {
		ret = net_gethostbyname(src->set.host, &ips, &ips_count);
		if (ret != 0) {
			imap_source_set_error(src,
				IMPORT_REMOTE_ERROR_HOST_UNREACHABLE,
				t_strdup_printf("Cannot resolve host name %s: %s",
						src->set.host,
						net_gethosterror(ret)));
			return -1;
		}
	}
	if (ips_count == 0) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_HOST_UNREACHABLE,
			t_strdup_printf("Host name %s has no addresses",
					src->set.host));
		return -1;
	}
	/* resolved once: what is checked is what is connected to */
	if (src->set.guard != NULL &&
	    imap_source_guard_ips(src, ips, &ips_count) < 0)
		return -1;
	for (i = 0; i < ips_count; i++) {
		ret = imap_source_connect_ip(src, &ips[i], &error);
		if (ret == 0)
			return 0;
		if (ret == -2)
			return -1;
		e_debug(src->event, "%s", error);
	}
	i_assert(error != NULL);
	imap_source_set_error(src, IMPORT_REMOTE_ERROR_HOST_UNREACHABLE, error);
	return -1;
}

int imap_source_tcp_connect_start(struct imap_source *src,
				  const struct ip_addr *ip)
{
	struct ip_addr allowed = *ip;
	unsigned int count = 1;
	const char *error;

	src->ip = *ip;
	if (src->set.guard != NULL &&
	    imap_source_guard_ips(src, &allowed, &count) < 0) {
		src->failed = TRUE;
		return -1;
	}
	if (imap_source_connect_ip_start(src, ip, &error) < 0) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_HOST_UNREACHABLE,
				      error);
		src->failed = TRUE;
		return -1;
	}
	return 0;
}

int imap_source_tcp_connect_finish(struct imap_source *src)
{
	const char *error;
	int ret;

	ret = imap_source_connect_ip_finish(src, &src->ip, &error);
	if (ret == -1) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_HOST_UNREACHABLE,
				      error);
	}
	return ret < 0 ? -1 : 0;
}

static int imap_source_ssl_handshaked(const char **error_r, void *context)
{
	struct imap_source *src = context;
	const char *error;

	if (ssl_iostream_check_cert_validity(src->ssl_io, src->set.host,
					     &error) == 0)
		return 0;
	if (src->set.tls_insecure) {
		e_warning(src->event, "Accepting an invalid certificate "
			  "(--tls-insecure): %s", error);
		return 0;
	}
	src->cert_error = p_strdup(src->pool, error);
	*error_r = error;
	return -1;
}

int imap_source_ssl_start(struct imap_source *src)
{
	const char *error;

	if (ssl_iostream_client_context_cache_get(src->set.ssl_set,
						  &src->ssl_ctx, &error) < 0) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_TLS_FAILED,
			t_strdup_printf("Cannot initialize TLS: %s", error));
		return -1;
	}
	src->plain_input = src->input;
	i_stream_ref(src->plain_input);
	src->plain_output = src->output;
	o_stream_ref(src->plain_output);
	if (import_remote_compat_ssl_client_create(src->ssl_ctx, src->set.host,
			src->set.ssl_set, src->set.tls_insecure, src->event,
			&src->input, &src->output, &src->ssl_io, &error) < 0) {
		imap_source_set_error(src, IMPORT_REMOTE_ERROR_TLS_FAILED,
			t_strdup_printf("Cannot start TLS: %s", error));
		return -1;
	}
	ssl_iostream_set_handshake_callback(src->ssl_io,
					    imap_source_ssl_handshaked, src);
	if (ssl_iostream_handshake(src->ssl_io) < 0) {
		imap_source_set_io_error(src, "TLS handshake failed");
		return -1;
	}
	imap_parser_set_streams(src->parser, src->input, NULL);
	return 0;
}

int imap_source_ssl_finish(struct imap_source *src)
{
	ssize_t ret;

	while (!ssl_iostream_is_handshaked(src->ssl_io)) {
		ret = i_stream_read(src->input);
		if (ret == -1) {
			imap_source_set_io_error(src, "TLS handshake failed");
			return -1;
		}
		/* (what the handshake has to say, e.g. the client's
		   Finished) */
		if (o_stream_flush(src->output) < 0) {
			imap_source_set_io_error(src, "TLS handshake failed");
			return -1;
		}
		if (ret == 0 && !ssl_iostream_is_handshaked(src->ssl_io) &&
		    imap_source_wait_io(src, FALSE) < 0)
			return -1;
	}
	return imap_source_flush(src);
}


void imap_source_connection_close(struct imap_source *src)
{
	if (src->plain_input != NULL)
		i_stream_unref(&src->plain_input);
	if (src->plain_output != NULL) {
		o_stream_ignore_last_errors(src->plain_output);
		o_stream_unref(&src->plain_output);
	}
	if (src->parser != NULL)
		imap_parser_unref(&src->parser);
	if (src->ssl_io != NULL)
		ssl_iostream_destroy(&src->ssl_io);
	if (src->input != NULL)
		i_stream_destroy(&src->input);
	if (src->output != NULL) {
		/* a connection that broke: what it failed to send is no
		   longer of interest */
		o_stream_ignore_last_errors(src->output);
		o_stream_destroy(&src->output);
	}
	if (src->ssl_ctx != NULL)
		ssl_iostream_context_unref(&src->ssl_ctx);
	if (src->fd != -1)
		i_close_fd(&src->fd);
}
