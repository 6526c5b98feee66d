#ifndef TRIGGER_DUE_H
#define TRIGGER_DUE_H

/* Whether a login has to ask the job store about the user's automatic
   import (trigger-queue.c then does), from the user's settings and state
   file only. */

struct mail_user;
struct import_remote_config;
struct import_remote_settings;

/* How long a state file saying "queued" or "running" is believed without
   asking the store again */
#define TRIGGER_DUE_RECHECK_SECS (10*60)

/* Does the store have to be asked at this login? Only the user's settings
   and state file are read: 1 yes, 0 no, -1 on error. */
int trigger_due_at_login(struct mail_user *user, const char **error_r);

/* The import the user's settings ask for, as "start" would take it; an
   OAuth2 grant's secret files are not read (their fields are "", filled
   by the queueing, trigger-queue.c). Returns 0, or -1 with an error. */
int trigger_due_import_settings(const struct import_remote_config *set,
				pool_t pool,
				struct import_remote_settings *import_set_r,
				const char **error_r);
/* The settings name an OAuth2 grant (the provider's credentials):
   the user's userdb gives only the old address */
bool trigger_due_has_oauth2(const struct import_remote_config *set);
/* The source's key in the state file and the store's trigger rows */
const char *
trigger_due_source_key(const struct import_remote_settings *import_set);

#endif
