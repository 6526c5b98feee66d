#ifndef IMAP_SOURCE_H
#define IMAP_SOURCE_H

#include "net.h"
#include "imap-reply.h"
#include "import-remote-error.h"
#include "import-remote-settings.h"

/* The remote IMAP session: one connection to the source server, built on
   Dovecot's lib-imap parser and (ssl-)iostreams so that every failure keeps
   its real cause (errno, resolver error, TLS verification result, IMAP
   response code) and FETCH BODY[] literals can be streamed straight into
   the local save instead of being buffered. */

struct ssl_iostream_settings;
struct outbound_guard;
struct imap_source;
struct io;

enum imap_source_capability {
	IMAP_SOURCE_CAP_IMAP4REV1	= 0x0001,
	IMAP_SOURCE_CAP_STARTTLS	= 0x0002,
	IMAP_SOURCE_CAP_LOGINDISABLED	= 0x0004,
	IMAP_SOURCE_CAP_AUTH_PLAIN	= 0x0008,
	IMAP_SOURCE_CAP_SASL_IR		= 0x0010,
	IMAP_SOURCE_CAP_LITERALPLUS	= 0x0020,
	IMAP_SOURCE_CAP_NAMESPACE	= 0x0040,
	IMAP_SOURCE_CAP_SPECIAL_USE	= 0x0080,
	IMAP_SOURCE_CAP_LIST_EXTENDED	= 0x0100,
	IMAP_SOURCE_CAP_UIDPLUS		= 0x0200,
	IMAP_SOURCE_CAP_ESEARCH		= 0x0400,
	IMAP_SOURCE_CAP_XLIST		= 0x0800,
	IMAP_SOURCE_CAP_X_GM_EXT_1	= 0x1000,
	IMAP_SOURCE_CAP_LIST_STATUS	= 0x2000,
	IMAP_SOURCE_CAP_AUTH_XOAUTH2	= 0x40000,
	IMAP_SOURCE_CAP_AUTH_OAUTHBEARER = 0x80000,
};

/* Called about once a second while the session waits for or reads from
   the server.
   Returning FALSE stops the wait: the session fails without an error of
   its own (the caller knows why, e.g. the import was cancelled). */
typedef bool imap_source_tick_callback_t(void *context);
/* A logged-in session is about to wait for the server: the caller may do
   other work meanwhile (it must not wait on this session) */
typedef void imap_source_wait_callback_t(void *context);
/* The session src waits for the server to send more (watch), and no
   longer (!watch): the caller may add ios to the current ioloop meanwhile
   (none on src). If src is logged in (imap_source_is_ready()), their
   callbacks may stop it (io_loop_stop(current_ioloop)) to have its wait
   end early (its wait callback is then called again); while it is being
   connected, they must not (it would only wait again). */
typedef void imap_source_wait_watch_callback_t(struct imap_source *src,
					       bool watch, void *context);

struct imap_source_settings {
	const char *host;
	in_port_t port;
	enum import_remote_ssl ssl;
	const char *username;
	/* the password, or the OAuth2 access token */
	const char *password;
	enum import_remote_auth_mech auth_mech;
	/* the addresses that may be connected to (outbound-guard.h) */
	const struct outbound_guard *guard;
	/* the TLS client settings (CA, protocols) */
	const struct ssl_iostream_settings *ssl_set;
	/* accept any certificate */
	bool tls_insecure;
	unsigned int connect_timeout_msecs;
	/* a reply that is due and does not come for this long: the server
	   is taken for gone */
	unsigned int cmd_timeout_msecs;
	imap_source_tick_callback_t *tick_callback;
	void *tick_context;
	imap_source_wait_callback_t *wait_callback;
	imap_source_wait_watch_callback_t *wait_watch_callback;
	void *wait_context;
};

/* An untagged reply. Return -1 to abort: the session is then unusable
   (the caller knows why; the session has no error of its own). */
typedef int imap_source_untagged_callback_t(const struct imap_reply *reply,
					    void *context);
/* Called while a FETCH reply is being parsed and a literal comes next.
   Return 1 if the callback consumed the literal (imap_source_read_literal()
   or _skip_literal()), 0 to let the parser read it into memory, -1 to
   abort (as above). */
typedef int imap_source_literal_callback_t(const struct imap_reply_fetch_literal *lit,
					   void *context);

/* Data of a literal, piece by piece */
typedef void imap_source_literal_data_callback_t(const unsigned char *data,
						 size_t size, void *context);

/* Resolve, connect, secure, read the greeting, log in and learn the
   server's capabilities and personal namespace. Returns 0 on success,
   -1 with error_r set to a classified error. *src_r is set either way and
   must be freed with imap_source_deinit(). */
int imap_source_connect(const struct imap_source_settings *set,
			struct event *event_parent,
			struct imap_source **src_r,
			struct import_remote_error *error_r);
/* Open a session to ip (the address a first session of the same settings
   reached) without waiting: its connect is started, then
   imap_source_open_step() takes it further whenever the caller can, so
   that several sessions' connects and TLS handshakes go together while
   the caller does other work. */
struct imap_source *
imap_source_open_start(const struct imap_source_settings *set,
		       struct event *event_parent, const struct ip_addr *ip);
/* Take the session being opened as far as it goes without waiting for the
   server. It logs in only if may_login (the caller lets one log in at a
   time: a server counts a session only once it is logged in, and logins
   at the same moment would all pass a limit on sessions per account); a
   login of more than one command (STARTTLS, OAuth2, no SASL-IR) is done
   then, waiting. Returns 1 once logged in, 0 while not yet, -1 if it
   failed (its error set; one that does not get on within the connect
   timeout fails too). */
int imap_source_open_step(struct imap_source *src, bool may_login);
/* Has the session being opened sent its login, and waits for the answer */
bool imap_source_open_is_logging_in(struct imap_source *src);
/* An io in the current ioloop on what the session being opened waits for
   from the server (NULL if it waits for nothing but its turn to log in):
   when it comes, the io stops the current ioloop. A caller waiting for
   something else wakes up then. */
struct io *imap_source_open_io(struct imap_source *src);
/* Wait until any of the sessions being opened has news, or a second has
   passed. Returns 0, or -1 if the tick callback stopped it. */
int imap_source_open_wait(struct imap_source *const *srcs, unsigned int count);
/* The address the session is connected to */
const struct ip_addr *imap_source_get_ip(struct imap_source *src);
/* Is the session logged in (and not failed) */
bool imap_source_is_ready(struct imap_source *src);
/* While the caller waits for another session (in its ioloop): what the
   server sends src is read into src's input buffer, as far as it holds
   (IMAP_SOURCE_MAX_LINE_LENGTH), to be parsed when src is read. A server
   sending what was asked of it goes on meanwhile, rather than stop on a
   full socket (a link left idle while another session reconnects). A
   failure is seen by whoever reads src next. Stopped by
   imap_source_read_ahead_stop() (before that ioloop runs no more). */
void imap_source_read_ahead_start(struct imap_source *src);
void imap_source_read_ahead_stop(struct imap_source *src);
/* The bytes read ahead since the last call (for the debug log) */
uoff_t imap_source_read_ahead_count(struct imap_source *src);
/* Send LOGOUT (if still connected) without waiting: imap_source_deinit()
   then waits for its answer. Several sessions end in one round trip. */
void imap_source_logout_start(struct imap_source *src);
/* Say LOGOUT (if still connected) and free everything. */
void imap_source_deinit(struct imap_source **src);

bool imap_source_has_capability(struct imap_source *src,
				enum imap_source_capability cap);
/* Ask for the personal namespace (if the server has NAMESPACE): the tag to
   wait for with imap_source_namespace_wait() (NULL: nothing asked), so
   that it can go out with the next command. Other untagged replies that
   come meanwhile go to untagged_callback (a server may answer commands
   sent together in another order). */
const char *imap_source_namespace_send(struct imap_source *src);
int imap_source_namespace_wait(struct imap_source *src, const char *tag,
			       imap_source_untagged_callback_t *untagged_callback,
			       void *context);
/* Personal namespace prefix (e.g. "INBOX."; "" unless asked for) */
const char *imap_source_get_ns_prefix(struct imap_source *src);

/* Queue a command (without tag and CRLF). It is sent with the next
   imap_source_flush() or wait, so several commands go out together
   (pipelining). Returns the tag. */
const char *imap_source_send(struct imap_source *src, const char *cmd);
/* Send what is queued without waiting for a reply. Returns 0 or -1 (the
   session failed, error set). */
int imap_source_flush(struct imap_source *src);
/* TRUE if the server has sent something not read yet (it is there now:
   reading it would not wait for the server) */
bool imap_source_has_input(struct imap_source *src);
/* Read replies until the tagged reply for tag arrives. Untagged replies go
   to untagged_callback (may be NULL), literals to literal_callback (may be
   NULL). Returns 0 when a tagged reply arrived (it may be NO/BAD), -1 if
   the connection failed or a callback aborted. */
int imap_source_wait(struct imap_source *src, const char *tag,
		     imap_source_untagged_callback_t *untagged_callback,
		     imap_source_literal_callback_t *literal_callback,
		     void *context, struct imap_source_reply *reply_r);
/* As imap_source_wait(), but stop(context) is asked before each reply is
   read: when it says so, the wait ends early, returning 0 with the command
   still on its way (wait for it later) and reply_r untouched. Returns 1
   when its tagged reply arrived first, -1 as imap_source_wait(). */
int imap_source_wait_until(struct imap_source *src, const char *tag,
			   imap_source_untagged_callback_t *untagged_callback,
			   imap_source_literal_callback_t *literal_callback,
			   bool (*stop)(void *context), void *context,
			   struct imap_source_reply *reply_r);
/* Nobody will wait for tag's reply: it is read and dropped when it comes
   (whatever it says) */
void imap_source_forget(struct imap_source *src, const char *tag);
/* imap_source_send() + imap_source_wait() */
int imap_source_cmd(struct imap_source *src, const char *cmd,
		    imap_source_untagged_callback_t *untagged_callback,
		    void *context, struct imap_source_reply *reply_r);

/* Append value as an IMAP string: quoted, or as a LITERAL+ literal when
   it has 8-bit characters and the server takes LITERAL+. */
void imap_source_append_string(struct imap_source *src, string_t *dest,
			       const char *value);
/* Read a literal (from a literal callback), handing its data to callback
   piece by piece. what (may be NULL) names it for error texts, e.g.
   "message UID 3 in INBOX". Returns 0, or -1 if the connection failed
   (error set). */
int imap_source_read_literal(struct imap_source *src, uoff_t size,
			     const char *what,
			     imap_source_literal_data_callback_t *callback,
			     void *context);
/* Read and throw away a literal (from a literal callback). One of more
   than 256 kB is not read: the session fails (retryable, as a stream that
   lost its sync) and -1 is returned. */
int imap_source_skip_literal(struct imap_source *src, uoff_t size);
/* A literal callback refuses the literal coming (e.g. far bigger than the
   message it is said to be): it is not read, the session fails with
   detail (retryable: a new connection starts clean). Returns -1, for the
   callback to return. */
int imap_source_refuse_literal(struct imap_source *src, const char *detail);

/* The session's own error: the connection, the protocol or the login
   failed. Its code is IMPORT_REMOTE_ERROR_NONE when the session stopped
   only because a callback aborted (then the caller has the error). */
const struct import_remote_error *imap_source_get_error(struct imap_source *src);
/* TRUE if the session failed in a way that a new connection may fix: the
   connection broke (reset, closed, a BYE, no answer, a TLS handshake cut
   before any certificate was seen), the reply stream lost its sync, or
   the server refused the connection for now (a BYE greeting). FALSE for
   causes that would come back: a refused or unresolvable host, a server
   that never greets, a login or certificate that is not accepted. */
bool imap_source_is_retryable(struct imap_source *src);
/* Classify a tagged NO/BAD reply of a command that is not a login. */
enum import_remote_error_code
imap_source_reply_classify(const struct imap_source_reply *reply);

#endif
