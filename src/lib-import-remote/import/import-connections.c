/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The run's connections beyond its first, and the folders opened ahead on
   them (import-connections.h) */

#include "lib.h"
#include "array.h"
#include "ioloop.h"
#include "str-sanitize.h"
#include "imap-source.h"
#include "import-run-context.h"
#include "folder-import.h"
#include "import-connections.h"

/* At most this many folders are opened behind another on one connection
   (each one's answers, bodies of a small folder among them, wait there
   until the folders before it are done). Measured (bench/run-wan, 104
   folders, 50 ms, three corpora): 1.24-1.31x the link floor with 2,
   1.28-1.33x with 1, 1.23-1.28x with 3; with every connection cut after
   2-8 MB, 2 was as good as 3 and better than 1 (what is lost with a cut
   is sent again at once, and the other connections are read ahead
   meanwhile: imap_source_read_ahead_start()). */
#define IMPORT_CONNECTIONS_MAX_BEHIND 2

struct import_primed_folder {
	unsigned int idx;
	struct folder_import_ctx *folder;
	/* its connection: its own, or (behind) that of the folder before it
	   there (the run's current folder, or one opened ahead before it),
	   whose answers come first: it is not advanced before that folder
	   is done. Behind with none: what it sent is gone (the connection was
	   lost, or given to a folder that was not opened ahead); it is sent
	   again behind the current folder (so that it keeps its place, and
	   the folder after it is not left without a connection in turn). */
	struct imap_source *src;
	bool behind;
};

struct import_connections {
	struct import_run_ctx *ctx;
	/* K: the most connections the run may have open at once */
	unsigned int max;
	/* connections open and holding nothing (ctx->src not among them) */
	ARRAY(struct imap_source *) idle;
	/* connections being opened (they log in one at a time, in the
	   order they are greeted): the run goes on meanwhile, its waits
	   take them further; open_base were open when they were started,
	   open_made of them are logged in so far, open_error is the first
	   failure's */
	ARRAY(struct imap_source *) opening;
	unsigned int open_base, open_wanted, open_made;
	struct import_remote_error open_error;
	/* ios on what the connections being opened wait for, while the run
	   waits for something else */
	ARRAY(struct io *) open_ios;
	/* a connection opened: the run may open folders ahead on it */
	void (*opened_callback)(void *context);
	void *opened_context;
	/* the folders opened ahead, in the order they run */
	ARRAY(struct import_primed_folder) primed;
	/* the current folder has asked for everything it is to ask for (its
	   last round sent): a folder may be opened behind it */
	bool current_all_asked;
	/* the server refused a connection: none more is opened */
	bool refused;
	/* the current folder's destination, and the bytes of its last
	   round's bodies still to come when ctx->body_bytes_read was
	   ahead_read_base (UOFF_T_MAX until its last round): the folders
	   opened ahead may ask for theirs as it nears its end */
	const char *current_dest;
	uoff_t ahead_to_come, ahead_read_base;
	/* folders are being advanced (not again from within) */
	bool advancing;
	/* the connections being opened are taken further (not again from
	   within: a login that waits calls the run's wait callback) */
	bool stepping;
};

static void
import_connections_open_step(struct import_connections *conns, bool wait);
static void
import_connections_set_to_come(struct import_connections *conns,
			       const char *current_dest, uoff_t to_come);
static void import_connections_advance_all(struct import_connections *conns);

struct import_connections *
import_connections_init(struct import_run_ctx *ctx, unsigned int max)
{
	struct import_connections *conns;

	conns = i_new(struct import_connections, 1);
	conns->ctx = ctx;
	conns->max = I_MAX(max, 1);
	i_array_init(&conns->idle, 4);
	i_array_init(&conns->opening, 4);
	i_array_init(&conns->open_ios, 4);
	i_array_init(&conns->primed, 4);
	if (conns->max > 1)
		ctx->conns = conns;
	return conns;
}

void import_connections_drop_primed(struct import_connections *conns)
{
	struct import_primed_folder *primed;

	array_foreach_modifiable(&conns->primed, primed) {
		folder_import_primed_free(&primed->folder);
		if (primed->src != NULL && !primed->behind)
			imap_source_deinit(&primed->src);
	}
	array_clear(&conns->primed);
}

/* The first folder opened behind another on src, or NULL */
static struct import_primed_folder *
import_connections_behind_on(struct import_connections *conns,
			     struct imap_source *src)
{
	struct import_primed_folder *primed;

	if (src == NULL)
		return NULL;
	array_foreach_modifiable(&conns->primed, primed) {
		if (primed->behind && primed->src == src)
			return primed;
	}
	return NULL;
}

/* Drop the folders opened behind another on src (with drain: their
   answers read first, in their order; what follows on src is another's).
   Returns TRUE if there was one. */
static bool
import_connections_drop_behind_on(struct import_connections *conns,
				  struct imap_source *src, bool drain,
				  const char *why)
{
	struct import_run_ctx *ctx = conns->ctx;
	struct import_primed_folder *primed;
	ARRAY(struct folder_import_ctx *) dropped;
	struct folder_import_ctx *folder;
	struct imap_source *run_src;

	if (src == NULL)
		return FALSE;
	t_array_init(&dropped, 4);
	array_foreach_modifiable(&conns->primed, primed) {
		if (!primed->behind || primed->src != src)
			continue;
		e_debug(ctx->event, "Folder %s: opened behind another, to be "
			"sent again (%s)", str_sanitize(
			folder_import_display_name(primed->folder), 128), why);
		/* (no longer on src: nothing more goes behind it meanwhile;
		   the entry is not looked at again, folders may be opened
		   ahead while the drain waits) */
		primed->src = NULL;
		array_push_back(&dropped, &primed->folder);
	}
	if (array_count(&dropped) == 0)
		return FALSE;
	array_foreach_elem(&dropped, folder) {
		if (drain) {
			run_src = ctx->src;
			ctx->src = src;
			folder_import_primed_drain(folder);
			ctx->src = run_src;
		}
		folder_import_primed_reset(folder);
	}
	return TRUE;
}

bool import_connections_drop_behind(struct import_connections *conns,
				    struct imap_source *src)
{
	if (src == conns->ctx->src) {
		/* it sends more: nothing more goes behind it meanwhile */
		conns->current_all_asked = FALSE;
	}
	return import_connections_drop_behind_on(conns, src, TRUE,
		"the folder before it asks for more");
}

bool import_connections_has_behind(struct import_connections *conns,
				   struct imap_source *src)
{
	return import_connections_behind_on(conns, src) != NULL;
}

void import_connections_src_lost(struct import_connections *conns,
				 struct imap_source *src)
{
	/* what went out behind on it is lost with it */
	(void)import_connections_drop_behind_on(conns, src, FALSE,
		"the connection was lost");
	if (src != conns->ctx->src)
		return;
	/* the current folder asks again on the new one; nothing comes for
	   it until that is open (a few round trips): the folders opened
	   ahead ask for their bodies now, to be read ahead meanwhile */
	conns->current_all_asked = FALSE;
	import_connections_set_to_come(conns, conns->current_dest, 0);
	import_connections_advance_all(conns);
}

void import_connections_deinit(struct import_connections **_conns)
{
	struct import_connections *conns = *_conns;
	struct import_primed_folder *primed;
	struct imap_source *src;

	*_conns = NULL;
	if (conns->ctx->conns == conns)
		conns->ctx->conns = NULL;
	/* a run that ends well lets those being opened log in, to log out
	   with the others (not a connection dropped without a login) */
	import_connections_watch(conns, NULL, FALSE);
	if (conns->ctx->error.code == IMPORT_REMOTE_ERROR_NONE)
		import_connections_open_step(conns, TRUE);
	array_foreach_elem(&conns->opening, src)
		imap_source_deinit(&src);
	array_clear(&conns->opening);
	/* every LOGOUT sent before any is waited for, the run's own
	   connection's too (it is waited for when the run is freed): the
	   run's end costs one round trip, not two */
	if (conns->ctx->src != NULL)
		imap_source_logout_start(conns->ctx->src);
	array_foreach_modifiable(&conns->primed, primed) {
		if (primed->src != NULL && !primed->behind)
			imap_source_logout_start(primed->src);
	}
	array_foreach_elem(&conns->idle, src)
		imap_source_logout_start(src);
	import_connections_drop_primed(conns);
	array_foreach_elem(&conns->idle, src)
		imap_source_deinit(&src);
	array_free(&conns->idle);
	array_free(&conns->opening);
	array_free(&conns->open_ios);
	array_free(&conns->primed);
	i_free(conns);
}

unsigned int import_connections_count(struct import_connections *conns)
{
	const struct import_primed_folder *primed;
	unsigned int count;

	count = (conns->ctx->src != NULL ? 1 : 0) +
		array_count(&conns->idle) + array_count(&conns->opening);
	array_foreach(&conns->primed, primed) {
		if (!primed->behind)
			count++;
	}
	return count;
}

/* Every connection that was being opened is logged in or failed */
static void import_connections_opened(struct import_connections *conns)
{
	struct import_run_ctx *ctx = conns->ctx;
	unsigned int open_count = conns->open_base + conns->open_made;

	e_debug(ctx->event, "Connections to the source opened: %u more, "
		"%u of %u", conns->open_made, open_count, conns->max);
	if (conns->open_made == conns->open_wanted)
		return;
	/* too many connections, [LIMIT], a BYE greeting, a connect refused:
	   what the run has is enough to go on with */
	conns->refused = TRUE;
	e_info(event_create_passthrough(ctx->event)->
	       set_name("import_remote_connections_refused")->
	       add_int("connections", open_count)->
	       add_int("connections_wanted", conns->max)->event(),
	       "The source refused connection %u of %u (%s): going on with "
	       "%u", open_count + 1, conns->max, conns->open_error.detail,
	       open_count);
	if (ctx->set->connections_callback != NULL) {
		ctx->set->connections_callback(open_count,
			ctx->set->connections_context);
	}
}

/* Has one of the connections being opened sent its login (one at a
   time: a server's limit on sessions per account counts them right) */
static bool import_connections_login_in_flight(struct import_connections *conns)
{
	struct imap_source *src;

	array_foreach_elem(&conns->opening, src) {
		if (imap_source_open_is_logging_in(src))
			return TRUE;
	}
	return FALSE;
}

/* Take the connections being opened as far as they go (with wait: until
   each is logged in or failed); those logged in become free */
static void
import_connections_open_step(struct import_connections *conns, bool wait)
{
	struct imap_source **srcs, *src;
	unsigned int i, count;
	bool made = FALSE;
	int ret;

	if (conns->stepping)
		return;
	conns->stepping = TRUE;
	while (array_count(&conns->opening) > 0) {
		srcs = array_get_modifiable(&conns->opening, &count);
		for (i = 0; i < count; ) {
			/* the first one greeted logs in (one whose greeting
			   is late holds none of the others up) */
			ret = imap_source_open_step(srcs[i],
				!import_connections_login_in_flight(conns));
			if (ret == 0) {
				i++;
				continue;
			}
			src = srcs[i];
			array_delete(&conns->opening, i, 1);
			srcs = array_get_modifiable(&conns->opening, &count);
			if (ret > 0) {
				array_push_back(&conns->idle, &src);
				conns->open_made++;
				made = TRUE;
				continue;
			}
			if (conns->open_error.code == IMPORT_REMOTE_ERROR_NONE) {
				conns->open_error = *imap_source_get_error(src);
				conns->open_error.detail = p_strdup(
					conns->ctx->pool,
					conns->open_error.detail);
			}
			imap_source_deinit(&src);
		}
		if (array_count(&conns->opening) == 0) {
			import_connections_opened(conns);
			break;
		}
		if (!wait)
			break;
		srcs = array_get_modifiable(&conns->opening, &count);
		if (imap_source_open_wait(srcs, count) < 0) {
			/* stopped (a cancel, the run's end): the run has its
			   error */
			array_foreach_elem(&conns->opening, src)
				imap_source_deinit(&src);
			array_clear(&conns->opening);
			break;
		}
	}
	conns->stepping = FALSE;
	if (made && !wait && conns->opened_callback != NULL)
		conns->opened_callback(conns->opened_context);
}

void import_connections_watch(struct import_connections *conns,
			      struct imap_source *waiting, bool watch)
{
	struct import_primed_folder *primed;
	struct imap_source *src;
	struct io *io;

	array_foreach_elem(&conns->open_ios, io)
		io_remove(&io);
	array_clear(&conns->open_ios);
	array_foreach_modifiable(&conns->primed, primed) {
		if (primed->src == NULL || primed->src == waiting)
			continue;
		if (!watch)
			imap_source_read_ahead_stop(primed->src);
		else if (!primed->behind) {
			/* (a folder behind another shares its connection) */
			imap_source_read_ahead_start(primed->src);
		}
	}
	/* the connections being opened wake the run's wait up, to be taken
	   further; not a wait for a connection being opened, nor one while
	   folders are advanced (it would only wait again, at once: they are
	   taken further only outside of that) */
	if (!watch || conns->advancing || !imap_source_is_ready(waiting))
		return;
	array_foreach_elem(&conns->opening, src) {
		io = imap_source_open_io(src);
		if (io != NULL)
			array_push_back(&conns->open_ios, &io);
	}
}

void import_connections_set_opened_callback(struct import_connections *conns,
					    void (*callback)(void *context),
					    void *context)
{
	conns->opened_callback = callback;
	conns->opened_context = context;
}

void import_connections_reserve(struct import_connections *conns,
				unsigned int count)
{
	struct import_run_ctx *ctx = conns->ctx;
	struct imap_source **srcs;
	unsigned int i, open_count, wanted;

	if (array_count(&conns->opening) > 0) {
		/* (also at each folder's start: a run that seldom waits for
		   the source, on a fast link, has them too) */
		import_connections_open_step(conns, FALSE);
		return;
	}
	open_count = import_connections_count(conns);
	if (conns->refused || ctx->src == NULL ||
	    count <= array_count(&conns->idle) || open_count >= conns->max)
		return;
	wanted = I_MIN(count - array_count(&conns->idle),
		       conns->max - open_count);
	srcs = t_new(struct imap_source *, wanted);
	i_zero(&conns->open_error);
	conns->open_base = open_count;
	conns->open_wanted = wanted;
	conns->open_made = 0;
	if (!import_run_ctx_open_extra(ctx, wanted, srcs, &conns->open_error)) {
		import_connections_opened(conns);
		return;
	}
	for (i = 0; i < wanted; i++)
		array_push_back(&conns->opening, &srcs[i]);
	/* their connects and TLS handshakes together, then their logins one
	   after another (a server's limit on sessions per account counts
	   them right), while the run goes on. An OAuth2 token may be
	   renewed meanwhile: they log in with this one now. */
	import_connections_open_step(conns,
		import_remote_auth_mech_is_oauth2(ctx->set->auth_mech));
}

/* A connection whose folder has asked for everything it is to ask for,
   with no folder behind it yet (the one whose folder runs soonest): a
   folder opened behind it there has its answers come while that
   folder's bodies are read, a round trip less than on a connection that
   comes free only when that folder is done */
static bool
import_connections_current_has_slot(struct import_connections *conns)
{
	struct imap_source *src = conns->ctx->src;

	return src != NULL && conns->current_all_asked &&
		import_connections_behind_on(conns, src) == NULL;
}

/* May a folder be opened behind those on src: the last one there (the
   current folder if none is opened ahead on it) has asked for everything
   it is to ask for, and fewer than IMPORT_CONNECTIONS_MAX_BEHIND are
   behind the first one. Those behind come after it in the order they
   run, as their answers come. */
static bool
import_connections_src_has_slot(struct import_connections *conns,
				struct imap_source *src)
{
	const struct import_primed_folder *primed, *last = NULL;
	unsigned int behind = 0;

	if (src == NULL)
		return FALSE;
	array_foreach(&conns->primed, primed) {
		if (primed->src != src)
			continue;
		last = primed;
		if (primed->behind)
			behind++;
	}
	if (behind >= IMPORT_CONNECTIONS_MAX_BEHIND)
		return FALSE;
	if (last == NULL)
		return src == conns->ctx->src && conns->current_all_asked;
	return folder_import_all_sent(last->folder);
}

static struct imap_source *
import_connections_behind_slot(struct import_connections *conns)
{
	const struct import_primed_folder *primed;

	if (import_connections_src_has_slot(conns, conns->ctx->src))
		return conns->ctx->src;
	array_foreach(&conns->primed, primed) {
		if (!primed->behind &&
		    import_connections_src_has_slot(conns, primed->src))
			return primed->src;
	}
	return NULL;
}

bool import_connections_prime(struct import_connections *conns,
			      unsigned int idx,
			      const struct folder_plan_entry *entry,
			      struct import_run_folder *result)
{
	struct import_run_ctx *ctx = conns->ctx;
	struct import_primed_folder *primed;
	struct imap_source *src, *run_src;
	bool behind = FALSE;

	if (array_count(&conns->idle) == 0)
		import_connections_reserve(conns, 1);
	if (array_count(&conns->idle) > 0) {
		src = array_idx_elem(&conns->idle,
				     array_count(&conns->idle) - 1);
		array_pop_back(&conns->idle);
	} else if (array_count(&conns->opening) > 0) {
		/* a connection of its own is coming */
		return FALSE;
	} else {
		src = import_connections_behind_slot(conns);
		if (src == NULL)
			return FALSE;
		behind = TRUE;
		e_debug(ctx->event, "Folder %s: opened behind the folder "
			"before it on its connection",
			str_sanitize(entry->display_name, 128));
	}
	/* the folder's commands go out on its own connection */
	run_src = ctx->src;
	ctx->src = src;
	primed = array_append_space(&conns->primed);
	primed->idx = idx;
	primed->folder = folder_import_prime(ctx, entry, result);
	/* (a failure shows when the folder runs: it reconnects then) */
	(void)imap_source_flush(src);
	primed->src = ctx->src;
	primed->behind = behind;
	ctx->src = run_src;
	return TRUE;
}

/* Does the current folder, or a folder opened ahead before the n-th, copy
   into its destination folder (whose identities it would read before they
   have all been saved) */
static bool
import_connections_dest_shared(struct import_connections *conns,
			       unsigned int n, const char *dest_name)
{
	const struct import_primed_folder *primed;
	const char *name;
	unsigned int i;

	if (dest_name == NULL)
		return FALSE;
	if (conns->current_dest != NULL &&
	    strcmp(conns->current_dest, dest_name) == 0)
		return TRUE;
	for (i = 0; i < n; i++) {
		primed = array_idx(&conns->primed, i);
		name = folder_import_dest_name(primed->folder);
		if (name != NULL && strcmp(name, dest_name) == 0)
			return TRUE;
	}
	return FALSE;
}

static void
import_connections_set_to_come(struct import_connections *conns,
			       const char *current_dest, uoff_t to_come)
{
	conns->current_dest = current_dest;
	conns->ahead_to_come = to_come;
	conns->ahead_read_base = conns->ctx->body_bytes_read;
}

/* How many bytes of bodies the folders opened ahead may ask for now: what
   the current folder's round has still to come leaves of
   FOLDER_IMPORT_AHEAD_MAX_BYTES */
static uoff_t import_connections_ahead_room(struct import_connections *conns)
{
	uoff_t to_come = conns->ahead_to_come, read;

	if (to_come == UOFF_T_MAX)
		return 0;
	read = conns->ctx->body_bytes_read - conns->ahead_read_base;
	to_come -= I_MIN(read, to_come);
	return FOLDER_IMPORT_AHEAD_MAX_BYTES -
		I_MIN(to_come, FOLDER_IMPORT_AHEAD_MAX_BYTES);
}

static void import_connections_advance_all(struct import_connections *conns)
{
	struct import_run_ctx *ctx = conns->ctx;
	struct import_primed_folder *primed;
	struct imap_source *run_src;
	uoff_t max_bytes = import_connections_ahead_room(conns);
	unsigned int i, count;
	bool all_asked, slot = FALSE;

	if (conns->advancing)
		return;
	conns->advancing = TRUE;
	primed = array_get_modifiable(&conns->primed, &count);
	for (i = 0; i < count; i++) {
		if (primed[i].behind) {
			/* its answers come after another folder's */
			continue;
		}
		if (primed[i].src == NULL ||
		    import_connections_dest_shared(conns, i,
			folder_import_dest_name(primed[i].folder)))
			break;
		all_asked = folder_import_all_asked(primed[i].folder);
		/* the folder's commands go out on its own connection */
		run_src = ctx->src;
		ctx->src = primed[i].src;
		folder_import_advance(primed[i].folder, &max_bytes);
		(void)imap_source_flush(ctx->src);
		primed[i].src = ctx->src;
		ctx->src = run_src;
		if (!all_asked && folder_import_all_asked(primed[i].folder))
			slot = TRUE;
	}
	conns->advancing = FALSE;
	/* a folder may be opened behind it */
	if (slot && conns->opened_callback != NULL)
		conns->opened_callback(conns->opened_context);
}

/* Folders whose answers were lost or thrown away are sent again behind
   the current folder, in their order, once it has asked for everything
   and none is behind it (those behind it come later in the order) */
static void import_connections_resend(struct import_connections *conns)
{
	struct import_run_ctx *ctx = conns->ctx;
	struct import_primed_folder *primed;
	unsigned int i;

	if (!import_connections_current_has_slot(conns))
		return;
	for (i = 0; i < array_count(&conns->primed); i++) {
		primed = array_idx_modifiable(&conns->primed, i);
		if (!primed->behind || primed->src != NULL)
			continue;
		if (!import_connections_src_has_slot(conns, ctx->src))
			break;
		e_debug(ctx->event, "Folder %s: sent again behind the current "
			"folder", str_sanitize(
			folder_import_display_name(primed->folder), 128));
		folder_import_primed_send(primed->folder);
		(void)imap_source_flush(ctx->src);
		primed->src = ctx->src;
	}
}

void import_connections_advance(struct import_connections *conns,
				const char *current_dest, uoff_t to_come)
{
	bool slot = !conns->current_all_asked && to_come != UOFF_T_MAX;

	import_connections_set_to_come(conns, current_dest, to_come);
	conns->current_all_asked = to_come != UOFF_T_MAX;
	import_connections_resend(conns);
	import_connections_advance_all(conns);
	/* a folder may be opened behind it */
	if (slot && conns->opened_callback != NULL)
		conns->opened_callback(conns->opened_context);
}

void import_connections_advance_waiting(struct import_connections *conns)
{
	if (conns->advancing)
		return;
	if (array_count(&conns->opening) > 0) {
		conns->advancing = TRUE;
		import_connections_open_step(conns, FALSE);
		conns->advancing = FALSE;
	}
	if (array_count(&conns->primed) > 0)
		import_connections_advance_all(conns);
}

bool import_connections_is_primed(struct import_connections *conns,
				  unsigned int idx)
{
	const struct import_primed_folder *primed;

	array_foreach(&conns->primed, primed) {
		if (primed->idx == idx)
			return TRUE;
	}
	return FALSE;
}

/* The next folder was not opened ahead: it runs on the run's connection.
   A folder opened behind the one that ran there keeps it if a connection
   is free for the next one, else it is to be sent again (its answers
   read). */
static void import_connections_take_unprimed(struct import_connections *conns)
{
	struct import_run_ctx *ctx = conns->ctx;
	struct import_primed_folder *primed;

	if (array_count(&conns->idle) == 0) {
		(void)import_connections_drop_behind_on(conns, ctx->src, TRUE,
			"the next folder needs the connection");
		return;
	}
	primed = import_connections_behind_on(conns, ctx->src);
	if (primed == NULL)
		return;
	primed->behind = FALSE;
	ctx->src = array_idx_elem(&conns->idle, array_count(&conns->idle) - 1);
	array_pop_back(&conns->idle);
}

/* The first folder opened ahead is not run after all: dropped, with its
   connection (and the folder behind it there, to be sent again), or if
   it is behind the folder that ran, its answers read */
static void import_connections_drop_front(struct import_connections *conns)
{
	struct import_run_ctx *ctx = conns->ctx;
	struct import_primed_folder *primed;
	struct imap_source *src;
	bool behind;

	primed = array_front_modifiable(&conns->primed);
	src = primed->src;
	behind = primed->behind;
	if (behind && src != NULL && src == ctx->src) {
		(void)import_connections_drop_behind_on(conns, src, TRUE,
			"not run after all");
		primed = array_front_modifiable(&conns->primed);
	}
	folder_import_primed_free(&primed->folder);
	array_pop_front(&conns->primed);
	if (behind || src == NULL)
		return;
	(void)import_connections_drop_behind_on(conns, src, FALSE,
		"the folder before it was not run after all");
	imap_source_deinit(&src);
}

struct folder_import_ctx *
import_connections_take(struct import_connections *conns, unsigned int idx,
			const char *dest_name)
{
	struct import_run_ctx *ctx = conns->ctx;
	struct import_primed_folder *primed, *behind;
	struct folder_import_ctx *folder;

	/* while it runs, the folders opened ahead may ask for their bodies
	   only from its last round on (or at once, see below) */
	import_connections_set_to_come(conns, dest_name, UOFF_T_MAX);
	conns->current_all_asked = FALSE;
	if (!import_connections_is_primed(conns, idx)) {
		import_connections_take_unprimed(conns);
		return NULL;
	}
	/* folders are opened ahead in the order they run: one before it
	   that was not run after all is dropped */
	for (;;) {
		primed = array_front_modifiable(&conns->primed);
		if (primed->idx == idx)
			break;
		import_connections_drop_front(conns);
	}
	if (primed->behind && primed->src == NULL) {
		/* what it sent is gone: it runs as one not opened ahead */
		folder_import_primed_free(&primed->folder);
		array_pop_front(&conns->primed);
		import_connections_take_unprimed(conns);
		return NULL;
	}
	/* the folder that ran is done: one opened behind it has its
	   connection to itself now */
	behind = import_connections_behind_on(conns, ctx->src);
	if (behind != NULL)
		behind->behind = FALSE;
	i_assert(!primed->behind);
	folder = primed->folder;
	if (primed->src != NULL) {
		e_debug(ctx->event, "Folder %s: %"PRIuUOFF_T" bytes read "
			"ahead on its connection while the run waited for "
			"another", str_sanitize(
			folder_import_display_name(folder), 128),
			imap_source_read_ahead_count(primed->src));
	}
	/* ... at once when all of its own are asked for already */
	import_connections_set_to_come(conns, dest_name,
				       folder_import_ahead_to_come(folder));
	conns->current_all_asked = folder_import_all_asked(folder);
	if (ctx->src != NULL && behind == NULL)
		array_push_back(&conns->idle, &ctx->src);
	ctx->src = primed->src;
	array_pop_front(&conns->primed);
	return folder;
}
