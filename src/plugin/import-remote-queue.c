/* Copyright (c) dovecot-import-remote authors, see the included COPYING file */

/* The module the mail plugin loads when a login has to ask the job store
   (import-remote-queue.h) */

#include "lib.h"
#include "import-remote-event.h"
#include "trigger-queue.h"
#include "user-request.h"
#include "import-remote-queue.h"

const char *import_remote_queue_version = DOVECOT_ABI_VERSION;

void import_remote_queue_init(struct module *module ATTR_UNUSED)
{
}

void import_remote_queue_deinit(void)
{
	import_remote_event_deinit();
}

int import_remote_queue_user(struct mail_user *user, const char **error_r)
{
	return trigger_queue(user, error_r);
}

int import_remote_queue_request(struct mail_user *user, unsigned int action,
				char *value, const char **error_r)
{
	return user_request(user, (enum user_request_action)action, value,
			    error_r);
}

int import_remote_queue_history(struct mail_user *user, const char **json_r,
				const char **error_r)
{
	return user_request_history(user, json_r, error_r);
}
