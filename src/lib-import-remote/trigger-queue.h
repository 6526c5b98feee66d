#ifndef TRIGGER_QUEUE_H
#define TRIGGER_QUEUE_H

/* Queueing a user's automatic import (the mail plugin's decision): the
   source their settings name (import_remote_source_*), once or (sync)
   again at most every import_remote_sync_interval until
   import_remote_sync_until. */

struct mail_user;

/* How long a state file saying "queued" or "running" is believed without
   asking the store again */
#define TRIGGER_QUEUE_RECHECK_SECS (10*60)

/* Does the store have to be asked at this login? Only the user's settings
   and state file are read: 1 yes, 0 no, -1 on error. */
int trigger_queue_needed(struct mail_user *user, const char **error_r);
/* Ask the store, and queue the import there if it is due and not queued
   or running yet (whatever the number of logins at once: one job). Then
   the state file says what the store said. Returns 0, or -1. */
int trigger_queue(struct mail_user *user, const char **error_r);

#endif
