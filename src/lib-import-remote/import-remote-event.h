#ifndef IMPORT_REMOTE_EVENT_H
#define IMPORT_REMOTE_EVENT_H

/* Events the Dovecot way: every event of this project is in the
   "import-remote" category and carries the "import-remote: " log prefix
   (appended to its parent's, e.g. the user's), so that log lines need not
   type it and an administrator can filter on the category
   (log_debug = category=import-remote, metric { filter = ... }).
   The named events and their fields: doc/events.md. */

extern struct event_category event_category_import_remote;

/* A new event of the category with the log prefix, a child of parent (NULL:
   a root event). Free with event_unref(). */
struct event *import_remote_event_create(struct event *parent);

/* The process's own event, for code that has no user or job at hand
   (doveadm commands, the worker, the store): created on first use. */
struct event *import_remote_event(void);
/* Free the process's event (at the end of a module or program) */
void import_remote_event_deinit(void);

#endif
