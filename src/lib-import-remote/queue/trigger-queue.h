#ifndef TRIGGER_QUEUE_H
#define TRIGGER_QUEUE_H

/* Queueing a user's automatic import (the mail plugin's decision): the
   source their settings name (import_remote_source_*), once or (sync)
   again at most every import_remote_sync_interval until
   import_remote_sync_until. */

struct mail_user;

/* Ask the store, and queue the import there if it is due and not queued
   or running yet (whatever the number of logins at once: one job). Then
   the state file says what the store said. Returns 0, or -1. */
int trigger_queue(struct mail_user *user, const char **error_r);

#endif
