#ifndef IMPORT_REMOTE_EVENT_H
#define IMPORT_REMOTE_EVENT_H

/* Events the Dovecot way: every event of this project is in the
   "import-remote" category and carries the "import-remote: " log prefix
   (appended to its parent's, e.g. the user's), so that log lines need not
   type it and an administrator can filter on the category
   (log_debug = category=import-remote, metric { filter = ... }).
   The named events and their fields: doc/events.md. */

extern struct event_category event_category_import_remote;

/* A new event of the category with the log prefix (unless parent, or one
   of its parents, is one of ours and has it), a child of parent (NULL: a
   root event). Free with event_unref(). */
struct event *import_remote_event_create(struct event *parent);

/* import_remote_job_queued, a child of parent: job_id (0: not known),
   batch_id (0: none), user, source_host/_port/_user, origin ("start",
   "batch", "login"). Finish it with ->event(). */
struct event_passthrough *
import_remote_event_job_queued(struct event *parent, const char *origin,
			       unsigned long long job_id,
			       unsigned long long batch_id,
			       const char *user, const char *source_host,
			       unsigned int source_port,
			       const char *source_user);

/* Is event, or one of its parents, of the category? */
bool import_remote_event_is_ours(struct event *event);

/* The process's own event, for code that has no user or job at hand
   (doveadm commands, the worker, the store): created on first use. */
struct event *import_remote_event(void);
/* Free the process's event (at the end of a module or program) */
void import_remote_event_deinit(void);

#endif
