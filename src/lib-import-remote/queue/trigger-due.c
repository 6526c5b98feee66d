/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* What a login decides from the user's settings and state file alone. The
   mail plugin links only this (no job store, no crypto), so that a login
   whose import is settled costs little; queueing is trigger-queue.c, in a
   module loaded when needed. */

#include "lib.h"
#include "ioloop.h"
#include "mail-user.h"
#include "import-remote-config.h"
#include "import-remote-settings.h"
#include "trigger-state.h"
#include "trigger-due.h"

/* The import the user's settings ask for, as "start" would take it */
int trigger_due_import_settings(const struct import_remote_config *set,
				pool_t pool,
				struct import_remote_settings *import_set_r,
				const char **error_r)
{
	import_remote_settings_init(pool, import_set_r);
	import_set_r->host = p_strdup(pool, set->import_remote_source_host);
	import_set_r->port = set->import_remote_source_port;
	import_set_r->username = p_strdup(pool, set->import_remote_source_user);
	import_set_r->password =
		p_strdup(pool, set->import_remote_source_password);
	if (import_remote_ssl_parse(set->import_remote_source_ssl,
				    &import_set_r->ssl) < 0)
		i_unreached(); /* checked with the settings */
	if (import_remote_auth_mech_parse(set->import_remote_source_auth_mechanism,
					  &import_set_r->auth_mech) < 0) {
		*error_r = t_strdup_printf(
			"import_remote_source_auth_mechanism: Invalid value "
			"'%s': use auto, plain, login, oauth2, xoauth2 or "
			"oauthbearer", set->import_remote_source_auth_mechanism);
		return -1;
	}
	if (trigger_due_has_oauth2(set)) {
		if (import_remote_oauth2_grant_parse(
			set->import_remote_source_oauth2_grant,
			&import_set_r->oauth2_grant) < 0)
			i_unreached(); /* checked with the settings */
		if (import_set_r->auth_mech == IMPORT_REMOTE_AUTH_PASSWORD)
			import_set_r->auth_mech = IMPORT_REMOTE_AUTH_OAUTH2;
		import_set_r->oauth2_token_url = p_strdup(pool,
			import_remote_config_str(set->import_remote_source_oauth2_token_url));
		import_set_r->oauth2_client_id = p_strdup(pool,
			import_remote_config_str(set->import_remote_source_oauth2_client_id));
		import_set_r->oauth2_scope = p_strdup(pool,
			import_remote_config_str(set->import_remote_source_oauth2_scope));
		/* the secrets are files, read only when a job is queued
		   (trigger-queue.c); a file that is not named is missing */
		/* a certificate credential, where one is named, instead
		   of the client secret (a userdb override can name one
		   where the global settings name a secret) */
		if (set->import_remote_source_oauth2_client_secret_file[0] != '\0' &&
		    set->import_remote_source_oauth2_client_certificate_file[0] == '\0')
			import_set_r->oauth2_client_secret = "";
		if (set->import_remote_source_oauth2_service_account_file[0] != '\0')
			import_set_r->oauth2_service_account = "";
		if (set->import_remote_source_oauth2_client_certificate_file[0] != '\0')
			import_set_r->oauth2_client_certificate = "";
		if (set->import_remote_source_oauth2_client_key_file[0] != '\0')
			import_set_r->oauth2_client_key = "";
	}
	if (import_set_r->oauth2_grant == IMPORT_REMOTE_OAUTH2_GRANT_JWT_BEARER &&
	    import_set_r->oauth2_token_url == NULL &&
	    import_set_r->oauth2_service_account != NULL) {
		/* the key file's token_uri, read with it when the job is
		   queued (trigger_queue_read_grant()) */
		int ret;

		import_set_r->oauth2_token_url = "https://token-uri.invalid/";
		ret = import_remote_settings_check(import_set_r, error_r);
		import_set_r->oauth2_token_url = NULL;
		return ret;
	}
	return import_remote_settings_check(import_set_r, error_r);
}

bool trigger_due_has_oauth2(const struct import_remote_config *set)
{
	return set->import_remote_source_oauth2_grant[0] != '\0';
}

const char *
trigger_due_source_key(const struct import_remote_settings *import_set)
{
	return trigger_source_key(import_set->host,
		import_remote_settings_get_port(import_set),
		import_remote_ssl_name(import_set->ssl), import_set->username);
}

/* Need the store not be asked: the state file, about this source, says
   the import is done (or under way, recently), or not due yet? */
static bool
trigger_state_is_settled(const struct trigger_state *state, const char *key,
			 const struct import_remote_config *set, time_t now)
{
	bool sync = strcmp(set->import_remote_source_mode, "sync") == 0;

	if (strcmp(state->source_key, key) != 0)
		return FALSE;
	switch (state->state) {
	case TRIGGER_STATE_NONE:
		break;
	case TRIGGER_STATE_QUEUED:
	case TRIGGER_STATE_RUNNING:
		return now < state->updated + TRIGGER_DUE_RECHECK_SECS;
	case TRIGGER_STATE_COMPLETED:
		return !sync || now >= set->parsed_sync_until ||
			now < state->next_due;
	case TRIGGER_STATE_FAILED:
		/* tried again after the interval (a fixed password changes
		   nothing the state file knows of) */
		return now < state->updated +
			(time_t)set->import_remote_sync_interval;
	}
	return FALSE;
}

int trigger_due_at_login(struct mail_user *user, const char **error_r)
{
	const struct import_remote_config *set;
	struct import_remote_settings import_set;
	struct trigger_state state;
	const char *path;
	pool_t pool;
	int ret;

	if (import_remote_config_get_user(user, &set, error_r) < 0)
		return -1;
	if (set->import_remote_source_host[0] == '\0' ||
	    /* the provider's credentials are global: only the users whose
	       userdb names their old address have an import */
	    (trigger_due_has_oauth2(set) &&
	     set->import_remote_source_user[0] == '\0')) {
		import_remote_config_free(&set);
		return 0;
	}
	pool = pool_alloconly_create("import-remote trigger", 512);
	path = trigger_state_path(user);
	ret = trigger_due_import_settings(set, pool, &import_set, error_r);
	if (ret == 0 && path != NULL) {
		ret = trigger_state_read(path, pool, &state, error_r);
		if (ret > 0) {
			ret = trigger_state_is_settled(&state,
				trigger_due_source_key(&import_set), set,
				ioloop_time) ? 0 : 1;
		} else if (ret == 0) {
			ret = 1;
		}
	} else if (ret == 0) {
		/* no home for a state file: the store is asked every time */
		ret = 1;
	}
	if (ret < 0) {
		*error_r = t_strdup_printf("Automatic import: %s", *error_r);
	}
	pool_unref(&pool);
	import_remote_config_free(&set);
	return ret;
}
