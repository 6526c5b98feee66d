#ifndef IMAP_SOURCE_PRIVATE_H
#define IMAP_SOURCE_PRIVATE_H

#include "imap-source.h"

/* Shared by the session's files, one concern each, each calling only the
   ones listed before it:
   imap-connection.c  TCP and TLS, waiting for the socket with timeouts,
                      the session's error
   imap-reader.c      reply lines through lib-imap's parser, literals,
                      capabilities, what a reply's code means
   imap-commands.c    the command queue: tags, pipelined replies
   imap-login.c       greeting, STARTTLS, login, namespace
   imap-source.c      the session's life: connect, end */

/* Longest reply line (literals streamed aside) and thus the input buffer. */
#define IMAP_SOURCE_MAX_LINE_LENGTH (1024*1024)
/* Largest literal read into memory, e.g. a folder name or header field,
   and the largest one thrown away unread (one nobody asked for). */
#define IMAP_SOURCE_MAX_INLINE_LITERAL (256*1024)
/* Lists ("(") in one reply line: lib-imap's parser allocates for each, so
   a line of nested parentheses would take ~200 bytes a byte. Our replies
   have a handful (FETCH, FLAGS, X-GM-LABELS, HEADER.FIELDS). */
#define IMAP_SOURCE_MAX_LISTS_PER_LINE 100
/* How often the tick callback runs, whether the session waits or reads */
#define IMAP_SOURCE_TICK_MSECS 1000

/* A command sent and not yet waited for. Its tagged reply may arrive while
   waiting for another one (the server may finish pipelined commands in any
   order), so it is kept until asked for. */
struct imap_source_command {
	char *tag;
	bool replied;
	/* nobody waits for its reply: dropped when it comes */
	bool forgotten;
	enum imap_source_reply_state state;
	char *resp_code, *text;
};

enum imap_source_phase {
	IMAP_SOURCE_PHASE_CONNECTING,
	IMAP_SOURCE_PHASE_GREETING,
	IMAP_SOURCE_PHASE_LOGIN,
	IMAP_SOURCE_PHASE_READY,
};

struct imap_source {
	pool_t pool;
	struct event *event;
	struct imap_source_settings set;
	struct ioloop *ioloop;

	struct ip_addr ip;
	int fd;
	/* the TCP stream under TLS (the same as input without TLS) */
	struct istream *plain_input;
	/* the same for output: a reset may be seen first when sending the
	   ClientHello */
	struct ostream *plain_output;
	struct istream *input;
	struct ostream *output;
	struct ssl_iostream_context *ssl_ctx;
	struct ssl_iostream *ssl_io;
	struct imap_parser *parser;
	/* what is being read, for error texts (e.g. "message UID 3 in
	   INBOX"), NULL if nothing in particular */
	const char *reading;
	struct io *io;
	/* imap_source_read_ahead_start(), and the bytes it read since
	   imap_source_read_ahead_count() */
	struct io *read_ahead_io;
	uoff_t read_ahead_bytes;
	struct timeout *to;
	/* when the current wait times out (ioloop time, msecs) */
	struct timeval wait_deadline;
	bool wait_done, wait_timed_out, wait_aborted;
	/* when the tick callback last ran */
	struct timeval last_tick;

	enum imap_source_phase phase;
	enum imap_source_capability caps;
	/* the server said its capabilities (since the login was sent): in
	   the login's reply or an untagged CAPABILITY */
	bool caps_told;
	unsigned int tag_counter;
	ARRAY(struct imap_source_command) commands;
	const char *ns_prefix;
	char ns_sep;

	/* the certificate verification failure, if that was the cause */
	const char *cert_error;
	struct import_remote_error error;
	bool failed, disconnected, logging_out;
	/* the LOGOUT sent (imap_source_logout_start()) */
	const char *logout_tag;
	/* a new connection may fix what failed */
	bool retryable;

	/* opened without waiting (imap_source_open_start()): since when
	   the server's next answer is due (the connect, the TLS handshake
	   and greeting, the login's), whether the greeting was read, the
	   CAPABILITY's and the login's tags while their answers are due */
	struct timeval open_step_started;
	bool greeted;
	const char *caps_tag, *login_tag;
};

/* imap-connection.c */
/* Set the session's error (the first one wins) and mark it failed. */
void imap_source_set_error(struct imap_source *src,
			   enum import_remote_error_code code,
			   const char *detail);
/* The same, for a failure a new connection may fix */
void imap_source_set_retryable_error(struct imap_source *src,
				     enum import_remote_error_code code,
				     const char *detail);
/* "host:port", for error texts */
const char *imap_source_addr(struct imap_source *src);
/* Resolve and connect (each address in turn). Returns 0 or -1 (error set). */
int imap_source_tcp_connect(struct imap_source *src);
/* Connect to ip (if the guard allows it) without waiting, then wait for
   it. Return 0 or -1 with the error set. */
int imap_source_tcp_connect_start(struct imap_source *src,
				  const struct ip_addr *ip);
int imap_source_tcp_connect_finish(struct imap_source *src);
/* Wrap the connection in TLS and start the handshake. */
int imap_source_ssl_start(struct imap_source *src);
/* Wait until the TLS handshake that imap_source_ssl_start() began is done
   (and the client's last handshake message sent). Returns 0 or -1. */
int imap_source_ssl_finish(struct imap_source *src);
/* Wait until the socket is ready (or the phase's timeout hits: error set,
   -1). */
int imap_source_wait_io(struct imap_source *src, bool for_output);
/* Run the tick callback if it is due. Returns FALSE if it stopped the
   session (failed, without an error of its own). */
bool imap_source_tick(struct imap_source *src);
/* Read more input into the buffer. Returns 0 when there is more, -1 on
   error (set). */
int imap_source_read_more(struct imap_source *src);
/* The connection failed: classify by what we were doing and why. */
void imap_source_set_io_error(struct imap_source *src, const char *why);
/* Close the connection and free its streams */
void imap_source_connection_close(struct imap_source *src);

/* imap-reader.c */
/* Read one reply line. Untagged ones are dispatched; for a tagged one (or a
   "+" continuation, tag "+") *tag_r is set. Returns 1 for tagged, 0 for
   untagged, -1 on error. */
int imap_source_read_line(struct imap_source *src,
			  imap_source_untagged_callback_t *untagged_callback,
			  imap_source_literal_callback_t *literal_callback,
			  void *context, const char **tag_r,
			  struct imap_source_reply *reply_r);
/* Learn capabilities from a CAPABILITY reply or [CAPABILITY ...] code */
void imap_source_set_capabilities(struct imap_source *src,
				  const char *const *names);

/* imap-commands.c */
/* A new command's tag (the command is written by the caller) */
const char *imap_source_command_add(struct imap_source *src);
void imap_source_commands_free(struct imap_source *src);
/* Queue a command whose arguments are a secret (a login): args go into
   the output buffer without a copy and are wiped. Logged as "verb ...".
   Returns the tag. */
const char *imap_source_send_secret(struct imap_source *src,
				    const char *verb, string_t *args);
/* Wait for tag's reply, or a continuation request ("+": a SASL challenge)
   sent before it. Returns 1 with challenge set to the request's text, 0
   with reply_r set when the tagged reply arrived, -1 on error. */
int imap_source_wait_continue(struct imap_source *src, const char *tag,
			      string_t *challenge,
			      struct imap_source_reply *reply_r);
/* TRUE if value can't be sent as a quoted string */
bool imap_source_str_needs_literal(const char *value);

/* imap-login.c */
int imap_source_read_greeting(struct imap_source *src);
int imap_source_login(struct imap_source *src);
/* Can the login go out as one command without waiting for anything first
   (capabilities known, no STARTTLS, AUTHENTICATE PLAIN with SASL-IR): then
   imap_source_login_send() sends it and imap_source_login_finish() waits
   for its tag's answer, as imap_source_login() would */
bool imap_source_login_is_one_command(struct imap_source *src);
const char *imap_source_login_send(struct imap_source *src);
int imap_source_login_finish(struct imap_source *src, const char *tag);


#endif
