#ifndef TRIGGER_QUEUE_H
#define TRIGGER_QUEUE_H

/* Queueing a user's automatic import (the mail plugin's decision): the
   source their settings name (import_remote_source_*), once or (sync)
   again at most every import_remote_sync_interval until
   import_remote_sync_until. */

struct mail_user;
struct import_remote_config;
struct import_remote_settings;

/* Ask the store, and queue the import there if it is due and not queued
   or running yet (whatever the number of logins at once: one job). Then
   the state file says what the store said. Returns 0, or -1. */
int trigger_queue(struct mail_user *user, const char **error_r);

/* The provider's credentials of the settings' OAuth2 grant
   (import_remote_source_oauth2_*_file) read into import_set, as
   trigger_due_import_settings() filled it, and the whole checked.
   Returns 0, or -1 with an error that names the setting (never a
   secret). */
int trigger_queue_read_grant(const struct import_remote_config *set,
			     pool_t pool,
			     struct import_remote_settings *import_set,
			     const char **error_r);
/* Wipe the secrets of import_set (password or token, refresh token,
   client secret, service account key) */
void trigger_queue_wipe_secrets(struct import_remote_settings *import_set);

#endif
